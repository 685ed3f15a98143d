"""The example agent on LangChain's agent graph (``create_agent``, a LangGraph graph) with
langchain-openai: the workspace tools, ``mark_task_complete`` returning directly (the graph ends
after it)."""

from __future__ import annotations

from langchain.agents import create_agent
from langchain_core.tools import StructuredTool

from pytest_kylecode.byo import AgentReport, CellContext
from pytest_kylecode.byo.frameworks import langgraph

from .workspace import FINISH, SYSTEM, tools


def run(ctx: CellContext) -> AgentReport:
    lc_tools = [
        StructuredTool.from_function(tool, return_direct=tool.__name__ == FINISH, handle_tool_error=True)
        for tool in tools(ctx.workspace)
    ]
    graph = create_agent(langgraph.chat_openai(ctx), tools=lc_tools, system_prompt=SYSTEM)
    return langgraph.run(ctx, graph, finish_tools=[FINISH])
