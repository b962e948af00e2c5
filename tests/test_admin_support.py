"""Helpers and fixtures shared by the admin tests (no tests here): an admin signed in, and forms filled in
and posted like a browser does."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from screening.db import db
from screening.models import AuditEvent
from test_clinician_support import PASSWORD, make_user, sign_in

QS_PAGE = "/admin/question-sets/ketamine-intake"
RS_PAGE = "/admin/rule-sets/ketamine-safety"


@pytest.fixture
def admin_client(staff_app):
    make_user(staff_app, "boss@example.org", role="admin")
    client = staff_app.test_client()
    assert sign_in(client, email="boss@example.org", password=PASSWORD).status_code == 302
    return client


class _Forms(HTMLParser):
    """Every <form> of a page: its action and the values a browser would submit (before any button)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form = None
        self._textarea = None
        self._select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"action": a.get("action", ""), "method": a.get("method", "get"), "fields": []}
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "button" and a.get("formaction"):  # a second action of the same form (e.g. Remove)
            self.forms.append({"action": a["formaction"], "method": "post", "fields": self._form["fields"]})
        elif tag == "input" and a.get("name") and a.get("type") not in ("submit", "file", "button"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self._form["fields"].append((a["name"], a.get("value", "on" if a.get("type") == "checkbox" else "")))
        elif tag == "textarea" and a.get("name"):
            self._textarea = [a["name"], ""]
        elif tag == "select" and a.get("name"):
            self._select = {"name": a["name"], "first": None, "selected": None}
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._select["first"] is None:
                self._select["first"] = value
            if "selected" in a:
                self._select["selected"] = value

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "textarea" and self._textarea is not None:
            text = self._textarea[1]
            self._form["fields"].append((self._textarea[0], text[1:] if text.startswith("\n") else text))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            chosen = self._select["selected"] if self._select["selected"] is not None else self._select["first"]
            self._form["fields"].append((self._select["name"], chosen or ""))
            self._select = None


def forms_of(text: str) -> list[dict]:
    parser = _Forms()
    parser.feed(text)
    return parser.forms


def form_data(text: str, action: str) -> dict:
    """The values of the form posting to ``action`` (the first whose action ends with it)."""
    for form in forms_of(text):
        if form["action"].split("?")[0].endswith(action):
            data: dict = {}
            for name, value in form["fields"]:
                data.setdefault(name, value)
            return data
    raise AssertionError(f"no form posting to {action}")


def submit(client, page_path: str, action: str, changes: dict | None = None, drop: tuple = (), **kwargs):
    """Open ``page_path``, fill in its form for ``action`` with ``changes``, and post it."""
    got = client.get(page_path)
    assert got.status_code == 200, (page_path, got.status_code)
    data = form_data(got.get_data(as_text=True), action)
    for name in drop:
        data.pop(name, None)
    data.update(changes or {})
    return client.post(action if action.startswith("/") else page_path, data=data, **kwargs)


def click(client, page_path: str, action: str, **extra):
    """Press a one-button form (publish, discard, move, remove, roll back) found on ``page_path``; for an
    action that asks first, follow its link to the confirmation page and press the button there."""
    page = text_of(client.get(page_path))
    if f'href="{action}"' in page and not any(f["action"].split("?")[0].endswith(action) for f in forms_of(page)):
        page_path = action
    return submit(client, page_path, action, extra)


def text_of(response) -> str:
    return response.get_data(as_text=True)


def plain(response) -> str:
    """The page's text without tags, entities decoded, spaces collapsed (what a reader sees)."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text_of(response))))


def audit_events(app, prefix: str = "") -> list[tuple[str, str, str, dict]]:
    with app.app_context():
        return [(e.actor, e.action, e.target, e.detail) for e in db.session.scalars(
            select(AuditEvent).order_by(AuditEvent.id)) if e.action.startswith(prefix)]
