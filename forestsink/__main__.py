"""``python -m forestsink`` runs the command-line interface."""

from forestsink.cli.main import cli

if __name__ == "__main__":  # pragma: no cover
    cli()
