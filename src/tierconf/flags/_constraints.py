"""Constraints compiled to predicates over the evaluation context.

A constraint is compiled once per flag into a small callable; evaluating it does no
parsing of the constraint itself, only of the context value (a context attribute may
arrive as text, e.g. from ``--attr version=2.3.0`` or an HTTP header).

Semantics (see :class:`~tierconf.schema._flags.FlagConstraint`): list operators hold when
any of ``values`` matches (``not_in`` when none does); a missing attribute, or one that
cannot be read as the operator's type, fails the constraint, except ``not_in``, which
holds; ``inverted`` negates the final result. Semantic versions compare by SemVer 2.0
precedence (a pre-release sorts before its release); dates compare as instants, naive
ones read as UTC.
"""

from __future__ import annotations

import functools
import operator as op
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from tierconf.schema._flags import (
    DATE_OPERATORS,
    NUMBER_OPERATORS,
    SEMVER,
    SEMVER_OPERATORS,
    FlagConstraint,
    parse_instant,
)

#: Reads one attribute of the evaluation context (None when absent).
Lookup = Callable[[str], Any]
Predicate = Callable[[Lookup], bool]
SemverKey = tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]

_COMPARE: Mapping[str, Callable[[Any, Any], bool]] = {
    "eq": op.eq,
    "lt": op.lt,
    "lte": op.le,
    "gt": op.gt,
    "gte": op.ge,
}
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


@functools.lru_cache(maxsize=4096)
def semver_key(text: str) -> SemverKey | None:
    """A sort key with SemVer 2.0 precedence, or None when ``text`` is not a version.

    Build metadata is ignored; a release sorts after its pre-releases; numeric
    pre-release identifiers sort before alphanumeric ones and compare as numbers. Cached:
    a service sees the same few client versions over and over.
    """
    match = SEMVER.match(text.strip())
    if match is None:
        return None
    major, minor, patch, pre, _build = match.groups()
    if pre is None:
        return (int(major), int(minor), int(patch), 1, ())
    ids = tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in pre.split("."))
    return (int(major), int(minor), int(patch), 0, ids)


def as_text(value: Any) -> str:
    """How a context value reads for string operators (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def as_number(value: Any) -> float | None:
    """A context value as a number, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value)
    return None


def as_instant(value: Any) -> datetime | None:
    """A context value (datetime, date or ISO text) as an aware datetime, or None."""
    from datetime import UTC

    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            return parse_instant(value.strip())
        except ValueError:
            return None
    return None


def compile_constraint(constraint: FlagConstraint) -> Predicate:
    """Compile one constraint into ``predicate(lookup) -> bool``."""
    attribute = constraint.attribute
    name = constraint.operator
    test: Callable[[Any], bool]
    if name in NUMBER_OPERATORS:
        compare = _COMPARE[name]
        operand = float(constraint.value)  # type: ignore[arg-type]  # validated as a number

        def test(value: Any) -> bool:
            number = as_number(value)
            return number is not None and compare(number, operand)

    elif name in SEMVER_OPERATORS:
        compare = _COMPARE[name.removeprefix("semver_")]
        version = semver_key(str(constraint.value))

        def test(value: Any) -> bool:
            key = semver_key(value) if isinstance(value, str) else None
            return key is not None and compare(key, version)

    elif name in DATE_OPERATORS:
        instant = parse_instant(str(constraint.value))
        compare = op.lt if name == "date_before" else op.gt

        def test(value: Any) -> bool:
            moment = as_instant(value)
            return moment is not None and compare(moment, instant)

    else:
        test = _list_test(constraint)
    missing = name == "not_in"
    inverted = constraint.inverted

    def predicate(lookup: Lookup) -> bool:
        value = lookup(attribute)
        result = missing if value is None else test(value)
        return result is not inverted

    return predicate


def _list_test(constraint: FlagConstraint) -> Callable[[Any], bool]:
    fold = constraint.case_insensitive
    values = tuple(v.casefold() for v in constraint.values) if fold else constraint.values
    name = constraint.operator

    def text_of(value: Any) -> str:
        text = as_text(value)
        return text.casefold() if fold else text

    if name in ("in", "not_in"):
        members = frozenset(values)
        if name == "in":
            return lambda value: text_of(value) in members
        return lambda value: text_of(value) not in members
    if name == "starts_with":
        return lambda value: text_of(value).startswith(values)
    if name == "ends_with":
        return lambda value: text_of(value).endswith(values)
    return lambda value: any(v in text_of(value) for v in values)
