"""CellContext: the cell's facts, and clients (httpx, httpx2, official SDKs) wired to its stack."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest

from pytest_kylecode.byo import CellContext
from pytest_kylecode.byo.context import REPLAY_API_KEY, _virtual_sleep

from .helpers import Bound, make_cell

CHAT_TOOLS = [{"type": "function", "function": {"name": "write_file", "parameters": {"type": "object"}}}]
MESSAGES = [{"role": "user", "content": "go"}]


@pytest.fixture
def no_real_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any real sleep in the SDKs' retry path fails the test."""

    def refuse(seconds: float) -> None:
        raise AssertionError(f"slept {seconds} s for real")

    async def refuse_async(seconds: float) -> None:
        raise AssertionError(f"slept {seconds} s for real")

    for module in (openai._base_client, anthropic._base_client):  # type: ignore[attr-defined]
        monkeypatch.setattr(module.time, "sleep", refuse)
        monkeypatch.setattr(module.anyio, "sleep", refuse_async)


def test_the_cell_facts(tmp_path: Path) -> None:
    cell = make_cell(tmp_path, provider="openrouter/z-ai/glm-4.6", streaming=False)
    ctx = CellContext(
        cell, cell.scenario.agent_config.with_overrides(route=cell.provider, streaming=False, tool_mode="native")
    )
    assert (ctx.task, ctx.route, ctx.provider, ctx.model, ctx.protocol) == (
        "Write notes.txt, then finish.",
        "openrouter/z-ai/glm-4.6",
        "openrouter",
        "z-ai/glm-4.6",
        "openai_chat",
    )
    assert (ctx.streaming, ctx.tool_mode, ctx.scenario, ctx.cell_id) == (
        False,
        "native",
        "demo",
        "openrouter/z-ai/glm-4.6-nostream-native-none",
    )
    assert ctx.failover == ["openai/gpt-4.1-mini"] and ctx.config.max_steps == 5 and ctx.timeouts.idle_s == 20
    with pytest.raises(RuntimeError, match="exist only while the agent runs"):
        ctx.workspace  # noqa: B018


