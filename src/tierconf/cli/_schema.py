"""``tierconf schema export [-o FILE]``: the JSON Schema of layer files."""

from __future__ import annotations

from pathlib import Path

import click

from tierconf.cli._app import run_guarded


@click.group("schema")
def command() -> None:
    """JSON Schema of layer files (for yaml-language-server and other editors)."""


@command.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE.")
def export(output: Path | None) -> None:
    """Print (or write) the JSON Schema for layer files."""

    def body() -> int:
        import json

        from tierconf.render._files import write_file_atomic
        from tierconf.schema._json_schema import layer_json_schema

        text = json.dumps(layer_json_schema(), indent=2) + "\n"
        if output is None:
            click.echo(text, nl=False)
        else:
            write_file_atomic(output, text.encode())
            click.echo(
                f"wrote {output}; add `# yaml-language-server: $schema={output}` to layer files", err=True
            )
        return 0

    run_guarded(body)
