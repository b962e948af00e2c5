"""Rendering the summary to PDF with WeasyPrint (imported only when a PDF is made).

A submission's PDF is rendered once and stored in ``submission.pdf``. With
``REPORT_RENDER_ON_SUBMIT`` (the default) it is rendered when the submission is created -- inside
a request, *after* the response has been sent, so the patient's "Send my answers" does not wait
the second it takes. If that render never happens (the setting is off, the worker was stopped,
the render failed), ``ensure_pdf`` renders it on the first download, and ``flask render-pending-pdfs``
renders every missing one.
"""

from __future__ import annotations

import gc
import logging
from contextlib import contextmanager
from typing import Iterator

from flask import after_this_request, current_app, has_request_context, render_template
from sqlalchemy import select
from sqlalchemy.orm import undefer

from ..db import db
from ..models import Submission, utcnow
from .summary import Summary, summary_for_submission

log = logging.getLogger(__name__)
PAGE_SIZES = {"letter": "letter", "a4": "A4"}


def summary_document(summary: Summary) -> str:
    """The PDF's HTML: the shared summary template inside the print document."""
    size = PAGE_SIZES.get(str(current_app.config.get("REPORT_PAGE_SIZE", "letter")).lower(), "letter")
    return render_template("report/document.html", s=summary, page_size=size)


def render_pdf(summary: Summary, fetcher=None) -> bytes:
    """The summary as PDF bytes. Only bundled assets can be loaded (see fetcher.py)."""
    from weasyprint import HTML  # lazy: importing WeasyPrint takes most of a second

    from .fetcher import AssetFetcher

    html = summary_document(summary)
    fetcher = fetcher or AssetFetcher()
    # No base_url: a relative URL has nothing to resolve against, and every absolute one goes
    # through the fetcher, which refuses all but screening-asset: names.
    document = HTML(string=html, base_url=None, url_fetcher=fetcher)
    with cyclic_gc_paused():
        return document.write_pdf()


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """WeasyPrint's layout allocates a large tree of boxes, and Python's cyclic collector would walk the
    growing heap again and again during it: measured in bench/bench_pdf.py, a quarter to a third of a
    render's CPU. The pause lasts one document; the next collection after it frees the document."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def store_pdf(submission: Submission) -> bytes:
    """Render a submission's PDF and store it (commits)."""
    pdf = render_pdf(summary_for_submission(submission))
    submission.pdf = pdf
    submission.pdf_rendered_at = utcnow()
    db.session.commit()
    return pdf


def ensure_pdf(submission_id: int) -> tuple[Submission, bytes] | None:
    """The stored PDF of a submission, rendered now if it is missing; None if there is no such submission."""
    submission = db.session.scalar(select(Submission).options(undefer(Submission.pdf))
                                   .where(Submission.id == submission_id))
    if submission is None:
        return None
    if submission.pdf:
        return submission, submission.pdf
    return submission, store_pdf(submission)


def on_submission_created(sender, submission: Submission, **extra) -> None:
    """Render and store the PDF of a new submission: after the response when in a request, else now."""
    if not current_app.config.get("REPORT_RENDER_ON_SUBMIT", True):
        return
    if not has_request_context():
        try_store_pdf(submission)
        return
    app, submission_id = current_app._get_current_object(), submission.id

    @after_this_request
    def render_after_response(response):
        response.call_on_close(lambda: store_missing_pdf(app, submission_id))
        return response


def store_missing_pdf(app, submission_id: int) -> None:
    """Render and store one submission's PDF unless it has one (runs outside any request)."""
    with app.app_context():
        try:
            submission = db.session.get(Submission, submission_id)
            if submission is not None and not _has_pdf(submission_id):
                try_store_pdf(submission)
        finally:
            db.session.remove()


def pending_ids() -> list[int]:
    """Submissions without a stored PDF, oldest first."""
    return list(db.session.scalars(select(Submission.id).where(Submission.pdf.is_(None)).order_by(Submission.id)))


def _has_pdf(submission_id: int) -> bool:
    return db.session.scalar(select(Submission.pdf.is_not(None)).where(Submission.id == submission_id)) or False


def try_store_pdf(submission: Submission) -> bool:
    """``store_pdf``, a failure logged and never touching the submission itself (it is committed)."""
    submission_id = submission.id
    try:
        store_pdf(submission)
    except Exception as exc:  # noqa: BLE001 - keep the submission, log, move on
        db.session.rollback()
        # No patient data in logs: the submission id and the kind of error only.
        log.error("The PDF of submission %s was not rendered (%s); it will be rendered when first "
                  "downloaded.", submission_id, type(exc).__name__)
        return False
    return True
