"""Options shared by several commands."""

from __future__ import annotations

import logging

import click

verbose_opt = click.option(
    "-v", "--verbose", count=True, help="更多日志 / More log output (repeatable)."
)
quiet_opt = click.option(
    "-q", "--quiet", is_flag=True, help="只显示错误 / Errors only."
)


def configure_logging(verbose: int, quiet: bool) -> None:
    """Set the log level from ``-v``/``-q``."""
    level = (
        logging.ERROR if quiet else max(logging.DEBUG, logging.WARNING - 10 * verbose)
    )
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def out_option(help_text: str, *, required: bool = True):
    """Return an ``--out FILE`` option."""
    return click.option(
        "--out",
        "out",
        type=click.Path(dir_okay=False),
        required=required,
        help=help_text,
    )
