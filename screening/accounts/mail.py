"""Email of invitation and reset links, when the clinic configured an SMTP server (``SMTP_*``).

Only the link and the clinic's name are sent: never patient data. Without ``SMTP_HOST`` nothing is
sent and the admin copies the link from the page.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from flask import current_app

TIMEOUT_SECONDS = 15


def configured() -> bool:
    return bool(current_app.config.get("SMTP_HOST"))


def send(to: str, subject: str, body: str) -> str | None:
    """Send a plain-text message; None when sent, else a short reason to show the admin (never raises)."""
    config = current_app.config
    sender = config.get("MAIL_FROM")
    if not sender:
        return "MAIL_FROM is not set"
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message.set_content(body)
    security = str(config.get("SMTP_SECURITY") or "starttls").lower()
    host, port = config["SMTP_HOST"], int(config.get("SMTP_PORT") or (465 if security == "tls" else 587))
    try:
        if security == "tls":
            server = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS)
        with server:
            if security == "starttls":
                server.starttls(context=ssl.create_default_context())
            if config.get("SMTP_USERNAME"):
                server.login(config["SMTP_USERNAME"], config.get("SMTP_PASSWORD") or "")
            server.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        # The log names the error type only: the message holds a live link.
        current_app.logger.error("Could not send an account email (%s)", type(exc).__name__)
        return f"the mail server refused or could not be reached ({type(exc).__name__})"
    return None
