"""The admin side: question sets and rule sets edited without YAML (or as YAML), drafts, preview,
publish, version history and diffs, rollback, import/export, and trying a rule set on past answers.

Plain-Python groundwork lives in ``screening.publishing``, ``screening.editing`` and ``screening.diff``;
this package is the web UI on top of it. Only admin users reach any of it.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from .views import bp

    app.register_blueprint(bp)
