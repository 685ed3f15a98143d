"""Scenario files: loading with line numbers, validation, matrix expansion."""
