"""``CellContext``: what a user's agent gets for one matrix cell.

The cell's facts (task, route, streaming, tool mode, runtime knobs) are plain attributes.
Everything that touches the network goes through the client factories, which are wired
to the cell's stack::

    your client (httpx / httpx2 / openai / anthropic)
        -> [bridge: httpx2 -> httpx]  -> MeteringTransport (metrics)  -> FaultTransport (the fault)
        -> CassetteTransport (replay / record)  -> emulator | live providers

so the cell's fault hits the agent's calls, cassettes record and replay them, and the
harness measures them. A client made any other way bypasses all of that (and, in replay,
would try to reach the internet): use the factories.

Keys: ``api_key`` is the placeholder ``kylecode-replay`` unless the cell records from live
providers, when it is the provider's key from the environment. Clients default to the
scenario's timeouts (connect ``connect_s``; read, write and pool ``idle_s``), applied on
the cell clock. SDK clients keep their own retries, but their backoff sleeps on the cell
clock (see ``_virtual_sleep``): a retried 503 costs no wall time.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

import httpx

from agent_runtime.clock import Clock
from agent_runtime.providers import parse_route
from agent_runtime.resilience.failover import resolve_routes
from pytest_kylecode.byo.agent_report import AgentReport, InvalidReport

if TYPE_CHECKING:  # the SDKs and httpx2 are optional: imported when a factory is called
    import anthropic
    import httpx2
    import openai

    from agent_runtime.config import AgentConfig, Timeouts
    from agent_runtime.messages import ToolMode
    from agent_runtime.providers import ProtocolName
    from pytest_kylecode.scenarios.scenario import Cell

__all__ = ["REPLAY_API_KEY", "CellContext", "CellWiring"]

REPLAY_API_KEY: Final = "kylecode-replay"

_Client = TypeVar("_Client")


@dataclass(frozen=True, slots=True)
class CellWiring:
    """What the harness attaches to a ``CellContext`` while its cell runs: the workspace, the cell
    clock, the top of the cell's stack (the metering transport) and the environment."""

    workspace: Path
    clock: Clock
    transport: httpx.BaseTransport
    env: dict[str, str]
    live: bool


