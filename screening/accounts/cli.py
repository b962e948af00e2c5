"""Account commands for the server's operator: ``create-user``, and ``reset-link`` / ``remove-two-factor``
for an admin who is locked out (lost password, lost phone and recovery codes) with no other admin to help."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from .. import audit
from ..db import db
from ..models import ROLES, User
from . import auth, links, management


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


def _account(email: str) -> User:
    user = db.session.scalar(select(User).where(User.email == auth.normalize_email(email)))
    if user is None:
        click.echo(f"No account with the email address {email}.", err=True)
        raise SystemExit(1)
    return user


@click.command("reset-link")
@click.argument("email")
@with_appcontext
def reset_link_command(email: str) -> None:
    """Print a one-time link that sets the account's password (an invitation if it has none yet)."""
    user = _account(email)
    try:
        purpose, token = management.issue_link(user, "cli", None)
    except auth.AccountError as exc:
        click.echo(f"reset-link: {exc}", err=True)
        raise SystemExit(1)
    db.session.commit()
    hours = links.lifetime(purpose).total_seconds() / 3600
    click.echo(f"{'Invitation' if purpose == 'invite' else 'Password reset'} link for {user.email} "
               f"(works once, for {hours:g} hours):\n{links.url(token, purpose)}")


@click.command("remove-two-factor")
@click.argument("email")
@with_appcontext
def remove_two_factor_command(email: str) -> None:
    """Turn off two-factor sign-in for an account whose phone and recovery codes are lost."""
    user = _account(email)
    if not management.remove_two_factor(user, "cli"):
        click.echo(f"{user.email} does not use two-factor sign-in.")
        return
    db.session.commit()
    click.echo(f"Two-factor sign-in is off for {user.email}; they can set it up again after signing in.")
