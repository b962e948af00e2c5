"""The clinician summary as HTML and PDF, from one template; WeasyPrint with a locked-down fetcher.

``init_app`` connects the renderer to ``submission_created`` (the PDF is made once, after the
submission's response), serves the report stylesheet to the clinician page, and adds ``render-pdf``
and ``render-pending-pdfs``.
WeasyPrint itself is imported only when a PDF is rendered.
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, send_file

from ..submissions import submission_created
from .bundle import asset_file

bp = Blueprint("report", __name__, url_prefix="/report-assets")


@bp.get("/<name>")
def asset(name: str):
    """The bundled stylesheet, for the HTML summary (it is the same file the PDF uses)."""
    path = asset_file(name)
    if path is None or path.suffix != ".css":
        abort(404)
    return send_file(path, mimetype="text/css", max_age=3600)


def init_app(app: Flask) -> None:

    from .cli import render_pdf_command, render_pending_pdfs_command
    from .pdf import on_submission_created

    app.register_blueprint(bp)
    app.cli.add_command(render_pdf_command)
    app.cli.add_command(render_pending_pdfs_command)
    # A module-level function: connecting it again for another app is a no-op.
    submission_created.connect(on_submission_created)
