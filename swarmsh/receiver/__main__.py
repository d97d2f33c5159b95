"""`python -m swarmsh.receiver`."""

from swarmsh.receiver.main import main

main()
