"""Framework adapters: a popular agent framework in a matrix cell in one line each.

One module per framework, each imported only when named (importing this package imports no
framework), each needing only its own framework installed (``pip install
'pytest-kylecode[frameworks]'`` installs them all). Every adapter has the same shape:

- a builder that makes the framework's model (or client) from the ``CellContext``, on the
  cell's clients, with the framework's traps handled (tracing that posts to the internet,
  a price map fetched at import, a client parameter the framework lacks, ...);
- ``report(result)`` and ``failed(exc, ...)``: the ``AgentReport`` read from the framework's
  own message history (tool calls, their results and errors, how the run ended);
- ``run(ctx, ...)``: the framework's run, streamed or not as the cell says, as an
  ``AgentReport``, provider trouble included (a run the framework gave up on is ``failed``,
  with the exception and where it was raised in ``error_message``).

| module | framework |
|---|---|
| ``openai_agents`` | openai-agents (Chat Completions and Responses) |
| ``pydantic_ai`` | pydantic-ai (OpenAI Chat Completions and Responses, Anthropic Messages) |
| ``langgraph`` | LangGraph / LangChain agents with langchain-openai |

Recipes: ``docs/byo-agent.md``, "Framework adapters".
"""
