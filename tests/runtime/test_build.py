"""build_state: rendered KEY files read back into the same typed configuration (pure)."""

from __future__ import annotations

import threading
from dataclasses import replace
from operator import attrgetter

import pytest

import tierconf.runtime
from support import SECRET_KEYS
from tierconf.errors import InvalidConfigurationError
from tierconf.findings import Finding
from tierconf.pipeline import ResolvedConfig
from tierconf.runtime import BuildTarget, LiveSecrets, LiveState, build_state, checksum_of
from tierconf.runtime._build import ParseMemo, SharedBuilds
from tierconf.schema import MASK, SecretRef, registry
from tierconf.tiers import EnvironmentTier

from .conftest import Files, with_values

DEV = BuildTarget(EnvironmentTier.DEVELOPMENT)


class TestRoundTrip:
    """What `generate --format volume` writes, the runtime reads back identically."""

    def test_every_setting_round_trips(self, dev_files: Files) -> None:
        """Each non-secret setting equals the value the pipeline resolved."""
        from support import resolve

        expected = resolve(tier="development").config
        state = build_state(dev_files, "/etc/config", DEV)
        for spec in registry().settings:
            if not spec.secret:
                get = attrgetter(spec.path)
                assert get(state.config) == get(expected), spec.key
        assert state.config.flags == expected.flags

    def test_secrets_become_file_references(self, dev_files: Files) -> None:
        """Secret settings hold ${file:<origin>/<KEY>}; values sit in LiveSecrets."""
        state = build_state(dev_files, "/etc/config", DEV)
        assert state.config.database.postgres.password == SecretRef("file", "/etc/config/DB_PASSWORD")
        assert state.secret("DB_PASSWORD") == dev_files["DB_PASSWORD"].decode()

    def test_secret_values_keep_trailing_newlines(self, dev_files: Files) -> None:
        """A Secret's bytes are its value; only plain settings drop an editor's newline."""
        state = build_state(with_values(dev_files, JWT_SECRET_KEY="k" * 90 + "\n"), "m://", DEV)
        assert state.secret("JWT_SECRET_KEY").endswith("\n")


class TestChecksum:
    """The checksum identifies content without exposing secrets."""

    def test_stable_and_order_independent(self, dev_files: Files) -> None:
        """Same content in any order, same checksum."""
        reversed_files = dict(reversed(list(dev_files.items())))
        assert checksum_of(dev_files, ["DB_PASSWORD"]) == checksum_of(reversed_files, ["DB_PASSWORD"])

    def test_secret_change_changes_it(self, dev_files: Files) -> None:
        """A rotated secret gives a new checksum (through its fingerprint)."""
        rotated = with_values(dev_files, DB_PASSWORD="another-password-value")
        assert checksum_of(dev_files, ["DB_PASSWORD"]) != checksum_of(rotated, ["DB_PASSWORD"])


class TestProblems:
    """Every problem of one update is reported at once, secrets never quoted."""

    def test_type_and_bound_problems_together(self, dev_files: Files) -> None:
        """A wrong type and an out-of-bounds value are both named."""
        bad = with_values(dev_files, DB_PORT="five", RATE_LIMIT_REQUESTS="0")
        with pytest.raises(InvalidConfigurationError) as caught:
            build_state(bad, "/etc/config", DEV)
        text = " ".join(str(p) for p in caught.value.problems)
        assert "/etc/config/DB_PORT" in text and "RATE_LIMIT_REQUESTS" in text

    def test_bad_choice_names_the_choices(self, dev_files: Files) -> None:
        """An unknown LOG_LEVEL lists the accepted ones."""
        with pytest.raises(InvalidConfigurationError, match="DEBUG, INFO"):
            build_state(with_values(dev_files, LOG_LEVEL="LOUD"), "/etc/config", DEV)

    def test_flag_field_of_wrong_type(self, dev_files: Files) -> None:
        """A flag's JSON field of the wrong type is a problem naming the KEY."""
        text = dev_files["FLAG_ANALYTICS"].decode().replace('"enabled":true', '"enabled":"yes"')
        with pytest.raises(InvalidConfigurationError, match="FLAG_ANALYTICS: enabled"):
            build_state(with_values(dev_files, FLAG_ANALYTICS=text), "/etc/config", DEV)

    def test_not_utf8(self, dev_files: Files) -> None:
        """Binary content is refused without being quoted."""
        with pytest.raises(InvalidConfigurationError, match="not valid UTF-8"):
            build_state({**dev_files, "DB_HOST": b"\xff\xfe"}, "/etc/config", DEV)


class TestPublicNames:
    """tierconf.runtime's __all__ is its contract."""

    def test_all_resolves(self) -> None:
        """Every exported name exists."""
        for name in tierconf.runtime.__all__:
            assert getattr(tierconf.runtime, name) is not None, name

    def test_live_secrets_repr_is_masked(self) -> None:
        """LiveSecrets shows KEYs and masks only."""
        assert repr(LiveSecrets({"DB_PASSWORD": "hunter22"})) == f"LiveSecrets(DB_PASSWORD={MASK})"


