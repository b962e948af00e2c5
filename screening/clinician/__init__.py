"""Placeholder: filled in by the clinician work."""

from flask import Flask


def init_app(app: Flask) -> None:
    pass
