"""tierconf.flags exports what it lists, and the OpenFeature provider only on demand."""

from __future__ import annotations

import subprocess
import sys

import tierconf.flags


class TestFlagsApi:
    """The flags package's public names."""

    def test_every_exported_name_resolves(self) -> None:
        """Each name in __all__ is importable, TierconfProvider included (lazily)."""
        for name in tierconf.flags.__all__:
            assert getattr(tierconf.flags, name) is not None, name

    def test_provider_is_imported_lazily(self) -> None:
        """Importing tierconf.flags does not import the OpenFeature SDK."""
        code = "import sys, tierconf.flags; print('openfeature' in sys.modules)"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert out.strip() == "False"
