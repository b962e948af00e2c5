"""Staff accounts: clinicians and admins, sign-in with server-side sessions and an optional (or
required) second factor, roles, the first admin, invitation and reset links, the admin's account screens.

``init_app`` registers Flask-Login, the sign-in/sign-out/setup/link pages, the own-account pages
(/staff/account), the account screens (/admin/accounts), the two-factor requirement and the
``create-user`` command; ``announce_setup_link`` logs a one-time setup link on a fresh install.
"""

from __future__ import annotations

import click
from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from flask_login import LoginManager
from flask_wtf.csrf import generate_csrf

from . import models  # noqa: F401  (registers the tables before db.create_all)
from .auth import role_required, staff_required  # noqa: F401  (the public decorators)

login_manager = LoginManager()


def init_app(app: Flask) -> None:

    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    login_manager.login_view = "accounts.sign_in"
    login_manager.user_loader(_load_user)
    login_manager.unauthorized_handler(_unauthorized)
    # The same function CSRFProtect would register: forms render {{ csrf_token() }}.
    app.jinja_env.globals.setdefault("csrf_token", generate_csrf)

    from . import account_views, admin_views
    from .cli import create_user_command, remove_two_factor_command, reset_link_command
    from .views import bp

    app.register_blueprint(bp)
    app.register_blueprint(account_views.bp)
    app.register_blueprint(admin_views.bp)
    app.before_request(account_views.require_enrolment)
    for command in (create_user_command, reset_link_command, remove_two_factor_command):
        app.cli.add_command(command)


def _load_user(token: str):
    from .auth import load_user

    return load_user(token)


def _unauthorized():
    reason = g.get("session_end_reason")
    session.pop("_user_id", None)
    if reason == "idle":
        minutes = current_app.config["SESSION_IDLE_MINUTES"]
        flash(f"You were signed out after {minutes:g} minutes without activity. Please sign in again.", "info")
    elif reason:
        flash("Your session has ended. Please sign in again.", "info")
    else:
        flash("Please sign in to continue.", "info")
    target = request.full_path if request.method == "GET" else None
    if target and target.endswith("?"):
        target = target[:-1]
    return redirect(url_for("accounts.sign_in", next=target) if target else url_for("accounts.sign_in"))


def _running_another_command() -> bool:
    """True while ``flask <command>`` loads the app for a command other than ``run`` (no link then:
    ``create-user`` or ``evaluate`` should not print one). A WSGI server or ``flask run`` gets False."""
    ctx = click.get_current_context(silent=True)
    return ctx is not None and getattr(ctx.command, "name", None) != "run"


def announce_setup_link(app: Flask) -> None:
    """On a fresh install (no users), log a one-time link that creates the first admin.

    Called by the app factory once the tables exist."""
    from ..db import db
    from .auth import issue_setup_token

    if _running_another_command():
        return
    with app.app_context():
        token = issue_setup_token()
        if token is None:
            return
        db.session.commit()
        path = f"/setup/{token}"
        base = app.config.get("BASE_URL") or "http://127.0.0.1:5000"
        ctx = click.get_current_context(silent=True)
        if ctx is not None and ctx.params.get("port"):  # flask run --host H --port P
            host = ctx.params.get("host") or "127.0.0.1"
            scheme = "https" if ctx.params.get("cert") else "http"
            base = f"{scheme}://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{ctx.params['port']}"
        app.logger.warning(
            "No staff accounts yet. To create the first admin, open %s%s (or this path on the address "
            "the service is reached at). The link works once, for 24 hours. Alternatively: "
            "flask --app screening create-user EMAIL --role admin", base, path)