class CellContext:
    """One matrix cell, as a user's agent sees it.

    Attributes: ``task`` (the scenario's task), ``route`` (``provider/model``),
    ``provider``, ``model``, ``protocol`` (``openai_chat | anthropic_messages |
    openai_responses``), ``streaming`` (bool), ``tool_mode`` (``native | text``),
    ``failover`` (the other routes the scenario allows, in order), ``config`` (the
    scenario's ``agent:`` settings as an ``AgentConfig``: ``max_steps``, ``timeouts``,
    ``completion`` ...), ``scenario`` and ``cell_id`` (names, for logs).

    While the agent runs: ``workspace`` (a fresh directory filled from the scenario),
    ``clock`` (the cell clock: virtual unless recording live), ``api_key``, ``base_url``,
    and the client factories. The agent hands back an ``AgentReport`` (its return value
    under ``agent: {factory: ...}``, or ``report(...)``).
    """

    def __init__(self, cell: Cell, config: AgentConfig) -> None:
        route = parse_route(cell.provider)
        self.cell = cell
        self.config = config
        self.task: str = cell.scenario.task
        self.route: str = route.name
        self.provider: str = route.provider.name
        self.model: str = route.model
        self.protocol: ProtocolName = route.protocol
        self.streaming: bool = cell.streaming
        self.tool_mode: ToolMode = cell.tool_mode
        self.scenario: str = cell.scenario.name
        self.cell_id: str = cell.id
        self.failover: list[str] = [r.name for r in resolve_routes(route.name, config.failover)][1:]
        self._wiring: CellWiring | None = None
        self._clients: list[object] = []
        self._sdk_classes: dict[type, type] = {}  # SDK client class -> its subclass sleeping on the cell clock
        self._report: AgentReport | None = None

    # -- the running cell (the harness attaches and detaches it) ------------------------------

    def attach(self, wiring: CellWiring) -> None:
        """Called by the harness when the cell starts: from now on the clients and the workspace exist."""
        self._wiring = wiring

    def detach(self) -> None:
        """Called by the harness when the agent has finished: closes every sync client the agent did
        not close (async ones hold nothing to release)."""
        for client in reversed(self._clients):
            close = getattr(client, "close", None)
            if close is not None and not inspect.iscoroutinefunction(close):
                close()
        self._clients.clear()

    @property
    def reported(self) -> AgentReport | None:
        """The report the agent handed over with ``report(...)``, if any."""
        return self._report

    @property
    def _wired(self) -> CellWiring:
        if self._wiring is None:
            raise RuntimeError(
                "the cell is not running yet: a CellContext's workspace, clock and clients exist only "
                "while the agent runs (inside the test function, or the factory call)"
            )
        return self._wiring

    @property
    def workspace(self) -> Path:
        return self._wired.workspace

    @property
    def clock(self) -> Clock:
        return self._wired.clock

    @property
    def timeouts(self) -> Timeouts:
        return self.config.timeouts

    @property
    def live(self) -> bool:
        """Whether this cell talks to the live providers (recording with ``--kylecode-upstream=live``)."""
        return self._wired.live

    @property
    def api_key(self) -> str:
        return self.api_key_for(self.route)

    @property
    def base_url(self) -> str:
        return self.base_url_for(self.route)

    def api_key_for(self, route: str) -> str:
        """The key to send to ``route``: the placeholder unless recording live."""
        wiring = self._wired
        if not wiring.live:
            return REPLAY_API_KEY
        provider = parse_route(route).provider
        key = wiring.env.get(provider.key_env)
        if not key:
            raise RuntimeError(f"recording live from {route} needs {provider.key_env} in the environment")
        return key

    def base_url_for(self, route: str) -> str:
        """The base URL of ``route``'s provider (``https://api.openai.com/v1``...): canonical,
        or ``KYLECODE_<PROVIDER>_BASE_URL`` when recording live (cassettes store the canonical one)."""
        provider = parse_route(route).provider
        return provider.resolved_base_url(self._wired.env) if self._wired.live else provider.base_url.rstrip("/")

    def report(self, report: AgentReport | Mapping[str, object]) -> AgentReport:
        """Hand the harness the agent's report (an ``AgentReport`` or a mapping of its fields); once."""
        if self._report is not None:
            raise InvalidReport("the cell already has a report: report() is called once per cell")
        self._report = AgentReport.coerce(report)
        return self._report

    # -- client factories ---------------------------------------------------------------------

    # ``kwargs`` are handed on to the client's own constructor, whatever it accepts: they stay ``Any``.

    def _kwargs(self, kwargs: dict[str, Any], timeout: type[httpx.Timeout] | type[httpx2.Timeout]) -> dict[str, Any]:
        if "transport" in kwargs or "http_client" in kwargs:
            raise TypeError(
                "the cell's clients carry their own transport (metering, fault, cassette); "
                "do not pass transport= or http_client="
            )
        timeouts = self.config.timeouts
        kwargs.setdefault("timeout", timeout(timeouts.idle_s, connect=timeouts.connect_s))
        return kwargs

    def _keep(self, client: _Client) -> _Client:
        self._clients.append(client)
        return client

    def httpx_client(self, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` on the cell's stack; ``kwargs`` go to ``httpx.Client``."""
        return self._keep(httpx.Client(transport=self._wired.transport, **self._kwargs(kwargs, httpx.Timeout)))

    def async_httpx_client(self, **kwargs: Any) -> httpx.AsyncClient:
        from pytest_kylecode.byo.bridge import AsyncHttpxTransport

        transport = AsyncHttpxTransport(self._wired.transport)
        return self._keep(httpx.AsyncClient(transport=transport, **self._kwargs(kwargs, httpx.Timeout)))

    def httpx2_client(self, **kwargs: Any) -> httpx2.Client:
        """An ``httpx2.Client`` on the cell's stack (what the official SDKs run on)."""
        import httpx2

        from pytest_kylecode.byo.bridge import Httpx2Transport

        return self._keep(
            httpx2.Client(transport=Httpx2Transport(self._wired.transport), **self._kwargs(kwargs, httpx2.Timeout))
        )

    def async_httpx2_client(self, **kwargs: Any) -> httpx2.AsyncClient:
        import httpx2

        from pytest_kylecode.byo.bridge import AsyncHttpx2Transport

        transport = AsyncHttpx2Transport(self._wired.transport)
        return self._keep(httpx2.AsyncClient(transport=transport, **self._kwargs(kwargs, httpx2.Timeout)))

    def openai_client(self, **kwargs: Any) -> openai.OpenAI:
        """An ``openai.OpenAI`` for the cell's route (``base_url``, ``api_key`` preset; ``kwargs`` win).

        Its own retries (default 2) stay on, with their backoff on the cell clock.
        """
        import openai

        return self._sdk(openai.OpenAI, self.httpx2_client, self._sdk_defaults(kwargs, self.base_url))

    def async_openai_client(self, **kwargs: Any) -> openai.AsyncOpenAI:
        import openai

        return self._sdk(openai.AsyncOpenAI, self.async_httpx2_client, self._sdk_defaults(kwargs, self.base_url))

    def anthropic_client(self, **kwargs: Any) -> anthropic.Anthropic:
        """An ``anthropic.Anthropic`` for the cell's route (its base URL without ``/v1``, which the
        SDK adds); retries as for ``openai_client``."""
        import anthropic

        return self._sdk(anthropic.Anthropic, self.httpx2_client, self._sdk_defaults(kwargs, _sdk_root(self.base_url)))

    def async_anthropic_client(self, **kwargs: Any) -> anthropic.AsyncAnthropic:
        import anthropic

        return self._sdk(
            anthropic.AsyncAnthropic, self.async_httpx2_client, self._sdk_defaults(kwargs, _sdk_root(self.base_url))
        )

    def _sdk_defaults(self, kwargs: dict[str, Any], base_url: str) -> dict[str, Any]:
        if "http_client" in kwargs:
            raise TypeError("the SDK client is built on the cell's own httpx2 client; do not pass http_client=")
        kwargs.setdefault("base_url", base_url)
        kwargs.setdefault("api_key", self.api_key)  # explicit: the SDKs would otherwise read the environment
        return kwargs

    def _sdk(self, base: type[_Client], http_client: Callable[[], object], kwargs: dict[str, Any]) -> _Client:
        cls = self._sdk_classes.get(base)
        if cls is None:
            cls = self._sdk_classes[base] = _virtual_sleep(base, self._wired.clock)
        client = cls(http_client=http_client(), **kwargs)
        assert isinstance(client, base)  # cls is a subclass of base
        return self._keep(client)

    def __repr__(self) -> str:
        return f"<CellContext {self.scenario}[{self.cell_id}]>"


def _sdk_root(base_url: str) -> str:
    """The SDK's base URL: the provider's without its trailing ``/v1`` (the Anthropic SDK adds it)."""
    return base_url[:-3] if base_url.endswith("/v1") else base_url


def _virtual_sleep(base: type, clock: Clock) -> type:
    """A subclass of an official SDK client whose retry backoff sleeps on ``clock``.

    Both SDKs wait between retries in one method, ``_sleep_for_retry`` (sync or async),
    which computes the delay with ``_calculate_retry_timeout`` (``Retry-After``
    honoured, exponential backoff, random jitter) and then calls ``time.sleep`` /
    ``anyio.sleep``. The subclass keeps the delay computation and replaces only the wait,
    so the SDK's retry policy is what the cell tests; the global ``time`` module is not
    touched. The random jitter only moves the virtual clock between calls: no metric
    depends on it. ``copy()``/``with_options()`` build the same subclass.
    """
    hook = getattr(base, "_sleep_for_retry", None)
    if hook is None or not hasattr(base, "_calculate_retry_timeout"):
        raise RuntimeError(
            f"{base.__module__}.{base.__name__} has no _sleep_for_retry hook (SDK version changed): "
            "its retries would sleep for real"
        )

    def wait(
        client: _RetryingClient, retries_taken: int, max_retries: int, options: object, response: httpx2.Response | None
    ) -> None:
        headers = response.headers if response is not None else None
        clock.sleep(client._calculate_retry_timeout(max_retries - retries_taken, options, headers))

    def sleep_for_retry(
        self: _RetryingClient,
        *,
        retries_taken: int,
        max_retries: int,
        options: object,
        response: httpx2.Response | None,
        **_: object,
    ) -> None:
        wait(self, retries_taken, max_retries, options, response)

    async def async_sleep_for_retry(
        self: _RetryingClient,
        *,
        retries_taken: int,
        max_retries: int,
        options: object,
        response: httpx2.Response | None,
        **_: object,
    ) -> None:
        wait(self, retries_taken, max_retries, options, response)

    hook_impl = async_sleep_for_retry if inspect.iscoroutinefunction(hook) else sleep_for_retry
    return type(
        base.__name__,
        (base,),
        {"_sleep_for_retry": hook_impl, "__module__": __name__, "__qualname__": f"CellContext.{base.__name__}"},
    )


class _RetryingClient(Protocol):
    """What the virtual sleep calls on an SDK client: its own delay computation (the same private
    method in both SDKs; ``options`` is the SDK's request options, handed through)."""

    def _calculate_retry_timeout(
        self, remaining_retries: int, options: object, response_headers: httpx2.Headers | None
    ) -> float: ...
