"""``EtcdClient``: the one boundary between tierconf and etcd's v3 JSON gateway.

Unary calls (range, txn, compaction, auth) are JSON POSTs over keep-alive connections
(:class:`~tierconf.etcd._http.HttpPool`, on the standard library's ``http.client``);
the watch stream is read line by line on a connection of its own. The gateway is etcd's
documented HTTP API, so no client library is needed: etcd3gw (OpenStack's client of
the gateway, used until the benchmark showed it) spends 0.3-0.5 ms per call in
``requests`` and drops what a resuming watcher needs (the ``compact_revision`` of a
cancelled watch, stream errors, the ``hasleader`` guard). Requests are built as plain
data (:func:`put`, :func:`delete`, :func:`compare_mod`...) and only then sent.

Failover: endpoints are tried in order, starting from the last one that answered. A
connection error, a timeout or a retriable etcd error (no leader, leader changed, request
timed out) moves to the next endpoint, with a short backoff after each full round, until
``deadline`` seconds have passed. A request whose answer was lost may have been applied,
so every write tierconf sends is a compare-and-swap transaction that callers verify
after an error (see :mod:`tierconf.etcd._store`).

Errors::

    EtcdRequestError          the request failed (``retriable`` says if trying again may help)
    ├── EtcdUnavailableError  no endpoint answered before the deadline
    └── CompactedError        the revision asked for was compacted (``compact_revision``)

They are internal: the store, the target and the watcher translate them into
``StoreError``, ``DeployError`` and ``SourceUnavailableError`` (``raise ... from exc``).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import random
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._config import EtcdConfig
from ._http import HttpPool, host_of, port_of

Json = dict[str, Any]

_RETRIABLE = (
    "no leader",
    "leader changed",
    "request timed out",
    "timed out",
    "too many requests",
    "server stopped",
    "not capable",
    "unhealthy cluster",
    "connection refused",
    "transport is closing",
    "raft: stopped",
)
_AUTH_EXPIRED = ("invalid auth token", "user name is empty", "auth: revision in header is old")


class EtcdRequestError(Exception):
    """An etcd request failed; ``retriable`` is True when another attempt may succeed."""

    def __init__(self, message: str, *, retriable: bool = False, endpoint: str | None = None) -> None:
        super().__init__(message)
        self.retriable = retriable
        self.endpoint = endpoint


class EtcdUnavailableError(EtcdRequestError):
    """No endpoint answered before the deadline."""


class CompactedError(EtcdRequestError):
    """The revision asked for is older than the cluster's compaction point."""

    def __init__(self, message: str, *, compact_revision: int, endpoint: str | None = None) -> None:
        super().__init__(message, endpoint=endpoint)
        self.compact_revision = compact_revision


# -- data ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One key as etcd holds it (revisions are etcd's global MVCC revisions)."""

    key: bytes
    value: bytes
    mod_revision: int
    create_revision: int
    version: int


@dataclass(frozen=True, slots=True)
class RangeResult:
    """The keys of a range read and the store revision it was read at."""

    kvs: tuple[KeyValue, ...]
    revision: int
    more: bool = False
    count: int = 0


@dataclass(frozen=True, slots=True)
class TxnResult:
    """Whether the compares held, the revision after the transaction, and range answers."""

    succeeded: bool
    revision: int
    ranges: tuple[RangeResult, ...] = ()


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """A put or a delete of one key at ``kv.mod_revision``."""

    type: str  # "PUT" or "DELETE"
    kv: KeyValue


@dataclass(frozen=True, slots=True)
class WatchBatch:
    """One message of a watch stream: events of whole revisions, in revision order."""

    events: tuple[WatchEvent, ...]
    header_revision: int
    created: bool = False


def b64(data: bytes) -> str:
    """Base64 as the JSON gateway wants keys and values."""
    return base64.b64encode(data).decode("ascii")


def prefix_end(prefix: bytes) -> bytes:
    """The ``range_end`` that selects every key starting with ``prefix``."""
    return prefix[:-1] + bytes([prefix[-1] + 1])


def put(key: bytes, value: bytes) -> Json:
    """A put operation of a transaction."""
    return {"request_put": {"key": b64(key), "value": b64(value)}}


