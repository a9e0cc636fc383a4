"""LiveConfig against the in-memory source: loading, swaps, rejections, secrets, health."""

from __future__ import annotations

import logging
import secrets as secrets_module

import pytest
from prometheus_client import CollectorRegistry

from support import SECRET_KEYS
from tierconf.errors import InvalidConfigurationError, SchemaError, TierconfError
from tierconf.findings import Finding
from tierconf.pipeline import ResolvedConfig
from tierconf.runtime import (
    InMemoryWatcher,
    LiveConfig,
    LiveState,
    RuntimeOptions,
    SourceUnavailableError,
)
from tierconf.schema import MASK, SecretRef, TierConfig

from .conftest import Files, render_files, sample, wait_for, with_values


def start(
    files: Files, options: RuntimeOptions, environment: str = "development"
) -> tuple[InMemoryWatcher, LiveConfig]:
    """An in-memory source holding ``files`` and a LiveConfig following it."""
    source = InMemoryWatcher(files)
    return source, LiveConfig(source, environment=environment, options=options)


class TestLoading:
    """The first read becomes a typed, immutable snapshot."""

    def test_snapshot_is_the_typed_config(self, dev_files: Files, options: RuntimeOptions) -> None:
        """Values parse by type: ints, bools, lists, strings that look like numbers."""
        _, live = start(dev_files, options)
        with live:
            snap = live.snapshot()
            assert isinstance(snap, TierConfig)
            assert snap.security.rate_limit.requests == 1000
            assert snap.application.debug is True
            assert snap.application.cors.allowed_origins == (
                "https://app.dev.spotify-ai-agent.com",
                "http://localhost:3000",
            )
            assert snap.ml.model.version == "2.10"
            assert "ai_recommendation" in snap.flags

    def test_snapshot_is_immutable(self, dev_files: Files, options: RuntimeOptions) -> None:
        """Assigning to a snapshot field raises: readers can share it freely."""
        _, live = start(dev_files, options)
        with live, pytest.raises(ValueError, match="frozen"):
            live.snapshot().database.postgres.pool_size = 1

    def test_revision_is_a_content_hash(self, dev_files: Files, options: RuntimeOptions) -> None:
        """Same content, same revision; the revision prefixes the checksum."""
        _, first = start(dev_files, options)
        _, second = start(dev_files, RuntimeOptions(registry=CollectorRegistry()))
        with first, second:
            assert first.revision == second.revision
            assert first.checksum.removeprefix("sha256:").startswith(first.revision)

    def test_source_revision_is_used_when_given(self, dev_files: Files, options: RuntimeOptions) -> None:
        """A source that has its own revision (an etcd manifest) names the snapshot."""
        source = InMemoryWatcher(dev_files, revision="42")
        with LiveConfig(source, environment="dev", options=options) as live:
            assert live.revision == "42"

    def test_secret_settings_hold_references(self, dev_files: Files, options: RuntimeOptions) -> None:
        """The snapshot holds a SecretRef; live.secret() gives the value."""
        _, live = start(dev_files, options)
        with live:
            ref = live.snapshot().security.jwt.secret_key
            assert isinstance(ref, SecretRef) and ref.kind == "file"
            assert live.secret("JWT_SECRET_KEY") == dev_files["JWT_SECRET_KEY"].decode()
            assert dev_files["JWT_SECRET_KEY"].decode() not in repr(live.state())

    def test_secret_of_a_plain_setting_is_refused(self, dev_files: Files, options: RuntimeOptions) -> None:
        """secret() only reads secret settings."""
        _, live = start(dev_files, options)
        with live, pytest.raises(SchemaError, match="not a secret"):
            live.secret("DB_HOST")

    def test_missing_keys_take_schema_defaults(self, dev_files: Files, options: RuntimeOptions) -> None:
        """A volume without some KEYs still loads; those settings take schema defaults."""
        files = {k: v for k, v in dev_files.items() if k != "CACHE_MAX_SIZE_MB"}
        _, live = start(files, options)
        with live:
            assert live.snapshot().application.cache.max_size_mb == TierConfig().application.cache.max_size_mb

    def test_trailing_newline_of_a_hand_edit_is_ignored(
        self, dev_files: Files, options: RuntimeOptions
    ) -> None:
        """`echo 5 > RATE_LIMIT_REQUESTS` gives 5, not a type error."""
        _, live = start(with_values(dev_files, RATE_LIMIT_REQUESTS="5\n"), options)
        with live:
            assert live.snapshot().security.rate_limit.requests == 5

    def test_invalid_initial_content_raises(self, dev_files: Files, options: RuntimeOptions) -> None:
        """By default a service does not start on a bad configuration."""
        with pytest.raises(InvalidConfigurationError, match="RATE_LIMIT_REQUESTS"):
            start(with_values(dev_files, RATE_LIMIT_REQUESTS="lots"), options)

    def test_wrong_tier_is_rejected(self, dev_files: Files, options: RuntimeOptions) -> None:
        """A development volume mounted into a production service is refused."""
        with pytest.raises(InvalidConfigurationError, match="'development' tier"):
            start(dev_files, options, environment="production")

    def test_unreadable_source_raises(self, options: RuntimeOptions) -> None:
        """A source that cannot be read at start raises SourceUnavailableError."""
        source = InMemoryWatcher()
        source.fail("volume not mounted")
        with pytest.raises(SourceUnavailableError, match="not mounted"):
            LiveConfig(source, environment="dev", options=options)

    def test_can_start_empty_and_load_later(self, dev_files: Files, metrics: CollectorRegistry) -> None:
        """With require_initial=False the service starts unready and loads when it can."""
        source = InMemoryWatcher()
        source.fail("volume not mounted")
        opts = RuntimeOptions(require_initial=False, registry=metrics, poll_interval=0.2)
        with LiveConfig(source, environment="dev", options=opts) as live:
            assert not live.health().ready
            with pytest.raises(TierconfError, match="no configuration loaded"):
                live.snapshot()
            source.fail(None)
            source.publish(dev_files)
            wait_for(lambda: live.health().ready, what="first load")
            assert live.snapshot().security.rate_limit.requests == 1000


