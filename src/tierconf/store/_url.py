"""``open_store``: turn a ``--store`` URL into a :class:`RevisionStore`."""

from __future__ import annotations

from pathlib import Path

from tierconf.errors import StoreUrlError

from ._memory import InMemoryRevisionStore
from ._protocol import RevisionStore
from ._sqlite import SqliteRevisionStore

DEFAULT_STORE_URL = "sqlite:///.tierconf/store.db"
"""The store used without ``--store``: a SQLite file under the working directory."""

_ACCEPTED = "sqlite:///REL/PATH.db, sqlite:////ABS/PATH.db, memory:// or etcd://HOST:PORT"


def open_store(url: str, *, base_dir: Path | None = None) -> RevisionStore:
    """Open the store a URL names.

    Accepted forms, as in SQLAlchemy: ``sqlite:///rel/path.db`` (three slashes: relative
    to ``base_dir``, default the working directory), ``sqlite:////abs/path.db`` (four
    slashes: absolute), and ``memory://`` (a fresh in-memory store, for tests).
    ``etcd://HOST:PORT[,HOST:PORT...]`` (``etcds://`` for TLS) is the etcd store of the
    ``etcd`` extra (options in :class:`tierconf.etcd.EtcdConfig`).

    Raises:
        StoreUrlError: the URL is malformed or its scheme is unknown (exit 2).
        StoreError: the store cannot be opened (see :class:`SqliteRevisionStore`).
        DependencyMissingError: etcd:// without the ``etcd`` extra.
        StoreVersionError: the store was written by a newer tierconf.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise StoreUrlError(f"store URL {url!r} has no scheme; expected {_ACCEPTED}")
    if scheme == "memory":
        if rest:
            raise StoreUrlError(f"store URL {url!r}: memory:// takes nothing after the scheme")
        return InMemoryRevisionStore()
    if scheme == "sqlite":
        return SqliteRevisionStore(_sqlite_path(url, rest, base_dir))
    if scheme in ("etcd", "etcds"):
        from tierconf.etcd._store import open_etcd_store  # extra `etcd`, imported when used

        return open_etcd_store(url)
    raise StoreUrlError(f"store URL {url!r} has an unknown scheme {scheme!r}; expected {_ACCEPTED}")


def _sqlite_path(url: str, rest: str, base_dir: Path | None) -> Path:
    host, slash, path = rest.partition("/")
    if host or not slash:
        raise StoreUrlError(
            f"store URL {url!r}: a SQLite URL has no host; write sqlite:///relative/path.db "
            "or sqlite:////absolute/path.db"
        )
    if not path or path.endswith("/") or "?" in path:
        raise StoreUrlError(f"store URL {url!r} does not name a database file")
    if path.startswith("/"):
        return Path(path)
    return (base_dir if base_dir is not None else Path.cwd()) / path
