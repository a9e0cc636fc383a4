"""Hypothesis strategies for the reliability fuzzing: mutated layer files and random layers.

``mutated_layer()`` starts from a real file of the bundled tree and applies a few mutations
of the kinds that break loaders (byte flips, deleted lines, shifted indentation, inserted
tags, anchors, aliases, duplicate keys, control characters, document markers, tabs, CRLF,
truncation). ``values_layer()`` builds a valid-ish ``--values`` file from the registry:
every value has roughly the right type, some are out of bounds or of the wrong type.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tierconf.schema._registry import LeafType, SettingSpec, registry
from tierconf.tree import bundled_config_dir

SOAK = os.environ.get("TIERCONF_SOAK") == "1"


def fuzz_settings(examples: int) -> settings:
    """``examples`` per test (x20 with TIERCONF_SOAK=1), no deadline on a shared machine."""
    return settings(
        max_examples=examples * 20 if SOAK else examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


BUNDLED = bundled_config_dir()
LAYER_FILES: tuple[Path, ...] = tuple(sorted(BUNDLED.rglob("*.yaml")))

INSERTS = (
    b"!!python/object/apply:os.system ['true'] ",
    b"!!python/name:os.system ",
    b"!custom ",
    b"!!binary ",
    b"!!str ",
    b"!!int ",
    b"!!map ",
    b"&anchor ",
    b"*anchor",
    b"*undefined",
    b"<<: *anchor\n",
    b"---\n",
    b"...\n",
    b"\t",
    b"\x00",
    b"\x1b",
    b"\xff\xfe",
    b"\xe9",
    b"? ",
    b"{",
    b"[",
    b"- ",
    b": ",
    b"'",
    b'"',
    b"|\n",
    b">-\n",
    b"%YAML 1.1\n",
    b"%TAG ! tag:evil.example,2000:\n",
    b"\r\n",
    b"0o17",
    b"1_000",
    b".inf",
    b"~",
)

_OPS = (
    "flip",
    "delete_line",
    "indent",
    "dedent",
    "insert",
    "duplicate_line",
    "truncate",
    "crlf",
    "swap_lines",
)


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def mutate(data: bytes, op: str, where: float, payload: bytes, amount: int) -> bytes:
    """Apply one mutation at a relative position ``where`` (0..1) of ``data``."""
    if not data:
        return payload
    pos = min(int(where * len(data)), len(data) - 1)
    lines = _lines(data)
    line = min(int(where * len(lines)), len(lines) - 1)
    if op == "flip":
        return data[:pos] + bytes([data[pos] ^ (amount % 255 + 1)]) + data[pos + 1 :]
    if op == "delete_line":
        return b"\n".join(lines[:line] + lines[line + 1 :])
    if op == "indent":
        lines[line] = b" " * (amount % 7 + 1) + lines[line]
        return b"\n".join(lines)
    if op == "dedent":
        lines[line] = lines[line].lstrip(b" ")
        return b"\n".join(lines)
    if op == "insert":
        return data[:pos] + payload + data[pos:]
    if op == "duplicate_line":  # a duplicate key when the line is a "key: value"
        return b"\n".join([*lines[: line + 1], lines[line], *lines[line + 1 :]])
    if op == "truncate":
        return data[:pos]
    if op == "crlf":
        return data.replace(b"\n", b"\r\n")
    if op == "swap_lines":
        other = (line + amount) % len(lines)
        lines[line], lines[other] = lines[other], lines[line]
        return b"\n".join(lines)
    raise AssertionError(op)


@st.composite
def mutated_layer(draw: st.DrawFn) -> tuple[Path, bytes]:
    """(the bundled file it came from, its mutated bytes)."""
    source = draw(st.sampled_from(LAYER_FILES))
    data = source.read_bytes()
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(_OPS))
        payload = draw(st.one_of(st.sampled_from(INSERTS), st.binary(min_size=1, max_size=8)))
        data = mutate(data, op, draw(st.floats(0, 1)), payload, draw(st.integers(0, 1000)))
    return source, data


def random_bytes() -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, and arbitrary text that looks more like YAML."""
    yamlish = st.text(alphabet=st.sampled_from(list(" \n:-[]{}&*!#'\"|>?,%@`abc123\t.~")), max_size=300)
    return st.one_of(st.binary(max_size=400), yamlish.map(lambda t: t.encode("utf-8")))


# --- random valid-ish layers from the registry ---------------------------------------------


def _scalar(leaf: LeafType, spec: SettingSpec | None) -> st.SearchStrategy[Any]:
    bounds = spec.bounds if spec is not None else None
    low = bounds.ge if bounds is not None and bounds.ge is not None else None
    high = bounds.le if bounds is not None and bounds.le is not None else None
    if leaf.kind == "bool":
        return st.one_of(st.booleans(), st.sampled_from(["yes", "off"]))
    if leaf.kind == "int":
        near = st.integers(
            int(low) - 2 if low is not None else -5, int(high) + 2 if high is not None else 10_000
        )
        return st.one_of(near, st.integers(), st.sampled_from(["12", "0x10"]))
    if leaf.kind == "float":
        return st.one_of(
            st.floats(
                min_value=(low - 1) if low is not None else -1e6,
                max_value=(high + 1) if high is not None else 1e6,
                allow_nan=False,
            ),
            st.integers(-10, 10),
        )
    if leaf.kind == "choice":
        return st.one_of(st.sampled_from(leaf.choices), st.text(max_size=6))
    if leaf.kind == "secret":
        return st.sampled_from(["${env:FUZZ_SECRET}", "${file:missing.txt}", "plain-text-secret", ""])
    default = spec.default if spec is not None and isinstance(spec.default, str) else "x"
    return st.one_of(st.just(default), st.text(max_size=24))


