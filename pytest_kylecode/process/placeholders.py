"""``{placeholders}`` in a program's argv and environment.

``{task_file}``, ``{workspace}``, ``{report_file}``, ``{base_url:<provider>}`` and ``{scenario_dir}``
(the scenario file's directory, to name a program kept beside it); ``{{`` and ``}}`` stand for
literal braces. ``problem`` checks a text when the scenario is loaded (so a typo fails
with the scenario's ``file:line``), ``expand`` fills one in when the cell runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from agent_runtime.errors import did_you_mean
from agent_runtime.providers import PROVIDERS

__all__ = ["NAMES", "expand", "problem", "providers_named"]

NAMES: Final = ("task_file", "workspace", "report_file", "base_url", "scenario_dir")
_TOKEN: Final = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def problem(text: str) -> str | None:
    """Why ``text`` is not a valid template, or ``None``."""
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        if token in ("{", "}"):
            return f"unmatched {token!r} in {text!r} (write {token * 2} for a literal brace)"
        name, _, argument = (match.group(1) or "").partition(":")
        if name not in NAMES:
            return f"unknown placeholder {token!r}{did_you_mean(name, NAMES)}; placeholders: " + ", ".join(
                "{base_url:<provider>}" if n == "base_url" else f"{{{n}}}" for n in NAMES
            )
        if name == "base_url" and argument not in PROVIDERS:
            return (
                f"{token!r} names no provider{did_you_mean(argument, tuple(PROVIDERS))}; "
                f"providers: {', '.join(PROVIDERS)}"
            )
        if name != "base_url" and argument:
            return f"{{{name}}} takes no argument, got {token!r}"
    return None


def providers_named(text: str) -> set[str]:
    """The providers whose ``{base_url:<provider>}`` ``text`` uses."""
    return {
        argument
        for match in _TOKEN.finditer(text)
        for name, _, argument in [(match.group(1) or "").partition(":")]
        if name == "base_url"
    }


def expand(text: str, values: Mapping[str, str], base_urls: Mapping[str, str]) -> str:
    """``text`` with its placeholders filled in (checked by ``problem`` beforehand); a
    ``{base_url:<provider>}`` of a provider the cell does not serve is a ``KeyError`` naming it."""

    def fill(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name, _, argument = (match.group(1) or "").partition(":")
        if name == "base_url":
            if argument not in base_urls:
                raise KeyError(argument)
            return base_urls[argument]
        return values[name]

    return _TOKEN.sub(fill, text)
