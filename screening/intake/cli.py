"""``flask --app screening create-invitation``: a new intake and its link (printed once, never stored)."""

from __future__ import annotations

import datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import audit
from ..db import db
from ..invitations import NoPublishedContent, create_invitation


def invitation_link(token: str) -> str:
    return current_app.config["BASE_URL"].rstrip("/") + "/i/" + token


def _date(ctx, param, value: str | None) -> datetime.date | None:
    if value is None:
        return None
    try:
        return datetime.date.fromisoformat(value) if len(value) == 10 else _bad(param)
    except ValueError:
        return _bad(param)


def _bad(param):
    raise click.BadParameter("give a date as YYYY-MM-DD", param=param)


@click.command("create-invitation")
@click.option("--name", help="The patient's name, shown to the clinic only.")
@click.option("--dob", callback=_date, metavar="YYYY-MM-DD", help="The patient's date of birth, for the clinic.")
@click.option("--ref", help="The clinic's own reference (e.g. a record number).")
@with_appcontext
def create_invitation_command(name: str | None, dob: datetime.date | None, ref: str | None) -> None:
    """Create an intake invitation and print its link (the token is shown only this once)."""
    try:
        intake, token = create_invitation(patient_name=name, patient_dob=dob, clinic_ref=ref)
    except NoPublishedContent as exc:
        click.echo(f"cannot create an invitation: {exc}", err=True)
        raise SystemExit(1) from None
    audit.record("cli", "intake.created", f"intake:{intake.id}")
    db.session.commit()
    click.echo(invitation_link(token))
    if intake.link_expires_at:
        click.echo(f"The link opens the questionnaire until {intake.link_expires_at:%Y-%m-%d %H:%M} UTC.", err=True)
