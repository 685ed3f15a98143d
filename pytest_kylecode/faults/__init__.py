"""Fault injection: the catalog of DESIGN.md section 5 and the transport that injects it."""