class TestSharedBuilds:
    """Runtimes of one process that read the same release validate it once."""

    @staticmethod
    def counting_target() -> tuple[BuildTarget, list[int]]:
        calls: list[int] = []

        def check(resolved: ResolvedConfig) -> list[Finding]:
            calls.append(resolved.config.security.rate_limit.requests)
            return []

        return BuildTarget(EnvironmentTier.DEVELOPMENT, checks=(check,)), calls

    @staticmethod
    def build(shared: SharedBuilds, files: Files, target: BuildTarget) -> LiveState:
        checksum = checksum_of(files, SECRET_KEYS)
        return shared.build(files, "/etc/config/", target, revision=None, checksum=checksum)

    def test_same_content_is_built_once(self, dev_files: Files) -> None:
        shared, (target, calls) = SharedBuilds(), self.counting_target()
        first = self.build(shared, dev_files, target)
        again = self.build(shared, dict(dev_files), target)  # equal content, another mapping
        assert again is first and len(calls) == 1
        alone = build_state(dev_files, "/etc/config/", target)
        assert (first.config, first.checksum, first.keys) == (alone.config, alone.checksum, alone.keys)

    def test_every_byte_counts_secrets_included(self, dev_files: Files) -> None:
        """Content that differs only in a secret (or only in its trailing newline) is built
        again: sharing compares every KEY's bytes, not the fingerprinted checksum."""
        shared, (target, calls) = SharedBuilds(), self.counting_target()
        key = "JWT_SECRET_KEY"
        a = self.build(shared, dev_files, target)
        b = self.build(shared, with_values(dev_files, **{key: dev_files[key].decode() + "\n"}), target)
        assert len(calls) == 2 and a is not b
        assert b.secret(key) == dev_files[key].decode() + "\n"

    def test_another_target_is_built_apart(self, dev_files: Files) -> None:
        shared, (target, calls) = SharedBuilds(), self.counting_target()
        self.build(shared, dev_files, target)
        other = replace(target, tenant="acme")
        assert self.build(shared, dev_files, other).config == self.build(shared, dev_files, target).config
        assert len(calls) == 2

    def test_failures_are_not_shared(self, dev_files: Files) -> None:
        """Each caller of an invalid release validates it and gets its own error."""
        shared, (target, calls) = SharedBuilds(), self.counting_target()
        bad = with_values(dev_files, DB_POOL_SIZE="-3")
        for _ in range(2):
            with pytest.raises(InvalidConfigurationError, match="DB_POOL_SIZE"):
                self.build(shared, bad, target)
        assert calls == []  # the schema refused it before any check ran

    def test_concurrent_callers_wait_for_one_build(self, dev_files: Files) -> None:
        shared, (target, calls) = SharedBuilds(), self.counting_target()
        start = threading.Barrier(8)
        states: list[LiveState] = []

        def run() -> None:
            start.wait()
            states.append(self.build(shared, dev_files, target))

        threads = [threading.Thread(target=run) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(calls) == 1 and len({id(s) for s in states}) == 1 and len(states) == 8

    def test_memory_is_bounded(self, dev_files: Files) -> None:
        shared, (target, calls) = SharedBuilds(size=2), self.counting_target()
        for n in (1, 2, 3, 1):
            self.build(shared, with_values(dev_files, RATE_LIMIT_REQUESTS=str(n)), target)
        assert calls == [1, 2, 3, 1]  # 1 was evicted by 3


class TestMemo:
    """A runtime's memo (parsed values, per-KEY reads and their provenance) never changes
    a result: builds with a long-lived memo equal builds from scratch, errors included."""

    def outcome(self, files: Files, origin: str, memo: ParseMemo) -> object:
        try:
            state = build_state(files, origin, DEV, memo=memo)
        except InvalidConfigurationError as exc:
            return sorted(str(p) for p in exc.problems)
        return (state.config, state.checksum, state.keys, state.warnings, state.unknown_keys)

    def test_memo_never_changes_an_outcome(self, dev_files: Files) -> None:
        memo: ParseMemo = {}
        edits = [
            {},
            {"DB_POOL_SIZE": "7"},
            {"DB_POOL_SIZE": "-1"},  # invalid, then valid again with the same content as before
            {"DB_POOL_SIZE": "7"},
            {"UNKNOWN_KEY": "x"},
            {"JWT_SECRET_KEY": "k" * 90},
            {},
        ]
        for edit in edits:
            files = {**dev_files, **{k: v.encode() for k, v in edit.items()}}
            for origin in ("/etc/config/", "etcd://a/keys/"):  # one memo, two origins
                assert self.outcome(files, origin, memo) == self.outcome(files, origin, {}), (edit, origin)

    def test_secret_references_follow_the_origin(self, dev_files: Files) -> None:
        """Per-KEY reads are remembered per origin: a secret's file reference names the
        source it was read from even when another source had the same content."""
        memo: ParseMemo = {}
        a = build_state(dev_files, "/mnt/a/", DEV, memo=memo)
        b = build_state(dev_files, "/mnt/b/", DEV, memo=memo)
        assert str(a.config.database.postgres.password) != str(b.config.database.postgres.password)
        assert "/mnt/b/DB_PASSWORD" in repr(b.config.database.postgres.password)

    def test_memo_keeps_no_secret(self, dev_files: Files) -> None:
        """Secret KEYs are read afresh each time: the memo never holds their plaintext."""
        memo: ParseMemo = {}
        build_state(dev_files, "/etc/config/", DEV, memo=memo)
        secrets = [dev_files[key] for key in SECRET_KEYS]
        assert memo
        for memo_key, value in memo.items():
            assert not any(secret in memo_key for secret in secrets)
            assert not any(secret.decode() in repr(value) for secret in secrets)
