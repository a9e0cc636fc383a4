"""SQLite-only behaviour: tamper detection, schema versions, files, processes, kill -9."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tierconf.errors import StoreError, StoreVersionError
from tierconf.store import (
    DEFAULT_STORE_URL,
    SCHEMA_VERSION,
    InMemoryRevisionStore,
    ReleaseContent,
    SqliteRevisionStore,
    canonical_json,
    open_store,
)

from .test_contract import release

HERE = Path(__file__).resolve().parent
WRITER = HERE / "_writer.py"
SRC = HERE.parents[1] / "src"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Where the store under test lives."""
    return tmp_path / "state" / "store.db"


def filled_store(db: Path, releases: int = 4) -> None:
    """Write ``releases`` revisions of production into ``db`` and close it."""
    store = SqliteRevisionStore(db)
    for n in range(releases):
        release(store, n=n)
    store.close()


def raw(db: Path, sql: str) -> None:
    """Run one statement straight through sqlite3, as a tamperer would."""
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(sql)
    conn.close()


def verify(db: Path) -> tuple[bool, int | None, str]:
    """(ok, first_bad_seq, problem) of a freshly opened store."""
    store = SqliteRevisionStore(db)
    report = store.verify_audit()
    store.close()
    return report.ok, report.first_bad_seq, report.problem or ""


class TestTamperDetection:
    def test_untouched_store_verifies(self, db: Path) -> None:
        """A store written only by tierconf verifies after reopening."""
        filled_store(db)
        assert verify(db) == (True, None, "")

    def test_altered_reason(self, db: Path) -> None:
        """Changing an entry's reason is reported at that entry."""
        filled_store(db)
        raw(db, "UPDATE audit SET reason = 'nothing to see' WHERE seq = 2")
        ok, seq, problem = verify(db)
        assert (ok, seq) == (False, 2)
        assert "altered" in problem

    def test_deleted_middle_entry(self, db: Path) -> None:
        """Deleting an entry in the middle is reported as that entry missing."""
        filled_store(db)
        raw(db, "DELETE FROM audit WHERE seq = 2")
        ok, seq, problem = verify(db)
        assert (ok, seq) == (False, 2)
        assert "entry 2 is missing" in problem

    def test_deleted_last_entry(self, db: Path) -> None:
        """Truncating the tail is detected even though the chain itself still links."""
        filled_store(db)
        raw(db, "DELETE FROM audit WHERE seq = 4")
        raw(db, "UPDATE meta SET value = '3' WHERE key = 'audit_last_seq'")
        ok, seq, problem = verify(db)
        assert (ok, seq) == (False, 4)
        assert "revision 4 of production is missing" in problem

    def test_rehashed_entry_breaks_the_next_link(self, db: Path) -> None:
        """An entry altered and re-hashed is caught by its successor's prev_hash."""
        filled_store(db)
        raw(db, "UPDATE audit SET hash = '" + "f" * 64 + "' WHERE seq = 2")
        raw(db, "UPDATE audit SET reason = 'x' WHERE seq = 3")
        ok, seq, _ = verify(db)
        assert (ok, seq) == (False, 2)

    def test_truncated_tail_names_first_missing_entry(self, db: Path) -> None:
        """With the tail cut and the last-seq counter removed, the first lost entry is named."""
        filled_store(db, 6)
        raw(db, "DELETE FROM audit WHERE seq >= 5")
        raw(db, "DELETE FROM meta WHERE key = 'audit_last_seq'")
        ok, seq, _ = verify(db)
        assert (ok, seq) == (False, 5)

    def test_revision_checksum_no_longer_matches(self, db: Path) -> None:
        """A revision whose checksum was changed no longer matches its audit entry."""
        filled_store(db)
        raw(db, "UPDATE revisions SET checksum = 'forged' WHERE revision = 3")
        ok, seq, problem = verify(db)
        assert (ok, seq) == (False, 3)
        assert "does not match revision 3" in problem


