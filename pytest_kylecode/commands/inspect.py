"""``kylecode inspect CASSETTE [--json]``: what each interaction of a cassette says once normalized.

Reads our cassettes and any vcrpy cassette (gzip and ``!!binary`` bodies, pydantic-ai's
``parsed_body``...) and prints one record per interaction (``normalize``), as a readable
table or, with ``--json``, as ``{"interactions": [...]}``. A missing or corrupt cassette is a
one-line error naming the file (and the interaction) on stderr, exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent_runtime.messages import JSONObject

HELP = "show what each interaction of a cassette (ours or any vcrpy cassette) says once normalized"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("cassette", metavar="CASSETTE", type=Path, help="cassette file (vcrpy format)")
    parser.add_argument("--json", action="store_true", help='print {"interactions": [...]} as JSON')


def run(args: argparse.Namespace) -> int:
    from pytest_kylecode.failures import CassetteError

    cassette: Path = args.cassette
    as_json: bool = args.json
    try:
        records = inspect_cassette(cassette)
    except CassetteError as exc:
        print(f"kylecode inspect: error: {exc}", file=sys.stderr)
        return 2
    if as_json:
        text = json.dumps({"interactions": records}, ensure_ascii=False, indent=2) + "\n"
    else:
        text = format_table(str(cassette), records)
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `kylecode inspect ... | head`: the reader left, nothing is wrong
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's exit flush quiet
    return 0


def inspect_cassette(path: Path) -> list[JSONObject]:
    """The normalized record of every interaction of the cassette at ``path`` (``CassetteError`` if unusable)."""
    from pytest_kylecode.cassettes import format as ours
    from pytest_kylecode.cassettes.vcr_reader import load_yaml, parse_cassette
    from pytest_kylecode.failures import CassetteError
    from pytest_kylecode.normalize import normalize_interaction

    data = load_yaml(path)
    interactions = ours.load(path).interactions if _is_ours(data) else parse_cassette(data, source=str(path))
    records = []
    for index, interaction in enumerate(interactions):
        try:
            records.append(normalize_interaction(interaction, index))
        except Exception as exc:  # a normalizer bug must still name the interaction, not dump a traceback
            raise CassetteError(
                f"{path}: interaction {index} cannot be normalized ({type(exc).__name__}: {exc})"
            ) from exc
    return records


def _is_ours(data: object) -> bool:
    """Our format adds provenance (``kylecode:``) and SSE bodies as event lists (``sse:``)."""
    if not isinstance(data, dict):
        return False
    if "kylecode" in data:
        return True
    items = data.get("interactions")
    return isinstance(items, list) and any(
        isinstance(item, dict) and isinstance(item.get("response"), dict) and "sse" in item["response"]
        for item in items
    )


def _clip(text: str, limit: int = 100) -> str:
    """Prose on one line: runs of whitespace become one space (it is read, not copied)."""
    return _cut(" ".join(text.split()), limit)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_table(source: str, records: list[JSONObject]) -> str:
    """One block per interaction: a header row, then text, reasoning, tool calls and error."""
    lines = [f"{source}: {len(records)} interaction{'s' if len(records) != 1 else ''}"]
    for r in records:
        mode = "stream" if r["streaming"] else "json"
        finish = r["finish_reason"] or "-"
        if r["raw_finish_reason"] and r["raw_finish_reason"] != r["finish_reason"]:
            finish += f" ({r['raw_finish_reason']})"
        usage = r["usage"]
        lines.append(
            f"#{r['index']:<3} {r['protocol'] or 'not a model call':<18} {r['status']:<4} {mode:<6} "
            f"finish={finish:<24} tokens in={usage['input_tokens']} out={usage['output_tokens']}"
        )
        if r["text"]:
            lines.append(f"     text       {_clip(r['text'])!s}")
        if r["reasoning"]:
            lines.append(f"     reasoning  {_clip(r['reasoning'])} [{len(r['reasoning'])} chars]")
        for call in r["tool_calls"]:
            # As JSON, never re-spaced: the whitespace of an argument (a patch, a command line)
            # is part of what the model sent, and JSON escapes its newlines onto one line.
            arguments = json.dumps(call["arguments"], ensure_ascii=False)
            lines.append(f"     tool call  {call['name'] or '?'} id={call['id'] or '(none)'} {_cut(arguments, 80)}")
        if r["error"]:
            lines.append(f"     error      {r['error']['category']}: {_clip(r['error']['message'], 120)}")
    return "\n".join(lines) + "\n"
