"""The executor: runs agents' NextCommands through the instrumented CLI, exactly once each."""