class TestSchemaVersion:
    def test_new_store_has_current_version(self, db: Path) -> None:
        """A new store records the schema version this tierconf writes."""
        SqliteRevisionStore(db).close()
        conn = sqlite3.connect(db)
        (value,) = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        conn.close()
        assert int(value) == SCHEMA_VERSION

    def test_newer_store_is_refused(self, db: Path) -> None:
        """A store written by a newer schema is refused, naming both versions and the fix."""
        filled_store(db, 1)
        raw(db, "UPDATE meta SET value = '999' WHERE key = 'schema_version'")
        with pytest.raises(StoreVersionError) as caught:
            SqliteRevisionStore(db)
        assert str(caught.value) == (
            f"store at {db} was written by a newer tierconf (schema 999, "
            f"this tierconf knows {SCHEMA_VERSION}); upgrade tierconf"
        )

    def test_foreign_sqlite_database_is_refused(self, db: Path) -> None:
        """An SQLite file of another application is not taken over."""
        db.parent.mkdir()
        raw(db, "CREATE TABLE users (id INTEGER)")
        with pytest.raises(StoreError, match="not a tierconf revision store"):
            SqliteRevisionStore(db)

    def test_garbage_file_is_refused(self, db: Path) -> None:
        """A file that is not SQLite at all raises StoreError, not sqlite3.DatabaseError."""
        db.parent.mkdir()
        db.write_bytes(b"this is not a database file, only some text padding it out" * 20)
        with pytest.raises(StoreError, match="not a tierconf revision store"):
            SqliteRevisionStore(db)


class TestFiles:
    def test_private_modes(self, db: Path) -> None:
        """The directory created is 0700 and the database and its WAL are 0600."""
        store = SqliteRevisionStore(db)
        release(store)
        assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
        for path in (db, db.with_name("store.db-wal")):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        store.close()

    def test_wal_mode(self, db: Path) -> None:
        """The database is in WAL mode for every later connection."""
        SqliteRevisionStore(db).close()
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        conn.close()

    def test_synchronous_full(self, db: Path) -> None:
        """The store's connection syncs every commit (synchronous=FULL, 2)."""
        store = SqliteRevisionStore(db)
        assert store._conn is not None
        assert store._conn.execute("PRAGMA synchronous").fetchone() == (2,)
        store.close()

    def test_unwritable_location(self, tmp_path: Path) -> None:
        """A path that cannot be created raises StoreError naming it."""
        blocker = tmp_path / "file"
        blocker.write_text("")
        with pytest.raises(StoreError, match="cannot create the revision store"):
            SqliteRevisionStore(blocker / "store.db")


