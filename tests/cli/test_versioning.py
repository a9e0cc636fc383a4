"""``tierconf release/history/show/diff/rollback/audit`` end to end, run as a user runs them.

Most read-only checks share one store (three production releases, module scope); tests
that change a store work on their own copy or their own directory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from support import SECRET_KEYS, run_cli

pytestmark = pytest.mark.e2e



def known_secret(key: str, generation: int = 1) -> str:
    """A long, recognisable secret value (HS512 keys need at least 64 characters)."""
    return f"Kx9-{key.lower()}-{generation}-" + hashlib.sha256(f"{key}{generation}".encode()).hexdigest()


SECRETS = {key: known_secret(key) for key in SECRET_KEYS}
ROTATED_DB_PASSWORD = known_secret("DB_PASSWORD", 2)


def secret_env(**overrides: str) -> dict[str, str]:
    """``TIERCONF_SECRET_<KEY>`` for every secret, with some values replaced."""
    values = {**SECRETS, **overrides}
    return {f"TIERCONF_SECRET_{key}": value for key, value in values.items()}


def forbidden_forms(secret: str) -> list[bytes]:
    """The plaintext and the base64 spellings a Secret manifest or a tool might write."""
    raw = secret.encode()
    return [raw, base64.b64encode(raw), base64.urlsafe_b64encode(raw), base64.b64encode(raw).rstrip(b"=")]


ALL_SECRET_VALUES = (*SECRETS.values(), ROTATED_DB_PASSWORD)


def store_bytes(directory: Path) -> bytes:
    """Every byte of the store: the database file and its -wal and -shm companions."""
    db = directory / ".tierconf" / "store.db"
    companions = [db, db.with_name("store.db-wal"), db.with_name("store.db-shm")]
    return b"".join(path.read_bytes() for path in companions if path.exists())


@dataclass
class Workspace:
    """A working directory with a store, and everything the commands printed there."""

    cwd: Path
    outputs: list[str] = field(default_factory=list)

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run tierconf in this directory and keep its output for the leak check."""
        result = run_cli(*args, cwd=self.cwd, env=env)
        self.outputs.extend((result.stdout, result.stderr))
        return result

    def ok(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run tierconf, require exit 0, return stdout."""
        result = self.run(*args, env=env)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def json(self, *args: str) -> Any:
        """Run tierconf with ``--format json`` and parse stdout."""
        return json.loads(self.ok(*args, "--format", "json"))

    def copy(self, destination: Path) -> Workspace:
        """A copy of this workspace's store, to change without touching the shared one."""
        shutil.copytree(self.cwd / ".tierconf", destination / ".tierconf")
        return Workspace(destination)


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Production revisions 1 (first), 2 (RATE_LIMIT_REQUESTS=250), 3 (DB_PASSWORD rotated)."""
    space = Workspace(tmp_path_factory.mktemp("released"))
    space.ok("release", "-e", "production", "-m", "first release", env=secret_env())
    space.ok(
        "release", "-e", "prod", "--set", "RATE_LIMIT_REQUESTS=250", "-m", "raise the rate limit",
        env=secret_env(),
    )
    space.ok(
        "release", "-e", "production", "-m", "rotate the database password",
        env=secret_env(DB_PASSWORD=ROTATED_DB_PASSWORD),
    )
    return space


def history(space: Workspace, *args: str) -> list[dict[str, Any]]:
    """``tierconf history --format json`` as a list."""
    result: list[dict[str, Any]] = space.json("history", *args)
    return result


class TestRelease:
    def test_records_consecutive_revisions(self, released: Workspace) -> None:
        """Three releases of different content are revisions 1, 2, 3 with distinct checksums."""
        items = history(released, "-e", "production")
        assert [item["revision"] for item in items] == [1, 2, 3]
        assert len({item["checksum"] for item in items}) == 3

    def test_history_json_has_the_contract_shape(self, released: Workspace) -> None:
        """Each history item has exactly CONTRACT.md's six keys with their types."""
        for item in history(released, "-e", "production"):
            assert set(item) == {"revision", "created_at", "author", "message", "checksum",
                                 "rolled_back_from"}
            assert item["created_at"].endswith("Z")
            assert item["checksum"].startswith("sha256:")
            assert item["author"]
            assert item["rolled_back_from"] is None
        assert history(released, "-e", "prod")[1]["message"] == "raise the rate limit"

    def test_history_text_is_a_table(self, released: Workspace) -> None:
        """The text history lists every revision with its message."""
        text = released.ok("history", "-e", "production")
        for needle in ("REVISION", "first release", "raise the rate limit", "rotate the database"):
            assert needle in text

    def test_unknown_tier_history_is_empty(self, released: Workspace) -> None:
        """A tier (or tenant) without releases has an empty history."""
        assert history(released, "-e", "staging") == []
        assert history(released, "-e", "production", "--tenant", "acme") == []

    def test_identical_content_is_a_no_op(self, tmp_path: Path) -> None:
        """Releasing the head's content again records nothing and says so."""
        space = Workspace(tmp_path)
        space.ok("release", "-e", "dev", env=secret_env())
        again = space.ok("release", "-e", "dev", "-m", "same again", env=secret_env())
        assert "unchanged since revision 1" in again
        assert [item["revision"] for item in history(space, "-e", "dev")] == [1]

    def test_force_records_identical_content_and_audits_the_reason(self, tmp_path: Path) -> None:
        """--force REASON records the same content again, audited as action "force"."""
        space = Workspace(tmp_path)
        space.ok("release", "-e", "dev", env=secret_env())
        space.ok("release", "-e", "dev", "--force", "re-stamp after incident 42", env=secret_env())
        items = history(space, "-e", "dev")
        assert [item["revision"] for item in items] == [1, 2]
        assert items[0]["checksum"] == items[1]["checksum"]
        entries = space.json("audit", "log")
        assert [e["action"] for e in entries] == ["release", "force"]
        assert entries[1]["reason"] == "re-stamp after incident 42"
        assert entries[1]["revision"] == 2

    def test_release_json_output(self, tmp_path: Path) -> None:
        """release --format json reports the revision, its checksum and whether it recorded."""
        space = Workspace(tmp_path)
        first = space.json("release", "-e", "dev", "--tenant", "acme")
        assert (first["revision"], first["recorded"], first["tenant"]) == (1, True, "acme")
        assert first["checksum"].startswith("sha256:")
        assert space.json("release", "-e", "dev", "--tenant", "acme")["recorded"] is False

    def test_schema_error_blocks_even_when_forced(self, tmp_path: Path) -> None:
        """A configuration that does not load cannot be released, forced or not (exit 1)."""
        space = Workspace(tmp_path)
        result = space.run("release", "-e", "dev", "--set", "DB_POOL_SIZE=-3", "--force", "x")
        assert result.returncode == 1
        assert "DB_POOL_SIZE" in result.stderr
        assert history(space, "-e", "dev") == []

    def test_max_history_prunes_old_revisions(self, tmp_path: Path) -> None:
        """--max-history 2 keeps the newest two revisions; numbers continue after the head."""
        space = Workspace(tmp_path)
        for requests in (101, 102, 103, 104):
            space.ok("release", "-e", "dev", "--set", f"RATE_LIMIT_REQUESTS={requests}",
                     "--max-history", "2", env=secret_env())
        assert [item["revision"] for item in history(space, "-e", "dev")] == [3, 4]
        assert "prune" in [e["action"] for e in space.json("audit", "log")]
        assert "intact" in space.ok("audit", "verify")

    def test_external_secrets_release_holds_no_secret_object(self, tmp_path: Path) -> None:
        """--secrets external records ExternalSecret manifests and resolves no value."""
        space = Workspace(tmp_path)
        space.ok("release", "-e", "production", "--secrets", "external")
        kinds = {m["kind"] for m in space.json("show", "1", "-e", "production")["manifests"]}
        assert "ExternalSecret" in kinds
        assert "Secret" not in kinds


class TestRefusal:
    """A rule reporting an error blocks a release unless it is forced with a reason."""

    LAUNCHER = '''
import sys
import tierconf.validation as validation
from tierconf.findings import Finding

original = validation.validate


def validate(tree, request, **kwargs):
    report = original(tree, request, **kwargs)
    extra = Finding("error", "TEST-BLOCKER", "application.debug", "DEBUG",
                    "a rule planted by the test reports an error", None, None)
    return validation.ValidationReport(report.environment, report.tenant,
                                       (*report.findings, extra))


validation.validate = validate
from tierconf.cli import main

sys.argv[0] = "tierconf"
main()
'''

    def run_with_error_rule(self, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """The CLI with one extra validation rule that always reports an error.

        Planted because the bundled tree triggers no error rule in this build.
        """
        launcher = cwd / "with_error_rule.py"
        launcher.write_text(self.LAUNCHER, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIERCONF_SECRET_")}
        env.update(secret_env())
        return subprocess.run(
            [sys.executable, str(launcher), *args], cwd=cwd, env=env, capture_output=True,
            text=True, timeout=60, check=False,
        )

    def test_error_finding_refuses_the_release(self, tmp_path: Path) -> None:
        """An error finding makes release exit 1, naming the finding and --force."""
        result = self.run_with_error_rule(tmp_path, "release", "-e", "dev")
        assert result.returncode == 1, result.stderr
        assert "TEST-BLOCKER" in result.stderr
        assert "--force REASON" in result.stderr
        assert json.loads(run_cli("history", "-e", "dev", "--format", "json", cwd=tmp_path).stdout) == []

    def test_force_records_it_with_the_reason(self, tmp_path: Path) -> None:
        """--force REASON records the revision with its error count, audited as "force"."""
        result = self.run_with_error_rule(
            tmp_path, "release", "-e", "dev", "--force", "approved by on-call", "--format", "json"
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["forced"] is True
        shown = json.loads(run_cli("show", "1", "-e", "dev", "--format", "json", cwd=tmp_path).stdout)
        assert shown["forced_reason"] == "approved by on-call"
        assert shown["findings"]["error"] == 1
        log = json.loads(run_cli("audit", "log", "--format", "json", cwd=tmp_path).stdout)
        assert [(e["action"], e["reason"]) for e in log] == [("force", "approved by on-call")]


class TestShow:
    def test_show_json_has_metadata_values_and_manifests(self, released: Workspace) -> None:
        """show --format json has the revision's metadata, provenance and manifests."""
        shown = released.json("show", "2", "-e", "production")
        assert shown["revision"] == 2
        assert shown["message"] == "raise the rate limit"
        assert shown["tierconf_version"]
        assert set(shown["findings"]) == {"error", "warning", "info"}
        rate = shown["values"]["security.rate_limit.requests"]
        assert (rate["key"], rate["value"], rate["layer"]) == ("RATE_LIMIT_REQUESTS", "250", "--set")
        pool = shown["values"]["database.postgres.pool_size"]
        assert pool["file"].endswith("environments/production.yaml")
        assert isinstance(pool["line"], int)
        kinds = [m["kind"] for m in shown["manifests"]]
        assert "ConfigMap" in kinds
        assert "Secret" in kinds

    def test_secrets_are_fingerprints(self, released: Workspace) -> None:
        """Secret manifests and secret settings hold fingerprints, never values."""
        shown = released.json("show", "1", "-e", "production")
        secret_data = {
            key: value
            for manifest in shown["manifests"]
            if manifest["kind"] == "Secret"
            for key, value in manifest["data"].items()
        }
        assert set(secret_data) == set(SECRET_KEYS)
        assert all(value.startswith("sha256:") for value in secret_data.values())
        password = shown["values"]["database.postgres.password"]
        assert password["secret"] is True
        assert password["fingerprint"] == secret_data["DB_PASSWORD"]

    def test_show_text_lists_the_manifests(self, released: Workspace) -> None:
        """show prints who, when, why and the manifests as YAML."""
        text = released.ok("show", "3", "-e", "production")
        assert "rotate the database password" in text
        assert "kind: Secret" in text
        assert "sha256:" in text

    def test_missing_revision_is_an_error(self, released: Workspace) -> None:
        """show of an unknown revision exits 1 and lists the stored ones."""
        result = released.run("show", "9", "-e", "production")
        assert result.returncode == 1
        assert "1-3" in result.stderr


class TestDiff:
    def test_changed_setting_per_object_and_key(self, released: Workspace) -> None:
        """diff 1 2 reports the one KEY that changed, in its object, with both values."""
        document = released.json("diff", "1", "2", "-e", "production")
        assert (document["from"], document["to"]) == (1, 2)
        [change] = document["changes"]
        assert change["object"] == "ConfigMap/spotify-ai-agent-security-config"
        assert (change["key"], change["change"], change["right"]) == ("RATE_LIMIT_REQUESTS", "changed", "250")
        assert change["left"] != "250"
        assert change["secret"] is False

    def test_secret_change_shows_fingerprints_only(self, released: Workspace) -> None:
        """A rotated secret is "changed" with fingerprints on both sides."""
        changes = released.json("diff", "1", "3", "-e", "production")["changes"]
        assert [(c["object"], c["key"], c["change"], c["secret"]) for c in changes] == [
            ("Secret/spotify-ai-agent-database-secrets", "DB_PASSWORD", "changed", True)
        ]
        assert changes[0]["left"].startswith("sha256:")
        assert changes[0]["right"].startswith("sha256:")

    def test_text_is_a_unified_diff(self, released: Workspace) -> None:
        """The text form has ---/+++ headers per object and -/+ lines per KEY, secrets masked."""
        text = released.ok("diff", "2", "3", "-e", "production")
        assert "--- production revision 2  ConfigMap/spotify-ai-agent-security-config" in text
        assert "+++ production revision 3  ConfigMap/spotify-ai-agent-security-config" in text
        assert "-RATE_LIMIT_REQUESTS=250" in text
        assert "-DB_PASSWORD=******** (sha256:" in text

    def test_same_revision_has_no_changes(self, released: Workspace) -> None:
        """A revision compared with itself has no changes."""
        assert released.json("diff", "2", "2", "-e", "production")["changes"] == []

    def test_mode_must_be_exactly_one(self, released: Workspace) -> None:
        """Neither or both of --against and REV1 REV2 is a usage error (exit 2)."""
        assert released.run("diff", "-e", "production").returncode == 2
        both = released.run("diff", "1", "2", "-e", "production", "--against", "staging")
        assert both.returncode == 2
        assert released.run("diff", "1", "-e", "production").returncode == 2

    def test_tier_mode_still_works(self, released: Workspace) -> None:
        """-e A --against B still compares two tiers."""
        document = released.json("diff", "-e", "staging", "--against", "production")
        assert document["left"] == "staging"
        assert document["changes"]


class TestRollback:
    def test_rollback_copies_the_target_checksum(self, released: Workspace, tmp_path: Path) -> None:
        """rollback 1 records revision 4 with revision 1's checksum and rolled_back_from 1."""
        space = released.copy(tmp_path)
        output = space.ok("rollback", "1", "-e", "production", env=secret_env())
        assert "revision 4" in output
        items = history(space, "-e", "production")
        assert [item["revision"] for item in items] == [1, 2, 3, 4]
        assert items[3]["checksum"] == items[0]["checksum"]
        assert items[3]["rolled_back_from"] == 1
        assert items[3]["message"] == "Rollback to 1"
        log = space.json("audit", "log", "-e", "production")
        assert log[-1]["action"] == "rollback"
        assert log[-1]["revision"] == 4
        assert "intact" in space.ok("audit", "verify")

    def test_rollback_reports_rotated_secrets(self, released: Workspace, tmp_path: Path) -> None:
        """Secrets are re-resolved now: a value rotated since the target is reported by
        fingerprint and the new revision carries it (here: revision 3's content exactly)."""
        space = released.copy(tmp_path)
        output = space.ok(
            "rollback", "1", "-e", "production", "-m", "undo the rate limit",
            env=secret_env(DB_PASSWORD=ROTATED_DB_PASSWORD),
        )
        assert "secret DB_PASSWORD changed since revision 1" in output
        for value in ALL_SECRET_VALUES:
            assert value not in output
        items = history(space, "-e", "production")
        assert items[3]["checksum"] != items[0]["checksum"]
        assert items[3]["checksum"] == items[2]["checksum"]
        assert items[3]["message"] == "undo the rate limit"
        changes = space.json("diff", "1", "4", "-e", "production")["changes"]
        assert [(c["key"], c["change"]) for c in changes] == [("DB_PASSWORD", "changed")]

    def test_rollback_needs_the_secrets(self, released: Workspace, tmp_path: Path) -> None:
        """Without the production secrets a rollback is refused (exit 1) and records nothing."""
        space = released.copy(tmp_path)
        result = space.run("rollback", "1", "-e", "production")
        assert result.returncode == 1
        assert "DB_PASSWORD" in result.stderr
        assert len(history(space, "-e", "production")) == 3

    def test_rollback_to_a_missing_revision(self, released: Workspace, tmp_path: Path) -> None:
        """Rolling back to a revision that does not exist exits 1."""
        space = released.copy(tmp_path)
        result = space.run("rollback", "7", "-e", "production", env=secret_env())
        assert result.returncode == 1
        assert "does not exist" in result.stderr


class TestAudit:
    def test_verify_passes_on_an_untouched_store(self, released: Workspace) -> None:
        """audit verify exits 0 and counts the entries."""
        assert "intact: 3 entries" in released.ok("audit", "verify")

    def test_log_lists_every_release(self, released: Workspace) -> None:
        """audit log has one chained release entry per revision."""
        entries = released.json("audit", "log", "-e", "production")
        assert [(e["seq"], e["action"], e["revision"]) for e in entries] == [
            (1, "release", 1), (2, "release", 2), (3, "release", 3)
        ]
        assert entries[1]["prev_hash"] == entries[0]["hash"]
        assert entries[0]["checksum"] == history(released, "-e", "production")[0]["checksum"]
        assert "first release" in released.ok("audit", "log")

    def test_tampered_entry_fails_verification(self, released: Workspace, tmp_path: Path) -> None:
        """Editing an audit row in the SQLite file makes audit verify exit 1 naming it."""
        space = released.copy(tmp_path)
        with sqlite3.connect(space.cwd / ".tierconf" / "store.db") as db:
            db.execute("UPDATE audit SET reason = 'nothing to see here' WHERE seq = 2")
        db.close()
        result = space.run("audit", "verify")
        assert result.returncode == 1
        assert "entry 2" in result.stderr

    def test_deleted_entry_fails_verification(self, released: Workspace, tmp_path: Path) -> None:
        """Deleting the newest audit row is detected too."""
        space = released.copy(tmp_path)
        with sqlite3.connect(space.cwd / ".tierconf" / "store.db") as db:
            db.execute("DELETE FROM audit WHERE seq = 3")
        db.close()
        result = space.run("audit", "verify")
        assert result.returncode == 1
        assert "entry 3" in result.stderr


class TestNoSecretLeaks:
    def test_store_files_hold_no_secret(self, released: Workspace) -> None:
        """No secret value, plain or base64, is in the db, -wal or -shm bytes."""
        data = store_bytes(released.cwd)
        assert data
        for value in ALL_SECRET_VALUES:
            for form in forbidden_forms(value):
                assert form not in data, value

    def test_no_output_holds_a_secret(self, released: Workspace) -> None:
        """No command printed a secret value, plain or base64."""
        for args in (("history", "-e", "production"), ("show", "3", "-e", "production"),
                     ("show", "3", "-e", "production", "--format", "json"),
                     ("diff", "1", "3", "-e", "production"), ("audit", "log")):
            released.ok(*args)
        text = "\n".join(released.outputs).encode()
        for value in ALL_SECRET_VALUES:
            for form in forbidden_forms(value):
                assert form not in text, value
