"""Placeholder: filled in by the intake work."""

from flask import Flask


def init_app(app: Flask) -> None:
    pass
