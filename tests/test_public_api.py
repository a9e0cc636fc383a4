"""The curated public API."""

from __future__ import annotations

import subprocess
import sys

import tierconf


class TestPublicApi:
    """tierconf.__all__ is the contract of the library."""

    def test_every_exported_name_resolves(self) -> None:
        """Each name in __all__ is importable from the package."""
        for name in tierconf.__all__:
            assert getattr(tierconf, name) is not None, name

    def test_seed_names_are_exported(self) -> None:
        """The seed's four names are public."""
        assert {"ConfigMapManager", "EnvironmentTier", "ConfigurationValidator", "ConfigMapUtils"} <= set(
            tierconf.__all__
        )

    def test_import_is_lazy(self) -> None:
        """Importing tierconf loads neither pydantic nor the CLI."""
        code = "import sys, tierconf; print('pydantic' in sys.modules, 'click' in sys.modules)"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert out.split() == ["False", "False"]

    def test_help_does_not_import_pydantic(self) -> None:
        """`tierconf --help` stays fast: no pydantic, no rich."""
        code = (
            "import sys\nfrom tierconf.cli import cli\n"
            "try:\n    cli.main(['--help'], standalone_mode=False)\n"
            "except SystemExit:\n    pass\nprint('pydantic' in sys.modules, 'rich' in sys.modules)"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert out.split()[-2:] == ["False", "False"]
