"""Interface languages: Flask-Babel for the patient's pages; staff pages stay in English.

The patient's language is worked out per request by the intake blueprint (``g.patient_language``);
every other page is rendered in English. Catalogs live in ``screening/translations/`` (see README,
"Languages", for updating them).
"""

from __future__ import annotations

from flask import Flask, g, request
from flask_babel import Babel

from .questions.translations import LANGUAGES, SOURCE_LANGUAGE, language_name


def patient_languages(app_config) -> list[str]:
    """The languages a patient may choose, in the order offered (``PATIENT_LANGUAGES``)."""
    offered = [code for code in app_config.get("PATIENT_LANGUAGES") or [] if code in LANGUAGES]
    return offered or [SOURCE_LANGUAGE]


def select_locale() -> str:
    if request and request.blueprint == "intake":
        return g.get("patient_language") or SOURCE_LANGUAGE
    return SOURCE_LANGUAGE


def init_app(app: Flask) -> None:
    for key in ("CLINIC_LANGUAGE",):
        if app.config.get(key) not in LANGUAGES:
            raise ValueError(f"{key} must be one of: {', '.join(LANGUAGES)}")
    Babel(app, locale_selector=select_locale)

    @app.context_processor
    def page_language():
        return {"page_language": select_locale(), "language_name": language_name}
