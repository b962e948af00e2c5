"""Configuration: defaults here, then ``instance/config.py``, then ``SCREENING_*`` environment variables.

Environment values are parsed as JSON where they can be (``SCREENING_SESSION_IDLE_MINUTES=15``),
otherwise taken as strings. ``SCREENING_DATABASE_URL`` sets the database.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask


class Defaults:
    # The clinic
    CLINIC_NAME = "Your clinic"
    CLINIC_PHONE = ""
    CLINIC_TIMEZONE = "UTC"  # an IANA name, e.g. "America/New_York": times shown to staff
    BASE_URL = "http://127.0.0.1:5000"  # the address patients and staff use; links printed by the CLI
    CLINIC_LANGUAGE = "en"  # the language of the clinician's summary and PDF (question texts and answers)
    # Patients
    DEFAULT_QUESTION_SET = "ketamine-intake"
    PUBLIC_START = False  # a public "start an intake" page at /start
    PATIENT_LANGUAGES = ["en", "es"]  # the languages a patient can choose, first one by default
    INTAKE_LINK_DAYS = 30  # a patient's link opens the questionnaire for this many days (None: no limit)
    INTAKE_IDLE_MINUTES = 60  # a patient's session ends after this long without activity
    INTAKE_SUPPORT_TRIGGERS = None  # None: the default crisis-page triggers (screening/intake/flow.py)
    INTAKE_LINK_ENDPOINT = None  # None: the intake blueprint's link page
    # Staff
    SESSION_IDLE_MINUTES = 30
    SESSION_MAX_HOURS = 12  # absolute limit of one sign-in
    PASSWORD_HASH_METHOD = "scrypt"
    WORKLIST_SCORES = ["phq9", "gad7", "asq"]  # key scores shown in each work-list row
    REQUIRE_TWO_FACTOR = False  # True: every staff member must use an authenticator app (enrolled after the password)
    TWO_FACTOR_MAX_FAILURES = 5  # wrong codes per account before codes are refused for TWO_FACTOR_LOCK_MINUTES
    TWO_FACTOR_LOCK_MINUTES = 15
    INVITE_LINK_HOURS = 72  # an admin's invitation link for a new account
    RESET_LINK_HOURS = 24  # an admin's password reset link
    # Email for invitation and reset links (optional): with SMTP_HOST unset the admin copies the link.
    SMTP_HOST = None
    SMTP_PORT = 587
    SMTP_SECURITY = "starttls"  # "starttls", "tls" (implicit, usually port 465) or "none" (a local relay only)
    SMTP_USERNAME = None  # with SMTP_PASSWORD: sign in to the server
    SMTP_PASSWORD = None
    MAIL_FROM = None  # the sender address, e.g. "Clinic <no-reply@example-clinic.org>"; required with SMTP_HOST
    # Admins
    ADMIN_UPLOAD_MAX_BYTES = 512 * 1024  # an imported YAML file or an answers file
    ADMIN_TRY_SUBMISSIONS = 25  # past submissions offered by "Try a rule set"
    # Reports
    REPORT_RENDER_ON_SUBMIT = True  # after the patient's response is sent; else on first download
    REPORT_PAGE_SIZE = "letter"  # or "A4"
    # Security
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = None  # None: secure whenever BASE_URL is https
    WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the session: a slow patient never loses a page
    # Every message a patient sees is the app's own, translated in its catalogs; Flask-WTF's own i18n
    # would load WTForms' catalog on every request for messages never shown (~0.7 ms of a ~5 ms page).
    WTF_I18N_ENABLED = False
    PROXY_FIX_X_FOR = 0  # behind a TLS proxy: the number of proxies in front (usually 1)
    RATELIMIT_STORAGE_URI = None  # None: the app's database, shared by all its processes; or redis://host:6379
    # A failing rate-limit store never fails a page: limits are then counted in the process's memory.
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    SIGN_IN_LIMIT_PER_ACCOUNT = "5 per 15 minutes"  # failed sign-ins
    SIGN_IN_LIMIT_PER_ADDRESS = "20 per 15 minutes"
    SECOND_FACTOR_LIMIT_PER_ADDRESS = "20 per 15 minutes"  # wrong two-factor or recovery codes
    PATIENT_LINK_LIMIT_PER_ADDRESS = "20 per 10 minutes"  # unknown or used links
    PUBLIC_START_LIMIT_PER_ADDRESS = "10 per hour"
    # The EHR integration API (/api/v1)
    API_LIMIT_PER_TOKEN = "120 per minute"
    API_FAILED_AUTH_LIMIT_PER_ADDRESS = "20 per 10 minutes"  # requests refused with 401


def instance_path_for(config: dict | None) -> Path:
    explicit = (config or {}).get("INSTANCE_PATH") or os.environ.get("SCREENING_INSTANCE_PATH")
    return Path(explicit).resolve() if explicit else Path.cwd() / "instance"


def load_config(app: Flask, overrides: dict | None) -> None:
    app.config.from_object(Defaults)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("SCREENING")
    if overrides:
        app.config.update(overrides)
    if app.config.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    app.config.setdefault("SQLALCHEMY_DATABASE_URI",
                          f"sqlite:///{Path(app.instance_path) / 'screening.sqlite3'}")
    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = str(app.config["BASE_URL"]).startswith("https://")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))


def _instance_secret(instance: Path) -> str:
    """A random key kept in ``instance/secret_key``, created on first start with owner-only access."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
