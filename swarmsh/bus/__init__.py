"""The bus: span records and NextCommands as JSONL, their writer, follower and checkpoints."""
