"""``python -m tierconf`` runs the CLI."""

from tierconf.cli import main

main()
