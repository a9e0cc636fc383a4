"""``HttpPool``: keep-alive HTTP/1.1 connections to the members of one etcd cluster.

The v3 JSON gateway is plain HTTP POST with JSON bodies, so the standard library's
``http.client`` is all a unary call needs. Measured against the clients one would pick
(``benchmarks/bench_etcd.py``, client rows): etcd3gw (on ``requests``) and httpx spend
0.3-0.5 ms per call building requests, merging settings and wrapping responses, which is
40-60 % of a loopback range or put; that is the difference between ~180 and ~210
releases recorded and published per second.

Connections are reused across calls and threads (one caller at a time per connection).
A pooled connection the member closed meanwhile (idle timeout, restart) is noticed
before it is reused, as urllib3 does, so a request is never sent into a dead socket
that the server will not answer.
"""

from __future__ import annotations

import contextlib
import http.client
import select
import ssl
import threading
from collections.abc import Mapping

MAX_IDLE = 8
"""Idle connections kept per member (more threads than that open extra ones briefly)."""


def host_of(endpoint: str) -> str:
    """``127.0.0.1`` of ``http://127.0.0.1:2379``."""
    return endpoint.split("://", 1)[1].rsplit(":", 1)[0]


def port_of(endpoint: str) -> int:
    """``2379`` of ``http://127.0.0.1:2379``."""
    return int(endpoint.rsplit(":", 1)[1])


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """Whether an idle connection was closed by the other side (readable = EOF or junk)."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        # poll, not select: select fails for descriptors above 1024 (busy services).
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


class HttpPool:
    """Connections to each endpoint, opened on demand and kept alive.

    Args:
        context: TLS context for ``https`` endpoints (None: plain HTTP).
        connect_timeout: Seconds to open a connection.
        timeout: Seconds a request may wait for its answer.
    """

    def __init__(self, context: ssl.SSLContext | None, *, connect_timeout: float, timeout: float) -> None:
        self._context = context
        self._connect_timeout = connect_timeout
        self._timeout = timeout
        self._lock = threading.Lock()
        self._idle: dict[str, list[http.client.HTTPConnection]] = {}
        self._closed = False

    def post(
        self,
        endpoint: str,
        path: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        timeout: float | None = None,
    ) -> tuple[int, bytes]:
        """POST ``body`` to ``endpoint + path``; the status and the whole answer.

        Raises:
            OSError: the connection failed or timed out (``TimeoutError``).
            http.client.HTTPException: the answer was not HTTP (or the connection closed).
        """
        conn = self._acquire(endpoint)
        try:
            if conn.sock is None:
                conn.connect()  # within the connect timeout the connection was made with
            if conn.sock is not None:  # connect() sets it or raises
                conn.sock.settimeout(timeout if timeout is not None else self._timeout)
            conn.request("POST", path, body=body, headers=dict(headers))
            response = conn.getresponse()
            data = response.read()
        except BaseException:
            conn.close()
            raise
        if response.will_close:
            conn.close()
        else:
            self._release(endpoint, conn)
        return response.status, data

    def close(self) -> None:
        """Close every idle connection; later calls open none. Idempotent."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                with contextlib.suppress(OSError):
                    conn.close()

    def _acquire(self, endpoint: str) -> http.client.HTTPConnection:
        while True:
            with self._lock:
                if self._closed:
                    raise OSError(f"the connections to {endpoint} are closed")
                conns = self._idle.get(endpoint)
                conn = conns.pop() if conns else None
            if conn is None:
                return self._open(endpoint)
            if not _dropped(conn):
                return conn
            conn.close()

    def _release(self, endpoint: str, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            conns = self._idle.setdefault(endpoint, [])
            if not self._closed and len(conns) < MAX_IDLE:
                conns.append(conn)
                return
        conn.close()

    def _open(self, endpoint: str) -> http.client.HTTPConnection:
        host, port = host_of(endpoint), port_of(endpoint)
        timeout = self._connect_timeout
        if endpoint.startswith("https://"):
            return http.client.HTTPSConnection(host, port, timeout=timeout, context=self._context)
        return http.client.HTTPConnection(host, port, timeout=timeout)
