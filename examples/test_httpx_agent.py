"""The fixture way in: a test drives its own agent once per cell of a scenario.

Run from this directory: ``pytest test_httpx_agent.py`` (replays cassettes/httpx_agent/);
re-record with ``env -u CI pytest test_httpx_agent.py --kylecode-record=all --snapshot-update``.
"""

import pytest
from agents import httpx_agent


@pytest.mark.kylecode_scenario("fixture_scenarios/httpx_agent.yaml")
def test_httpx_agent(kylecode_cell):
    assert kylecode_cell.task.startswith("Read notes.txt")
    kylecode_cell.report(httpx_agent.run(kylecode_cell))
