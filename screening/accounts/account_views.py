"""A staff member's own account: change the password, set up or turn off two-factor sign-in, new
recovery codes. With ``REQUIRE_TWO_FACTOR`` a signed-in user without two-factor reaches nothing but
the enrolment page (``require_enrolment``, run before every request).
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from .. import audit
from ..confirmation import confirmation_page
from ..clinician.views import require_staff
from ..db import db
from . import auth, two_factor
from .forms import AccountActionForm, ChangePasswordForm, CodeForm, ConfirmPasswordForm
from .models import TwoFactor

bp = Blueprint("my_account", __name__, url_prefix="/staff/account")

# What a user who must still enrol may reach.
ENROLMENT_ENDPOINTS = {"my_account.two_factor", "accounts.sign_out", "accounts.sign_in", "static"}


def require_enrolment():
    """With REQUIRE_TWO_FACTOR on, a signed-in user without two-factor is sent to enrolment."""
    if not current_app.config["REQUIRE_TWO_FACTOR"] or "_user_id" not in session:
        return None
    if request.endpoint in ENROLMENT_ENDPOINTS or not current_user.is_authenticated:
        return None
    if current_user.two_factor_enabled:
        return None
    return redirect(url_for("my_account.two_factor"), 303)


bp.before_request(require_staff)  # the guard of every /staff page


def render_overview(password_form=None, confirm_form=None, error=None, status=200):
    user_id = current_user.id
    return render_template("accounts/account.html", nav="account",
                           password_form=password_form or ChangePasswordForm(),
                           confirm_form=confirm_form or ConfirmPasswordForm(),
                           enrolled=current_user.two_factor_enabled,
                           codes_left=two_factor.recovery_codes_left(user_id),
                           required=current_app.config["REQUIRE_TWO_FACTOR"], error=error), status


@bp.get("/")
def overview():
    return render_overview()


@bp.post("/password")
def change_password():
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        message = "; ".join(e for field in form for e in field.errors) or "Please check the form."
        return render_overview(password_form=form, error=message, status=400)
    user = current_user.user
    if not auth.verify_password(user, form.current.data):
        audit.record(current_user.actor, "account.password_change_failed", current_user.actor)
        db.session.commit()
        return render_overview(password_form=form, error="The current password is not correct.", status=400)
    problem = auth.password_problem(form.password.data, user.email)
    if problem:
        return render_overview(password_form=form, error=problem, status=400)
    user.password_hash = auth.hash_password(form.password.data)
    ended = auth.end_all_sessions(user.id, "password_changed", keep=current_user.staff_session.id)
    audit.record(current_user.actor, "account.password_changed", current_user.actor, other_sessions_ended=ended)
    db.session.commit()
    flash("Your password was changed." + (f" {ended} other session{'s' if ended != 1 else ''} of your account "
                                          f"{'were' if ended != 1 else 'was'} signed out." if ended else ""), "info")
    return redirect(url_for("my_account.overview"), 303)


def recovery_codes_page(codes: list[str], first: bool):
    return render_template("accounts/recovery_codes.html", nav="account", codes=codes, first=first)


@bp.route("/two-factor", methods=["GET", "POST"], endpoint="two_factor")
def two_factor_page():
    """Enrolment. Pressing "Show the QR code" (a POST: a GET changes nothing) stores a new, unconfirmed key;
    it signs in nobody until a code from the app confirms it, and reloading shows the same key."""
    if current_user.two_factor_enabled:
        return redirect(url_for("my_account.overview"))
    if request.method == "POST" and "start" in request.form:
        if AccountActionForm().validate_on_submit():
            two_factor.pending_enrolment(current_user.id)
            db.session.commit()
        return redirect(url_for("my_account.two_factor"), 303)
    row: TwoFactor | None = two_factor.record_for(current_user.id)
    required = current_app.config["REQUIRE_TWO_FACTOR"]
    if row is None:
        if request.method == "POST":  # a code for a key that was never shown
            return redirect(url_for("my_account.two_factor"), 303)
        return render_template("accounts/two_factor.html", nav="account", start_form=AccountActionForm(),
                               required=required)
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        if two_factor.confirm_enrolment(row, form.code.data):
            codes = two_factor.issue_recovery_codes(current_user.id)
            audit.record(current_user.actor, "account.two_factor_enrolled", current_user.actor)
            db.session.commit()
            return recovery_codes_page(codes, first=True)
        audit.record(current_user.actor, "account.two_factor_enrolment_failed", current_user.actor)
        db.session.commit()
        error = "That code is not correct. Check that the phone's clock is right, and enter the newest code."
    elif request.method == "POST":
        error = "Enter the six-digit code from the app."
    form.code.data = ""
    uri = two_factor.provisioning_uri(row, current_user.email)
    return render_template("accounts/two_factor.html", nav="account", form=form, error=error,
                           qr=two_factor.qr_data_uri(uri), secret=two_factor.grouped_secret(row.secret),
                           required=required), 200 if error is None else 400


def _password_confirmed(form: ConfirmPasswordForm) -> bool:
    return form.validate_on_submit() and auth.verify_password(current_user.user, form.password.data)


@bp.post("/recovery-codes")
def new_recovery_codes():
    form = ConfirmPasswordForm()
    if not current_user.two_factor_enabled:
        return redirect(url_for("my_account.overview"), 303)
    if not _password_confirmed(form):
        return render_overview(confirm_form=form, error="The password is not correct: no new codes were made.",
                               status=400)
    codes = two_factor.issue_recovery_codes(current_user.id)
    audit.record(current_user.actor, "account.recovery_codes_renewed", current_user.actor)
    db.session.commit()
    return recovery_codes_page(codes, first=False)


@bp.get("/two-factor/off")
def confirm_turn_off_two_factor():
    if not current_user.two_factor_enabled or current_app.config["REQUIRE_TWO_FACTOR"]:
        return redirect(url_for("my_account.overview"), 303)
    return confirmation_page("Turn off two-factor sign-in for your account?",
                             "Your password alone then signs you in, and your recovery codes stop working. You can "
                             "set it up again later, with a new QR code.",
                             url_for("my_account.turn_off_two_factor"), "Turn off two-factor",
                             url_for("my_account.overview"), nav="account", password=True)


@bp.post("/two-factor/off")
def turn_off_two_factor():
    form = ConfirmPasswordForm()
    if current_app.config["REQUIRE_TWO_FACTOR"]:
        return render_overview(error="Your clinic requires two-factor sign-in, so it cannot be turned off. "
                                     "If your phone is lost, an admin can reset it for you.", status=400)
    if not _password_confirmed(form):
        return render_overview(confirm_form=form, error="The password is not correct: two-factor is still on.",
                               status=400)
    two_factor.remove(current_user.id)
    audit.record(current_user.actor, "account.two_factor_removed", current_user.actor)
    db.session.commit()
    flash("Two-factor sign-in is off. Your recovery codes no longer work.", "info")
    return redirect(url_for("my_account.overview"), 303)
