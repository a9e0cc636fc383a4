"""configure_logging: level, JSON format, file rotation, live re-application, masking."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tierconf.runtime import (
    InMemoryWatcher,
    JsonFormatter,
    LiveConfig,
    RuntimeOptions,
    SizeAndTimeRotatingFileHandler,
    configure_logging,
    parse_size,
)
from tierconf.schema import TierConfig

from .conftest import Files, wait_for

pytestmark = pytest.mark.usefixtures("clean_logging")


def config(**logging_settings: object) -> TierConfig:
    """The default TierConfig with some monitoring.logging settings and a log level."""
    level = logging_settings.pop("level", "INFO")
    return TierConfig.model_validate(
        {"application": {"log_level": level}, "monitoring": {"logging": logging_settings}}
    )


class TestConfigureLogging:
    """The snapshot's logging settings are applied to the root logger."""

    def test_level_and_json_format(self, capsys: pytest.CaptureFixture[str]) -> None:
        """LOG_LEVEL sets the root level; LOG_FORMAT json gives one object per line."""
        configure_logging(config(level="WARNING", format="json"))
        logging.getLogger("app").info("hidden")
        logging.getLogger("app").warning("shown %s", 1, extra={"tenant": "acme"})
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [(r["level"], r["message"], r["tenant"]) for r in lines] == [("WARNING", "shown 1", "acme")]

    def test_text_format(self, capsys: pytest.CaptureFixture[str]) -> None:
        """LOG_FORMAT text gives `time level logger: message`."""
        configure_logging(config(format="text"))
        logging.getLogger("app").info("plain")
        assert "INFO app: plain" in capsys.readouterr().out

    def test_reapplying_keeps_one_handler(self) -> None:
        """Calling it again replaces its own handler instead of adding another."""
        before = len(logging.getLogger().handlers)
        configure_logging(config(format="json"))
        configure_logging(config(format="text"))
        configure_logging(config(format="text", level="ERROR"))
        assert len(logging.getLogger().handlers) == before + 1
        assert logging.getLogger().level == logging.ERROR

    def test_file_output_rotates_by_size(self, tmp_path: Path) -> None:
        """LOG_OUTPUT file writes LOG_FILE_PATH and keeps LOG_ROTATION_BACKUP_COUNT files."""
        path = tmp_path / "logs" / "app.log"
        configure_logging(
            config(output="file", file_path=str(path), rotation_max_size="1KiB", rotation_backup_count=2)
        )
        for index in range(100):
            logging.getLogger("app").warning("line %d %s", index, "x" * 40)
        assert sorted(p.name for p in path.parent.iterdir()) == ["app.log", "app.log.1", "app.log.2"]

    def test_redactor_masks_every_line(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The redact function given is applied to formatted lines, exceptions included."""
        configure_logging(config(), redact=lambda text: text.replace("hunter2", "****"))
        error = ValueError("password hunter2")
        logging.getLogger("app").error("failed with hunter2", exc_info=(ValueError, error, None))
        out = capsys.readouterr().out
        assert "hunter2" not in out and out.count("****") >= 2


class TestLiveLogging:
    """RuntimeOptions(configure_logging=True) re-applies settings after each reload."""

    def test_log_level_change_applies_live(self, dev_files: Files, options: RuntimeOptions) -> None:
        """Changing LOG_LEVEL in the source changes the root level without a restart."""
        source = InMemoryWatcher(dev_files)
        live_options = RuntimeOptions(configure_logging=True, registry=options.registry)
        with LiveConfig(source, environment="development", options=live_options):
            assert logging.getLogger().level == logging.DEBUG  # development's LOG_LEVEL
            source.update(LOG_LEVEL="ERROR")
            wait_for(lambda: logging.getLogger().level == logging.ERROR, what="new level")

    def test_applied_on_a_late_first_load(self, dev_files: Files, options: RuntimeOptions) -> None:
        """Starting empty (require_initial=False), logging is configured once a config loads."""
        source = InMemoryWatcher()
        source.fail("not mounted yet")
        live_options = RuntimeOptions(
            configure_logging=True, require_initial=False, poll_interval=0.1, registry=options.registry
        )
        with LiveConfig(source, environment="development", options=live_options):
            logging.getLogger().setLevel(logging.WARNING)
            source.fail(None)
            source.publish(dev_files)
            wait_for(lambda: logging.getLogger().level == logging.DEBUG, what="development's LOG_LEVEL")

    def test_secrets_in_use_are_masked(
        self, dev_files: Files, options: RuntimeOptions, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A secret value logged by application code comes out masked."""
        source = InMemoryWatcher(dev_files)
        live_options = RuntimeOptions(configure_logging=True, registry=options.registry)
        with LiveConfig(source, environment="development", options=live_options) as live:
            logging.getLogger("app").warning("connecting with %s", live.secret("DB_PASSWORD"))
        out = capsys.readouterr().out
        assert dev_files["DB_PASSWORD"].decode() not in out and "connecting with ********" in out


class TestHelpers:
    """Small pieces: sizes, the rotating handler, the JSON formatter."""

    @pytest.mark.parametrize(
        ("text", "size"),
        [("100MiB", 100 * 2**20), ("1KiB", 1024), ("2GiB", 2 * 2**30), ("512", 512), ("5M", 5 * 2**20)],
    )
    def test_parse_size(self, text: str, size: int) -> None:
        """Binary units are understood."""
        assert parse_size(text) == size

    def test_parse_size_rejects_garbage(self) -> None:
        """A size that is not a number with a unit raises ValueError."""
        with pytest.raises(ValueError, match="not a size"):
            parse_size("lots")

    def test_time_rollover(self, tmp_path: Path) -> None:
        """When the interval has turned over, the next record rotates the file."""
        handler = SizeAndTimeRotatingFileHandler(str(tmp_path / "a.log"), 10**9, 3, 3600)
        handler.setFormatter(JsonFormatter())
        record = logging.LogRecord("app", logging.INFO, __file__, 1, "m", None, None)
        handler.emit(record)
        handler.rollover_at = 0
        handler.emit(record)
        handler.close()
        assert (tmp_path / "a.log.1").exists() and handler.rollover_at > 0
