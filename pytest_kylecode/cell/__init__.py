"""One matrix cell, from its transport stack to its verdict.

- ``stack``: the cell's transports (fault over cassette over emulator or live) and
  ``execute_cell``, the pytest-free core that runs an agent on them;
- ``drivers``: which agent runs the cell (``agent_runtime``, or a user's agent via ``byo``);
- ``verdict``: the checks of a finished run (cassette problems, invariants, expectations);
- ``runner``: the pytest side (time limit, snapshot, what may be written, the failure report).
"""
