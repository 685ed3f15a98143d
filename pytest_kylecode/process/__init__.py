"""Any program as a cell's agent (``agent: {command: [...]}``): the spec, its placeholders, the
loopback servers in front of the cell's stack, the driver and the program's report."""
