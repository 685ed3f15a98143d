"""Shared test helpers live beside this file (``shellwords``); pytest puts this directory on sys.path."""
