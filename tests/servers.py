"""Start and stop real Redis, PostgreSQL and etcd servers for the test suite.

Every server listens on 127.0.0.1 only, on a free port, keeps its data and its log under a
temporary directory, and runs in its own session so that ``stop()`` (and, as a safety net, an
``atexit`` hook) can take the whole process group down. Nothing here needs pytest.

The binaries come from Debian's packages; ``scripts/install-test-deps.sh`` installs them.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import functools
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

HOST = "127.0.0.1"
INSTALL_HINT = "run `scripts/install-test-deps.sh` (as root) to install the test servers"
PORT_ATTEMPTS = 3
REDIS_START_TIMEOUT = 15.0
POSTGRES_START_TIMEOUT = 30.0
ETCD_START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
_ADDRESS_IN_USE = ("address already in use", "could not bind", "could not create listen socket")


class ServerStartError(RuntimeError):
    """A test server did not come up; the message carries the tail of its log."""


class BinaryNotFoundError(ServerStartError):
    """A server binary is not installed on this machine."""


class _PortInUseError(ServerStartError):
    """The picked port was taken between choosing it and the server binding it."""


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """Return ``count`` distinct free ports (all sockets held open until every one is picked)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _which(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        for candidate in (f"/usr/bin/{name}", f"/usr/sbin/{name}", f"/usr/local/bin/{name}"):
            if os.access(candidate, os.X_OK):
                return candidate
        raise BinaryNotFoundError(
            f"`{name}` not found (Debian package `{package}`): {INSTALL_HINT}"
        )
    return path


def redis_server_binary() -> str:
    """Path of ``redis-server``, or :class:`BinaryNotFoundError`."""
    return _which("redis-server", "redis-server")


def etcd_binary() -> str:
    """Path of ``etcd``, or :class:`BinaryNotFoundError`."""
    return _which("etcd", "etcd-server")


def postgres_bindir() -> Path:
    """Directory holding ``postgres``, ``initdb``, ``pg_basebackup`` (highest version wins)."""
    needed = ("postgres", "initdb", "pg_basebackup", "pg_isready")

    def complete(d: Path) -> bool:
        return all(os.access(d / n, os.X_OK) for n in needed)

    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out:
                candidates.append(Path(out))

    def version_key(p: str) -> tuple[int, ...]:
        ver = Path(p).parent.name
        return tuple(int(x) for x in ver.split(".") if x.isdigit()) or (0,)

    globbed = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version_key, reverse=True)
    # The highest packaged version first, then whatever pg_config names (libpq-dev's pg_config
    # may point at a directory without the server).
    candidates = [Path(p) for p in globbed] + candidates
    for d in candidates:
        if complete(d):
            return d
    raise BinaryNotFoundError(
        f"PostgreSQL server binaries ({', '.join(needed)}) not found via `pg_config --bindir` "
        f"or /usr/lib/postgresql/*/bin (Debian package `postgresql`): {INSTALL_HINT}"
    )