def test_keys_and_base_urls(tmp_path: Path) -> None:
    with Bound(tmp_path) as b:
        assert b.ctx.api_key == REPLAY_API_KEY and b.ctx.base_url == "https://api.openai.com/v1"
        assert b.ctx.base_url_for("anthropic/claude-haiku-4-5") == "https://api.anthropic.com/v1"
    env = {"OPENAI_API_KEY": "sk-live", "KYLECODE_OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    with Bound(tmp_path, live=True, env=env) as b:
        assert b.ctx.api_key == "sk-live" and b.ctx.base_url == "http://127.0.0.1:9/v1"
        with pytest.raises(RuntimeError, match="needs ANTHROPIC_API_KEY in the environment"):
            b.ctx.api_key_for("anthropic/claude-haiku-4-5")


def test_httpx_client_is_metered_and_faulted(tmp_path: Path) -> None:
    with Bound(tmp_path, fault="http_503") as b:
        http = b.ctx.httpx_client()
        assert http.timeout == httpx.Timeout(20, connect=5)  # the scenario's timeouts
        body = {"model": b.ctx.model, "messages": MESSAGES, "tools": CHAT_TOOLS}
        assert http.post(f"{b.ctx.base_url}/chat/completions", json=body).status_code == 503
        assert http.post(f"{b.ctx.base_url}/chat/completions", json=body).status_code == 200
    assert b.metrics["routes"]["openai/gpt-4o-mini"]["errors"] == {"server_error": 1}
    assert b.metrics["summary"]["retries"] == 1 and http.is_closed  # closed with the cell


def test_the_cell_transport_cannot_be_replaced(tmp_path: Path) -> None:
    with Bound(tmp_path) as b:
        with pytest.raises(TypeError, match="do not pass transport= or http_client="):
            b.ctx.httpx2_client(transport=httpx2.MockTransport(lambda r: httpx2.Response(200)))
        with pytest.raises(TypeError, match="built on the cell's own httpx2 client"):
            b.ctx.openai_client(http_client=httpx2.Client())


def test_the_openai_sdk_retry_backs_off_on_the_cell_clock(tmp_path: Path, no_real_sleep: None) -> None:
    with Bound(tmp_path, fault="http_503", streaming=False) as b:
        client = b.ctx.openai_client()
        assert str(client.base_url) == "https://api.openai.com/v1/" and client.api_key == REPLAY_API_KEY
        completion = client.chat.completions.create(model=b.ctx.model, messages=MESSAGES, tools=CHAT_TOOLS)
        assert completion.choices[0].message.tool_calls
        [wait] = b.waits()
        assert 0.375 <= wait <= 0.5  # the SDK's backoff, 0.5 s less 0-25 % jitter, in virtual seconds
    summary = b.metrics["summary"]
    assert (summary["calls"], summary["errors"], summary["retries"], summary["successes"]) == (2, 1, 1, 1)


def test_with_options_keeps_the_virtual_sleep(tmp_path: Path, no_real_sleep: None) -> None:
    with Bound(tmp_path, fault="http_429", streaming=False) as b:
        client = b.ctx.openai_client(max_retries=0).with_options(max_retries=1)
        client.chat.completions.create(model=b.ctx.model, messages=MESSAGES, tools=CHAT_TOOLS)
        assert b.waits() == [1.0]  # Retry-After: 1, honoured on the cell clock
    assert b.metrics["summary"]["retries"] == 1


def test_the_anthropic_sdk_on_the_cell(tmp_path: Path, no_real_sleep: None) -> None:
    with Bound(tmp_path, provider="anthropic/claude-haiku-4-5", fault="http_529") as b:
        client = b.ctx.anthropic_client()
        assert str(client.base_url) == "https://api.anthropic.com"  # the SDK adds /v1/messages itself
        with client.messages.stream(
            model=b.ctx.model,
            max_tokens=256,
            messages=MESSAGES,
            tools=[{"name": "write_file", "input_schema": {"type": "object"}}],
        ) as stream:
            message = stream.get_final_message()
        assert message.stop_reason == "tool_use"
    route = b.metrics["routes"]["anthropic/claude-haiku-4-5"]
    assert (route["calls"], route["errors"], route["retries"], route["stream_calls"]) == (2, {"overloaded": 1}, 1, 2)


def test_async_sdk_clients(tmp_path: Path, no_real_sleep: None) -> None:
    with Bound(tmp_path, fault="http_503", streaming=False) as b:

        async def main() -> Any:
            async with b.ctx.async_openai_client() as client:
                return await client.chat.completions.create(model=b.ctx.model, messages=MESSAGES, tools=CHAT_TOOLS)

        completion = asyncio.run(main())
        assert completion.choices[0].message.tool_calls
    assert b.metrics["summary"]["retries"] == 1


def test_async_httpx_clients(tmp_path: Path) -> None:
    with Bound(tmp_path, provider="anthropic/claude-haiku-4-5") as b:

        async def main() -> list[int]:
            body = {"model": b.ctx.model, "max_tokens": 64, "messages": MESSAGES}
            async with b.ctx.async_httpx_client() as c1, b.ctx.async_httpx2_client() as c2:
                r1 = await c1.post(f"{b.ctx.base_url}/messages", json=body)
                r2 = await c2.post(f"{b.ctx.base_url}/messages", json=body)
            return [r1.status_code, r2.status_code]

        assert asyncio.run(main()) == [200, 200]
    assert b.metrics["routes"]["anthropic/claude-haiku-4-5"]["successes"] == 2


def test_an_sdk_without_the_sleep_hook_is_refused() -> None:
    class Other:
        pass

    with pytest.raises(RuntimeError, match="has no _sleep_for_retry hook"):
        _virtual_sleep(Other, clock=None)  # type: ignore[arg-type]


def test_report_once(tmp_path: Path) -> None:
    with Bound(tmp_path) as b:
        b.ctx.report({"outcome": "max_steps"})
        with pytest.raises(ValueError, match="report\\(\\) is called once per cell"):
            b.ctx.report({"outcome": "max_steps"})
