"""Registers the blueprints and the pages every visitor shares."""

from __future__ import annotations

from flask import Flask, render_template


def init_app(app: Flask) -> None:
    @app.get("/")
    def index():
        return render_template("index.html")

    @app.get("/health")
    def health():
        return {"status": "ok"}
