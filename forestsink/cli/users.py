r"""``forestsink users add|list|disable|passwd``: accounts of the web application.

A password is never an argument (it would show in the process list and the
shell history): it is asked twice at a terminal, or read as one line from
standard input when that is not a terminal (``printf '%s\\n' "$PW" | …``).
"""

from __future__ import annotations

import sys

import click

from forestsink.cli.options import store_opt
from forestsink.cli.table import print_table, visible
from forestsink.errors import AccountError
from forestsink.store import open_store
from forestsink.store.users import (
    add_user,
    disable_user,
    get_user,
    list_users,
    resolve_districts,
    set_password,
)


def _read_password() -> str:
    """Prompt twice at a terminal; else read one line from standard input."""
    if sys.stdin is not None and sys.stdin.isatty():
        return click.prompt(
            "密码 / Password", hide_input=True, confirmation_prompt=True
        )
    line = sys.stdin.readline() if sys.stdin is not None else ""
    password = line.rstrip("\r\n")
    if not password:
        raise click.UsageError(
            "没有密码 / no password on standard input: give it as one line "
            "(printf '%s\\n' \"$PASSWORD\" | forestsink users …)."
        )
    return password


def _open(store: str):
    return open_store(store)


@click.group("users")
def users_group() -> None:
    """网页账户 / Accounts of the web application (kept in the store)."""


@users_group.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["admin", "editor", "viewer"]),
    required=True,
    help="角色 / admin (city office), editor (own districts), viewer (read only).",
)
@click.option(
    "--district",
    "districts",
    multiple=True,
    help="编辑的区县（可重复）/ An editor's district (repeatable), any name form.",
)
@store_opt
def add_cmd(name: str, role: str, districts, store: str) -> None:
    """添加账户 / Add an account (password from a prompt or stdin)."""
    resolve_districts(districts, role=role)  # refuse before asking a password
    account = add_user(
        _open(store), name, role=role, districts=districts, password=_read_password()
    )
    click.echo(
        f"已添加 / added: {visible(account.name)} ({account.role}"
        + (f"; {','.join(account.districts)}" if account.districts else "")
        + ")"
    )


@users_group.command("list")
@store_opt
def list_cmd(store: str) -> None:
    """列出账户 / List the accounts (never their passwords)."""
    print_table(list_users(_open(store)), title="账户 / accounts")


@users_group.command("disable")
@click.argument("name")
@store_opt
def disable_cmd(name: str, store: str) -> None:
    """停用账户 / Disable an account; its sessions stop working at once."""
    account = disable_user(_open(store), name)
    click.echo(f"已停用 / disabled: {visible(account.name)}")


@users_group.command("passwd")
@click.argument("name")
@store_opt
def passwd_cmd(name: str, store: str) -> None:
    """设置密码 / Set an account's password (prompt or one line on stdin)."""
    target = _open(store)
    if get_user(target, name) is None:
        raise AccountError(
            f"没有此账户 / no account {name!r}; see `forestsink users list`."
        )
    account = set_password(target, name, _read_password())
    click.echo(f"密码已设置 / password set: {visible(account.name)}")