def delete(key: bytes, range_end: bytes | None = None) -> Json:
    """A delete operation (of ``[key, range_end)`` when ``range_end`` is given)."""
    body: Json = {"key": b64(key)}
    if range_end is not None:
        body["range_end"] = b64(range_end)
    return {"request_delete_range": body}


def get(key: bytes, range_end: bytes | None = None, *, count_only: bool = False) -> Json:
    """A range operation of a transaction (read inside the transaction's snapshot);
    ``count_only`` answers with the number of keys only (``RangeResult.count``)."""
    body: Json = {"key": b64(key)}
    if range_end is not None:
        body["range_end"] = b64(range_end)
    if count_only:
        body["count_only"] = True
    return {"request_range": body}


def compare_mod(key: bytes, result: str, revision: int, range_end: bytes | None = None) -> Json:
    """Compare the ``mod_revision`` of ``key`` (0 when absent), or of every key in a range.

    ``result`` is ``EQUAL``, ``NOT_EQUAL``, ``LESS`` or ``GREATER``.
    """
    body: Json = {"key": b64(key), "target": "MOD", "result": result, "mod_revision": revision}
    if range_end is not None:
        body["range_end"] = b64(range_end)
    return body


def _int(value: Any) -> int:
    # The gateway writes 64-bit numbers as JSON strings and omits zero values.
    return int(value) if value is not None else 0


def _kv(item: Mapping[str, Any]) -> KeyValue:
    return KeyValue(
        key=base64.b64decode(item["key"]),
        value=base64.b64decode(item.get("value", "")),
        mod_revision=_int(item.get("mod_revision")),
        create_revision=_int(item.get("create_revision")),
        version=_int(item.get("version")),
    )


def _range_result(body: Mapping[str, Any]) -> RangeResult:
    return RangeResult(
        kvs=tuple(_kv(item) for item in body.get("kvs") or ()),
        revision=_int((body.get("header") or {}).get("revision")),
        more=bool(body.get("more")),
        count=_int(body.get("count")),
    )


# -- the client ------------------------------------------------------------------------


