"""``tierconf init DIR``: copy the bundled config tree out to start from."""

from __future__ import annotations

from pathlib import Path

import click

from tierconf.cli._app import run_guarded


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Write into a non-empty directory.")
def command(directory: Path, force: bool) -> None:
    """Copy the bundled Spotify AI Agent tree to DIRECTORY."""

    def body() -> int:
        import shutil

        from tierconf.errors import UsageError
        from tierconf.tree import bundled_config_dir

        if directory.exists() and any(directory.iterdir()) and not force:
            raise UsageError(f"{directory} is not empty; use --force to write into it")
        source = bundled_config_dir()
        shutil.copytree(source, directory, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        click.echo(
            f"copied the bundled config tree to {directory}; try: tierconf validate -c {directory} --all"
        )
        return 0

    run_guarded(body)
