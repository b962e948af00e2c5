"""``flask --app screening create-user EMAIL --role clinician|admin``."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from .. import audit
from ..db import db
from ..models import ROLES
from . import auth


@click.command("create-user")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), default="clinician", show_default=True,
              help="clinician: work list, invitations and summaries; admin: also the admin pages.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input (for scripts).")
@with_appcontext
def create_user_command(email: str, role: str, password_stdin: bool) -> None:
    """Create a staff account. The password is asked for (hidden) unless --password-stdin is given."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = auth.create_user(email, password, role)
    except auth.AccountError as exc:
        click.echo(f"create-user: {exc}", err=True)
        raise SystemExit(1)
    audit.record("cli", "account.created", f"user:{user.id}", role=role)
    db.session.commit()
    click.echo(f"Created {role} account {user.email} (user {user.id}).")
