"""The admin blueprint, its guard, and the state of one set as every admin page sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import audit, publishing
from ..db import db
from ..diff import Change, diff_question_sets, diff_rule_sets
from ..models import Draft, User
from ..yaml_source import LoadError, Problem, Source
from .content import DRAFT_LABEL, KIND_NAMES, KIND_SLUGS, SLUG_OF, Located, locate, read

# The name is the one the staff navigation links to (admin_home.index); every admin page is in it.
bp = Blueprint("admin_home", __name__, url_prefix="/admin")


@bp.before_request
def require_admin():
    """Nothing under /admin is reachable without an admin session."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if current_user.role != "admin":
        abort(403)
    return None


@bp.after_request
def private_headers(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


@bp.app_template_global("admin_set_url")
def set_url(endpoint: str, kind: str, set_id: str, **values: Any) -> str:
    return url_for(f"admin_home.{endpoint}", slug=SLUG_OF[kind], set_id=set_id, **values)


def kind_of(slug: str) -> str:
    kind = KIND_SLUGS.get(slug)
    if kind is None:
        abort(404)
    return kind


def actor() -> str:
    return f"user:{current_user.id}"


def email_of(user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return db.session.scalar(select(User.email).where(User.id == user_id))


@dataclass
class SetState:
    """One set: its newest published version, its draft, and (for a draft) what is wrong with it."""

    kind: str
    set_id: str
    published: Any
    draft: Draft | None
    text: str
    source: Source | None
    problems: list[Problem] = field(default_factory=list)
    located: Located = field(default_factory=Located)
    changes: list[Change] | None = None

    @property
    def slug(self) -> str:
        return SLUG_OF[self.kind]

    @property
    def kind_name(self) -> str:
        return KIND_NAMES[self.kind]

    @property
    def data(self) -> dict:
        return self.source.data if self.source is not None else {}

    @property
    def unchanged(self) -> bool:
        """A draft whose text is exactly the published text: nothing to publish."""
        return self.draft is not None and self.published is not None and self.draft.yaml_text == self.published.yaml_text

    @property
    def draft_by(self) -> str | None:
        return email_of(self.draft.updated_by) if self.draft is not None else None


def load_set(kind: str, set_id: str, check: bool = True) -> SetState:
    """The set's state, or 404. A draft is checked (validation, rule examples) unless ``check`` is False."""
    published = publishing.current_version(kind, set_id)
    draft = publishing.get_draft(kind, set_id)
    if published is None and draft is None:
        abort(404)
    text = draft.yaml_text if draft is not None else published.yaml_text
    source, read_problems = read(text, DRAFT_LABEL)
    state = SetState(kind, set_id, published, draft, text, source)
    if draft is not None and check:
        state.problems = read_problems or (publishing.check(kind, text, DRAFT_LABEL, set_id=set_id).problems or [])
        state.located = locate(source, state.problems)
        if published is not None and source is not None:
            state.changes = changes_between(kind, published.yaml_text, text)
    elif read_problems:
        state.problems = read_problems
        state.located = locate(None, read_problems)
    return state


def changes_between(kind: str, old: str, new: str) -> list[Change] | None:
    try:
        return (diff_question_sets if kind == "question_set" else diff_rule_sets)(old, new)
    except LoadError:
        return None


def save_edit(state: SetState, new_text: str, **detail: Any) -> list[Problem]:
    """Keep the edited text as the set's draft (even if it does not validate), audit it, and say how it is."""
    publishing.save_draft(state.kind, state.set_id, new_text, current_user.id)
    audit.record(actor(), "admin.draft_saved", f"{state.kind}:{state.set_id}", **detail)
    db.session.commit()
    problems = publishing.check(state.kind, new_text, DRAFT_LABEL, set_id=state.set_id).problems or []
    if problems:
        flash(f"Saved to the draft. The draft has {len(problems)} "
              f"problem{'s' if len(problems) != 1 else ''} (shown on this page); it can be kept but not "
              f"published until {'they are' if len(problems) != 1 else 'it is'} fixed.", "error")
    else:
        flash("Saved to the draft. It is valid and every rule example passes; it is not live until you publish it.",
              "info")
    return problems


def edit_failed(message: str) -> None:
    flash(f"Not changed: {message}", "error")


def back_to(state: SetState, anchor: str | None = None):
    target = url_for("admin_home.set_page", slug=state.slug, set_id=state.set_id)
    return redirect(target + (f"#{anchor}" if anchor else ""), 303)
