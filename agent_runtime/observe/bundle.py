"""Vendor bundles: one zip of a run directory that is safe to hand to a provider's support.

``build_bundle(run_dir)`` packs the run's probes, requests, metrics, raw
excerpts, errors, transcript and run info, plus ``manifest.json`` listing every
file with its size and SHA-256 (of the bytes in the zip). Every file is
redacted again on the way in (the run directory may have been edited, or written
by an older version); a key-shaped value that still survives makes the build
fail rather than ship it. Symlinks, and anything resolving outside RUN_DIR, are
refused: a bundle never carries a byte from elsewhere on the machine.
The zip is deterministic: sorted entries, fixed timestamps.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Final

from agent_runtime.errors import KylecodeError
from agent_runtime.observe.redact import find_secrets, redact_fragments, redact_json, redact_text

# What a bundle carries, relative to the run directory.
INCLUDED: Final = ("meta", "raw/responses", "errors", "conversation")
_FIXED_TIME: Final = (1980, 1, 1, 0, 0, 0)


class BundleError(KylecodeError):
    """The bundle cannot be built safely (symlink, path outside the run dir, surviving secret)."""


def _collect(run_dir: Path) -> list[Path]:
    files: list[Path] = []
    for top in INCLUDED:
        base = run_dir / top
        if base.is_symlink():
            raise BundleError(f"refusing symlink {top} in {run_dir}")
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
            for name in sorted(dirnames + filenames):
                path = Path(dirpath) / name
                rel = path.relative_to(run_dir)
                if path.is_symlink():
                    raise BundleError(f"refusing symlink {rel} in {run_dir}")
                if not path.resolve().is_relative_to(run_dir):
                    raise BundleError(f"refusing {rel}: it resolves outside {run_dir}")
                if name in filenames and path.is_file():
                    files.append(path)
    return sorted(files)


def _redact_raw_excerpt(text: str) -> str:
    """A raw excerpt written by ``runlog.raw_excerpt``; its base64 body is decoded, redacted, re-encoded."""
    header, sep, body = text.partition("\n\n")
    if not sep or "encoding: base64" not in header.splitlines():
        return redact_fragments(redact_text(text))  # a streamed key arrives in pieces
    try:
        decoded = base64.b64decode(body.strip(), validate=True)
    except ValueError:
        return redact_text(text)
    try:
        plain, codec = decoded.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        plain, codec = decoded.decode("latin-1"), "latin-1"
    cleaned = redact_fragments(redact_text(plain))
    if find_secrets(cleaned):
        raise BundleError("a key-shaped value survived redaction in a raw excerpt")
    return redact_text(header) + "\n\n" + base64.b64encode(cleaned.encode(codec)).decode("ascii") + "\n"


def _redacted_bytes(path: Path, rel: str) -> bytes:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # lossless for any bytes, so redaction still sees ASCII keys
        out = redact_text(text).encode("latin-1")
    else:
        if path.suffix == ".json":
            try:
                redacted = redact_json(json.loads(text))
                out_text = json.dumps(redacted, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
            except json.JSONDecodeError:
                out_text = redact_text(text)
        elif rel.startswith("raw/"):
            out_text = _redact_raw_excerpt(text)
        else:
            out_text = redact_text(text)
        out = out_text.encode("utf-8")
    survivors = find_secrets(out.decode("latin-1"))
    if survivors:
        raise BundleError(f"refusing to bundle {rel}: {len(survivors)} key-shaped value(s) survived redaction")
    return out


def build_bundle(run_dir: str | Path, out_zip: str | Path | None = None) -> Path:
    """Write the vendor bundle of ``run_dir`` and return the zip's path.

    ``out_zip`` defaults to ``<run_dir>.zip`` beside the run directory; it may not lie inside it.
    Raises ``BundleError`` (a ``KylecodeError``) when the directory is missing or unsafe.
    """
    given = Path(run_dir)
    if given.is_symlink():
        raise BundleError(f"refusing symlink {given}: pass the run directory itself")
    root = given.resolve()
    if not root.is_dir():
        raise BundleError(f"not a run directory: {given}")
    target = Path(out_zip) if out_zip is not None else root.with_name(root.name + ".zip")
    if target.resolve().is_relative_to(root):
        raise BundleError(f"the bundle must be written outside the run directory, got {target}")
    entries: list[tuple[str, bytes]] = []
    for path in _collect(root):
        rel = path.relative_to(root).as_posix()
        entries.append((rel, _redacted_bytes(path, rel)))
    if not entries:
        raise BundleError(f"nothing to bundle in {given}: expected {', '.join(INCLUDED)}")
    manifest = {
        "schema": 1,
        "run": root.name,
        "files": [
            {"path": rel, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()} for rel, data in entries
        ],
    }
    entries.append(("manifest.json", (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for rel, data in entries:
            info = zipfile.ZipInfo(rel, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    os.replace(partial, target)
    return target
