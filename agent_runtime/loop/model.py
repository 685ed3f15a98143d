"""What the agent loop needs from "a model": one completed turn, or a RunFailed.

``ResilientModel`` (retry, circuit breaker, failover, overrides over real HTTP)
implements it for production and the matrix; ``ScriptedModel`` in the tests
implements it without HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agent_runtime.messages import Message, ModelResponse, ToolMode, ToolSpec


@dataclass(slots=True)
class ModelTurn:
    """One successful model response, with the route that gave it and the tool mode in force there.

    ``tool_mode`` is ``"text"`` when tools went into the prompt (configured text dialect,
    or a ``tools_unsupported`` override): the loop then parses calls out of ``response.text``.
    """

    response: ModelResponse
    route: str
    tool_mode: ToolMode


class Model(Protocol):
    def complete(self, conversation: list[Message], tools: list[ToolSpec], turn: int) -> ModelTurn:
        """Answer the conversation; raise ``errors.RunFailed`` when recovery is exhausted."""
