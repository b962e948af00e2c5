"""Confirmation pages for staff actions that cannot be undone (revoke, replace a link, disable...).

The page's own button for such an action is a link to a GET of the action's address; that GET changes
nothing and shows what exactly will happen, with the real POST button and a way back. The POST endpoint
itself is unchanged, so a client that POSTs (a test, a script) still acts in one step. Server-side and
without script, so it works under ``script-src 'self'``, with the keyboard and with script off.
"""

from __future__ import annotations

from flask import render_template
from flask_wtf import FlaskForm


class ConfirmForm(FlaskForm):
    """The confirmation page's button: CSRF token only (and the hidden fields the action needs)."""


def confirmation_page(question: str, consequences: str, action: str, button: str, cancel: str, *,
                      nav: str, fields: dict[str, str] | None = None, danger: bool = True):
    """``question`` names the thing ("Revoke the invitation for ref 123?"), ``consequences`` what follows;
    ``action`` is the URL the button POSTs to (with ``fields`` as hidden inputs), ``cancel`` where Cancel goes."""
    return render_template("confirm.html", nav=nav, question=question, consequences=consequences, action=action,
                           button=button, cancel=cancel, fields=fields or {}, danger=danger, form=ConfirmForm())
