"""Fault injection: the fault catalog and the transport that injects it."""
