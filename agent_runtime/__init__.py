"""agent_runtime: the thin agent runtime that pytest-kylecode puts through its matrix."""

__version__ = "0.1.0"
