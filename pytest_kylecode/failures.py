"""The harness's failure vocabulary, at the bottom of the package: it imports nothing of it.

Every layer raises these; only the cell runner (``cell.runner``) turns them into the advice a
user reads (the re-record command, the line of the scenario to change)::

    Exception
     +-- agent_runtime.errors.KylecodeError
     |    +-- CassetteError            a cassette file that cannot be used (names the file, the interaction)
     |         +-- CassetteMissing     no cassette for a cell that replays
     |         +-- CassetteStale       recorded for another version of the scenario
     |         +-- CassetteRefused     a write refused: a key-shaped value survived scrubbing, or the disk refused it
     +-- ReplayAborted                 a replay miss in an agent_runtime cell (deliberately no httpx error)
     +-- LiveRefusal                   a call the harness will not send to a live provider
     |    +-- LiveBudgetExhausted      more calls than --kylecode-max-live-calls
     |    +-- LiveKeyMissing           a provider's real endpoint without its key
     +-- AssertionError
          +-- CellFailure              a cell did not behave as expected; str() is the whole report
               +-- AgentCrashed        a user's agent raised instead of reporting
    httpx.TransportError
     +-- ReplayMiss                    a replay miss as a user's agent sees it: a dead upstream
    BaseException
     +-- CellTimeout                   the cell's wall-time bound, which no handler may swallow
"""

from __future__ import annotations

import httpx

from agent_runtime.errors import KylecodeError

__all__ = [
    "AgentCrashed",
    "CassetteError",
    "CassetteMissing",
    "CassetteRefused",
    "CassetteStale",
    "CellFailure",
    "CellTimeout",
    "LiveBudgetExhausted",
    "LiveKeyMissing",
    "LiveRefusal",
    "ReplayAborted",
    "ReplayMiss",
]


class CassetteError(KylecodeError):
    """A cassette file that cannot be used: names the file and, when known, the interaction."""


class CassetteMissing(CassetteError):
    """A cell that replays has no cassette."""


class CassetteStale(CassetteError):
    """The cassette was recorded for another version of its scenario (task, workspace, script or agent)."""


class CassetteRefused(CassetteError):
    """A cassette write refused: a key-shaped value survived scrubbing. Nothing was written."""


class ReplayMiss(httpx.TransportError):
    """No recorded interaction matches and the record mode forbids asking the upstream.

    A transport error, so that a user's agent (an SDK client over the byo bridges) sees what a
    dead upstream looks like; the harness still fails the cell with the miss it kept."""


class ReplayAborted(Exception):
    """The same miss, for ``agent_runtime`` cells: deliberately *not* an httpx error, so the
    runtime does not classify it as a connection failure, retry it and fall back to other routes
    (which would bury the first miss under misses that only the retries caused)."""


class LiveRefusal(Exception):
    """A call the harness refuses to send to a live provider. No httpx error either: the runtime
    would retry it and fall back, and the cell would record a run that never happened."""


class LiveBudgetExhausted(LiveRefusal):
    """More live calls than ``--kylecode-max-live-calls`` allows."""


class LiveKeyMissing(LiveRefusal):
    """A call to a provider's real endpoint without its key in the environment."""


class CellFailure(AssertionError):
    """A cell did not behave as expected; ``str()`` is the whole readable report."""


class AgentCrashed(CellFailure):
    """The user's agent raised instead of reporting."""


class CellTimeout(BaseException):
    """Raised by the wall-time alarm. A BaseException, so that no handler in the runtime (a tool
    turning its exceptions into error results, say) can swallow it and let the cell run on."""
