"""The JSON API for EHR integrations (``/api/v1``): token-authenticated, no session cookie, no CSRF.

Endpoints and their shapes are described by ``openapi.yaml`` (served at ``/api/v1/openapi.json``).
"""

from __future__ import annotations

from flask import Flask

from . import models  # noqa: F401  (registers the table)


def init_app(app: Flask) -> None:
    from ..security import csrf
    from .views import bp

    csrf.exempt(bp)
    app.register_blueprint(bp)
