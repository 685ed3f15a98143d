"""Break one guard at a time, run the hardening test that should catch it, restore the file.

Not a test (pytest does not collect it): the proof that the hardening tests fail when the behaviour they
guard is removed. Run from anywhere: ``.venv/bin/python tests/hardening/guard_mutations.py [INDEX ...]``.
A file with uncommitted changes is skipped (never overwritten); each file is restored byte for byte.
Results go to stdout and ``guard_mutations.json`` in the temp directory. Two guards are deliberately
layered and only caught when both layers go (noted in their names): run-directory redaction (headers,
JSON fields, whole-text pass) and bundle confinement (symlink check, outside-path check).
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
H = "tests/hardening/"
MUTATIONS = [
    # group, name, file, old, new, pytest args
    (
        "1 properties",
        "parse_response shape guard removed",
        "agent_runtime/wire/classify.py",
        "        except SHAPE_ERRORS as exc:\n            acc = Accumulator()",
        "        except ZeroDivisionError as exc:\n            acc = Accumulator()",
        [H + "test_stream_properties.py", "-k", "replaced or every_value"],
    ),
    (
        "1 properties",
        "Accumulator non-string delta guard removed",
        "agent_runtime/wire/accumulator.py",
        '        if not isinstance(delta, str):\n            return self._not_text("text delta", delta)',
        "        pass",
        [H + "test_stream_properties.py", "-k", "replaced"],
    ),
    (
        "1 properties",
        "DecodingError not caught by ProviderClient",
        "agent_runtime/wire/client.py",
        "except (httpx.TransportError, httpx.DecodingError, OSError) as exc:",
        "except (httpx.TransportError, OSError) as exc:",
        [H + "test_stream_properties.py", "-k", "gzip"],
    ),
    (
        "1 properties",
        "SSE decoder: CR then LF across chunks seen as two line ends",
        "agent_runtime/wire/sse.py",
        '            if text[0] == "\\n":\n                text = text[1:]',
        "            pass",
        [H + "test_stream_properties.py", "-k", "sse_decoder"],
    ),
    (
        "1 properties",
        "truncated stream without finish reported as success",
        "agent_runtime/wire/accumulator.py",
        '        if self.error is None and self.finish_reason is None:\n            self.fail("stream_truncated"',
        '        if False:\n            self.fail("stream_truncated"',
        [H + "test_stream_properties.py", "-k", "truncation or cut_before"],
    ),
    (
        "2 sweep",
        "retried calls not counted in metrics",
        "agent_runtime/observe/metrics.py",
        "        stats.calls += 1\n",
        "        stats.calls += 0 if attempt.retry else 1\n",
        [H + "test_fault_sweep.py", "-k", "openai/gpt-4o-mini and (http_500 or http_429)"],
    ),
    (
        "2 sweep",
        "missing tool call id not synthesized",
        "agent_runtime/loop/agent.py",
        '            base = call.id or f"call_t{turn}_{position}"',
        "            base = call.id",
        [H + "test_fault_sweep.py", "-k", "missing_tool_call_id"],
    ),
    (
        "2 sweep",
        "server_error policy: no retry",
        "agent_runtime/config.py",
        '    **{c: _retry(1) for c in ("server_error",',
        '    **{c: _retry(0) for c in ("server_error",',
        [H + "test_fault_sweep.py", "-k", "single and http_500"],
    ),
    (
        "2 sweep",
        "run dir: error files not written",
        "agent_runtime/observe/runlog.py",
        "            if r.error is not None:\n                put_json(",
        "            if False:\n                put_json(",
        [H + "test_fault_sweep.py", "-k", "single and anthropic/ and http_500"],
    ),
    (
        "2 sweep",
        "telemetry export dropped",
        "agent_runtime/runner.py",
        "            export(log.telemetry_lines(env), env)",
        "            pass",
        [H + "test_fault_sweep.py", "-k", "single and openai/gpt-4o-mini and none"],
    ),
    (
        "2 sweep",
        "fallback with no route left fails with the first error's category",
        "agent_runtime/resilience/resilient.py",
        "        raise RunFailed(last.category,",
        '        raise RunFailed("server_error",',
        [H + "test_fault_sweep.py", "-k", "persistent and (html_200 or http_429)"],
    ),
    (
        "3 canary",
        "raw excerpts: fragment redaction removed",
        "agent_runtime/observe/runlog.py",
        "    text = redact_fragments(redact_text(text, env), env)",
        "    text = redact_text(text, env)",
        [H + "test_canary_secrets.py"],
    ),
    (
        "3 canary",
        "request headers not redacted in run dirs (layered: not caught alone)",
        "agent_runtime/observe/runlog.py",
        '"headers": redact_headers(r.request_headers, env)',
        '"headers": r.request_headers',
        [H + "test_canary_secrets.py"],
    ),
    (
        "3 canary",
        "failure report not redacted",
        "pytest_kylecode/collect.py",
        "            return redact_text(str(excinfo.value))",
        "            return str(excinfo.value)",
        [H + "test_canary_secrets.py"],
    ),
    (
        "3 canary",
        "query-string key names not masked",
        "agent_runtime/observe/redact.py",
        "        pairs = [(k, MASK if k.lower() in SECRET_QUERY else v)",
        "        pairs = [(k, v)",
        [H + "test_canary_secrets.py"],
    ),
    (
        "4 bad inputs",
        "duplicate-key check removed",
        "agent_runtime/yamlsource.py",
        "    first = parent.keys.get(key)\n    if first is not None:",
        "    first = parent.keys.get(key)\n    if False:",
        [H + "test_bad_inputs.py", "-k", "scenarios_through"],
    ),
    (
        "4 bad inputs",
        "alias bomb check removed (timeout 60 s)",
        "agent_runtime/yamlsource.py",
        "                if size > MAX_VALUES and size > 10 * nodes:",
        "                if False:",
        [H + "test_bad_inputs.py", "-k", "validate", "-p", "no:cacheprovider"],
    ),
    (
        "4 bad inputs",
        "depth check removed: PyYAML's own limit (or a RecursionError) speaks instead",
        "agent_runtime/yamlsource.py",
        "                if len(stack) >= MAX_DEPTH:",
        "                if False:",
        [H + "test_bad_inputs.py", "-k", "validate or configs", "-p", "no:cacheprovider"],
    ),
    (
        "4 bad inputs",
        "libyaml's look-ahead not rechecked: its nesting message instead of ours",
        "agent_runtime/yamlsource.py",
        "                _recheck_in_python(text, path)\n",
        "                pass\n",
        ["tests/unit/agent_runtime/test_yamlsource.py", "-k", "libyamls_own_limit"],
    ),
    (
        "4 bad inputs",
        "invalid scenario raises instead of a failing item",
        "pytest_kylecode/collect.py",
        '            return [ScenarioErrorItem.from_parent(self, name=f"{self.path.name}::invalid", message=str(exc))]',
        "            raise",
        [H + "test_bad_inputs.py", "-k", "through_the_plugin"],
    ),
    (
        "4 bad inputs",
        "extends errors re-pointed at the defining file removed",
        "agent_runtime/config.py",
        "        raise _in_defining_file(exc, str(path), files) from None",
        "        raise",
        [H + "test_bad_inputs.py", "-k", "configs"],
    ),
    (
        "4 bad inputs",
        "corrupt cassette becomes a traceback",
        "pytest_kylecode/cassettes/store.py",
        "        except CassetteError as exc:\n            raise self._fail(str(exc)) from None",
        "        except ZeroDivisionError as exc:\n            raise self._fail(str(exc)) from None",
        [H + "test_bad_inputs.py", "-k", "replay"],
    ),
    (
        "5 confinement",
        "workspace escape check removed",
        "agent_runtime/loop/tools/workspace.py",
        "    if real != ctx.root and not real.is_relative_to(ctx.root):",
        "    if False:",
        [H + "test_confinement.py", "-k", "escape"],
    ),
    (
        "5 confinement",
        "run_shell: no own process group",
        "agent_runtime/loop/tools/shell.py",
        "                start_new_session=True,",
        "                start_new_session=False,",
        [H + "test_confinement.py", "-k", "run_shell or grandchild"],
    ),
    (
        "5 confinement",
        "bundle symlink check removed",
        "agent_runtime/observe/bundle.py",
        "                if path.is_symlink():\n                    raise BundleError",
        "                if False:\n                    raise BundleError",
        [H + "test_confinement.py", "-k", "bundle"],
    ),
    (
        "5 confinement",
        "unsafe YAML loader",
        "agent_runtime/yamlsource.py",
        '_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)',
        "_Loader = yaml.UnsafeLoader",
        [H + "test_confinement.py", "-k", "yaml or tags"],
    ),
    (
        "5 confinement",
        "python tags left to the constructor (PyYAML's words, not ours)",
        "agent_runtime/yamlsource.py",
        '                if tag is not None and tag != "!" and tag != _MERGE_TAG and tag not in known_tags:',
        "                if False:",
        [H + "test_bad_inputs.py", "-k", "validate", "-p", "no:cacheprovider"],
    ),
    (
        "5 confinement",
        "tools prompt compiled from user text",
        "agent_runtime/dialect/prompts.py",
        '    return _template("tools_prompt.j2").render(',
        '    return _environment().from_string("\\n".join(t.description for t in key.specs)).render()'
        ' + _template("tools_prompt.j2").render(',
        [H + "test_confinement.py", "-k", "template"],
    ),
    (
        "6 concurrency",
        "telemetry lock removed",
        "agent_runtime/observe/telemetry.py",
        "        fcntl.flock(fd, fcntl.LOCK_EX)",
        "        pass",
        [H + "test_concurrency.py", "-k", "telemetry_file"],
    ),
    (
        "6 concurrency",
        "telemetry without O_APPEND",
        "agent_runtime/observe/telemetry.py",
        "os.O_WRONLY | os.O_APPEND | os.O_CREAT",
        "os.O_WRONLY | os.O_CREAT",
        [H + "test_concurrency.py", "-k", "telemetry_file or xdist"],
    ),
    (
        "6 concurrency",
        "run directory may be shared (no unique id, exist_ok)",
        "agent_runtime/observe/runlog.py",
        "        path = root / (prefix + uuid.uuid4().hex[:8])\n        try:\n            path.mkdir()",
        "        path = root / prefix\n        try:\n            path.mkdir(exist_ok=True)",
        [H + "test_concurrency.py", "-k", "same_cell or xdist"],
    ),
    (
        "1 properties",
        "stream event shape guard removed (responses)",
        "agent_runtime/wire/protocols/openai_responses.py",
        '        except SHAPE_ERRORS as exc:\n            return acc.fail("invalid_json", f"unexpected event shape',
        "        except ZeroDivisionError as exc:\n"
        '            return acc.fail("invalid_json", f"unexpected event shape',
        [H + "test_stream_properties.py", "-k", "replaced or every_value"],
    ),
    (
        "3 canary",
        "run dir files written without any redaction (headers, JSON fields, text pass)",
        "agent_runtime/observe/runlog.py",
        '            path.write_text(redact_text(text, env), encoding="utf-8")\n\n'
        "        def put_json(path: Path, data: Any) -> None:\n"
        "            put(path, json.dumps(redact_json(data, env),",
        '            path.write_text(text, encoding="utf-8")\n\n'
        "        def put_json(path: Path, data: Any) -> None:\n"
        "            put(path, json.dumps(data,",
        [H + "test_canary_secrets.py"],
    ),
    (
        "5 confinement",
        "bundle: symlink AND outside checks removed",
        "agent_runtime/observe/bundle.py",
        "                if path.is_symlink():\n"
        '                    raise BundleError(f"refusing symlink {rel} in {run_dir}")\n'
        "                if not path.resolve().is_relative_to(run_dir):",
        "                if False:\n"
        '                    raise BundleError(f"refusing symlink {rel} in {run_dir}")\n'
        "                if False:",
        [H + "test_confinement.py", "-k", "bundle"],
    ),
    (
        "3 canary",
        "emulator log not redacted",
        "pytest_kylecode/loopback.py",
        "            self.log(escape_line(redact_text(line)))",
        "            self.log(escape_line(line))",
        [H + "test_canary_secrets.py"],
    ),
    (
        "3 canary",
        "replay matched with the runtime's env only",
        "pytest_kylecode/cassettes/store.py",
        "RequestNormalizer(workspace, {**os.environ, **env})",
        "RequestNormalizer(workspace, env)",
        [H + "test_canary_secrets.py"],
    ),
    (
        "3 canary",
        "masked key prefix counted as a leak",
        "pytest_kylecode/cassettes/store.py",
        'find_secrets(_MASKED_KEY_PREFIX.sub("", _streamed_text(item)), env)',
        "find_secrets(_streamed_text(item), env)",
        [H + "test_canary_secrets.py"],
    ),
    (
        "3 canary",
        "cassette scrub uses the runtime env only (keys popped)",
        "pytest_kylecode/cassettes/store.py",
        "        env = {**os.environ, **self.env}\n",
        "        env = self.env\n",
        [H + "test_canary_secrets.py"],
    ),
]
only = sys.argv[1:]
results = []
for i, (group, name, rel, old, new, args) in enumerate(MUTATIONS):
    if only and str(i) not in only:
        continue
    path = ROOT / rel
    dirty = subprocess.run(["git", "diff", "--quiet", "--", rel], cwd=ROOT).returncode
    if dirty:
        results.append((group, name, "SKIPPED: file has uncommitted changes"))
        continue
    original = path.read_bytes()
    text = original.decode()
    if text.count(old) != 1:
        results.append((group, name, f"MUTATION NOT APPLICABLE ({text.count(old)} matches)"))
        continue
    try:
        path.write_text(text.replace(old, new))
        try:
            proc = subprocess.run(
                [str(ROOT / ".venv/bin/pytest"), "-q", "-x", "-p", "no:randomly", *args],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=400,
            )
            tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-200:]
            verdict = "CAUGHT" if proc.returncode != 0 else "NOT CAUGHT"
        except subprocess.TimeoutExpired:
            tail, verdict = "timeout", "CAUGHT (hung)"
    finally:
        path.write_bytes(original)
    assert path.read_bytes() == original
    results.append((group, name, f"{verdict}: {tail}"))
    print(group, "|", name, "|", verdict, "|", tail, flush=True)

with open(Path(tempfile.gettempdir()) / "guard_mutations.json", "w") as fh:
    json.dump(results, fh, indent=1)
