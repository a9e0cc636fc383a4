"""Strict, safe YAML reading that keeps a line number on every node.

We build our own small node tree from libyaml's event stream instead of using a loader:
no constructor ever runs (so ``!!python/object`` and friends are rejected, never executed),
plain scalars keep their source text (so ``1.10`` and ``no`` are never coerced by YAML 1.1
rules: the schema decides what a value means), duplicate keys are caught with both lines,
and nesting depth and alias expansion are bounded, so bombs fail fast.
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import yaml

from tierconf.errors import Location, YamlSyntaxError

try:  # libyaml's C parser: ~10x faster; the pure-Python one behaves the same.
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 32
ALLOWED_TAGS = frozenset(
    "tag:yaml.org,2002:" + name for name in ("str", "int", "float", "bool", "null", "map", "seq")
)
NULL_WORDS = frozenset({"", "~", "null", "Null", "NULL"})


@dataclass(frozen=True, slots=True)
class YScalar:
    """A scalar as written: its text, whether it was plain (unquoted), and its 1-based line."""

    text: str
    plain: bool
    line: int

    @property
    def is_null(self) -> bool:
        """A plain ``null``, ``~`` or empty value."""
        return self.plain and self.text in NULL_WORDS


@dataclass(frozen=True, slots=True)
class YSeq:
    """A sequence and the line it starts on."""

    items: tuple[YNode, ...]
    line: int


@dataclass(frozen=True, slots=True)
class YMap:
    """A mapping with scalar keys, in source order, and the line it starts on."""

    pairs: tuple[tuple[YScalar, YNode], ...]
    line: int


YNode = Union[YScalar, YSeq, YMap]  # noqa: UP007 - a runtime alias used in isinstance-free code


def read_text(path: Path, display: str) -> str:
    """Read a layer file as strict UTF-8 (a BOM is allowed) with a size limit."""
    try:
        if path.is_symlink() and not path.exists():
            raise YamlSyntaxError("broken or looping symbolic link", location=Location(display))
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            # A FIFO would block forever and a device could stream without end.
            raise YamlSyntaxError("not a regular file", location=Location(display))
        size = info.st_size
        if size > MAX_FILE_BYTES:
            raise YamlSyntaxError(
                f"file is {size} bytes; layer files are limited to {MAX_FILE_BYTES} bytes",
                location=Location(display),
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise YamlSyntaxError(f"cannot read file: {exc.strerror or exc}", location=Location(display)) from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise YamlSyntaxError(
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
            location=Location(display, line),
        ) from exc


def parse_yaml(text: str, display: str) -> YNode | None:
    """Parse one YAML document into a node tree; ``None`` for an empty document.

    Raises:
        YamlSyntaxError: with the file and line for any syntax problem, unsafe tag,
            duplicate key, anchor problem, excessive nesting or several documents.
    """
    builder = _Builder(display)
    loader = _Loader(text)
    try:
        builder.run(loader.get_event)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text, display) from exc
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise YamlSyntaxError(
            f"invalid character U+{code:04X} (control characters are not allowed)",
            location=Location(display, line),
        ) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"invalid YAML: {exc}", location=Location(display)) from exc
    finally:
        loader.dispose()
    return builder.root


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, display: str) -> YamlSyntaxError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    problem = exc.problem or "invalid YAML"
    if line is not None:
        source_line = text.splitlines()[line - 1] if line - 1 < len(text.splitlines()) else ""
        if "\t" in source_line:
            problem = "tab character in indentation or value; YAML needs spaces"
    return YamlSyntaxError(f"invalid YAML: {problem}", location=Location(display, line))


class _Builder:
    """Turns libyaml events into YNodes, enforcing our restrictions as it goes."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.root: YNode | None = None
        self.documents = 0
        self.anchors: dict[str, YNode] = {}
        # Each open collection: [kind, line, items, anchor]
        self.stack: list[tuple[str, int, list[Any], str | None]] = []

    def _error(self, message: str, line: int | None) -> YamlSyntaxError:
        return YamlSyntaxError(message, location=Location(self.display, line))

    def _check_tag(self, tag: str | None, line: int) -> None:
        if tag is None or tag == "!" or tag in ALLOWED_TAGS:
            return
        raise self._error(
            f"YAML tag {tag!r} is not allowed: layer files hold plain data "
            "(tags are never executed); remove the tag",
            line,
        )

    def run(self, next_event: Callable[[], Any]) -> None:  # noqa: PLR0912 - one flat dispatch: the hot loop
        """Consume every event of the stream (``next_event`` returns None at its end).

        Events are typed ``Any`` on purpose: the loop dispatches on their exact class, which
        the type checker cannot narrow through a local.

        One loop with the common events first and locals for everything it touches: this is
        the hot path of a cold load (about a thousand events per tier), so it dispatches on
        the exact event class instead of calling a method per event.
        """
        stack = self.stack
        anchors = self.anchors
        allowed = ALLOWED_TAGS
        while (event := next_event()) is not None:
            cls = type(event)
            mark = event.start_mark
            line = mark.line + 1 if mark is not None else 0
            if cls is yaml.ScalarEvent:
                tag = event.tag
                if tag is not None and tag != "!" and tag not in allowed:
                    self._check_tag(tag, line)
                node: YNode = YScalar(event.value, not event.style and bool(event.implicit[0]), line)
                anchor = event.anchor
            elif cls is yaml.MappingEndEvent or cls is yaml.SequenceEndEvent:
                kind, start, items, anchor = stack.pop()
                node = self._mapping(items, start) if kind == "map" else YSeq(tuple(items), start)
            elif cls is yaml.MappingStartEvent or cls is yaml.SequenceStartEvent:
                self._check_tag(event.tag, line)
                if len(stack) >= MAX_DEPTH:
                    raise self._error(f"nesting deeper than {MAX_DEPTH} levels", line)
                stack.append(("map" if cls is yaml.MappingStartEvent else "seq", line, [], event.anchor))
                continue
            elif cls is yaml.AliasEvent:
                target = anchors.get(event.anchor or "")
                if target is None:
                    raise self._error(f"unknown alias *{event.anchor}", line)
                node, anchor = target, None
            elif cls is yaml.DocumentStartEvent:
                self.documents += 1
                if self.documents > 1:
                    raise self._error("a layer file holds one YAML document; remove the extra '---'", line)
                continue
            else:  # stream start/end, document end
                continue
            if anchor is not None:
                anchors[anchor] = node
            if stack:
                stack[-1][2].append(node)
            else:
                self.root = node

    def _mapping(self, items: list[Any], line: int) -> YMap:
        pairs: list[tuple[YScalar, YNode]] = []
        seen: dict[str, int] = {}
        for key, value in zip(items[::2], items[1::2], strict=True):
            if not isinstance(key, YScalar):
                raise self._error("mapping keys must be plain strings", line)
            if key.plain and key.text == "<<":
                raise self._error(
                    "YAML merge keys (<<) are not supported; use layers to share values",
                    key.line,
                )
            if key.text in seen:
                raise self._error(
                    f"duplicate key {key.text!r} (first defined at line {seen[key.text]})",
                    key.line,
                )
            seen[key.text] = key.line
            pairs.append((key, value))
        return YMap(tuple(pairs), line)
