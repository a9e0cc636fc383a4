"""Strict YAML reading: every malformed or hostile input is a clean error with a line."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierconf.errors import TierconfError, YamlSyntaxError
from tierconf.sources._yaml import YMap, YScalar, parse_yaml, read_text


def parse_error(text: str) -> YamlSyntaxError:
    with pytest.raises(YamlSyntaxError) as info:
        parse_yaml(text, "layer.yaml")
    return info.value


def assert_parses_or_fails_cleanly(text: str) -> None:
    error: TierconfError | None = None
    try:
        parse_yaml(text, "fuzz.yaml")
    except TierconfError as exc:
        error = exc
    assert error is None or error.location is not None


class TestScalars:
    """Plain scalars keep their source text; the schema decides their type later."""

    def test_version_like_text_is_kept(self) -> None:
        """``1.10`` is not turned into the float 1.1 by the reader."""
        node = parse_yaml("version: 1.10\n", "f.yaml")
        assert isinstance(node, YMap)
        value = node.pairs[0][1]
        assert isinstance(value, YScalar) and value.text == "1.10" and value.plain

    def test_quoted_scalars_are_not_plain(self) -> None:
        """Quotes mark a value as text for sure."""
        node = parse_yaml("a: 'no'\n", "f.yaml")
        assert isinstance(node, YMap)
        value = node.pairs[0][1]
        assert isinstance(value, YScalar) and not value.plain and value.text == "no"

    def test_lines_are_one_based(self) -> None:
        """Line numbers match what editors show."""
        node = parse_yaml("\n\na:\n  b: 1\n", "f.yaml")
        assert isinstance(node, YMap)
        assert node.pairs[0][0].line == 3

    def test_empty_document_is_none(self) -> None:
        """An empty or comment-only file is an empty layer."""
        assert parse_yaml("# nothing\n", "f.yaml") is None


class TestRejected:
    """Inputs the reader refuses, each with the file and line."""

    def test_duplicate_keys_name_both_lines(self) -> None:
        """The error is at the second key and names the first one's line."""
        error = parse_error("a: 1\nb: 2\na: 3\n")
        assert error.location is not None and error.location.line == 3
        assert "line 1" in error.message

    @pytest.mark.parametrize(
        "text",
        [
            "a: !!python/object/apply:os.system ['true']\n",
            "a: !!python/name:os.system\n",
            "a: !custom x\n",
            "a: !!binary aGVsbG8=\n",
            "a: !!set {x}\n",
        ],
    )
    def test_unsafe_and_custom_tags(self, text: str) -> None:
        """Tags are refused, never constructed or executed."""
        error = parse_error(text)
        assert "tag" in error.message and error.location is not None and error.location.line == 1

    def test_tabs(self) -> None:
        """A tab in indentation is reported as such."""
        error = parse_error("a:\n\tb: 1\n")
        assert "tab" in error.message and error.location is not None and error.location.line == 2

    def test_syntax_error_has_line(self) -> None:
        """Broken structure is located."""
        error = parse_error("a: 1\nb: [1, 2\nc: 3\n")
        assert error.location is not None and error.location.line is not None

    def test_several_documents(self) -> None:
        """A layer file is one document."""
        error = parse_error("a: 1\n---\nb: 2\n")
        assert error.location is not None and error.location.line == 2

    def test_merge_keys(self) -> None:
        """``<<`` is a hidden merge language; layers do merging."""
        error = parse_error("base: &b {x: 1}\nother:\n  <<: *b\n")
        assert "merge" in error.message and error.location is not None and error.location.line == 3

    def test_deep_nesting_fails_fast(self) -> None:
        """Absurd nesting is refused before it can exhaust the stack."""
        error = parse_error("a: " + "[" * 100_000 + "]" * 100_000 + "\n")
        assert "nesting" in error.message

    def test_nul_byte(self) -> None:
        """Control characters are refused with their line."""
        error = parse_error("a: 1\nb: x\x00y\n")
        assert error.location is not None and error.location.line == 2

    def test_unknown_alias(self) -> None:
        """An alias to nothing is an error, not a crash."""
        error = parse_error("a: *nowhere\n")
        assert "alias" in error.message


class TestFiles:
    """Reading files: encodings, size, links."""

    def test_non_utf8_reports_the_line(self, tmp_path: Path) -> None:
        """A Latin-1 byte is located."""
        path = tmp_path / "bad.yaml"
        path.write_bytes(b"a: 1\nb: caf\xe9\n")
        with pytest.raises(YamlSyntaxError) as info:
            read_text(path, "bad.yaml")
        assert info.value.location is not None and info.value.location.line == 2

    def test_bom_is_accepted(self, tmp_path: Path) -> None:
        """Windows editors add a BOM; it is harmless."""
        path = tmp_path / "bom.yaml"
        path.write_bytes(b"\xef\xbb\xbfa: 1\n")
        assert read_text(path, "bom.yaml") == "a: 1\n"

    def test_symlink_loop(self, tmp_path: Path) -> None:
        """A looping link is a clean error."""
        loop = tmp_path / "loop.yaml"
        loop.symlink_to(loop)
        with pytest.raises(YamlSyntaxError):
            read_text(loop, "loop.yaml")

    def test_unreadable_file(self, tmp_path: Path) -> None:
        """A directory where a file is expected is a clean error."""
        folder = tmp_path / "dir.yaml"
        folder.mkdir()
        with pytest.raises(YamlSyntaxError):
            read_text(folder, "dir.yaml")


class TestFuzz:
    """Random input never escapes as anything but a TierconfError."""

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
    def test_random_text(self, text: str) -> None:
        """Arbitrary text parses or raises YamlSyntaxError."""
        assert_parses_or_fails_cleanly(text)

    @settings(max_examples=300, deadline=None)
    @given(
        st.lists(
            st.sampled_from(
                [
                    "a:",
                    " b:",
                    "  - x",
                    "[",
                    "]",
                    "{",
                    "}",
                    "&x",
                    "*x",
                    "!!str",
                    "'",
                    '"',
                    "\t",
                    ":",
                    "- ",
                    "<<:",
                    "---",
                    "...",
                    "#",
                    "1.10",
                    "no",
                    "\\",
                    "%YAML 1.1",
                    "? k",
                    "|",
                    ">",
                ]
            ),
            max_size=30,
        )
    )
    def test_yaml_like_fragments(self, parts: list[str]) -> None:
        """Token soup made of YAML syntax parses or raises YamlSyntaxError."""
        text = "\n".join(" ".join(parts[i : i + 3]) for i in range(0, len(parts), 3))
        assert_parses_or_fails_cleanly(text)
