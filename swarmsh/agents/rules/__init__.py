"""The rules agent: declarative rulebooks (YAML) compiled into pure rules for the shared runner.

model (the format) -> load (YAML, validation) -> match + template -> engine (pure decisions)
-> agent (the runner, SIGHUP reload); `swarmsh rules check|test` in swarmsh.cli.rules.
"""