class TestOpenStore:
    def test_three_slashes_is_relative_to_base_dir(self, tmp_path: Path) -> None:
        """sqlite:///a/b.db resolves against base_dir."""
        store = open_store("sqlite:///a/b.db", base_dir=tmp_path)
        assert isinstance(store, SqliteRevisionStore)
        assert store.path == tmp_path / "a" / "b.db"
        store.close()

    def test_four_slashes_is_absolute(self, tmp_path: Path) -> None:
        """sqlite:////abs/b.db is an absolute path."""
        store = open_store(f"sqlite:///{tmp_path}/b.db", base_dir=Path("/nonexistent"))
        assert isinstance(store, SqliteRevisionStore)
        assert store.path == tmp_path / "b.db"
        store.close()

    def test_default_is_under_the_working_directory(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The default URL opens .tierconf/store.db in the working directory."""
        monkeypatch.chdir(tmp_path)
        open_store(DEFAULT_STORE_URL).close()
        assert (tmp_path / ".tierconf" / "store.db").is_file()

    def test_memory(self) -> None:
        """memory:// opens the in-memory twin."""
        assert isinstance(open_store("memory://"), InMemoryRevisionStore)

    def test_etcd(self) -> None:
        """etcd:// opens the etcd store (tests/etcd and the contract tests exercise it)."""
        from tierconf.etcd import EtcdRevisionStore

        store = open_store("etcd://127.0.0.1:2379")
        assert isinstance(store, EtcdRevisionStore)
        store.close()

    @pytest.mark.parametrize(
        "url", ["postgres://db/x", "store.db", "sqlite://host/x.db", "sqlite:///", "memory://x"]
    )
    def test_bad_urls(self, url: str) -> None:
        """A malformed URL or unknown scheme raises StoreError naming the accepted forms."""
        with pytest.raises(StoreError, match="store URL"):
            open_store(url)

    def test_unknown_scheme_lists_accepted(self) -> None:
        """The error for an unknown scheme names every accepted one."""
        with pytest.raises(StoreError, match=r"sqlite:///.*sqlite:////.*memory://.*etcd://"):
            open_store("redis://localhost")


def start_writer(*args: str) -> subprocess.Popen[str]:
    """Start tests/store/_writer.py with the package importable."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, str(WRITER), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_ready(proc: subprocess.Popen[str]) -> None:
    """Block until the writer has opened the store and waits for "go"."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        _, err = proc.communicate(timeout=30)
        pytest.fail(f"writer did not start: {line!r} {err}")


def go(proc: subprocess.Popen[str]) -> None:
    """Release a waiting writer."""
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Writers started by a test; any still running at the end are killed."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def checksum_of(content: ReleaseContent) -> str:
    """What _writer.py records as the checksum: sha256 of the canonical manifests."""
    return hashlib.sha256(canonical_json(content.manifests).encode()).hexdigest()


class TestConcurrentProcesses:
    def test_eight_writers_lose_no_update(
        self, db: Path, processes: list[subprocess.Popen[str]]
    ) -> None:
        """Eight processes releasing the same tier at once get revisions 1..8, each built on
        the one before it, with a valid audit chain."""
        SqliteRevisionStore(db).close()
        names = [f"writer-{i}" for i in range(8)]
        processes.extend(start_writer("once", str(db), name) for name in names)
        for proc in processes:
            wait_ready(proc)
        for proc in processes:
            go(proc)
        outputs = [proc.communicate(timeout=60) for proc in processes]
        assert [proc.returncode for proc in processes] == [0] * 8, outputs
        assert sorted(int(out) for out, _ in outputs) == list(range(1, 9))

        store = SqliteRevisionStore(db)
        history = store.history("production", None)
        assert [r.revision for r in history] == list(range(1, 9))
        assert sorted(r.content.author for r in history) == names
        assert [r.content.values["chain"]["parent"] for r in history] == list(range(8))
        assert store.verify_audit().ok
        assert len(store.audit_log()) == 8
        store.close()


class TestKillNine:
    def test_store_survives_random_sigkill(
        self, db: Path, processes: list[subprocess.Popen[str]]
    ) -> None:
        """A writer killed with SIGKILL at random moments, 200 times, never leaves a
        corrupt store, a half revision, a gap, or a broken audit chain."""
        runs = int(os.environ.get("TIERCONF_KILL_RUNS", "200"))
        budget = float(os.environ.get("TIERCONF_KILL_SECONDS", "45"))
        seed = int(os.environ.get("TIERCONF_KILL_SEED", str(time.time_ns())))
        rng = random.Random(seed)
        deadline = time.monotonic() + budget
        SqliteRevisionStore(db).close()

        # The next writer starts while the current one runs, so interpreter start-up does
        # not eat the budget and the kill lands while revisions are being written.
        pending = start_writer("loop", str(db))
        processes.append(pending)
        done = 0
        while done < runs and time.monotonic() < deadline:
            current, pending = pending, start_writer("loop", str(db))
            processes.append(pending)
            wait_ready(current)
            go(current)
            time.sleep(rng.uniform(0, 0.03))
            current.send_signal(signal.SIGKILL)
            current.communicate()
            assert current.returncode == -signal.SIGKILL, current.stderr
            done += 1

        assert done >= min(runs, 20), f"only {done} runs fit in {budget} s"
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = conn.execute("SELECT revision, content FROM revisions ORDER BY revision").fetchall()
        conn.close()
        assert rows, f"no revision was written in {done} runs (seed {seed})"
        assert [number for number, _ in rows] == list(range(1, len(rows) + 1))
        for number, text in rows:
            content = ReleaseContent.from_json(text)
            assert json.loads(text)["checksum"] == checksum_of(content), number

        store = SqliteRevisionStore(db)
        report = store.verify_audit()
        assert report.ok, (report, seed)
        assert report.entries == len(rows)
        store.close()
        print(f"kill -9: {done} runs, {len(rows)} revisions, seed {seed}")


def _open_at(path: str, barrier: object, errors: object) -> None:
    """Child process of the race test: wait for the others, then open the store."""
    barrier.wait()  # type: ignore[attr-defined]
    try:
        SqliteRevisionStore(path).close()
    except BaseException as exc:  # reported to the parent
        errors.put(repr(exc))  # type: ignore[attr-defined]


class TestFreshStoreRace:
    def test_many_processes_open_a_new_file_at_once(self, tmp_path: Path) -> None:
        """Processes racing to create, switch to WAL and migrate a new store all get it
        (SQLite answers "database is locked" at once there, without its busy handler):
        the first releases on a fresh checkout must not fail."""
        import multiprocessing

        context = multiprocessing.get_context("fork")
        failures: list[str] = []
        for attempt in range(6):
            path = tmp_path / f"try-{attempt}" / "store.db"
            path.parent.mkdir()
            barrier, errors = context.Barrier(12), context.Queue()
            args = (str(path), barrier, errors)
            children = [context.Process(target=_open_at, args=args) for _ in range(12)]
            for child in children:
                child.start()
            for child in children:
                child.join(60)
            while not errors.empty():
                failures.append(errors.get())
            errors.close()
            errors.join_thread()
        assert failures == []
