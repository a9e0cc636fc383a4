"""The OpenFeature provider, driven through the SDK's client as an application would."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

pytest.importorskip("openfeature")

from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from support import resolve
from tierconf.flags import TierconfProvider
from tierconf.flags._openfeature import changed_flags
from tierconf.schema import TierConfig
from tierconf.schema._flags import FlagDefinition

TYPED: dict[str, dict[str, Any]] = {
    "layout": {
        "kind": "string",
        "variants": [
            {"name": "grid", "value": "grid", "weight": 100},
            {"name": "classic", "value": "classic"},
        ],
        "default_variant": "classic",
        "constraints": [{"attribute": "country", "operator": "in", "values": ["SE"]}],
    },
    "page_size": {
        "kind": "number",
        "variants": [{"name": "big", "value": 50, "weight": 100}, {"name": "small", "value": 10}],
        "default_variant": "small",
    },
    "ratio": {
        "kind": "number",
        "variants": [{"name": "half", "value": 0.5, "weight": 100}, {"name": "none", "value": 0}],
        "default_variant": "none",
    },
    "limits": {
        "kind": "json",
        "variants": [{"name": "on", "value": {"max": [1, 2]}, "weight": 100}, {"name": "off", "value": {}}],
        "default_variant": "off",
    },
    "sale": {
        "constraints": [{"attribute": "current_time", "operator": "date_after", "value": "2026-01-01"}],
    },
}


class FakeLive:
    """The in-memory twin of LiveConfig for the provider: snapshot() and subscribe()."""

    def __init__(self, config: TierConfig) -> None:
        self.config = config
        self.callbacks: list[Callable[[TierConfig, TierConfig], None]] = []

    def snapshot(self) -> TierConfig:
        return self.config

    def subscribe(
        self, callback: Callable[[TierConfig, TierConfig], None], path: str = ""
    ) -> Callable[[], None]:
        assert path == "flags"
        self.callbacks.append(callback)
        return lambda: self.callbacks.remove(callback)

    def reload(self, config: TierConfig) -> None:
        old, self.config = self.config, config
        for callback in list(self.callbacks):
            callback(old, config)


def with_flags(config: TierConfig, **flags: dict[str, Any]) -> TierConfig:
    extra = {name: FlagDefinition.model_validate(fields) for name, fields in flags.items()}
    return config.model_copy(update={"flags": {**config.flags, **extra}})


@pytest.fixture
def live() -> Iterator[FakeLive]:
    source = FakeLive(with_flags(resolve(tier="production").config, **TYPED))
    api.set_provider(
        TierconfProvider(source, plans={"acme": "pro"}, clock=lambda: datetime(2026, 6, 1, tzinfo=UTC))
    )
    yield source
    api.clear_providers()
    api.clear_hooks()


def ctx(user: str | None = "u1", **attributes: Any) -> EvaluationContext:
    return EvaluationContext(user, attributes)


class TestResolvers:
    """All five resolvers, with reasons and variants."""

    def test_boolean_allowed_tenant(self, live: FakeLive) -> None:
        """An allowed tenant is a targeting match; tierconf's reason is in the metadata."""
        details = api.get_client().get_boolean_details("ai_recommendation", False, ctx(tenant="acme"))
        assert (details.value, details.variant, details.reason) == (True, "on", Reason.TARGETING_MATCH)
        assert details.flag_metadata["tierconf_reason"] == "allowed"
        assert details.flag_metadata["owner"] == "ml-platform"

    def test_boolean_split_and_disabled(self, live: FakeLive) -> None:
        """A partial rollout is SPLIT; a disabled flag is DISABLED with its off value."""
        client = api.get_client()
        assert client.get_boolean_details("playlist_generation", True, ctx(tenant="x")).reason == Reason.SPLIT
        details = client.get_boolean_details("ml_training", True, ctx(tenant="x"))
        assert (details.value, details.reason) == (False, Reason.DISABLED)

    def test_plan_comes_from_the_lookup(self, live: FakeLive) -> None:
        """Without a plan attribute the provider asks its plans lookup (acme is pro)."""
        client = api.get_client()
        assert client.get_boolean_value("collaboration", False, ctx(tenant="acme"))
        assert not client.get_boolean_value("collaboration", True, ctx(tenant="acme", plan="free"))

    def test_static_when_on_for_everyone(self, live: FakeLive) -> None:
        """A flag fully on with no targeting is STATIC."""
        assert api.get_client().get_boolean_details("analytics", False, ctx()).reason == Reason.STATIC

    def test_string(self, live: FakeLive) -> None:
        """A constraint match serves the weighted variant; a miss the default variant."""
        client = api.get_client()
        hit = client.get_string_details("layout", "x", ctx(country="SE"))
        miss = client.get_string_details("layout", "x", ctx(country="FR"))
        assert (hit.value, hit.variant, hit.reason) == ("grid", "grid", Reason.TARGETING_MATCH)
        assert (miss.value, miss.variant, miss.reason) == ("classic", "classic", Reason.TARGETING_MATCH)

    def test_integer_and_float(self, live: FakeLive) -> None:
        """Number flags resolve as integers when integral and always as floats."""
        client = api.get_client()
        assert client.get_integer_value("page_size", 1, ctx()) == 50
        assert client.get_float_value("page_size", 1.0, ctx()) == 50.0
        assert client.get_float_value("ratio", 1.0, ctx()) == 0.5
        details = client.get_integer_details("ratio", 7, ctx())
        assert (details.value, details.error_code) == (7, ErrorCode.TYPE_MISMATCH)

    def test_object(self, live: FakeLive) -> None:
        """json flags resolve as objects."""
        assert api.get_client().get_object_value("limits", {}, ctx()) == {"max": [1, 2]}

    def test_clock_fills_current_time(self, live: FakeLive) -> None:
        """A date constraint on current_time uses the provider's clock unless the context gives it."""
        client = api.get_client()
        assert client.get_boolean_value("sale", False, ctx())
        assert not client.get_boolean_value("sale", True, ctx(current_time="2025-12-01"))


