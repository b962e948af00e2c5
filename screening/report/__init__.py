"""Placeholder: filled in by the report work."""

from flask import Flask


def init_app(app: Flask) -> None:
    pass