def leaf_values(leaf: LeafType, spec: SettingSpec | None = None) -> st.SearchStrategy[Any]:
    """Values of about the right type for ``leaf`` (sometimes not)."""
    item = _scalar(LeafType(leaf.kind, leaf.choices), spec)
    values = st.lists(item, max_size=4) if leaf.sequence else item
    if leaf.optional:
        values = st.one_of(st.none(), values)
    wrong_shape = st.sampled_from([{"nested": 1}, [[1], [2]], [{"a": 1}]])
    return st.one_of(values, values, values, wrong_shape)


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path, value in flat.items():
        *groups, leaf = path.split(".")
        node = root
        for group in groups:
            node = node.setdefault(group, {})
        node[leaf] = value
    return root


def valid_values(spec: SettingSpec) -> st.SearchStrategy[Any]:
    """Values the schema accepts for ``spec`` (cross-field rules aside)."""
    leaf, bounds = spec.type, spec.bounds
    low = bounds.ge if bounds.ge is not None else (bounds.gt + 1 if bounds.gt is not None else None)
    high = bounds.le
    item: st.SearchStrategy[Any]
    if leaf.kind == "bool":
        item = st.booleans()
    elif leaf.kind == "int":
        item = st.integers(
            int(low) if low is not None else -1000, int(high) if high is not None else 100_000
        )
    elif leaf.kind == "float":
        item = st.floats(
            min_value=low if low is not None else -1e6,
            max_value=high if high is not None else 1e6,
            allow_nan=False,
        )
    elif leaf.kind == "choice":
        item = st.sampled_from(leaf.choices)
    elif bounds.pattern is not None or bounds.min_length is not None or bounds.max_length is not None:
        item = st.just(spec.default) if not leaf.sequence else st.just("x")
    else:
        item = st.one_of(st.text(min_size=1, max_size=20), st.sampled_from(TRICKY_TEXT))
    if leaf.sequence:
        default = spec.default if isinstance(spec.default, tuple) else ()
        return st.one_of(st.just(list(default)), st.lists(item, min_size=1, max_size=4))
    return item


#: Strings that mean something else to a reader that guesses types (null words, booleans...).
TRICKY_TEXT = ("null", "~", "NULL", "true", "no", "1.10", "010", "0x1F", " padded ", "a,b", "${env:X}")


@st.composite
def valid_layer(draw: st.DrawFn) -> str:
    """A ``--values`` file of schema-valid values for a random subset of non-secret settings."""
    reg = registry()
    settable = [s for s in reg.settings if not s.meta.derived and not s.secret]
    chosen = draw(st.lists(st.sampled_from(settable), max_size=12, unique_by=lambda s: s.path))
    return yaml.safe_dump(
        _nest({spec.path: draw(valid_values(spec)) for spec in chosen}), sort_keys=False, allow_unicode=True
    )


@st.composite
def values_layer(draw: st.DrawFn) -> str:
    """A ``--values`` YAML file setting a random subset of settings (and maybe a flag)."""
    reg = registry()
    settable = [s for s in reg.settings if not s.meta.derived]
    chosen = draw(st.lists(st.sampled_from(settable), max_size=12, unique_by=lambda s: s.path))
    flat = {spec.path: draw(leaf_values(spec.type, spec)) for spec in chosen}
    if draw(st.booleans()):
        fields = draw(
            st.lists(st.sampled_from(sorted(reg.flag_fields)), max_size=3, unique=True)
        )
        flat["flags.fuzz_flag"] = {}
        for name in fields:
            field = reg.flag_fields[name]
            if field.type.kind in ("bool", "int", "float", "str", "choice"):
                flat[f"flags.fuzz_flag.{name}"] = draw(leaf_values(field.type))
    nested = _nest({k: v for k, v in flat.items() if k != "flags.fuzz_flag"})
    if "flags.fuzz_flag" in flat:
        nested.setdefault("flags", {}).setdefault("fuzz_flag", {})
    return yaml.safe_dump(nested, sort_keys=False, allow_unicode=True)


def random_layer_entries() -> st.SearchStrategy[dict[str, Any]]:
    """Entries of an in-memory layer: registry paths (and flag paths) to values of any type."""
    reg = registry()
    paths = [s.path for s in reg.settings if not s.meta.derived]
    flag_paths = ["flags.fuzz", *(f"flags.fuzz.{name}" for name in reg.flag_fields)]
    anything = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True),
        st.text(max_size=10),
        st.tuples(st.text(max_size=5)),
        st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    )
    return st.dictionaries(st.sampled_from(paths + flag_paths), anything, max_size=8)
