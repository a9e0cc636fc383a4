"""Type-directed scalar conversion: the schema, not YAML 1.1, decides what text means."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tierconf.schema._registry import LeafType
from tierconf.schema._secret_ref import SecretRef
from tierconf.sources._convert import ConversionError, convert_scalar, convert_set_value

STR = LeafType("str")
INT = LeafType("int")
BOOL = LeafType("bool")
FLOAT = LeafType("float")


class TestStrings:
    """String settings keep the text as written."""

    @pytest.mark.parametrize("text", ["1.10", "no", "yes", "on", "0755", "2026-01-01", "1e3", "~x"])
    def test_plain_text_is_kept(self, text: str) -> None:
        """YAML 1.1 lookalikes stay text in a string setting."""
        assert convert_scalar(text, True, STR) == text

    def test_null_in_required_string_is_refused(self) -> None:
        """An empty value is not silently an empty string."""
        with pytest.raises(ConversionError, match="null"):
            convert_scalar("", True, STR)

    def test_null_in_optional_string_is_none(self) -> None:
        """Optional settings accept null."""
        assert convert_scalar("null", True, LeafType("str", optional=True)) is None


class TestBooleans:
    """Only true and false are booleans."""

    @pytest.mark.parametrize("text", ["yes", "no", "on", "off", "Y", "N"])
    def test_yaml11_booleans_are_refused(self, text: str) -> None:
        """Ambiguous spellings ask for true/false."""
        with pytest.raises(ConversionError, match="true or false"):
            convert_scalar(text, True, BOOL)

    def test_quoted_true_is_a_string(self) -> None:
        """A quoted 'true' is text; the message says to remove the quotes."""
        with pytest.raises(ConversionError, match="remove the quotes"):
            convert_scalar("true", False, BOOL)

    def test_true_false(self) -> None:
        """The canonical spellings convert."""
        assert convert_scalar("true", True, BOOL) is True
        assert convert_scalar("False", True, BOOL) is False


class TestNumbers:
    """Integers and floats, without octal surprises."""

    def test_leading_zero_is_refused(self) -> None:
        """YAML 1.1 would read 010 as 8."""
        with pytest.raises(ConversionError, match="leading zero"):
            convert_scalar("010", True, INT)

    def test_float_for_int_is_refused(self) -> None:
        """10.5 is not an integer."""
        with pytest.raises(ConversionError):
            convert_scalar("10.5", True, INT)

    def test_underscores(self) -> None:
        """Digit grouping is allowed."""
        assert convert_scalar("1_000", True, INT) == 1000

    @given(st.integers(min_value=-(10**12), max_value=10**12))
    def test_integers_round_trip(self, value: int) -> None:
        """Any integer's decimal text converts back to it."""
        assert convert_scalar(str(value), True, INT) == value

    @given(st.floats(allow_nan=False, allow_infinity=False, width=64))
    def test_floats_round_trip(self, value: float) -> None:
        """repr() of a finite float converts back to the same float."""
        assert convert_scalar(repr(value), True, FLOAT) == value

    @given(st.text(max_size=20))
    def test_any_text_converts_or_fails_cleanly(self, text: str) -> None:
        """Conversion never raises anything but ConversionError."""
        for leaf in (INT, FLOAT, BOOL, STR, LeafType("choice", ("a", "b"))):
            with contextlib.suppress(ConversionError):
                convert_scalar(text, True, leaf)


class TestChoicesAndSecrets:
    """Literal choices and secret references."""

    def test_choice_did_you_mean(self) -> None:
        """A typo in an enumeration gets a suggestion."""
        with pytest.raises(ConversionError, match="did you mean 'INFO'"):
            convert_scalar("INFOO", True, LeafType("choice", ("DEBUG", "INFO")))

    def test_secret_reference(self) -> None:
        """${env:NAME} parses to a reference; a literal is masked in repr."""
        ref = convert_scalar("${env:DB_PASS}", True, LeafType("secret"))
        assert ref == SecretRef("env", "DB_PASS")
        literal = convert_scalar("hunter2", True, LeafType("secret"))
        assert "hunter2" not in repr(literal) and "hunter2" not in str(literal)

    def test_set_lists_are_comma_separated(self) -> None:
        """--set ALLOWED_ORIGINS=a,b gives a tuple."""
        assert convert_set_value("a, b", LeafType("str", sequence=True)) == ("a", "b")
        assert convert_set_value("", LeafType("str", sequence=True)) == ()
