"""`python -m swarmsh` runs the CLI."""

from swarmsh.cli import main

main()
