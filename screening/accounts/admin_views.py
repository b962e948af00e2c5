"""The admin's account screens under /admin/accounts: the staff list, inviting a colleague, and one
account's page (role, disable/enable, a reset or new invitation link, turning off a lost second factor).

Every change is a POST with a CSRF token and an audit event; GET changes nothing.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from .. import audit
from ..admin.base import require_admin
from ..confirmation import confirmation_page
from ..db import db
from ..models import AuditEvent, User, utcnow
from . import auth, links, management, two_factor
from .forms import AccountActionForm, InviteForm, RoleForm
from .models import AccountLink, StaffSession, TwoFactor

bp = Blueprint("account_admin", __name__, url_prefix="/admin/accounts")
HISTORY_EVENTS = 20


bp.before_request(require_admin)  # the guard of every /admin page


def account_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def last_sign_ins() -> dict[int, object]:
    return dict(db.session.execute(select(StaffSession.user_id, func.max(StaffSession.created_at))
                                   .group_by(StaffSession.user_id)).all())


def enrolled_ids() -> set[int]:
    return set(db.session.scalars(select(TwoFactor.user_id).where(TwoFactor.confirmed_at.is_not(None))))


@bp.get("/")
def index():
    users = db.session.scalars(select(User).order_by(User.active.desc(), User.email)).all()
    signed_in, enrolled = last_sign_ins(), enrolled_ids()
    rows = [{"user": u, "status": management.status(u), "last_sign_in": signed_in.get(u.id),
             "two_factor": u.id in enrolled} for u in users]
    return render_template("accounts/admin_list.html", nav="accounts", rows=rows,
                           required=current_app.config["REQUIRE_TWO_FACTOR"])


def link_page(user: User, purpose: str, token: str, email_problem: str | None):
    link = links.url(token, purpose)
    return render_template("accounts/admin_link.html", nav="accounts", user=user, purpose=purpose, link=link,
                           hours=links.lifetime(purpose).total_seconds() / 3600,
                           emailed=current_app.config.get("SMTP_HOST") and email_problem is None,
                           email_problem=email_problem)


def send_link(user: User, purpose: str, token: str) -> str | None:
    """Email the link when SMTP is configured (after the commit: a slow mail server holds no lock)."""
    problem = management.email_link(user, purpose, links.url(token, purpose), current_app.config["CLINIC_NAME"])
    if current_app.config.get("SMTP_HOST"):
        audit.record(current_user.actor, "account.link_emailed" if problem is None else "account.link_email_failed",
                     f"user:{user.id}", purpose=purpose)
        db.session.commit()
    return problem


@bp.route("/invite", methods=["GET", "POST"])
def invite():
    form = InviteForm()
    error = None
    if form.validate_on_submit():
        try:
            user, token = management.invite(form.email.data, form.role.data, current_user.actor, current_user.id)
        except auth.AccountError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            db.session.commit()
            return link_page(user, "invite", token, send_link(user, "invite", token))
    elif form.is_submitted():
        error = "; ".join(e for field in form for e in field.errors) or "Please check the form."
    return (render_template("accounts/admin_invite.html", nav="accounts", form=form, error=error,
                            hours=links.lifetime("invite").total_seconds() / 3600),
            200 if error is None else 400)


@bp.get("/<int:user_id>")
def account(user_id: int):
    return render_account(account_or_404(user_id))


def render_account(user: User, error: str | None = None, status: int = 200):
    target = f"user:{user.id}"
    history = db.session.scalars(select(AuditEvent).where((AuditEvent.target == target) | (AuditEvent.actor == target),
                                                          AuditEvent.action.like("account.%"))
                                 .order_by(AuditEvent.id.desc()).limit(HISTORY_EVENTS)).all()
    return render_template("accounts/admin_account.html", nav="accounts", user=user, status=management.status(user),
                           role_form=RoleForm(role=user.role), action_form=AccountActionForm(),
                           two_factor=two_factor.is_enrolled(user.id), last_sign_in=last_sign_ins().get(user.id),
                           open_sessions=db.session.scalar(select(func.count(StaffSession.id)).where(
                               StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))) or 0,
                           open_link=db.session.scalar(select(AccountLink).where(
                               AccountLink.user_id == user.id, AccountLink.used_at.is_(None))
                               .order_by(AccountLink.id.desc()).limit(1)),
                           now=utcnow(), history=history, actor_names={f"user:{uid}": email for uid, email in
                                        db.session.execute(select(User.id, User.email))},
                           error=error), status


def change(user: User, apply, done: str):
    """Apply an account change (which writes its audit event), commit it, and go back to the account page;
    a refused change (e.g. the last admin) is rolled back and explained."""
    try:
        changed = apply()
    except auth.AccountError as exc:
        db.session.rollback()
        return render_account(db.session.get(User, user.id), error=f"Not changed: {exc}", status=400)
    db.session.commit()
    if changed:
        flash(done, "info")
    return redirect(url_for("account_admin.account", user_id=user.id), 303)


def posted_to(user_id: int, form) -> User:
    """The account a POST is about (or 404), once its form (CSRF token included) is valid (or 400)."""
    user = account_or_404(user_id)
    if not form.validate_on_submit():
        abort(400)
    return user


def confirm(user: User, question: str, consequences: str, endpoint: str, button: str, **fields: str):
    return confirmation_page(question, consequences, url_for(endpoint, user_id=user.id), button,
                             url_for("account_admin.account", user_id=user.id), nav="accounts", fields=fields)


@bp.get("/<int:user_id>/role")
def confirm_role(user_id: int):
    user = account_or_404(user_id)
    role = request.args.get("role", "")
    if role not in auth.STAFF_ROLES or role == user.role:
        if role == user.role:
            flash(f"{user.email} is already {'an admin' if role == 'admin' else 'a clinician'}.", "info")
        return redirect(url_for("account_admin.account", user_id=user.id), 303)
    if role == "admin":
        consequences = ("They can then edit and publish question and rule sets, manage staff accounts and "
                        "API tokens, and export submissions.")
    elif user.id == current_user.id:
        consequences = "You lose the admin pages at once, and only another admin can give them back."
    else:
        consequences = "They lose the admin pages (sets, accounts, API tokens, exports) from their next page on."
    return confirm(user, f"Make {'yourself' if user.id == current_user.id else user.email} "
                         f"{'an admin' if role == 'admin' else 'a clinician'}?",
                   consequences, "account_admin.change_role", "Change the role", role=role)


@bp.post("/<int:user_id>/role")
def change_role(user_id: int):
    form = RoleForm()
    user = posted_to(user_id, form)
    response = change(user, lambda: management.change_role(user, form.role.data, current_user.actor),
                      f"{user.email} is now {'an admin' if form.role.data == 'admin' else 'a clinician'}.")
    if user.id == current_user.id and user.role != "admin":  # stepped down: these pages are closed now
        return redirect(url_for("clinician.worklist"), 303)
    return response


@bp.get("/<int:user_id>/disable")
def confirm_disable(user_id: int):
    user = account_or_404(user_id)
    if not user.active:
        return redirect(url_for("account_admin.account", user_id=user.id), 303)
    return confirm(user, f"Disable {user.email}?",
                   "Every session of the account is signed out at once and its open invitation or reset link stops "
                   "working; it cannot sign in until an admin enables it again. Nothing it did is removed.",
                   "account_admin.disable", "Disable the account")


@bp.post("/<int:user_id>/disable")
def disable(user_id: int):
    user = posted_to(user_id, AccountActionForm())
    return change(user, lambda: management.set_active(user, False, current_user.actor),
                  f"{user.email} is disabled: every session of the account was signed out, and it cannot sign in.")


@bp.post("/<int:user_id>/enable")
def enable(user_id: int):
    user = posted_to(user_id, AccountActionForm())
    return change(user, lambda: management.set_active(user, True, current_user.actor),
                  f"{user.email} is enabled again and can sign in.")


@bp.get("/<int:user_id>/two-factor/remove")
def confirm_remove_two_factor(user_id: int):
    user = account_or_404(user_id)
    if not two_factor.is_enrolled(user.id):
        return redirect(url_for("account_admin.account", user_id=user.id), 303)
    return confirm(user, f"Turn off two-factor sign-in for {user.email}?",
                   "Their password alone then signs in, and their recovery codes stop working; they can set up "
                   "two-factor again on their account page. Check first that the request really comes from them.",
                   "account_admin.remove_two_factor", "Turn off two-factor")


@bp.post("/<int:user_id>/two-factor/remove")
def remove_two_factor(user_id: int):
    user = posted_to(user_id, AccountActionForm())
    return change(user, lambda: management.remove_two_factor(user, current_user.actor),
                  f"Two-factor sign-in is off for {user.email}; they can set it up again on their account page.")


@bp.post("/<int:user_id>/link")
def new_link(user_id: int):
    user = posted_to(user_id, AccountActionForm())
    try:
        purpose, token = management.issue_link(user, current_user.actor, current_user.id)
    except auth.AccountError as exc:
        db.session.rollback()
        return render_account(user, error=f"No link made: {exc}", status=400)
    db.session.commit()
    return link_page(user, purpose, token, send_link(user, purpose, token))
