"""Registers the blueprints and the pages every visitor shares."""

from __future__ import annotations

from flask import Flask, render_template
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from . import accounts, admin, api, clinician, intake, report
from .db import db


def init_app(app: Flask) -> None:
    @app.get("/")
    def index():
        return render_template("index.html")

    @app.get("/health")
    def health():
        """For load balancers and monitoring: 200 when the database answers, 503 when it does not."""
        try:
            db.session.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            app.logger.error("Health check: the database did not answer (%s)", type(exc).__name__)
            return {"status": "unavailable", "database": "unreachable"}, 503
        return {"status": "ok", "database": "ok"}

    for part in (intake, accounts, clinician, report, admin, api):
        part.init_app(app)