class TestUpdates:
    """Changes are applied as one new snapshot; bad ones are rejected."""

    def test_change_is_applied(
        self, dev_files: Files, options: RuntimeOptions, metrics: CollectorRegistry
    ) -> None:
        """A new value becomes visible with a new revision and is counted as applied."""
        source, live = start(dev_files, options)
        with live:
            old = live.revision
            source.update(RATE_LIMIT_REQUESTS="5")
            wait_for(lambda: live.snapshot().security.rate_limit.requests == 5, what="new limit")
            assert live.revision != old
            assert sample(metrics, "tierconf_config_reloads_total", result="applied") == 2
            info = {"revision": live.revision, "checksum": live.checksum}
            assert sample(metrics, "tierconf_config_info", **info) == 1

    def test_same_content_is_unchanged(
        self, dev_files: Files, options: RuntimeOptions, metrics: CollectorRegistry
    ) -> None:
        """Publishing identical content keeps the snapshot object and counts 'unchanged'."""
        source, live = start(dev_files, options)
        with live:
            snap = live.snapshot()
            source.publish(dev_files)
            wait_for(lambda: sample(metrics, "tierconf_config_reloads_total", result="unchanged") >= 1)
            assert live.snapshot() is snap

    def test_invalid_value_keeps_the_old_snapshot(
        self,
        dev_files: Files,
        options: RuntimeOptions,
        metrics: CollectorRegistry,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """An out-of-bounds value is rejected, logged, counted; the old snapshot stays."""
        source, live = start(dev_files, options)
        with live, caplog.at_level(logging.ERROR, "tierconf.runtime"):
            snap, revision = live.snapshot(), live.revision
            source.update(RATE_LIMIT_REQUESTS="0")
            wait_for(lambda: sample(metrics, "tierconf_config_reloads_total", result="rejected") == 1)
            assert live.snapshot() is snap and live.revision == revision
            assert "RATE_LIMIT_REQUESTS" in caplog.text and "rejected" in caplog.text
            health = live.health()
            assert health.rejected == 1 and "RATE_LIMIT_REQUESTS" in (health.last_error or "")

    def test_rejection_log_masks_secrets(
        self, dev_files: Files, options: RuntimeOptions, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A secret pasted into a plain setting of a rejected update never reaches the log."""
        source, live = start(dev_files, options)
        leaked = "Zx9-very-secret-value-42"
        with live, caplog.at_level(logging.DEBUG, "tierconf.runtime"):
            source.update(JWT_SECRET_KEY=leaked, DB_PORT=leaked)
            wait_for(lambda: live.health().rejected == 1)
            assert "DB_PORT" in caplog.text
            assert leaked not in caplog.text and MASK in caplog.text
            assert leaked not in (live.health().last_error or "")

    def test_rule_errors_reject(
        self, tmp_path_factory: pytest.TempPathFactory, options: RuntimeOptions
    ) -> None:
        """The rule engine runs as in `validate`: a production-forbidden value is rejected."""
        secrets = {key: secrets_module.token_urlsafe(48) for key in SECRET_KEYS}
        files = render_files(tmp_path_factory.mktemp("state"), "production", secrets=secrets)
        source, live = start(files, options, environment="production")
        with live:
            source.update(DEBUG="true")
            wait_for(lambda: live.health().rejected == 1, what="rule rejection")
            assert live.snapshot().application.debug is False
            assert "[" in (live.health().last_error or "")  # the rule code is named

    def test_a_crashing_check_rejects(self, dev_files: Files, metrics: CollectorRegistry) -> None:
        """A check of your own that raises rejects the update instead of skipping validation."""

        def crashing(resolved: ResolvedConfig) -> list[Finding]:
            if resolved.config.security.rate_limit.requests == 5:
                raise RuntimeError("bug in my check")
            return []

        options = RuntimeOptions(registry=metrics, checks=(crashing,))
        source, live = start(dev_files, options)
        with live:
            source.update(RATE_LIMIT_REQUESTS="5")
            wait_for(lambda: live.health().rejected == 1, what="rejection")
            assert live.snapshot().security.rate_limit.requests == 1000
            assert "bug in my check" in (live.health().last_error or "")

    def test_same_bad_content_is_not_logged_twice(
        self, dev_files: Files, options: RuntimeOptions, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Periodic re-reads of content already rejected do not repeat the rejection."""
        source, live = start(dev_files, options)
        with live, caplog.at_level(logging.ERROR, "tierconf.runtime"):
            source.update(RATE_LIMIT_REQUESTS="0")
            wait_for(lambda: live.health().rejected == 1)
            live.reload()
            live.reload()
            assert live.health().rejected == 1
            assert caplog.text.count("rejected") == 1

    def test_fixed_update_after_rejection_applies(self, dev_files: Files, options: RuntimeOptions) -> None:
        """After a rejection, the next valid content is applied and the error clears."""
        source, live = start(dev_files, options)
        with live:
            source.update(RATE_LIMIT_REQUESTS="0")
            wait_for(lambda: live.health().rejected == 1)
            source.update(RATE_LIMIT_REQUESTS="9")
            wait_for(lambda: live.snapshot().security.rate_limit.requests == 9)
            assert live.health().last_error is None

    def test_unavailable_source_keeps_the_snapshot(
        self, dev_files: Files, options: RuntimeOptions, metrics: CollectorRegistry
    ) -> None:
        """A source that becomes unreadable is counted; the snapshot stays."""
        source, live = start(dev_files, options)
        with live:
            snap = live.snapshot()
            source.fail("etcd down")
            wait_for(lambda: sample(metrics, "tierconf_config_reloads_total", result="unavailable") >= 1)
            assert live.snapshot() is snap
            assert "etcd down" in (live.health().last_error or "")

    def test_reload_duration_is_observed(
        self, dev_files: Files, options: RuntimeOptions, metrics: CollectorRegistry
    ) -> None:
        """Every reload lands in the duration histogram."""
        _, live = start(dev_files, options)
        with live:
            live.reload()
            assert sample(metrics, "tierconf_config_reload_duration_seconds_count") >= 2
            assert sample(metrics, "tierconf_config_last_success_timestamp_seconds") > 0

    def test_unknown_keys_are_ignored_with_a_warning(
        self, dev_files: Files, options: RuntimeOptions, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A KEY no setting owns does not reject the update; it is named in a warning."""
        source, live = start(dev_files, options)
        with live, caplog.at_level(logging.WARNING, "tierconf.runtime"):
            source.update(SOMETHING_ELSE="1", RATE_LIMIT_REQUESTS="8")
            wait_for(lambda: "SOMETHING_ELSE" in caplog.text, what="the warning")
            assert live.snapshot().security.rate_limit.requests == 8


class TestSecrets:
    """Secret values are read from the source and never printed."""

    def test_rotation_is_visible(self, dev_files: Files, options: RuntimeOptions) -> None:
        """A new JWT key is served after the swap."""
        source, live = start(dev_files, options)
        with live:
            source.update(JWT_SECRET_KEY="rotated-key-" + "k" * 80)
            wait_for(lambda: live.secret("JWT_SECRET_KEY").startswith("rotated-key-"))

    def test_state_keeps_secret_and_snapshot_together(
        self, dev_files: Files, options: RuntimeOptions
    ) -> None:
        """One LiveState holds the revision, snapshot and secrets of the same version."""
        source, live = start(dev_files, options)
        with live:
            source.update(JWT_SECRET_KEY="second-key-" + "k" * 80, JWT_LEEWAY="3")
            wait_for(lambda: live.snapshot().security.jwt.leeway == 3)
            state: LiveState = live.state()
            assert state.secret("JWT_SECRET_KEY").startswith("second-key-")
            assert state.config.security.jwt.leeway == 3

    def test_health_and_repr_show_no_secret(self, dev_files: Files, options: RuntimeOptions) -> None:
        """health(), repr(live) and repr(state) never contain a secret value."""
        _, live = start(dev_files, options)
        with live:
            text = repr(live) + repr(live.state()) + str(live.health().to_json()) + repr(live.state().secrets)
            for key in ("JWT_SECRET_KEY", "DB_PASSWORD"):
                assert dev_files[key].decode() not in text


class TestHealth:
    """health() answers readiness and liveness probes."""

    def test_healthy_after_load(self, dev_files: Files, options: RuntimeOptions) -> None:
        """Loaded, watching, fresh, with the revision in use."""
        _, live = start(dev_files, options)
        with live:
            health = live.health()
            assert health.ready and health.live and health.loaded and health.watching
            assert health.revision == live.revision and health.age_seconds is not None
            assert health.to_json()["ready"] is True

    def test_closed_is_neither_ready_nor_live(self, dev_files: Files, options: RuntimeOptions) -> None:
        """After close() both probes fail."""
        _, live = start(dev_files, options)
        live.close()
        live.close()  # idempotent
        health = live.health()
        assert not health.ready and not health.live

    def test_stale_source_fails_liveness(self, dev_files: Files, metrics: CollectorRegistry) -> None:
        """No successful read for longer than stale_after makes live False."""
        source = InMemoryWatcher(dev_files)
        opts = RuntimeOptions(poll_interval=0.05, stale_after=0.2, registry=metrics)
        with LiveConfig(source, environment="dev", options=opts) as live:
            source.fail("gone")
            wait_for(lambda: not live.health().live, what="liveness to fail")
            assert live.health().ready  # still serving the last good snapshot


class TestFlags:
    """live.flags evaluates the flags of the snapshot in use."""

    def test_allowed_tenant_is_on(self, dev_files: Files, options: RuntimeOptions) -> None:
        """ai_recommendation is allowed for acme in the bundled tree."""
        _, live = start(dev_files, options)
        with live:
            assert live.flags.is_enabled("ai_recommendation", tenant="acme", user="u1")
            assert not live.flags.is_enabled("no_such_flag", tenant="acme")

    def test_kill_switch_applies_live(self, dev_files: Files, options: RuntimeOptions) -> None:
        """Turning a flag off in the source turns it off for everyone after the swap."""
        source, live = start(dev_files, options)
        with live:
            flag = dev_files["FLAG_AI_RECOMMENDATION"].decode().replace('"enabled":true', '"enabled":false')
            source.update(FLAG_AI_RECOMMENDATION=flag)
            wait_for(lambda: not live.flags.is_enabled("ai_recommendation", tenant="acme", user="u1"))
            assert live.flags.evaluate("ai_recommendation", tenant="acme").reason == "disabled"

    def test_bad_flag_json_is_rejected(self, dev_files: Files, options: RuntimeOptions) -> None:
        """A FLAG_ KEY that is not a JSON object rejects the update."""
        source, live = start(dev_files, options)
        with live:
            source.update(FLAG_ANALYTICS="{not json")
            wait_for(lambda: live.health().rejected == 1)
            assert "FLAG_ANALYTICS" in (live.health().last_error or "")
