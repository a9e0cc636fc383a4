"""Type-directed conversion of scalar text to setting values.

The schema, not YAML 1.1's resolver, decides what a scalar means: ``1.10`` stays the text
``1.10`` in a string setting, ``no`` stays ``no``; ambiguous YAML 1.1 booleans (``yes``,
``on``) and octal-looking integers (``010``) are rejected with the fix, never reinterpreted.
The same functions convert ``--set KEY=VALUE`` text, so both paths agree.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from tierconf.schema._registry import LeafType
from tierconf.schema._secret_ref import SecretRef
from tierconf.sources._yaml import NULL_WORDS

_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*(_[0-9]+)*)$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_YAML11_BOOLS = frozenset(
    {"yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N"}
)


class ConversionError(ValueError):
    """A scalar does not fit the expected type; the message says what was expected."""


def convert_scalar(text: str, plain: bool, leaf: LeafType) -> Any:
    """Convert one scalar's text to the leaf's Python value.

    Args:
        text: The scalar exactly as written (for ``--set``, the text after ``=``).
        plain: True for an unquoted YAML scalar (and for ``--set`` text): only plain
            scalars can be null, booleans or numbers.
        leaf: The expected type (for a sequence leaf, the item type is used).

    Raises:
        ConversionError: with a message naming the expected type and the fix.
    """
    if plain and text in NULL_WORDS:
        if leaf.optional:
            return None
        raise ConversionError(f"expected {leaf.describe()}, found null; write a value or quote ''")
    kind = leaf.kind
    if kind == "bool":
        return _to_bool(text, plain)
    if kind == "int":
        return _to_int(text, plain)
    if kind == "float":
        return _to_float(text, plain)
    if kind == "choice":
        if text not in leaf.choices:
            close = difflib.get_close_matches(text, leaf.choices, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConversionError(f"{text!r} is not one of: {', '.join(leaf.choices)}{hint}")
        return text
    if kind == "secret":
        return SecretRef.parse(text)
    return text


def _quoted_hint(plain: bool) -> str:
    return "" if plain else "; remove the quotes"


def _to_bool(text: str, plain: bool) -> bool:
    if plain and text in _TRUE:
        return True
    if plain and text in _FALSE:
        return False
    if plain and text in _YAML11_BOOLS:
        raise ConversionError(f"ambiguous YAML 1.1 boolean {text!r}; write true or false")
    raise ConversionError(f"expected a boolean (true or false), found {text!r}{_quoted_hint(plain)}")


def _to_int(text: str, plain: bool) -> int:
    if plain and _INT.match(text):
        return int(text.replace("_", ""))
    if plain and re.match(r"^[-+]?0[0-9]+$", text):
        raise ConversionError(
            f"{text!r} has a leading zero (YAML 1.1 reads it as octal); write it without the zero"
        )
    raise ConversionError(f"expected an integer, found {text!r}{_quoted_hint(plain)}")


def _to_float(text: str, plain: bool) -> float:
    if plain and (_FLOAT.match(text) or _INT.match(text)):
        return float(text.replace("_", ""))
    raise ConversionError(f"expected a number, found {text!r}{_quoted_hint(plain)}")


def convert_set_value(text: str, leaf: LeafType) -> Any:
    """Convert ``--set`` text: lists are comma-separated, everything else as a plain scalar."""
    if leaf.sequence:
        if text.strip() == "":
            return ()
        item = LeafType(leaf.kind, leaf.choices)
        return tuple(convert_scalar(part.strip(), True, item) for part in text.split(","))
    return convert_scalar(text, True, leaf)
