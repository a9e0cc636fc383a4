"""EtcdClient's connections (HttpPool): kept alive and reused, shared by threads, and a
connection the other side closed is replaced instead of failing the next call."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from tierconf.etcd import EtcdClient, EtcdConfig
from tierconf.etcd._client import put
from tierconf.etcd._http import MAX_IDLE, HttpPool


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The endpoints every HttpPool of this test opened a connection to, in order."""
    calls: list[str] = []
    real = HttpPool._open

    def spy(self: HttpPool, endpoint: str):  # type: ignore[no-untyped-def]
        calls.append(endpoint)
        return real(self, endpoint)

    monkeypatch.setattr(HttpPool, "_open", spy)
    return calls


class TestPool:
    def test_one_connection_serves_sequential_calls(self, etcd_server, opened: list[str]) -> None:
        client = EtcdClient(EtcdConfig.from_url(f"etcd://{etcd_server.endpoint.split('://')[1]}"))
        for n in range(50):
            client.txn([], [put(b"/http-test/k", str(n).encode())])
            assert client.range(b"/http-test/k").kvs[0].value == str(n).encode()
        assert opened == [etcd_server.endpoint]
        client.close()

    def test_threads_share_a_bounded_pool(self, etcd_server, opened: list[str]) -> None:
        client = EtcdClient(EtcdConfig.from_url(f"etcd://{etcd_server.endpoint.split('://')[1]}"))
        errors: list[BaseException] = []

        def work(thread: int) -> None:
            try:
                for n in range(30):
                    client.txn([], [put(f"/http-test/t{thread}".encode(), str(n).encode())])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(opened) <= 12  # at most one connection per concurrent caller
        assert len(client._pool._idle[etcd_server.endpoint]) <= MAX_IDLE
        client.close()


class _OneShotHandler(http.server.BaseHTTPRequestHandler):
    """Answers like the gateway (HTTP/1.1, keep-alive), then closes the connection anyway,
    as a member does when it restarts or drops idle connections."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"header": {"revision": "7"}, "count": "0"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def closing_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OneShotHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_connection_closed_by_the_server_is_replaced(
    closing_server: str, opened: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every call succeeds on its first attempt: the pool sees the closed connection
    before reusing it and opens a new one (no request is sent into a dead socket, so no
    call fails over)."""
    failovers: list[str] = []
    monkeypatch.setattr(EtcdClient, "rotate", lambda self, failed: failovers.append(failed))
    client = EtcdClient(EtcdConfig.from_url(f"etcd://{closing_server.split('://')[1]}?timeout=1"))
    for _ in range(5):
        assert client.range(b"/k").revision == 7
    assert len(opened) == 5
    assert failovers == []
    client.close()
