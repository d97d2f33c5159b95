"""An example swarmsh plug-in: the command group `example` and the agent `echo`."""
