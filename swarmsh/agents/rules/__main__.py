"""`python -m swarmsh.agents.rules`."""

from swarmsh.agents.rules.agent import main

if __name__ == "__main__":
    main()
