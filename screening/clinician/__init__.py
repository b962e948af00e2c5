"""The clinician side: work list, invitations, summary (HTML and PDF), review, and demo data.

``init_app`` registers the staff blueprint (under /staff) and the ``seed-demo`` command.
"""

from __future__ import annotations

from flask import Flask

from . import models  # noqa: F401  (registers the review table before db.create_all)


def init_app(app: Flask) -> None:

    from .demo import seed_demo_command
    from .views import bp

    app.register_blueprint(bp)
    app.cli.add_command(seed_demo_command)