class EtcdClient:
    """A connection to one etcd cluster through the v3 JSON gateway, with failover.

    Safe to share between threads. ``secure`` is True over TLS and ``authenticated`` once
    a user/password login succeeded (the cluster has auth on).
    """

    def __init__(self, config: EtcdConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._index = 0
        self._token: str | None = None
        self._auth_off = False
        self._closed = False
        self._ssl: ssl.SSLContext | None = _ssl_context(config) if config.tls else None
        self._pool = HttpPool(self._ssl, connect_timeout=min(2.0, config.timeout), timeout=config.timeout)

    @property
    def name(self) -> str:
        """The cluster's URL without credentials, for messages."""
        return self.config.name

    @property
    def endpoint(self) -> str:
        """The endpoint requests go to now."""
        return self.config.endpoints[self._index]

    @property
    def secure(self) -> bool:
        """Whether the connection uses TLS."""
        return self.config.tls

    @property
    def authenticated(self) -> bool:
        """Whether requests carry an auth token (the cluster has auth on)."""
        if self.config.user is not None and self._token is None and not self._auth_off:
            with contextlib.suppress(EtcdRequestError):
                self.call("/maintenance/status", {})
        return self._token is not None

    # -- calls ---------------------------------------------------------------------------

    def range(
        self,
        key: bytes,
        range_end: bytes | None = None,
        *,
        revision: int | None = None,
        limit: int | None = None,
        descending: bool = False,
        keys_only: bool = False,
    ) -> RangeResult:
        """Read one key, or the keys of ``[key, range_end)`` sorted by key.

        Raises:
            CompactedError: ``revision`` was compacted.
            EtcdRequestError: the read failed on every endpoint.
        """
        body: Json = {"key": b64(key)}
        if range_end is not None:
            body["range_end"] = b64(range_end)
        if revision:
            body["revision"] = revision
        if limit:
            body["limit"] = limit
        if descending:
            body.update(sort_order="DESCEND", sort_target="KEY")
        if keys_only:
            body["keys_only"] = True
        return _range_result(self.call("/kv/range", body))

    def range_all(
        self, key: bytes, range_end: bytes, *, revision: int | None = None, page: int = 200
    ) -> RangeResult:
        """Every key of ``[key, range_end)``, read in pages at one revision (consistent).

        Raises:
            CompactedError: ``revision`` was compacted.
            EtcdRequestError: a read failed on every endpoint.
        """
        kvs: list[KeyValue] = []
        start = key
        while True:
            result = self.range(start, range_end, revision=revision, limit=page)
            revision = revision or result.revision
            kvs.extend(result.kvs)
            if not result.more or not result.kvs:
                return RangeResult(tuple(kvs), revision)
            start = result.kvs[-1].key + b"\x00"

    def txn(
        self, compare: Sequence[Json], success: Sequence[Json], failure: Sequence[Json] = ()
    ) -> TxnResult:
        """One transaction: if every compare holds, ``success`` runs, else ``failure``.

        Raises:
            EtcdRequestError: the transaction failed on every endpoint, or etcd refused it
                (too many operations, request too large). After a transport error its
                outcome is unknown: the caller re-reads to find out.
        """
        request = {"compare": list(compare), "success": list(success), "failure": list(failure)}
        body = self.call("/kv/txn", request)
        ranges = tuple(
            _range_result(response["response_range"])
            for response in body.get("responses") or ()
            if "response_range" in response
        )
        return TxnResult(bool(body.get("succeeded")), _int(body["header"].get("revision")), ranges)

    def compact(self, revision: int) -> None:
        """Compact the history up to ``revision`` (physically), as an operator would."""
        self.call("/kv/compaction", {"revision": revision, "physical": True})

    def status(self) -> Json:
        """``/maintenance/status`` of the current endpoint."""
        return self.call("/maintenance/status", {})

    def call(self, path: str, body: Json) -> Json:
        """POST ``body`` to ``/v3<path>`` with failover; returns the decoded answer.

        Raises:
            EtcdUnavailableError: no endpoint answered before the deadline.
            CompactedError: the revision asked for was compacted.
            EtcdRequestError: etcd refused the request.
        """
        deadline = time.monotonic() + self.config.deadline
        backoff = 0.05
        tried = 0
        reauthenticated = False
        while True:
            index = self._index
            endpoint = self.config.endpoints[index]
            try:
                self._check_open()
                self._ensure_token(index)
                return self._post(index, path, body)
            except EtcdRequestError as exc:
                if _is_auth_expired(exc) and self.config.user is not None and not reauthenticated:
                    reauthenticated = True
                    self._drop_token()
                    continue
                if not exc.retriable:
                    raise
                self.rotate(endpoint)
                tried += 1
                if tried % len(self.config.endpoints) == 0:
                    if time.monotonic() + backoff > deadline:
                        raise EtcdUnavailableError(
                            f"no etcd endpoint of {self.name} answered within {self.config.deadline:.0f}s "
                            f"(last: {exc})",
                            retriable=True,
                            endpoint=endpoint,
                        ) from exc
                    time.sleep(backoff * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not crypto
                    backoff = min(backoff * 2, 1.0)

    def probe(self, endpoint: str, key: bytes, timeout: float) -> RangeResult:
        """One linearizable read of ``key`` on ``endpoint`` only, no failover: tells whether
        that member still serves the quorum (a frozen or cut-off member fails it).

        Raises:
            EtcdRequestError: the member did not answer in ``timeout`` seconds, or refused.
        """
        self._check_open()
        body = json.dumps({"key": b64(key)}).encode()
        try:
            status, data = self._pool.post(endpoint, "/v3/kv/range", body, self.headers(), timeout=timeout)
        except (OSError, http.client.HTTPException) as exc:
            message = f"{endpoint}: {_describe(exc)}"
            raise EtcdRequestError(message, retriable=True, endpoint=endpoint) from exc
        if status != 200:
            message = f"{endpoint}: HTTP {status}: {data[:200].decode('utf-8', 'replace')}"
            raise EtcdRequestError(message, retriable=True, endpoint=endpoint)
        return _range_result(_decode(data, endpoint))

    def rotate(self, failed: str) -> None:
        """Move to the endpoint after ``failed`` (no-op if another thread already moved)."""
        with self._lock:
            if self.config.endpoints[self._index] == failed:
                self._index = (self._index + 1) % len(self.config.endpoints)

    def watch(self, key: bytes, range_end: bytes, start_revision: int) -> WatchStream:
        """Open a watch of ``[key, range_end)`` from ``start_revision`` on the current endpoint.

        Raises:
            EtcdRequestError: the endpoint refused or did not answer (retriable).
        """
        self._check_open()
        index = self._index
        self._ensure_token(index)
        return WatchStream(self, self.config.endpoints[index], key, range_end, start_revision)

    def close(self) -> None:
        """Close pooled connections; later calls raise. Closing twice is harmless."""
        self._closed = True
        self._pool.close()

    # -- internals -----------------------------------------------------------------------

    def headers(self) -> dict[str, str]:
        """Headers every request carries: the token, and ``hasleader`` so a member cut off
        from the quorum refuses instead of answering with stale data or a silent watch."""
        headers = {"Content-Type": "application/json", "Grpc-Metadata-hasleader": "true"}
        if self._token is not None:
            headers["Authorization"] = self._token
        return headers

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for raw connections (watch streams), None without TLS."""
        return self._ssl

    def _post(self, index: int, path: str, body: Json, *, authenticated: bool = True) -> Json:
        endpoint = self.config.endpoints[index]
        headers = self.headers() if authenticated else {"Content-Type": "application/json"}
        try:
            status, data = self._pool.post(endpoint, "/v3" + path, json.dumps(body).encode(), headers)
        except (OSError, http.client.HTTPException) as exc:
            # Refused, reset, timed out or cut mid-answer: another member may answer.
            message = f"{endpoint}: {_describe(exc)}"
            raise EtcdRequestError(message, retriable=True, endpoint=endpoint) from exc
        if status != 200:
            raise _refusal(status, data, endpoint)
        return _decode(data, endpoint)

    def _ensure_token(self, index: int) -> None:
        if self.config.user is None or self._token is not None or self._auth_off:
            return
        with self._lock:  # another thread may have logged in meanwhile: look again
            if self._token is None:
                token = self._post_unauthenticated(index).get("token")
                self._token = str(token) if token else None

    def _post_unauthenticated(self, index: int) -> Json:
        endpoint = self.config.endpoints[index]
        body = {"name": self.config.user, "password": self.config.password}
        try:
            return self._post(index, "/auth/authenticate", body, authenticated=False)
        except EtcdRequestError as error:
            if "authentication is not enabled" in str(error):
                self._auth_off = True  # go on without a token (and say so via `authenticated`)
                return {}
            if "authentication failed" in str(error):
                raise EtcdRequestError(
                    f"etcd at {endpoint} refused user {self.config.user!r}: wrong user name or password",
                    endpoint=endpoint,
                ) from error
            raise

    def _drop_token(self) -> None:
        with self._lock:
            self._token = None

    def _check_open(self) -> None:
        if self._closed:
            raise EtcdRequestError(f"the etcd client of {self.name} is closed")


def _is_auth_expired(exc: EtcdRequestError) -> bool:
    return any(marker in str(exc) for marker in _AUTH_EXPIRED)


def _describe(exc: BaseException) -> str:
    """``[Errno 111] Connection refused``, ``timed out``; the type when the text is empty."""
    return str(exc) or type(exc).__name__


def _decode(data: bytes, endpoint: str) -> Json:
    try:
        answer = json.loads(data)
    except ValueError as exc:
        raise EtcdRequestError(f"{endpoint}: answer is not JSON: {data[:200]!r}", endpoint=endpoint) from exc
    if not isinstance(answer, dict):
        raise EtcdRequestError(f"{endpoint}: answer is not a JSON object", endpoint=endpoint)
    return answer


def _refusal(status: int, data: bytes, endpoint: str) -> EtcdRequestError:
    """A non-200 answer of the gateway as an :class:`EtcdRequestError` (classified).

    The gateway answers ``{"error": "etcdserver: ...", "code": N, "message": "..."}``;
    whether another attempt may help is read from the message, as etcd's own clients do.
    """
    message = data[:500].decode("utf-8", "replace").strip() or f"HTTP {status}"
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        parsed = json.loads(data)
        message = str(parsed.get("error") or parsed.get("message") or message)
    text = f"{endpoint}: {message}"
    if "compacted" in message:
        return CompactedError(text, compact_revision=0, endpoint=endpoint)
    retriable = status in (502, 504) or any(marker in message for marker in _RETRIABLE)
    return EtcdRequestError(text, retriable=retriable, endpoint=endpoint)


def _ssl_context(config: EtcdConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=config.ca)
    if config.cert and config.key:
        context.load_cert_chain(config.cert, config.key)
    return context


# -- watch streams ---------------------------------------------------------------------


class WatchStream:
    """One open watch: iterate for :class:`WatchBatch` es; :meth:`close` from any thread.

    Iteration raises :class:`CompactedError` when the start revision was compacted, and a
    retriable :class:`EtcdRequestError` when the stream breaks (member down, leader lost,
    closed): the caller resumes from the last revision it processed, plus one.
    """

    def __init__(
        self, client: EtcdClient, endpoint: str, key: bytes, range_end: bytes, start_revision: int
    ) -> None:
        self.endpoint = endpoint
        self._closed = False
        host, port = host_of(endpoint), port_of(endpoint)
        timeout = client.config.timeout
        context = client.ssl_context()
        conn: http.client.HTTPConnection = (
            http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
            if context is not None
            else http.client.HTTPConnection(host, port, timeout=timeout)
        )
        self._conn = conn
        request = {
            "create_request": {
                "key": b64(key),
                "range_end": b64(range_end),
                "start_revision": start_revision,
                "progress_notify": True,
            }
        }
        try:
            conn.request("POST", "/v3/watch", body=json.dumps(request), headers=client.headers())
            self._response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            message = f"{endpoint}: cannot open a watch: {exc}"
            raise EtcdRequestError(message, retriable=True, endpoint=endpoint) from exc
        if self._response.status != 200:
            text = self._response.read(4096).decode("utf-8", "replace")
            conn.close()
            raise EtcdRequestError(
                f"{endpoint}: watch refused (HTTP {self._response.status}): {text}",
                retriable=self._response.status >= 500 or "auth" in text,
                endpoint=endpoint,
            )
        if conn.sock is not None:
            conn.sock.settimeout(None)  # events may be minutes apart; close() unblocks reads

    def __iter__(self) -> Iterator[WatchBatch]:
        try:
            yield from self._batches()
        finally:
            self.close()

    def _batches(self) -> Iterator[WatchBatch]:
        endpoint = self.endpoint
        while True:
            try:
                line = self._response.readline()
            except (OSError, ValueError, AttributeError, http.client.HTTPException) as exc:
                # AttributeError: http.client's response torn down by close() from another thread.
                raise self._broken(f"watch stream broke: {exc!r}") from exc
            if not line:
                raise self._broken("watch stream closed")
            if not line.strip():
                continue
            try:
                message = json.loads(line)
            except ValueError as exc:
                raise self._broken(f"unreadable watch message: {line[:200]!r}") from exc
            if "error" in message:
                error = message["error"]
                text = error.get("message", error) if isinstance(error, Mapping) else error
                raise EtcdRequestError(f"{endpoint}: watch failed: {text}", retriable=True, endpoint=endpoint)
            result = message.get("result") or {}
            compact = _int(result.get("compact_revision"))
            if compact:
                raise CompactedError(
                    f"{endpoint}: history before revision {compact} was compacted",
                    compact_revision=compact,
                    endpoint=endpoint,
                )
            if result.get("canceled"):
                reason = result.get("cancel_reason") or "the member cancelled the watch"
                raise EtcdRequestError(f"{endpoint}: {reason}", retriable=True, endpoint=endpoint)
            events = tuple(
                WatchEvent("DELETE" if event.get("type") == "DELETE" else "PUT", _kv(event["kv"]))
                for event in result.get("events") or ()
            )
            revision = _int((result.get("header") or {}).get("revision"))
            yield WatchBatch(events, revision, created=bool(result.get("created")))

    def close(self) -> None:
        """Abort the stream; a blocked iteration raises promptly. Idempotent, any thread."""
        self._closed = True
        sock = self._conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._conn.close()

    def _broken(self, message: str) -> EtcdRequestError:
        reason = "closed" if self._closed else message
        return EtcdRequestError(f"{self.endpoint}: {reason}", retriable=True, endpoint=self.endpoint)
