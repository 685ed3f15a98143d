"""``NetworkGuard``: loopback only while entered, every refusal named and kept, all restored after."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest

from pytest_kylecode.byo.network import NetworkBlocked, NetworkGuard


@pytest.fixture
def listener() -> socket.socket:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    return server


def test_loopback_connects_while_other_addresses_are_refused_without_a_packet(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    with NetworkGuard() as guard:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        with socket.create_connection(("localhost", port), timeout=5):
            pass
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        with pytest.raises(NetworkBlocked, match=r"connection to 203\.0\.113\.9:443 from .*test_network\.py:\d+"):
            sock.connect(("203.0.113.9", 443))
        with pytest.raises(NetworkBlocked):
            sock.connect_ex(("203.0.113.9", 443))
        sock.close()
    listener.close()
    assert [line.split(" from ")[0] for line in guard.refused] == ["connection to 203.0.113.9:443"] * 2


def test_a_name_lookup_is_refused_before_any_dns_query() -> None:
    with NetworkGuard() as guard, pytest.raises(NetworkBlocked, match=r"name lookup of api\.openai\.com:443"):
        socket.create_connection(("api.openai.com", 443), timeout=5)
    assert len(guard.refused) == 1 and "test_network.py" in guard.refused[0]


def test_a_refusal_in_another_thread_is_kept_too() -> None:
    def post_traces() -> None:
        with contextlib.suppress(NetworkBlocked):
            socket.getaddrinfo("traces.example.com", 443)

    with NetworkGuard() as guard:
        thread = threading.Thread(target=post_traces)
        thread.start()
        thread.join(5)
    assert guard.refused and guard.refused[0].startswith("name lookup of traces.example.com:443")


def test_allowed_hosts_and_loopback_pass() -> None:
    guard = NetworkGuard(["API.example.com.", "198.51.100.7"])
    assert guard.allowed("api.example.com") and guard.allowed("198.51.100.7")
    assert guard.allowed("127.0.0.5") and guard.allowed("::1") and guard.allowed("localhost")
    assert not guard.allowed("example.com") and not guard.allowed("198.51.100.8")


def test_everything_is_restored_on_exit_even_after_an_error() -> None:
    before = (socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo)
    with pytest.raises(RuntimeError), NetworkGuard():
        assert socket.getaddrinfo is not before[2]
        raise RuntimeError("the agent broke")
    assert (socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo) == before
