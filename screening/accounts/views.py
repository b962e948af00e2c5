"""Sign-in (password, then the second factor), sign-out, the first-admin page, and the pages of the
invitation and reset links. (Own account: ``account_views``; the admin's account screens: ``admin_views``.)"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from .. import audit
from ..security import configured, failed, limiter, sign_in_account_key
from ..db import db
from ..models import User, utcnow
from . import auth, links, two_factor
from .forms import CodeForm, NewPasswordForm, SetupForm, SignInForm, SignOutForm

bp = Blueprint("accounts", __name__)

GENERIC_SIGN_IN_ERROR = "The email or password is not correct."
PENDING_KEY = "pending_sign_in"  # in the signed session cookie between the password and the second factor
PENDING_SECONDS = 10 * 60


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
        elif two_factor.is_enrolled(user.id):
            target = safe_next(form.next.data)
            if session.get("_user_id"):  # signed in already: that session ends, as a new sign-in would end it
                auth.end_session_by_token(session["_user_id"], "replaced")
                db.session.commit()
            session.clear()
            session[PENDING_KEY] = {"user": user.id, "at": int(time.time()), "next": target}
            return redirect(url_for("accounts.second_factor"))
        else:
            staff = auth.start_session(user)
            audit.record(staff.actor, "account.sign_in", staff.actor)
            db.session.commit()
            if current_app.config["REQUIRE_TWO_FACTOR"]:
                return redirect(url_for("my_account.two_factor"))
            return redirect(safe_next(form.next.data) or home_url())
    elif request.method == "POST":
        error = "The form had expired. Please sign in again." if form.csrf_token.errors else GENERIC_SIGN_IN_ERROR
    form.password.data = ""
    return render_template("accounts/sign_in.html", form=form, error=error), 200 if error is None else 400


def pending_user() -> tuple[User | None, str | None]:
    """The user who gave the right password moments ago and still owes the second factor, and where to go."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or not isinstance(pending.get("user"), int):
        return None, None
    if not 0 <= time.time() - float(pending.get("at") or 0) <= PENDING_SECONDS:
        return None, None
    user = db.session.get(User, pending["user"])
    if user is None or not user.active or not two_factor.is_enrolled(user.id):
        return None, None
    return user, safe_next(pending.get("next"))


@bp.route("/sign-in/code", methods=["GET", "POST"])
@limiter.limit(configured("SECOND_FACTOR_LIMIT_PER_ADDRESS"), methods=["POST"], deduct_when=failed,
               scope="second-factor-address")
def second_factor():
    user, target = pending_user()
    if user is None and current_user.is_authenticated:
        return redirect(home_url())
    if user is None:
        session.pop(PENDING_KEY, None)
        flash("Please sign in again: the sign-in was not finished in time.", "info")
        return redirect(url_for("accounts.sign_in"))
    recovery = request.values.get("method") == "recovery"
    form = CodeForm()
    error, status = None, 200
    if form.validate_on_submit():
        outcome = two_factor.check_sign_in_code(user.id, form.code.data, recovery)
        method = "recovery_code" if recovery else "authenticator"
        if outcome is two_factor.Outcome.ACCEPTED:
            staff = auth.start_session(user)
            audit.record(staff.actor, "account.sign_in", staff.actor, second_factor=method)
            db.session.commit()
            if recovery:
                left = two_factor.recovery_codes_left(user.id)
                flash(f"You signed in with a recovery code; it cannot be used again. {left} "
                      f"recovery code{'s' if left != 1 else ''} left: you can make new ones on your account page.",
                      "error" if left <= 3 else "info")
            return redirect(target or home_url())
        audit.record("anonymous", "account.second_factor_failed", f"user:{user.id}", method=method,
                     locked=outcome is two_factor.Outcome.LOCKED)
        db.session.commit()
        if outcome is two_factor.Outcome.LOCKED:
            session.pop(PENDING_KEY, None)
            minutes = current_app.config["TWO_FACTOR_LOCK_MINUTES"]
            return render_template("accounts/second_factor_locked.html", minutes=minutes), 429
        error = ("That recovery code is not correct or was used before." if recovery
                 else "That code is not correct, or it was used already. Wait for the app to show a new code, "
                      "then enter it.")
        status = 400
    elif request.method == "POST":
        error, status = ("The form had expired. Please try again." if form.csrf_token.errors
                         else "Enter the code."), 400
    form.code.data = ""
    return render_template("accounts/second_factor.html", form=form, recovery=recovery, error=error), status


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


@bp.route("/invite/<token>", methods=["GET", "POST"], defaults={"purpose": "invite"}, endpoint="accept_invite")
@bp.route("/reset-password/<token>", methods=["GET", "POST"], defaults={"purpose": "reset"},
          endpoint="reset_password")
def account_link(token: str, purpose: str):
    """An invitation or reset link: choose a password, then sign in with it."""
    row = links.valid(token, purpose)
    if row is None:
        return render_template("accounts/link_invalid.html", purpose=purpose), 404
    user = db.session.get(User, row.user_id)
    form = NewPasswordForm()
    error = None
    if form.validate_on_submit():
        try:
            links.set_password(row, form.password.data)
        except auth.AccountError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            action = "account.invite_accepted" if purpose == "invite" else "account.password_reset"
            audit.record(f"{purpose}-link", action, f"user:{user.id}")
            if current_user.is_authenticated:
                auth.sign_out()
            db.session.commit()
            flash("Your password is set. Please sign in with it." if purpose == "invite"
                  else "Your password was changed and every session of your account was signed out. "
                       "Please sign in with the new password.", "info")
            return redirect(url_for("accounts.sign_in"))
    elif request.method == "POST":
        error = "; ".join(e for field in form for e in field.errors) or "Please check the form."
    return (render_template("accounts/set_password.html", form=form, purpose=purpose, email=user.email,
                            expires_at=row.expires_at, error=error), 200 if error is None else 400)
