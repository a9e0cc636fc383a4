"""Merging layers: precedence, per-field strategies, provenance chains."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tierconf.layering import merge_layers, nest
from tierconf.schema import registry
from tierconf.sources._layer import Entry, Layer

PATHS = ["database.postgres.pool_size", "database.redis.port", "application.server.max_workers"]
ORIGINS = "application.cors.allowed_origins"


def layer(name: str, entries: dict[str, object]) -> Layer:
    return Layer("values", name, f"{name}.yaml", {p: Entry(v, 1) for p, v in entries.items()})


layers_strategy = st.lists(
    st.dictionaries(st.sampled_from(PATHS), st.integers(1, 100), max_size=3), max_size=6
)


class TestPrecedence:
    """Later layers win, leaf by leaf."""

    @given(layers_strategy)
    def test_last_writer_wins(self, contents: list[dict[str, object]]) -> None:
        """Each path ends with the value of the last layer that set it."""
        merged = merge_layers([layer(f"l{i}", c) for i, c in enumerate(contents)], registry())
        for path in PATHS:
            setters = [c[path] for c in contents if path in c]
            if setters:
                assert merged[path].value == setters[-1]
                assert len(merged[path].chain) == len(setters)
            else:
                assert path not in merged

    @given(layers_strategy, layers_strategy)
    def test_merge_is_associative(
        self, first: list[dict[str, object]], second: list[dict[str, object]]
    ) -> None:
        """Merging A then B equals merging the concatenation (a layer stack is a fold)."""
        reg = registry()
        all_layers = [layer(f"a{i}", c) for i, c in enumerate(first)] + [
            layer(f"b{i}", c) for i, c in enumerate(second)
        ]
        whole = merge_layers(all_layers, reg)
        left = merge_layers(all_layers[: len(first)], reg)
        right = merge_layers(all_layers[len(first) :], reg)
        combined = {**{p: v.value for p, v in left.items()}, **{p: v.value for p, v in right.items()}}
        assert {p: v.value for p, v in whole.items()} == combined

    @given(st.dictionaries(st.sampled_from(PATHS), st.integers(1, 100), max_size=3))
    def test_merging_a_layer_twice_is_idempotent(self, content: dict[str, object]) -> None:
        """Applying the same layer again changes no value."""
        reg = registry()
        once = merge_layers([layer("x", content)], reg)
        twice = merge_layers([layer("x", content), layer("x", content)], reg)
        assert {p: v.value for p, v in once.items()} == {p: v.value for p, v in twice.items()}


class TestStrategies:
    """Per-field merge strategies come from the schema."""

    def test_merge_strategy_unions_lists(self) -> None:
        """ALLOWED_ORIGINS is declared merge: tiers add origins in order, without duplicates."""
        assert registry().by_path[ORIGINS].meta.merge == "merge"
        merged = merge_layers(
            [layer("a", {ORIGINS: ("x", "y")}), layer("b", {ORIGINS: ("y", "z")})], registry()
        )
        assert merged[ORIGINS].value == ("x", "y", "z")

    def test_replace_strategy_replaces_lists(self) -> None:
        """OAUTH_PROVIDERS replaces."""
        path = "security.oauth.providers"
        merged = merge_layers([layer("a", {path: ("google",)}), layer("b", {path: ("github",)})], registry())
        assert merged[path].value == ("github",)

    def test_nest_builds_nested_dicts(self) -> None:
        """Flat paths become the nested dict pydantic validates."""
        merged = merge_layers([layer("a", {"database.postgres.pool_size": 3})], registry())
        assert nest(merged) == {"database": {"postgres": {"pool_size": 3}}}
