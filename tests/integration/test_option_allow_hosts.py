"""No network in replay: a user's agent that reaches past the cell's transport fails its cell, naming
the host and its own line; ``--kylecode-allow-hosts`` lists the exceptions."""

from __future__ import annotations

import socket

import pytest
from own_agent import write_project

NO_503 = {"fault: [none, http_503]": "fault: [none]"}


def test_a_replaying_agent_that_calls_home_fails_naming_the_host_and_its_line(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(project, "myagent:also_calls_home", **NO_503)
    project.runpytest("--kylecode-matrix", "--kylecode-record=all", "--snapshot-update").assert_outcomes(passed=1)
    connect = socket.socket.connect
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("KYLECODE_TEST_CALL_HOME", "1")
    result = project.runpytest("--kylecode-matrix")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "network: the agent tried to reach hosts outside the cell's transport while it replayed*",
            "  name lookup of api.openai.com:443 from */myagent.py:* in also_calls_home: httpx.get(*",
            "*--kylecode-allow-hosts=HOST",
        ]
    )
    assert socket.socket.connect is connect  # restored once the cell ended


def test_an_allowed_host_is_not_refused(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Allowed, the call goes out as it would (here, with no such host, it fails and the agent goes
    on): the cell is the agent's again."""
    write_project(project, "myagent:also_calls_home", **NO_503)
    project.runpytest("--kylecode-matrix", "--kylecode-record=all", "--snapshot-update").assert_outcomes(passed=1)
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("KYLECODE_TEST_CALL_HOME", "1")
    monkeypatch.setattr(socket, "getaddrinfo", _no_such_host)
    project.runpytest("--kylecode-matrix", "--kylecode-allow-hosts=api.openai.com").assert_outcomes(passed=1)


def _no_such_host(host: object, *args: object, **kwargs: object) -> list[object]:
    """Name resolution that knows no host but loopback: the allowed call cannot leave the machine."""
    if host in ("127.0.0.1", "localhost"):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", args[0] if args else 0))]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
