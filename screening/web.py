"""Registers the blueprints and the pages every visitor shares."""

from __future__ import annotations

from flask import Flask, render_template

from . import accounts, clinician, intake, report


def init_app(app: Flask) -> None:
    @app.get("/")
    def index():
        return render_template("index.html")

    @app.get("/health")
    def health():
        return {"status": "ok"}

    for part in (intake, accounts, clinician, report):
        part.init_app(app)
