"""The patient-facing intake: link entry, one section per page, crisis support, review, submit.

``init_app`` registers the blueprint (views.py) and the ``create-invitation`` command (cli.py).
"""

from __future__ import annotations

import logging
import re

from flask import Flask

# Paths that carry a one-time token: the patient's link, and the staff's invitation and reset links. (Not the
# first-admin /setup/ link: the app logs it on purpose, once, for the operator.)
TOKEN_IN_PATH = re.compile(r"/(i|invite|reset-password)/[^\s/?\"%]+")  # not "%": a format placeholder


def _redact(text: str) -> str:
    return TOKEN_IN_PATH.sub(r"/\1/[token]", text)


class RedactLinkTokens(logging.Filter):
    """Keeps link tokens out of request logs: ``GET /i/<token>`` is logged as ``/i/[token]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):  # gunicorn's access log passes its atoms as a mapping
            for key, value in list(record.args.items()):
                if isinstance(value, str):
                    record.args[key] = _redact(value)
        if isinstance(record.msg, str):
            record.msg = _redact(record.msg)
        return True


def init_app(app: Flask) -> None:
    from . import cli, views

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.create_invitation_command)
    # Request logs, and Flask's own "Exception on /i/<token>" line, name the path.
    for logger in (logging.getLogger("werkzeug"), logging.getLogger("gunicorn.access"),
                   logging.getLogger("gunicorn.error"), app.logger):
        if not any(isinstance(f, RedactLinkTokens) for f in logger.filters):
            logger.addFilter(RedactLinkTokens())
