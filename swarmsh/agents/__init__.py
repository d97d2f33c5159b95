"""Agents: pure reaction rules per agent (roberts, scrum, lean) and the one runner doing I/O."""
