"""Logging from the configuration: LOG_LEVEL, LOG_FORMAT, LOG_OUTPUT and rotation.

:func:`configure_logging` installs one handler on the root logger (stdlib ``logging``; the
JSON formatter is twenty lines, so structlog would add a dependency for nothing here) and
can be called again with a newer snapshot: the level changes in place, the handler is
replaced only when its own settings changed. :class:`~tierconf.runtime.LiveConfig` calls it
after every reload when ``RuntimeOptions(configure_logging=True)``, so a LOG_LEVEL change
takes effect without a restart. Every line goes through a redactor that masks the current
secret values.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tierconf.schema._root import TierConfig

Redactor = Callable[[str], str]
_INTERVALS = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400}
_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(i?)B?\s*$", re.IGNORECASE)
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_lock = threading.Lock()


def parse_size(text: str) -> int:
    """``100MiB`` / ``100MB`` / ``512K`` / ``1024`` -> bytes (binary multiples either way)."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"not a size: {text!r} (expected e.g. 100MiB)")
    power = " KMGT".index(match.group(2).upper() or " ")
    return int(match.group(1)) * (1 << (10 * power))


def _identity(text: str) -> str:
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extras, exception."""

    def __init__(self, redact: Redactor = _identity) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record`` as JSON, secrets masked."""
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(data, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """``time level logger: message``, secrets masked."""

    def __init__(self, redact: Redactor = _identity) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record`` as text, secrets masked."""
        return self.redact(super().format(record))


class SizeAndTimeRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Rotates when the file reaches ``max_bytes`` or when the interval turns over,
    whichever comes first, keeping ``backup_count`` numbered files (``app.log.1``...)."""

    def __init__(self, filename: str, max_bytes: int, backup_count: int, interval: int) -> None:
        super().__init__(filename, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8")
        self.interval = interval
        self.rollover_at = self._next_boundary(time.time())

    def _next_boundary(self, now: float) -> float:
        return (now // self.interval + 1) * self.interval

    def shouldRollover(self, record: logging.LogRecord) -> int:  # noqa: N802 - stdlib name
        """Roll over on size (the stdlib rule) or when the interval has turned over."""
        if time.time() >= self.rollover_at:
            return 1
        return super().shouldRollover(record)

    def doRollover(self) -> None:  # noqa: N802 - stdlib name
        """Rotate and schedule the next time-based rollover."""
        super().doRollover()
        self.rollover_at = self._next_boundary(time.time())


@dataclass(frozen=True)
class _HandlerSpec:
    format: str
    output: str
    file_path: str
    max_bytes: int
    backup_count: int
    interval: int


class _Installed:
    """The one handler configure_logging owns (others' handlers are left alone)."""

    handler: logging.Handler | None = None
    spec: _HandlerSpec | None = None


_installed = _Installed()


def _spec(snapshot: TierConfig) -> _HandlerSpec:
    settings = snapshot.monitoring.logging
    return _HandlerSpec(
        format=settings.format,
        output=settings.output,
        file_path=settings.file_path,
        max_bytes=parse_size(settings.rotation_max_size),
        backup_count=settings.rotation_backup_count,
        interval=_INTERVALS[settings.rotation_interval],
    )


def _make_handler(spec: _HandlerSpec) -> logging.Handler:
    if spec.output == "file":
        try:
            Path(spec.file_path).parent.mkdir(parents=True, exist_ok=True)
            return SizeAndTimeRotatingFileHandler(
                spec.file_path, spec.max_bytes, spec.backup_count, spec.interval
            )
        except OSError as exc:
            logging.getLogger(__name__).warning(
                "cannot log to %s (%s); logging to stdout instead", spec.file_path, exc.strerror
            )
    return logging.StreamHandler(sys.stdout)


def configure_logging(snapshot: TierConfig, *, redact: Redactor | None = None) -> None:
    """Apply a snapshot's logging settings to the root logger.

    * LOG_LEVEL (``application.log_level``) becomes the root level;
    * LOG_FORMAT ``json`` or ``text`` picks the formatter;
    * LOG_OUTPUT ``stdout`` or ``file`` (LOG_FILE_PATH) picks the destination, a file
      rotating at LOG_ROTATION_MAX_SIZE or LOG_ROTATION_INTERVAL and keeping
      LOG_ROTATION_BACKUP_COUNT old files.

    Calling it again replaces only what changed. Handlers installed by others are kept.

    Args:
        snapshot: The configuration to apply.
        redact: Applied to every formatted line (``LiveConfig`` passes one that masks its
            secret values).
    """
    spec = _spec(snapshot)
    redactor = redact or _identity
    root = logging.getLogger()
    with _lock:
        handler = _installed.handler
        if handler is None or _installed.spec != spec:
            if handler is not None:
                root.removeHandler(handler)
                handler.close()
            handler = _make_handler(spec)
            root.addHandler(handler)
            _installed.handler, _installed.spec = handler, spec
        formatter = JsonFormatter(redactor) if spec.format == "json" else TextFormatter(redactor)
        handler.setFormatter(formatter)
        root.setLevel(snapshot.application.log_level)


def reset_logging() -> None:
    """Remove the handler :func:`configure_logging` installed (tests, shutdown)."""
    with _lock:
        if _installed.handler is not None:
            logging.getLogger().removeHandler(_installed.handler)
            _installed.handler.close()
        _installed.handler, _installed.spec = None, None
