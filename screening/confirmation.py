"""Pages that catch two slips on staff pages: a confirmation page for actions that cannot be undone
(revoke, replace a link, disable...), and the page a resubmitted create form gets (once.py).

The page's own button for such an action is a link to a GET of the action's address; that GET changes
nothing and shows what exactly will happen, with the real POST button and a way back. The POST endpoint
itself is unchanged, so a client that POSTs (a test, a script) still acts in one step. Server-side and
without script, so it works under ``script-src 'self'``, with the keyboard and with script off.
"""

from __future__ import annotations

from flask import render_template
from flask_wtf import FlaskForm

from .once import AlreadySubmitted


class ConfirmForm(FlaskForm):
    """The confirmation page's button: CSRF token only (and the hidden fields the action needs)."""


def confirmation_page(question: str, consequences: str, action: str, button: str, cancel: str, *,
                      nav: str, fields: dict[str, str] | None = None, danger: bool = True, password: bool = False):
    """``question`` names the thing ("Revoke the invitation for ref 123?"), ``consequences`` what follows;
    ``action`` is the URL the button POSTs to (with ``fields`` as hidden inputs, and the user's password
    when ``password``), ``cancel`` where Cancel goes."""
    return render_template("confirm.html", nav=nav, question=question, consequences=consequences, action=action,
                           button=button, cancel=cancel, fields=fields or {}, danger=danger, password=password,
                           form=ConfirmForm())


def already_created(done: AlreadySubmitted, thing: str, list_url: str, list_name: str, *, nav: str = "invitations"):
    """The answer to a create form sent again (a reload, a second click): what the first one made, where to
    find it, and never its secret. 409: nothing was done."""
    return render_template("resubmitted.html", nav=nav, thing=thing, spent=done.spent, list_url=list_url,
                           list_name=list_name), 409
