import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cli_helpers import small_run_dir

from pytest_kylecode.cli import main


def span(route, error=None, retry=False, latency=10.0, tokens=(3, 2)):
    attrs = {
        "kylecode.route": route,
        "kylecode.retry": retry,
        "kylecode.fallback": False,
        "kylecode.latency_ms": latency,
        "gen_ai.operation.name": "chat",
    }
    if error:
        attrs["error.type"] = error
    else:
        attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"] = tokens
    return json.dumps({"name": "chat", "attributes": attrs})


@pytest.fixture
def telemetry(tmp_path):
    path = tmp_path / "telemetry.jsonl"
    path.write_text(
        "\n".join(
            [
                span("openrouter/z-ai/glm-4.6", "server_error", latency=30.0),
                span("openrouter/z-ai/glm-4.6", "server_error", retry=True, latency=20.0),
                span("openai/gpt-4.1-mini", latency=5.0),
                span("openai/gpt-4.1-mini", "rate_limit", latency=1.0),
            ]
        )
        + "\n"
    )
    return path


class Collector:
    """A real loopback HTTP server that keeps every POST body."""

    def __init__(self, status=200):
        bodies = self.bodies = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["content-length"])
                bodies.append((self.headers["content-type"], self.rfile.read(length)))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def test_summary_json_aggregates_per_route_and_category(telemetry, capsys):
    assert main(["metrics", str(telemetry), "--summary", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["spans"], summary["calls"], summary["successes"]) == (4, 4, 1)
    assert summary["errors"] == {"rate_limit": 1, "server_error": 2}
    r = summary["routes"]["openrouter/z-ai/glm-4.6"]
    assert (r["calls"], r["successes"], r["retries"], r["errors"]) == (2, 0, 1, {"server_error": 2})
    assert r["latency_ms"] == {"p50": 20.0, "p95": 30.0, "max": 30.0}
    assert summary["routes"]["openai/gpt-4.1-mini"]["input_tokens"] == 3


def test_summary_table(telemetry, capsys):
    assert main(["metrics", str(telemetry), "--summary"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("4 spans, 4 calls, 1 successes")
    assert "openrouter/z-ai/glm-4.6" in out and "server_error=2" in out


def test_posts_spans_as_json_to_a_real_endpoint(telemetry, capsys):
    with Collector() as url:
        assert main(["metrics", str(telemetry), "--http-endpoint", url]) == 0
    out = capsys.readouterr().out
    assert f"posted 4 spans in 1 request(s) to {url}" in out


def test_post_body_is_the_span_array(telemetry):
    collector = Collector()
    with collector as url:
        assert main(["metrics", str(telemetry), "--http-endpoint", url, "--summary"]) == 0
    ((content_type, body),) = collector.bodies
    assert content_type == "application/json"
    spans = json.loads(body)
    assert [s["attributes"]["kylecode.route"] for s in spans] == ["openrouter/z-ai/glm-4.6"] * 2 + [
        "openai/gpt-4.1-mini"
    ] * 2


def test_refused_post_is_exit_2(telemetry, capsys):
    with Collector(status=500) as url:
        assert main(["metrics", str(telemetry), "--http-endpoint", url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "HTTP 500" in err


def test_bad_file_is_exit_2(tmp_path, capsys):
    (tmp_path / "bad.jsonl").write_text('{"attributes": {}}\n{oops\n')
    assert main(["metrics", str(tmp_path / "bad.jsonl"), "--summary"]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err
    assert main(["metrics", str(tmp_path / "missing.jsonl")]) == 2


def test_reads_a_run_dirs_telemetry(tmp_path, capsys):
    run_dir = small_run_dir(tmp_path)
    assert main(["metrics", str(run_dir / "meta" / "telemetry.jsonl"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["routes"]["anthropic/claude-sonnet-4-5"]["errors"] == {"auth": 1}
