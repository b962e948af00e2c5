"""Sign-in, sign-out and the one-time first-admin page. (The admin pages are in screening.admin.)"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import audit
from ..security import configured, failed, limiter, sign_in_account_key
from ..db import db
from ..models import utcnow
from . import auth
from .forms import SetupForm, SignInForm, SignOutForm

bp = Blueprint("accounts", __name__)

GENERIC_SIGN_IN_ERROR = "The email or password is not correct."


def safe_next(target: str | None) -> str | None:
    """A local path to go to after signing in, or None (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def home_url() -> str:
    return url_for("clinician.worklist")


@bp.after_request
def no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(configured("SIGN_IN_LIMIT_PER_ACCOUNT"), key_func=sign_in_account_key, methods=["POST"],
               deduct_when=failed, scope="sign-in-account")
@limiter.limit(configured("SIGN_IN_LIMIT_PER_ADDRESS"), methods=["POST"], deduct_when=failed,
               scope="sign-in-address")
def sign_in():
    form = SignInForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
        if current_user.is_authenticated:
            return redirect(form.next.data or home_url())
    error = None
    if form.validate_on_submit():
        user, named = auth.authenticate(form.email.data, form.password.data)
        if user is None:
            audit.record("anonymous", "account.sign_in_failed", f"user:{named.id}" if named else None)
            db.session.commit()
            error = GENERIC_SIGN_IN_ERROR
        else:
            staff = auth.start_session(user)
            audit.record(staff.actor, "account.sign_in", staff.actor)
            db.session.commit()
            return redirect(safe_next(form.next.data) or home_url())
    elif request.method == "POST":
        error = "The form had expired. Please sign in again." if form.csrf_token.errors else GENERIC_SIGN_IN_ERROR
    form.password.data = ""
    return render_template("accounts/sign_in.html", form=form, error=error), 200 if error is None else 400


@bp.post("/sign-out")
def sign_out():
    form = SignOutForm()
    if not form.validate_on_submit():
        abort(400)
    if current_user.is_authenticated:
        actor = current_user.actor
        auth.sign_out()
        audit.record(actor, "account.sign_out", actor)
        db.session.commit()
    else:
        auth.sign_out()
    flash("You are signed out.", "info")
    return redirect(url_for("accounts.sign_in"))


@bp.route("/setup/<token>", methods=["GET", "POST"])
def setup(token: str):
    row = auth.valid_setup_token(token)
    if row is None:
        return render_template("accounts/setup_invalid.html"), 404
    form = SetupForm()
    error = None
    if form.validate_on_submit():
        try:
            user = auth.create_user(form.email.data, form.password.data, "admin")
        except auth.AccountError as exc:
            error = str(exc)
        else:
            row.used_at = utcnow()
            actor = f"user:{user.id}"
            audit.record("setup-link", "account.first_admin_created", actor, role="admin")
            staff = auth.start_session(user)
            audit.record(staff.actor, "account.sign_in", staff.actor)
            db.session.commit()
            current_app.logger.info("The first admin account was created with the setup link.")
            flash("Your admin account is ready. You are signed in.", "info")
            return redirect(home_url())
    elif request.method == "POST":
        error = "; ".join(e for field in form for e in field.errors) or "Please check the form."
    return render_template("accounts/setup.html", form=form, error=error), 200 if error is None else 400