def _user_entry(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise BinaryNotFoundError(
            f"no `{name}` user (Debian package `postgresql` creates it): {INSTALL_HINT}"
        ) from None


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<no log at {path}: {exc}>"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else "<log is empty>"


def _looks_like_port_clash(log: Path) -> bool:
    tail = _log_tail(log, 80).lower()
    return any(marker in tail for marker in _ADDRESS_IN_USE)


def _tcp_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------------------------
# Process handling and the atexit safety net
# --------------------------------------------------------------------------------------------

_live: set[_Process] = set()
_live_lock = threading.Lock()


class _Process:
    """A server process in its own session, its output appended to a log file."""

    def __init__(
        self,
        argv: Sequence[str],
        log_path: Path,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        run_as: str | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.argv = list(argv)
        self.stop_signal = stop_signal
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        self._log.write(f"\n==== {time.strftime('%H:%M:%S')} {' '.join(argv)}\n".encode())
        self._log.flush()
        extra: dict[str, Any] = {}
        if run_as is not None:
            # Run the daemon itself as that user (no runuser/su parent in between), so that the
            # signals stop() sends reach the server and not a wrapper that rewrites them.
            entry = _user_entry(run_as)
            extra = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            start_new_session=True,
            **extra,
        )
        with _live_lock:
            _live.add(self)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def stop(self, sig: signal.Signals | None = None, timeout: float = STOP_TIMEOUT) -> None:
        """Send ``sig`` (default: the server's own stop signal), wait, then SIGKILL the group."""
        if sig is None:
            sig = self.stop_signal
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(timeout=5)
        # Leftover children (postgres backends, ...) share the session: take them down too.
        self._signal_group(signal.SIGKILL)
        self._close()

    def kill(self) -> None:
        """SIGKILL the whole process group at once, as a crash would."""
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        self._close()

    def _close(self) -> None:
        with _live_lock:
            _live.discard(self)
        with contextlib.suppress(OSError):
            self._log.close()


def _wait_until(
    ready: Callable[[], bool],
    *,
    what: str,
    proc: _Process,
    timeout: float,
    interval: float = 0.05,
) -> float:
    """Poll ``ready`` until it holds; return the seconds it took.

    Fails fast if the process exits (as :class:`_PortInUseError` when its log says the port was
    taken), and with the log tail on timeout.
    """
    start = time.monotonic()
    deadline = start + timeout
    while True:
        if not proc.alive():
            code = proc.popen.returncode
            proc.kill()
            err = _PortInUseError if _looks_like_port_clash(proc.log_path) else ServerStartError
            raise err(
                f"{what} exited with code {code} before becoming ready; "
                f"log {proc.log_path}:\n{_log_tail(proc.log_path)}"
            )
        if ready():
            return time.monotonic() - start
        if time.monotonic() > deadline:
            proc.kill()
            raise ServerStartError(
                f"{what} not ready after {timeout:.0f}s; log {proc.log_path}:\n"
                f"{_log_tail(proc.log_path)}"
            )
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)


_cleanup_dirs: set[Path] = set()


@atexit.register
def _stop_everything() -> None:
    """Safety net: nothing started here outlives the interpreter."""
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.stop(timeout=5)
    for d in list(_cleanup_dirs):
        shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------------------------


