"""What an admin does to staff accounts: invite, change a role, disable and enable, reset a password,
turn off a lost second factor. Each change is an audit event.

The audit event is written *first*: ``audit.record`` takes the audit log's lock (SQLite's write lock, the
head row's lock on PostgreSQL) until commit, so two admins changing accounts at once are serialized and the
last-admin guard counts what the other one committed.
"""

from __future__ import annotations

from sqlalchemy import func, select

from .. import audit
from ..db import db
from ..models import User
from . import auth, links, mail, two_factor


class LastAdminError(auth.AccountError):
    """The change would leave the clinic without an active admin."""


def status(user: User) -> str:
    if not user.active:
        return "disabled"
    if not user.password_hash:
        return "invited"
    return "active"


def is_active_admin(user: User) -> bool:
    return user.role == "admin" and status(user) == "active"


def require_another_admin(user: User) -> None:
    others = db.session.scalar(select(func.count(User.id)).where(
        User.role == "admin", User.active.is_(True), User.password_hash != "", User.id != user.id)) or 0
    if not others:
        raise LastAdminError(f"{user.email} is the last active admin: make another account an admin first.")


def invite(email: str, role: str, actor: str, created_by: int) -> tuple[User, str]:
    """A new account without a password, and its invitation link token (the caller commits)."""
    user = auth.create_user(email, None, role)
    audit.record(actor, "account.invited", f"user:{user.id}", role=role)
    token, _ = links.issue(user, "invite", created_by)
    return user, token


def issue_link(user: User, actor: str, created_by: int | None) -> tuple[str, str]:
    """A new invitation link (account not set up yet) or reset link: (purpose, token). The caller commits."""
    purpose = "invite" if status(user) == "invited" else "reset"
    if not user.active:
        raise auth.AccountError("The account is disabled: enable it first.")
    audit.record(actor, "account.invite_renewed" if purpose == "invite" else "account.reset_link_issued",
                 f"user:{user.id}")
    token, _ = links.issue(user, purpose, created_by)
    return purpose, token


def change_role(user: User, role: str, actor: str) -> bool:
    """False if the role is already ``role``; raises LastAdminError or AccountError (the caller rolls back)."""
    if role not in auth.STAFF_ROLES:
        raise auth.AccountError(f"The role must be one of: {', '.join(auth.STAFF_ROLES)}.")
    if role == user.role:
        return False
    audit.record(actor, "account.role_changed", f"user:{user.id}", role=role, previous=user.role)
    if is_active_admin(user) and role != "admin":
        require_another_admin(user)
    user.role = role
    return True


def set_active(user: User, active: bool, actor: str) -> bool:
    """Disable (every session ends at once) or enable an account. False if nothing changes."""
    if bool(user.active) == active:
        return False
    audit.record(actor, "account.enabled" if active else "account.disabled", f"user:{user.id}")
    if not active:
        if is_active_admin(user):
            require_another_admin(user)
        auth.end_all_sessions(user.id, "disabled")
        links.end_open_links(user.id)  # enabling later does not revive a link issued before
    user.active = active
    return True


def remove_two_factor(user: User, actor: str) -> bool:
    if two_factor.record_for(user.id) is None:
        return False
    audit.record(actor, "account.two_factor_removed", f"user:{user.id}")
    two_factor.remove(user.id)
    return True


def email_link(user: User, purpose: str, link: str, clinic: str) -> str | None:
    """Email the link if SMTP is configured: None when sent (or not configured), else why it failed."""
    if not mail.configured():
        return None
    if purpose == "invite":
        subject = f"Your staff account at {clinic}"
        body = (f"An admin at {clinic} created a staff account for {user.email} on the screening service.\n\n"
                f"Open this link to choose your password (it works once, for "
                f"{links.lifetime('invite').total_seconds() / 3600:g} hours):\n\n{link}\n")
    else:
        subject = f"Reset your password at {clinic}"
        body = (f"An admin at {clinic} issued a password reset for {user.email}.\n\n"
                f"Open this link to choose a new password (it works once, for "
                f"{links.lifetime('reset').total_seconds() / 3600:g} hours):\n\n{link}\n\n"
                f"If you did not ask for this, tell your clinic's admin.\n")
    return mail.send(user.email, subject, body)
