"""Bring your own agent: run any httpx or official-SDK agent through the matrix.

A scenario names the agent (``agent: {factory: "mypkg.agents:run"}``), or a test asks for
the ``kylecode_cell`` fixture under ``@pytest.mark.kylecode_scenario("scenario.yaml")``.
Either way the agent gets a ``CellContext`` (task, workspace, route, clock, and HTTP / SDK
clients wired to the cell's fault and cassette) and answers with an ``AgentReport``; the
harness measures the provider traffic itself. Guide: ``docs/byo-agent.md``.
"""

from pytest_kylecode.byo.agent_report import AgentReport
from pytest_kylecode.byo.context import CellContext

__all__ = ["AgentReport", "CellContext"]
