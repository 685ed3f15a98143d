"""The record modes, written once: the type, the tuple the option parser offers, and what each does;
and the upstreams a recording is made from.

=============  ==========================================  ==========================
record mode    requests answered from                      cassette written
=============  ==========================================  ==========================
none (CI)      the cassette only; a miss fails the cell    never
once           the cassette if it exists, else upstream    only when it did not exist
new_episodes   the cassette, then upstream for the rest    old + new interactions
all, rewrite   upstream only                               replaced
off            upstream directly, no cassette at all       never
=============  ==========================================  ==========================
"""

from __future__ import annotations

from typing import Final, Literal, get_args

RecordMode = Literal["none", "once", "new_episodes", "all", "rewrite", "off"]
RECORD_MODES: Final[tuple[RecordMode, ...]] = get_args(RecordMode)

# What a recording asks: the provider emulator playing the cell's script, or the live providers.
Upstream = Literal["emulator", "live"]
UPSTREAMS: Final[tuple[Upstream, ...]] = get_args(Upstream)


def records(mode: RecordMode) -> bool:
    """Whether ``mode`` may write a cassette (``off`` talks to the upstream but keeps nothing)."""
    return mode not in ("none", "off")
