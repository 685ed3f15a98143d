"""``report.md`` (a CI job summary) and ``summary.md`` (the body of the one sticky PR comment).

Both read the ``report.json`` document only, put what changed and what fails first, and name
files relative to the project root. ``summary.md`` starts with ``MARKER``, the hidden line a
workflow finds its earlier comment by, and stays under GitHub's comment size limit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

from agent_runtime.messages import JSONObject
from pytest_kylecode.report.baseline import Comparison
from pytest_kylecode.report.collect import FAILING, summary_line

MARKER: Final = "<!-- kylecode-matrix-summary -->"
SUMMARY_LIMIT: Final = 60_000  # characters; GitHub refuses a comment over 65,536
_MESSAGE: Final = 4000  # characters of a failure in report.md
_SUMMARY_MESSAGE: Final = 1500  # in summary.md, where every failing cell must fit


def report_markdown(data: JSONObject) -> str:
    out = ["# kylecode matrix", "", summary_line(data["summary"]), ""]
    out.extend(_provenance(data))
    if data.get("baseline"):
        out.extend(_comparison(Comparison.from_json(data["baseline"]), limit=None))
    failing = [c for c in data["cells"] if c["outcome"] in FAILING]
    if failing:
        out.extend(["## Failing cells", ""])
        for cell in failing:
            out.append(f"### `{cell['nodeid']}`")
            out.extend(_failure(cell, _MESSAGE))
    unexpected = [c for c in data["cells"] if c["outcome"] == "xpassed"]
    if unexpected:
        out.extend(["## Passed unexpectedly", ""])
        out.extend(f"- `{c['nodeid']}`: {c['message']}" for c in unexpected)
        out.append("")
    for scenario, info in data["scenarios"].items():
        faults = info["faults"]
        out.extend([f"## {scenario}", ""])
        out.append("| provider | " + " | ".join(f"`{f}`" for f in faults) + " |")
        out.append("|---|" + "---|" * len(faults))
        for provider, cells in info["providers"].items():
            out.append(f"| `{provider}` | " + " | ".join(cells[f] for f in faults) + " |")
        if info["not_applicable"]:
            out.append("")
            count = len(info["not_applicable"])
            out.append(f"{count} combinations not applicable (fault needs streaming or native tools).")
        out.append("")
    return "\n".join(out)


def summary_markdown(data: JSONObject, *, report_dir: str, env: Mapping[str, str] | None = None) -> str:
    """The PR comment: ``report_dir`` is where the report files are (relative to the project)."""
    env = os.environ if env is None else env
    out = [MARKER, f"## kylecode matrix: {summary_line(data['summary'])}", ""]
    if data.get("baseline"):
        out.extend(_comparison(Comparison.from_json(data["baseline"]), limit=30))
    failing = [c for c in data["cells"] if c["outcome"] in FAILING]
    tail = [
        "",
        "| scenario | cells | passed | failing |",
        "|---|---|---|---|",
        *(_scenario_row(name, data["cells"]) for name in data["scenarios"]),
        "",
        _artefact_hint(report_dir, env),
    ]
    if failing:
        out.extend([f"### Failing cells ({len(failing)})", ""])
    budget = SUMMARY_LIMIT - sum(len(line) + 1 for line in [*out, *tail])
    for i, cell in enumerate(failing):
        summary = f"<details><summary><code>{_html(cell['nodeid'])}</code></summary>"
        block = [summary, "", *_failure(cell, _SUMMARY_MESSAGE), "</details>"]
        size = sum(len(line) + 1 for line in block)
        if size > budget:
            out.append(f"... and {len(failing) - i} more failing cells: see report.md")
            break
        out.extend(block)
        budget -= size
    return "\n".join([*out, *tail]) + "\n"


def _provenance(data: JSONObject) -> list[str]:
    parts = [
        f"{label} {data[key]}"
        for label, key in (("commit", "commit"), ("at", "created_at"), ("pytest-kylecode", "plugin_version"))
        if data.get(key)
    ]
    return [" · ".join(parts), ""] if parts else []


def _comparison(comparison: Comparison, *, limit: int | None) -> list[str]:
    out = ["## Compared with the baseline", "", comparison.headline(), ""]
    for label, nodeids in (
        ("Newly failing", comparison.newly_failing),
        ("Newly passing", comparison.newly_passing),
        ("New cells", comparison.new),
        ("Removed cells", comparison.removed),
    ):
        if nodeids:
            out.append(f"**{label}** ({len(nodeids)}):")
            out.append("")
            out.extend(f"- `{nodeid}`" for nodeid in nodeids[:limit])
            if limit is not None and len(nodeids) > limit:
                out.append(f"- ... {len(nodeids) - limit} more (report.md)")
            out.append("")
    if comparison.deltas:
        by_cell: dict[str, list[str]] = {}
        for delta in comparison.deltas:
            by_cell.setdefault(delta.nodeid, []).append(delta.text())
        out.extend([f"**Metric changes** ({len(by_cell)} cells):", "", "| cell | change |", "|---|---|"])
        items = list(by_cell.items())
        out.extend(f"| `{nodeid}` | {', '.join(texts)} |" for nodeid, texts in items[:limit])
        if limit is not None and len(items) > limit:
            out.append(f"| ... {len(items) - limit} more cells | report.md |")
        out.append("")
    return out


def _failure(cell: JSONObject, limit: int) -> list[str]:
    out = []
    if cell["details"].get("run_dir"):
        out.append(f"run directory: `{cell['details']['run_dir']}`")
    message = cell["message"]
    if len(message) > limit:
        message = message[:limit] + "\n[...]"
    fence = "````" if "```" in message else "```"
    out.extend(["", fence, message, fence, ""])
    return out


def _scenario_row(name: str, cells: list[JSONObject]) -> str:
    mine = [c for c in cells if c["scenario"] == name]
    passed = sum(1 for c in mine if c["outcome"] not in (*FAILING, "skipped", "not run"))
    failing = sum(1 for c in mine if c["outcome"] in FAILING)
    return f"| {name} | {len(mine)} | {passed} | {failing or ''} |"


def _artefact_hint(report_dir: str, env: Mapping[str, str]) -> str:
    files = "`report.html` (the heatmap: click a cell for its failure), `report.md` and `report.json`"
    server, repository, run = (env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if server and repository and run:
        return f"The full report, {files}, is in the artefacts of [this run]({server}/{repository}/actions/runs/{run})."
    return f"The full report: {files} in `{report_dir}`."


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
