"""The ``tierconf`` command line. The library never imports this package."""

from tierconf.cli._app import cli, main

__all__ = ["cli", "main"]