def _redis_value(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return " ".join(_redis_value(v) for v in value)
    text = str(value)
    if text == "" or any(c.isspace() or c in "\"'" for c in text):
        return json.dumps(text)  # redis.conf accepts double-quoted strings with \" escapes
    return text


def _resp_command(*parts: str) -> bytes:
    out = [f"*{len(parts)}\r\n".encode()]
    for part in parts:
        data = part.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class RedisServer:
    """A ``redis-server`` on 127.0.0.1, configured through redis.conf directives."""

    def __init__(self, tmp_dir: Path, port: int, config: dict[str, str], proc: _Process) -> None:
        self.host = HOST
        self.port = port
        self.tmp_dir = tmp_dir
        self.config = config
        self.password: str | None = config.get("requirepass")
        self._proc = proc
        self.startup_seconds = 0.0

    @property
    def url(self) -> str:
        auth = ""
        if self.password:
            auth = ":" + urllib.parse.quote(self.password, safe="") + "@"
        return f"redis://{auth}{self.host}:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self._proc.log_path

    @classmethod
    def start(cls, tmp_dir: Path | str, **config: object) -> Self:
        """Start a server; keyword arguments become redis.conf lines (``_`` reads as ``-``).

        ``maxclients=50`` gives ``maxclients 50``; ``maxmemory_policy="allkeys-lru"`` gives
        ``maxmemory-policy allkeys-lru``; booleans become yes/no.
        """
        binary = redis_server_binary()
        tmp = Path(tmp_dir)
        tmp.mkdir(parents=True, exist_ok=True)
        wanted = {k.replace("_", "-"): _redis_value(v) for k, v in config.items()}
        last: ServerStartError | None = None
        for _ in range(PORT_ATTEMPTS):
            port = free_port()
            base = {
                "bind": HOST,
                "port": str(port),
                "protected-mode": "yes",
                "daemonize": "no",
                "save": '""',
                "appendonly": "no",
                "dir": str(tmp),
                "logfile": '""',
                "dbfilename": f"dump-{port}.rdb",
            }
            lines = {**base, **wanted}
            conf = tmp / f"redis-{port}.conf"
            conf.write_text("".join(f"{k} {v}\n" for k, v in lines.items()))
            proc = _Process([binary, str(conf)], tmp / f"redis-{port}.log", cwd=tmp)
            server = cls(tmp, port, {k: str(v) for k, v in config.items()}, proc)
            try:
                server.startup_seconds = _wait_until(
                    server.ping,
                    what=f"redis-server on port {port}",
                    proc=proc,
                    timeout=REDIS_START_TIMEOUT,
                )
            except _PortInUseError as exc:
                last = exc
                continue
            return server
        raise ServerStartError(f"redis-server: port collisions {PORT_ATTEMPTS} times: {last}")

    def ping(self) -> bool:
        """True when the server answers PING (a NOAUTH error also proves it is up)."""
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                sock.sendall(_resp_command("PING"))
                reply = sock.recv(64)
        except OSError:
            return False
        return reply.startswith((b"+PONG", b"-NOAUTH", b"-ERR AUTH"))

    def stop(self) -> None:
        """Stop the server (SIGTERM, bounded wait, then SIGKILL)."""
        self._proc.stop(signal.SIGTERM)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------

PG_USER = "tierconf"
PG_DEFAULT_PASSWORD = "tierconf-test-password"
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes; ".s.PGSQL.NNNNN" must fit after the directory


def _as_root() -> bool:
    return os.geteuid() == 0


def _run_pg_tool(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 120
) -> str:
    """Run a PostgreSQL tool (as the ``postgres`` user when we are root); return its output."""
    full = list(argv)
    if _as_root():
        runuser = _which("runuser", "util-linux")
        full = [runuser, "-u", "postgres", "--", *full]
    run_env = {**os.environ, **(env or {})}
    try:
        result = subprocess.run(
            full,
            cwd=cwd,
            env=run_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServerStartError(f"{' '.join(full)} timed out after {timeout}s") from exc
    if result.returncode != 0:
        raise ServerStartError(
            f"{' '.join(full)} failed with code {result.returncode}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result.stdout


class _PgHome:
    """Where a server's data lives, reachable and owned by the user that runs postgres.

    As root, postgres runs as the ``postgres`` user, which cannot enter pytest's 0700
    /tmp/pytest-of-root: the data then goes to a fresh /tmp/tierconf-pg-* owned by postgres
    (removed by ``cleanup``), with a symlink to it from the requested temp dir.
    """

    def __init__(self, tmp_dir: Path, name: str) -> None:
        self.tmp_dir = tmp_dir
        self.external = _as_root()
        if self.external:
            parent = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
            self.base = Path(tempfile.mkdtemp(prefix=f"tierconf-pg-{name}-", dir=parent))
            entry = _user_entry("postgres")
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
            self.base.chmod(0o700)
            _cleanup_dirs.add(self.base)
            link = tmp_dir / self.base.name
            with contextlib.suppress(OSError):
                if link.is_symlink():
                    link.unlink()
                link.symlink_to(self.base)
        else:
            self.base = Path(tempfile.mkdtemp(prefix=f"pg-{name}-", dir=tmp_dir))
        self.data_dir = self.base / "data"

    def owned_file(self, name: str, content: str) -> Path:
        path = self.base / name
        path.write_text(content)
        path.chmod(0o600)
        if self.external:
            entry = _user_entry("postgres")
            os.chown(path, entry.pw_uid, entry.pw_gid)
        return path

    def cleanup(self) -> None:
        if self.external:
            shutil.rmtree(self.base, ignore_errors=True)
            _cleanup_dirs.discard(self.base)


class PostgresServer:
    """A PostgreSQL server on 127.0.0.1 with a password-authenticated superuser."""

    def __init__(
        self, home: _PgHome, bindir: Path, password: str, *, is_replica: bool = False
    ) -> None:
        self.host = HOST
        self.port = 0
        self.user = PG_USER
        self.password = password
        self.bindir = bindir
        self.home = home
        self.data_dir = home.data_dir
        self.is_replica = is_replica
        self.startup_seconds = 0.0
        self._proc: _Process | None = None
        self._replicas: list[PostgresServer] = []

    # -- public API ---------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        tmp_dir: Path | str,
        max_connections: int = 100,
        superuser_reserved_connections: int = 3,
        password: str | None = None,
        extra_conf: Mapping[str, object] | None = None,
    ) -> Self:
        """initdb a fresh cluster and start it; ``extra_conf`` adds postgresql.conf settings."""
        bindir = postgres_bindir()
        tmp = Path(tmp_dir)
        tmp.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        home = _PgHome(tmp, "primary")
        server = cls(home, bindir, password or PG_DEFAULT_PASSWORD)
        try:
            server._initdb()
            settings: dict[str, object] = {
                "max_connections": max_connections,
                "superuser_reserved_connections": superuser_reserved_connections,
                **(extra_conf or {}),
            }
            server._write_conf(settings)
            server._write_hba()
            server._launch(tmp)
        except BaseException:
            server.stop()
            raise
        server.startup_seconds = time.monotonic() - t0
        return server

    def start_replica(self, tmp_dir: Path | str) -> PostgresServer:
        """A streaming hot-standby replica of this server, made with ``pg_basebackup -R``."""
        if self.is_replica:
            raise ValueError("start_replica() is for a primary")
        tmp = Path(tmp_dir)
        tmp.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        home = _PgHome(tmp, f"replica-of-{self.port}")
        replica = PostgresServer(home, self.bindir, self.password, is_replica=True)
        try:
            _run_pg_tool(
                [
                    str(self.bindir / "pg_basebackup"),
                    "-h",
                    self.host,
                    "-p",
                    str(self.port),
                    "-U",
                    self.user,
                    "-D",
                    str(replica.data_dir),
                    "-R",
                    "-X",
                    "stream",
                    "-c",
                    "fast",
                    "--no-password",
                ],
                cwd=home.base,
                env={"PGPASSWORD": self.password, "PGCONNECT_TIMEOUT": "10"},
            )
            replica._launch(tmp)
        except BaseException:
            replica.stop()
            raise
        replica.startup_seconds = time.monotonic() - t0
        self._replicas.append(replica)
        return replica

    def dsn(self, dbname: str = "postgres") -> str:
        """A libpq URI for the test superuser (password included)."""
        user = urllib.parse.quote(self.user, safe="")
        pw = urllib.parse.quote(self.password, safe="")
        return f"postgresql://{user}:{pw}@{self.host}:{self.port}/{urllib.parse.quote(dbname)}"

    @property
    def log_path(self) -> Path | None:
        return self._proc.log_path if self._proc else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.alive()

    def stop(self) -> None:
        """Fast shutdown (SIGINT), bounded wait, then SIGKILL; removes data kept outside tmp."""
        for replica in self._replicas:
            replica.stop()
        self._replicas.clear()
        if self._proc is not None:
            self._proc.stop(timeout=STOP_TIMEOUT)
        self.home.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------------------------

    def _initdb(self) -> None:
        pwfile = self.home.owned_file("pwfile", self.password + "\n")
        _run_pg_tool(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.user,
                f"--pwfile={pwfile}",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            cwd=self.home.base,
        )
        pwfile.unlink()

    def _write_conf(self, settings: Mapping[str, object]) -> None:
        base: dict[str, object] = {
            "listen_addresses": HOST,
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "wal_level": "replica",
            "max_wal_senders": 10,
            "max_replication_slots": 10,
            "wal_keep_size": "128MB",
            "hot_standby": "on",
            "password_encryption": "scram-sha-256",
            "shared_buffers": "32MB",
            "dynamic_shared_memory_type": "mmap",
            "logging_collector": "off",
            "log_destination": "stderr",
            "log_min_messages": "warning",
        }
        self._append_conf({**base, **settings}, header="tierconf test server")

    def _append_conf(self, settings: Mapping[str, object], header: str) -> None:
        def fmt(v: object) -> str:
            if isinstance(v, bool):
                return "on" if v else "off"
            if isinstance(v, int | float):
                return str(v)
            return "'" + str(v).replace("'", "''") + "'"

        text = f"\n# --- {header} ---\n" + "".join(f"{k} = {fmt(v)}\n" for k, v in settings.items())
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as fh:  # the file keeps its owner (postgres) and mode
            fh.write(text)

    def _write_hba(self) -> None:
        hba = self.data_dir / "pg_hba.conf"
        hba.write_text(
            "# tierconf test server: password (SCRAM) auth only, loopback only\n"
            "local   all          all                   scram-sha-256\n"
            "host    all          all   127.0.0.1/32    scram-sha-256\n"
            "local   replication  all                   scram-sha-256\n"
            "host    replication  all   127.0.0.1/32    scram-sha-256\n"
        )

    def _socket_dir(self, port: int) -> Path:
        if len(str(self.data_dir / f".s.PGSQL.{port}")) <= _SOCKET_PATH_MAX:
            return self.data_dir
        short = Path(tempfile.mkdtemp(prefix="tcpg-"))
        _cleanup_dirs.add(short)
        return short

    def _ready(self, port: int) -> bool:
        if not _tcp_open(port):
            return False
        probe = subprocess.run(
            [str(self.bindir / "pg_isready"), "-q", "-h", self.host, "-p", str(port), "-t", "2"],
            capture_output=True,
            timeout=10,
            check=False,
        )
        if probe.returncode != 0:
            return False
        try:
            import psycopg
        except ImportError:
            return True
        try:
            with psycopg.connect(self._dsn_for(port), connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def _dsn_for(self, port: int) -> str:
        saved, self.port = self.port, port
        try:
            return self.dsn()
        finally:
            self.port = saved

    def _launch(self, tmp: Path) -> None:
        last: ServerStartError | None = None
        for _ in range(PORT_ATTEMPTS):
            port = free_port()
            self._append_conf(
                {"port": port, "unix_socket_directories": str(self._socket_dir(port))},
                header=f"listener (port {port})",
            )
            kind = "replica" if self.is_replica else "primary"
            proc = _Process(
                [str(self.bindir / "postgres"), "-D", str(self.data_dir)],
                tmp / f"postgres-{kind}-{port}.log",
                cwd=self.home.base,
                run_as="postgres" if _as_root() else None,
                stop_signal=signal.SIGINT,  # "fast" shutdown; SIGTERM would wait for clients
            )
            self._proc = proc
            try:
                _wait_until(
                    functools.partial(self._ready, port),
                    what=f"postgres {kind} on port {port}",
                    proc=proc,
                    timeout=POSTGRES_START_TIMEOUT,
                    interval=0.1,
                )
            except _PortInUseError as exc:
                last = exc
                continue
            self.port = port
            return
        raise ServerStartError(f"postgres: port collisions {PORT_ATTEMPTS} times: {last}")


# --------------------------------------------------------------------------------------------
# etcd
# --------------------------------------------------------------------------------------------


def etcd_call(endpoint: str, path: str, body: Mapping[str, Any], timeout: float = 3.0) -> Any:
    """POST ``body`` as JSON to etcd's v3 gRPC-gateway (``path`` like ``/v3/kv/put``)."""
    req = urllib.request.Request(
        endpoint + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read() or b"{}")


def b64(text: str | bytes) -> str:
    """Base64 as the etcd JSON gateway wants keys and values."""
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


class EtcdServer:
    """One etcd member on 127.0.0.1 (alone, or part of an :class:`EtcdCluster`)."""

    def __init__(
        self,
        tmp_dir: Path,
        name: str,
        client_port: int,
        peer_port: int,
        initial_cluster: str,
        token: str,
    ) -> None:
        self.host = HOST
        self.name = name
        self.tmp_dir = tmp_dir
        self.client_port = client_port
        self.peer_port = peer_port
        self.data_dir = tmp_dir / f"{name}.etcd"
        self.initial_cluster = initial_cluster
        self.token = token
        self.startup_seconds = 0.0
        self._proc: _Process | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://{self.host}:{self.peer_port}"

    @property
    def log_path(self) -> Path:
        return self.tmp_dir / f"etcd-{self.name}.log"

    @classmethod
    def start(cls, tmp_dir: Path | str, name: str = "n0") -> Self:
        """Start a single-member cluster and wait until it is healthy."""
        binary = etcd_binary()
        tmp = Path(tmp_dir)
        last: ServerStartError | None = None
        for attempt in range(PORT_ATTEMPTS):
            client, peer = free_ports(2)
            work = tmp / f"etcd-{name}-{attempt}"
            work.mkdir(parents=True, exist_ok=True)
            server = cls(
                work, name, client, peer, f"{name}=http://{HOST}:{peer}", f"tierconf-{name}-{peer}"
            )
            server._spawn(binary)
            try:
                server.wait_ready()
            except _PortInUseError as exc:
                last = exc
                continue
            return server
        raise ServerStartError(f"etcd: port collisions {PORT_ATTEMPTS} times: {last}")

    def _spawn(self, binary: str | None = None) -> None:
        argv = [
            binary or etcd_binary(),
            "--name",
            self.name,
            "--data-dir",
            str(self.data_dir),
            "--listen-client-urls",
            self.endpoint,
            "--advertise-client-urls",
            self.endpoint,
            "--listen-peer-urls",
            self.peer_url,
            "--initial-advertise-peer-urls",
            self.peer_url,
            "--initial-cluster",
            self.initial_cluster,
            "--initial-cluster-state",
            "new",
            "--initial-cluster-token",
            self.token,
            "--heartbeat-interval",
            "50",
            "--election-timeout",
            "500",
            "--logger",
            "zap",
            "--log-outputs",
            "stderr",
        ]
        self._started_at = time.monotonic()
        self._proc = _Process(argv, self.log_path, cwd=self.tmp_dir)

    def healthy(self) -> bool:
        """True when ``GET /health`` says the member is serving (it has a leader)."""
        try:
            with urllib.request.urlopen(self.endpoint + "/health", timeout=1) as resp:
                return bool(json.loads(resp.read()).get("health") == "true")
        except (OSError, ValueError):
            return False

    def wait_ready(self, timeout: float = ETCD_START_TIMEOUT) -> None:
        """Wait (bounded) for ``/health``; errors carry the log tail."""
        if self._proc is None:
            raise ServerStartError(f"etcd {self.name} was not started")
        _wait_until(
            self.healthy,
            what=f"etcd {self.name} on {self.endpoint}",
            proc=self._proc,
            timeout=timeout,
        )
        self.startup_seconds = time.monotonic() - self._started_at

    def status(self) -> dict[str, Any]:
        """``/v3/maintenance/status`` (etcd 3.4: ``header.member_id``, ``leader``, ...)."""
        result: dict[str, Any] = etcd_call(self.endpoint, "/v3/maintenance/status", {})
        return result

    def put(self, key: str, value: str) -> dict[str, Any]:
        """Put a key through the JSON gateway."""
        result: dict[str, Any] = etcd_call(
            self.endpoint, "/v3/kv/put", {"key": b64(key), "value": b64(value)}
        )
        return result

    def get(self, key: str) -> str | None:
        """Read a key through the JSON gateway (``None`` when absent)."""
        result = etcd_call(self.endpoint, "/v3/kv/range", {"key": b64(key)})
        kvs = result.get("kvs") or []
        return base64.b64decode(kvs[0]["value"]).decode() if kvs else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.alive()

    def stop(self) -> None:
        """SIGTERM, bounded wait, then SIGKILL."""
        if self._proc is not None:
            self._proc.stop(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self._proc is not None:
            self._proc.kill()

    def restart(self, wait: bool = True) -> None:
        """Start again with the same data dir and ports (stops it first if it still runs)."""
        if self.running():
            self.stop()
        for attempt in range(PORT_ATTEMPTS):
            self._spawn()
            if not wait:
                return
            try:
                self.wait_ready()
            except _PortInUseError:
                # Our own ports: the old socket may linger for a moment; try again shortly.
                if attempt == PORT_ATTEMPTS - 1:
                    raise
                time.sleep(1)
                continue
            return

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EtcdCluster:
    """A multi-member etcd cluster on 127.0.0.1 with short election timeouts."""

    def __init__(self, members: list[EtcdServer]) -> None:
        self.members = members

    @property
    def endpoints(self) -> list[str]:
        return [m.endpoint for m in self.members]

    @classmethod
    def start(cls, tmp_dir: Path | str, size: int = 3) -> Self:
        """Start ``size`` members at once and wait until every one is healthy."""
        binary = etcd_binary()
        tmp = Path(tmp_dir)
        last: ServerStartError | None = None
        for attempt in range(PORT_ATTEMPTS):
            ports = free_ports(2 * size)
            names = [f"m{i}" for i in range(size)]
            initial = ",".join(f"{n}=http://{HOST}:{ports[2 * i + 1]}" for i, n in enumerate(names))
            work = tmp / f"attempt-{attempt}"
            work.mkdir(parents=True, exist_ok=True)
            token = f"tierconf-cluster-{ports[0]}"
            members = [
                EtcdServer(work, n, ports[2 * i], ports[2 * i + 1], initial, token)
                for i, n in enumerate(names)
            ]
            for m in members:
                m._spawn(binary)
            cluster = cls(members)
            try:
                for m in members:
                    m.wait_ready()
            except _PortInUseError as exc:
                cluster.stop()
                last = exc
                continue
            except BaseException:
                cluster.stop()
                raise
            return cluster
        raise ServerStartError(f"etcd cluster: port collisions {PORT_ATTEMPTS} times: {last}")

    def leader_index(self) -> int | None:
        """Index of the member that running members agree is leader, or None right now."""
        ids: dict[str, int] = {}
        votes: dict[str, int] = {}
        for i, m in enumerate(self.members):
            if not m.running():
                continue
            try:
                st = m.status()
            except (OSError, ValueError):
                continue
            ids[str(st["header"]["member_id"])] = i
            leader = str(st.get("leader", "0"))
            if leader != "0":
                votes[leader] = votes.get(leader, 0) + 1
        for leader_id, _ in sorted(votes.items(), key=lambda kv: -kv[1]):
            if leader_id in ids:
                return ids[leader_id]
        return None

    def leader(self, timeout: float = 10.0) -> EtcdServer:
        """The leader member, waiting (bounded) for an election to settle."""
        deadline = time.monotonic() + timeout
        while True:
            idx = self.leader_index()
            if idx is not None:
                return self.members[idx]
            if time.monotonic() > deadline:
                logs = "\n".join(
                    f"--- {m.name}:\n{_log_tail(m.log_path, 10)}" for m in self.members
                )
                raise ServerStartError(f"no etcd leader after {timeout:.0f}s\n{logs}")
            time.sleep(0.1)

    def kill_member(self, i: int) -> None:
        """SIGKILL member ``i``."""
        self.members[i].kill()

    def restart_member(self, i: int, wait: bool = True) -> None:
        """Start member ``i`` again on its data dir and ports; wait until it is healthy."""
        self.members[i].restart(wait=wait)

    def running_members(self) -> Iterator[EtcdServer]:
        return (m for m in self.members if m.running())

    def stop(self, grace: float = 3.0) -> None:
        """Stop every member: followers first, then the leader; SIGKILL after ``grace`` seconds.

        A leader told to stop while its peers are alive (or only just gone) spends seconds trying
        to hand leadership over. Stopping the followers first and giving the leader a moment to
        step down (it loses quorum within one election timeout) lets it exit at once.
        """
        leader = self.leader_index() if any(m.running() for m in self.members) else None
        followers = [m for i, m in enumerate(self.members) if i != leader]
        self._terminate_together(followers, grace)
        if leader is None:
            return
        member = self.members[leader]
        deadline = time.monotonic() + 1.5
        while member.running() and time.monotonic() < deadline:
            try:
                st = member.status()
            except (OSError, ValueError):
                break
            if str(st.get("leader")) != str(st["header"]["member_id"]):
                break
            time.sleep(0.05)
        self._terminate_together([member], grace)

    @staticmethod
    def _terminate_together(members: Sequence[EtcdServer], grace: float) -> None:
        live = [m._proc for m in members if m._proc is not None and m._proc.alive()]
        for proc in live:
            with contextlib.suppress(ProcessLookupError):
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in live:
            proc.stop(signal.SIGTERM, timeout=max(0.1, deadline - time.monotonic()))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
