"""pytest-kylecode: scenario YAML -> provider x streaming x tools x fault matrices, replayed from cassettes."""

__version__ = "0.1.0"
