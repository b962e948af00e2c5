"""What protects every request: security headers, app-wide CSRF, rate limits, and error pages
that reveal nothing.

Rate limits use Flask-Limiter. By default they are counted in the app's own database
(screening/rate_limit_store.py), so several app processes share the counts without another service;
``RATELIMIT_STORAGE_URI`` may name another store (``redis://...``, or ``memory://`` for one process).
"""

from __future__ import annotations

from flask import Flask, Response, abort, current_app, g, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from . import rate_limit_store
from .i18n import use_patient_language

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
])

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, headers_enabled=False)

# Paths whose responses hold no patient data and may be cached by the browser.
CACHEABLE_PREFIXES = ("/static/", "/report-assets/")


def init_app(app: Flask) -> None:
    app.before_request(refuse_unreadable_forms)  # before CSRFProtect reads the form
    app.url_map.converters["int"] = DatabaseInteger
    csrf.init_app(app)
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        app.config["RATELIMIT_STORAGE_URI"] = rate_limit_store.URI
    limiter.init_app(app)
    hops = int(app.config.get("PROXY_FIX_X_FOR") or 0)
    if hops:
        # Behind a TLS proxy: trust its X-Forwarded-For/-Proto/-Host (rate limits key on the real address).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.after_request(security_headers)
    app.register_error_handler(CSRFError, csrf_expired)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, server_error)


class DatabaseInteger(IntegerConverter):
    """``<int:id>`` only matches ids a database integer can hold: a longer number is a 404, not a 500."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


def refuse_unreadable_forms() -> None:
    """A form part without a usable name (none, or control characters in it) cannot come from our
    pages; refuse it with a 400 before anything reads the form."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    keys = [*request.form.keys(), *request.files.keys()]
    if any(not isinstance(key, str) or not key or any(ord(c) < 32 for c in key) for key in keys):
        abort(400)


def security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
    # same-origin: no address ever reaches another site, while CSRF's HTTPS Referer check still works.
    headers["Referrer-Policy"] = "same-origin"
    if not request.path.startswith(CACHEABLE_PREFIXES):
        headers["Cache-Control"] = "no-store"
    return response


def sign_in_account_key() -> str:
    """Rate-limit key for one account: the e-mail typed (whether or not such an account exists)."""
    return "account:" + (request.form.get("email") or "").strip().lower()[:255]


def failed(response: Response) -> bool:
    """Only failures count against a limit: a patient or clinician who gets in is never slowed down."""
    return response.status_code >= 400


def configured(key: str):
    return lambda: current_app.config[key]


ERROR_TEXT = {
    400: (_l("This request could not be handled"), _l("Please go back and try again.")),
    403: (_l("You cannot open this page"), _l("Your account does not have access to it.")),
    404: (_l("Page not found"), _l("Check the address, or open the link you were sent again.")),
    405: (_l("This page cannot be used that way"), _l("Please go back and try again.")),
    410: (_l("This page is no longer available"), _l("Please contact the clinic.")),
    413: (_l("That was too much to send at once"), _l("Please shorten what you entered and try again.")),
    429: (_l("Too many attempts"), _l("For your security, please wait a few minutes and try again.")),
}


# Staff and admins are not patients: no "open the link you were sent", no "call the clinic".
STAFF_ERROR_TEXT = {
    403: ("You cannot open this page", "Your account does not have access to it. An admin can change your role."),
    404: ("Page not found", "Check the address, or start again from the work list."),
}
STAFF_PREFIXES = ("/staff", "/admin")
API_PREFIX = "/api/"


def error_page(status: int, title=None, text=None):
    """The error page: JSON under /api/, English for staff, in the patient's language for everyone else."""
    if request.path.startswith(API_PREFIX):
        return jsonify(error=str(title or ERROR_TEXT.get(status, ("error",))[0]).lower()), status
    staff = request.path.startswith(STAFF_PREFIXES)
    if not staff and request.blueprint != "accounts" and "patient_language" not in g:
        use_patient_language(current_app.config)
    default_title, default_text = (staff and STAFF_ERROR_TEXT.get(status)) or ERROR_TEXT.get(
        status, (_l("Something went wrong"), _l("Please try again in a few minutes.")))
    return render_template("error.html", status=status, title=title or default_title,
                           text=text or default_text, staff=staff), status


def csrf_expired(exc: CSRFError):
    return error_page(400, _l("This page had expired"),
                      _l("Nothing was changed. Please go back, reload the page and try again."))


def http_error(exc: HTTPException):
    if exc.code is None or exc.code < 400:
        return exc
    return error_page(exc.code)


def server_error(exc: Exception):
    # The log names the error type and the route only: never the request's data.
    current_app.logger.error("Unhandled %s on %s %s", type(exc).__name__, request.method,
                             request.url_rule.rule if request.url_rule else "(no route)")
    return error_page(500)