class TestErrors:
    """Errors follow the spec: the default value, reason ERROR and an error code."""

    def test_flag_not_found(self, live: FakeLive) -> None:
        """An unknown flag is FLAG_NOT_FOUND."""
        details = api.get_client().get_boolean_details("nope", True, ctx())
        assert (details.value, details.reason, details.error_code) == (
            True,
            Reason.ERROR,
            ErrorCode.FLAG_NOT_FOUND,
        )

    @pytest.mark.parametrize(
        ("method", "flag", "default"),
        [
            ("get_string_details", "ai_recommendation", "d"),
            ("get_boolean_details", "layout", False),
            ("get_integer_details", "layout", 3),
            ("get_float_details", "ai_recommendation", 1.5),
            ("get_object_details", "page_size", {"d": 1}),
        ],
    )
    def test_type_mismatch(self, live: FakeLive, method: str, flag: str, default: Any) -> None:
        """A resolver that does not fit the flag's kind is TYPE_MISMATCH with the default."""
        details = getattr(api.get_client(), method)(flag, default, ctx())
        assert (details.value, details.error_code) == (default, ErrorCode.TYPE_MISMATCH)

    def test_no_snapshot(self) -> None:
        """A source that cannot give a snapshot is PROVIDER_NOT_READY."""

        class Broken(FakeLive):
            def snapshot(self) -> TierConfig:
                raise RuntimeError("not loaded yet")

        api.set_provider(TierconfProvider(Broken(TierConfig())))
        try:
            details = api.get_client().get_boolean_details("x", True)
            assert details.error_code == ErrorCode.PROVIDER_NOT_READY and details.value is True
        finally:
            api.clear_providers()


class TestEvents:
    """A reload that changes flags emits PROVIDER_CONFIGURATION_CHANGED."""

    def test_configuration_changed(self, live: FakeLive) -> None:
        """Only reloads that change flags are announced, with the flags that changed."""
        seen: list[EventDetails] = []
        api.add_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, seen.append)
        try:
            live.reload(live.config.model_copy())
            assert seen == []
            live.reload(with_flags(live.config, analytics={"enabled": False}))
            assert len(seen) == 1 and seen[0].flags_changed == ["analytics"]
            assert not api.get_client().get_boolean_value("analytics", True, ctx())
        finally:
            api.remove_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, seen.append)

    def test_shutdown_unsubscribes(self, live: FakeLive) -> None:
        """Shutting the provider down removes its subscription."""
        assert len(live.callbacks) == 1
        api.shutdown()
        assert live.callbacks == []

    def test_changed_flags(self) -> None:
        """Added, removed and modified flags are all reported, sorted."""
        a, b = FlagDefinition(), FlagDefinition(enabled=False)
        assert changed_flags({"x": a, "y": a}, {"y": b, "z": a}) == ["x", "y", "z"]

    def test_metadata(self) -> None:
        """The provider names itself."""
        assert TierconfProvider(FakeLive(TierConfig())).get_metadata().name == "tierconf"


class TestWithLiveConfig:
    """The provider on a real LiveConfig fed by the in-memory watcher."""

    def test_reload_reaches_the_client(self) -> None:
        """Publishing a changed FLAG_ KEY emits the event and the client sees the new value."""
        runtime = pytest.importorskip("tierconf.runtime")
        flag = {"enabled": True, "rollout_percent": 100}
        source = runtime.InMemoryWatcher({"FLAG_CHECKOUT": json.dumps(flag)})
        options = runtime.RuntimeOptions(rules=False, metrics=False, settle=0.0)
        live = runtime.LiveConfig(source, environment="development", options=options)
        seen: list[EventDetails] = []
        try:
            api.set_provider(TierconfProvider(live))
            api.add_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, seen.append)
            client = api.get_client()
            assert client.get_boolean_value("checkout", False)
            source.update(FLAG_CHECKOUT=json.dumps({**flag, "enabled": False}))
            deadline = time.monotonic() + 10
            while not seen and time.monotonic() < deadline:
                time.sleep(0.02)
            assert seen and seen[0].flags_changed == ["checkout"]
            assert not client.get_boolean_value("checkout", True)
        finally:
            api.remove_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, seen.append)
            api.shutdown()
            live.close()
