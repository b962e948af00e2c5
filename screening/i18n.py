"""Interface languages: Flask-Babel for the patient's pages; staff pages stay in English.

The patient's language is worked out per request by the intake blueprint (``g.patient_language``; the
admin's preview of patient pages sets it too); every other page is rendered in English. Catalogs live in ``screening/translations/`` (see README,
"Languages", for updating them).
"""

from __future__ import annotations

from flask import Flask, g, has_request_context, request, session
from flask_babel import Babel, refresh

from .questions.translations import LANGUAGES, SOURCE_LANGUAGE, language_name


def patient_languages(app_config) -> list[str]:
    """The languages a patient may choose, in the order offered (``PATIENT_LANGUAGES``, checked at start)."""
    return list(app_config["PATIENT_LANGUAGES"])


def language_of_patient_request(app_config) -> str:
    """A patient's language for this request: the one chosen in this session, else the browser's, else the
    first offered."""
    offered = patient_languages(app_config)
    chosen = session.get("intake_language")
    return chosen if chosen in offered else (request.accept_languages.best_match(offered) or offered[0])


def use_patient_language(app_config) -> None:
    """For a response made before (or without) the intake blueprint's own choice: an error page, a refused
    security token."""
    g.patient_language = language_of_patient_request(app_config)
    refresh()


def select_locale() -> str:
    """The patient's pages (and the admin's preview of them) set ``g.patient_language``; all else is English."""
    return (g.get("patient_language") if has_request_context() else None) or SOURCE_LANGUAGE


def init_app(app: Flask) -> None:
    known = ", ".join(LANGUAGES)
    if app.config.get("CLINIC_LANGUAGE") not in LANGUAGES:
        raise ValueError(f"CLINIC_LANGUAGE must be one of: {known}")
    unknown = [code for code in app.config.get("PATIENT_LANGUAGES") or [] if code not in LANGUAGES]
    if unknown or not app.config.get("PATIENT_LANGUAGES"):
        raise ValueError(f"PATIENT_LANGUAGES must list one or more of: {known}")
    Babel(app, locale_selector=select_locale)

    @app.context_processor
    def page_language():
        return {"page_language": select_locale(), "language_name": language_name}
