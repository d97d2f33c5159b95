"""`python -m swarmsh.executor`."""

from swarmsh.executor.runner import main

main()
