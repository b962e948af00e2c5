"""Staff pages: the work list, invitations, the summary (HTML and PDF) and review.

Every route here needs a signed-in clinician or admin (checked for the whole blueprint, and again
by each view's decorator). Patients' names never appear in URLs: pages are addressed by
submission or intake id, and the intake link token is shown once, in the page body.
"""

from __future__ import annotations


from flask import (Blueprint, abort, current_app, flash, make_response, redirect, render_template, request,
                   url_for)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from .. import audit
from ..accounts.auth import STAFF_ROLES, staff_required
from ..confirmation import already_created, confirmation_page
from ..content import compile_question_set, current_question_set_version
from ..db import db
from ..draft_flags import draft_messages, open_urgent_drafts, open_with_urgent_draft
from ..invitations import NoPublishedContent, create_invitation, link_expired, replace_link, revoke
from ..models import INTAKE_STATES, OPEN_STATES, Intake, Submission
from ..once import AlreadySubmitted, spend
from ..report.summary import format_time, humanize, score_name, summary_for_submission
from .forms import ActionForm, InvitationForm, ReviewForm
from .models import SubmissionReview, record_review
from .worklist import RANK_NAMES, REVIEW_STATES, Cursor, worklist_page

bp = Blueprint("clinician", __name__, url_prefix="/staff")
INVITATIONS_PAGE = 50
STATE_LABELS = {"not_started": "Not started", "in_progress": "In progress", "submitted": "Submitted",
                "revoked": "Revoked"}
URGENT_DRAFT = "urgent_draft"  # the invitations filter: open intakes whose saved answers raise an urgent flag


@bp.before_request
def require_staff():
    """Nothing under /staff is reachable without a clinician or admin session."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if current_user.role not in STAFF_ROLES:
        abort(403)
    return None


@bp.after_request
def no_store(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    return response


@bp.app_template_filter("staff_time")
def staff_time(moment):
    return format_time(moment, current_app.config["CLINIC_TIMEZONE"]) or ""


def _local_time(moment) -> str:
    """'2026-03-15 14:02' in the clinic's time zone (the zone is named once, in the column header)."""
    text = format_time(moment, current_app.config["CLINIC_TIMEZONE"]) or ""
    return text.split(" (")[0]


@bp.app_template_global("draft_messages")
def open_draft_messages(intake: Intake) -> list[str]:
    """The urgent flags an open intake's unsent answers raise (none once it is submitted or revoked)."""
    return draft_messages(intake) if intake.state in OPEN_STATES else []


@bp.app_template_global("link_expired")
def open_link_expired(intake: Intake) -> bool:
    return intake.state in OPEN_STATES and link_expired(intake)


@bp.app_template_global("state_label")
def state_label(state: str) -> str:
    return STATE_LABELS.get(state, state)


# -- work list ---------------------------------------------------------------------------------

def _key_score_columns() -> list[tuple[str, str]]:
    ids = current_app.config["WORKLIST_SCORES"]
    row = current_question_set_version(current_app.config["DEFAULT_QUESTION_SET"])
    qs = compile_question_set(row) if row is not None else None
    return [(sid, score_name(qs, sid) if qs is not None and sid in qs.scores else sid) for sid in ids]


def key_score_text(result: dict, score_id: str) -> str:
    stored = (result or {}).get("scores", {}).get(score_id)
    if not stored:
        return "—"
    if not stored.get("complete"):
        return "incomplete"
    value = stored.get("value")
    text = humanize(value) if isinstance(value, str) else str(value)
    band = stored.get("band")
    return f"{text} · {humanize(band)}" if band else text


@bp.get("/")
@staff_required
def worklist():
    review_state = request.args.get("review", "to_review")
    if review_state not in REVIEW_STATES:
        review_state = "to_review"
    severity_name = request.args.get("severity", "all")
    severity = RANK_NAMES.index(severity_name) if severity_name in RANK_NAMES else None
    if severity is None:
        severity_name = "all"
    page = worklist_page(review_state, severity, after=Cursor.decode(request.args.get("after")),
                         before=Cursor.decode(request.args.get("before")))
    filters = {"review": review_state, "severity": severity_name}
    columns = _key_score_columns()
    rows = [{
        "submission": s,
        "intake": s.intake,
        "review": page.reviews.get(s.id),
        "severity": RANK_NAMES[s.severity_rank] if 0 <= s.severity_rank < len(RANK_NAMES) else "none",
        "scores": [key_score_text(s.result, sid) for sid, _ in columns],
        "counts": [("exclude", s.exclude_count), ("urgent", s.urgent_count), ("review", s.review_count),
                   ("info", s.info_count)],
        "submitted": _local_time(s.submitted_at),
    } for s in page.rows]
    return render_template(
        "clinician/worklist.html", nav="worklist", zip=zip, rows=rows, columns=columns, filters=filters,
        urgent_drafts=open_urgent_drafts(),
        review_states=REVIEW_STATES, severities=RANK_NAMES,
        next_url=url_for(".worklist", **filters, after=page.next_cursor.encode()) if page.next_cursor else None,
        prev_url=url_for(".worklist", **filters, before=page.prev_cursor.encode()) if page.prev_cursor else None,
        first_url=url_for(".worklist", **filters) if page.prev_cursor else None)


# -- invitations -------------------------------------------------------------------------------

def intake_link(token: str) -> str:
    """The patient's link for an intake token (the intake blueprint's entry page)."""
    endpoint = current_app.config.get("INTAKE_LINK_ENDPOINT")
    if not endpoint:
        candidates = [rule for rule in current_app.url_map.iter_rules()
                      if rule.endpoint.startswith("intake.") and rule.arguments == {"token"}
                      and "GET" in (rule.methods or ())]
        candidates.sort(key=lambda rule: len(rule.rule))
        endpoint = candidates[0].endpoint if candidates else None
    if endpoint:
        path = url_for(endpoint, token=token)
    else:  # the patient flow is not installed: the path it is expected to use
        path = f"/intake/{token}"
    return public_base_url().rstrip("/") + path


def public_base_url() -> str:
    """BASE_URL when it is set for this site; otherwise the address the clinician is using."""
    from ..config import Defaults

    configured = current_app.config.get("BASE_URL")
    if configured and configured != getattr(Defaults, "BASE_URL", None):
        return configured
    return request.host_url


def _link_page(intake: Intake, token: str, replaced: bool = False):
    response = make_response(render_template("clinician/invitation_link.html", nav="invitations", intake=intake,
                                             link=intake_link(token), replaced=replaced))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/invitations")
@staff_required
def invitations():
    state = request.args.get("state", "all")
    if state not in INTAKE_STATES and state not in ("open", URGENT_DRAFT):
        state = "all"
    query = select(Intake).options(joinedload(Intake.submission)).order_by(Intake.id.desc())
    if state == "open":
        query = query.where(Intake.state.in_(OPEN_STATES))
    elif state == URGENT_DRAFT:
        query = query.where(open_with_urgent_draft())
    elif state in INTAKE_STATES:
        query = query.where(Intake.state == state)
    after = request.args.get("after", type=int)
    if after is not None and not 0 < after < 2**63:  # not an id the database can hold: the first page
        after = None
    if after:
        query = query.where(Intake.id < after)
    intakes = list(db.session.scalars(query.limit(INVITATIONS_PAGE + 1)).unique())
    more = len(intakes) > INVITATIONS_PAGE
    intakes = intakes[:INVITATIONS_PAGE]
    return render_template("clinician/invitations.html", nav="invitations", intakes=intakes, state=state,
                           states=("all", "open", URGENT_DRAFT) + INTAKE_STATES, action_form=ActionForm(),
                           next_url=url_for(".invitations", state=state, after=intakes[-1].id) if more else None,
                           first_url=url_for(".invitations", state=state) if after else None)


@bp.route("/invitations/new", methods=["GET", "POST"])
@staff_required
def new_invitation():
    form = InvitationForm()
    if form.validate_on_submit():
        try:
            spent = spend(form.nonce.data, "invitation")
        except AlreadySubmitted as done:
            return already_created(done, "invitation", url_for(".invitations"), "Invitations")
        try:
            intake, token = create_invitation(form.patient_name.data, form.patient_dob.data, form.clinic_ref.data,
                                              created_by=current_user.id)
        except NoPublishedContent:
            db.session.rollback()
            flash("No question set is published yet, so no invitation can be made. Ask an admin.", "error")
            return redirect(url_for(".invitations"))
        audit.record(current_user.actor, "invitation.created", f"intake:{intake.id}")
        if spent is not None:
            spent.target = f"intake:{intake.id}"
        db.session.commit()
        return _link_page(intake, token)
    status = 400 if request.method == "POST" else 200
    return render_template("clinician/invitation_new.html", nav="invitations", form=form), status


def _intake_or_404(intake_id: int) -> Intake:
    intake = db.session.get(Intake, intake_id)
    if intake is None:
        abort(404)
    return intake


def _who(intake: Intake) -> str:
    """How a confirmation page names an invitation: its number and the patient's name or reference."""
    named = intake.patient_name or (f"ref {intake.clinic_ref}" if intake.clinic_ref else "an unnamed patient")
    return f"no. {intake.id} ({named})"


CANNOT_REVOKE = "Invitation {id} is {state} and cannot be revoked."
NO_LINK_TO_REPLACE = "Invitation {id} is {state}; it has no link to replace."


def _open_intake_or_back(intake_id: int, refused: str) -> Intake | None:
    intake = _intake_or_404(intake_id)
    if intake.state in OPEN_STATES:
        return intake
    flash(refused.format(id=intake.id, state=state_label(intake.state).lower()), "error")
    return None


@bp.get("/invitations/<int:intake_id>/revoke")
@staff_required
def confirm_revoke(intake_id: int):
    intake = _open_intake_or_back(intake_id, CANNOT_REVOKE)
    if intake is None:
        return redirect(url_for(".invitations"))
    return confirmation_page(f"Revoke invitation {_who(intake)}?",
                             "Its link will stop working at once and cannot be made to work again; "
                             "the answers saved so far are kept.",
                             url_for(".revoke_invitation", intake_id=intake.id), "Revoke the invitation",
                             url_for(".invitations"), nav="invitations")


@bp.post("/invitations/<int:intake_id>/revoke")
@staff_required
def revoke_invitation(intake_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    intake = _intake_or_404(intake_id)
    if intake.state in OPEN_STATES:
        revoke(intake)
        audit.record(current_user.actor, "invitation.revoked", f"intake:{intake.id}")
        db.session.commit()
        flash(f"Invitation {intake.id} is revoked: its link no longer opens the questionnaire.", "info")
    else:
        flash(CANNOT_REVOKE.format(id=intake.id, state=state_label(intake.state).lower()), "error")
    return redirect(url_for(".invitations"))


@bp.get("/invitations/<int:intake_id>/new-link")
@staff_required
def confirm_new_link(intake_id: int):
    intake = _open_intake_or_back(intake_id, NO_LINK_TO_REPLACE)
    if intake is None:
        return redirect(url_for(".invitations"))
    days = current_app.config.get("INTAKE_LINK_DAYS")
    lasts = f", which works for {days} days" if days else ""
    return confirmation_page(f"Replace the link of invitation {_who(intake)}?",
                             f"The link the patient has now will stop working; you get a new one to send{lasts}. "
                             "The answers saved so far are kept.",
                             url_for(".new_link", intake_id=intake.id), "Make a new link",
                             url_for(".invitations"), nav="invitations", danger=False)


@bp.post("/invitations/<int:intake_id>/new-link")
@staff_required
def new_link(intake_id: int):
    """Replace an open invitation's link (the old link stops working); the answers so far are kept."""
    if not ActionForm().validate_on_submit():
        abort(400)
    intake = _intake_or_404(intake_id)
    if intake.state not in OPEN_STATES:
        flash(NO_LINK_TO_REPLACE.format(id=intake.id, state=state_label(intake.state).lower()), "error")
        return redirect(url_for(".invitations"))
    token = replace_link(intake)
    audit.record(current_user.actor, "invitation.link_replaced", f"intake:{intake.id}")
    db.session.commit()
    return _link_page(intake, token, replaced=True)


# -- summary, PDF, review ----------------------------------------------------------------------

def _submission_or_404(submission_id: int) -> Submission:
    submission = db.session.scalar(select(Submission).options(joinedload(Submission.intake))
                                   .where(Submission.id == submission_id))
    if submission is None:
        abort(404)
    return submission


@bp.get("/submissions/<int:submission_id>")
@staff_required
def summary(submission_id: int):
    submission = _submission_or_404(submission_id)
    report = summary_for_submission(submission)
    review = db.session.get(SubmissionReview, submission.id)
    audit.record(current_user.actor, "submission.summary_viewed", f"submission:{submission.id}")
    db.session.commit()
    return render_template("clinician/summary.html", nav="worklist", s=report, submission=submission,
                           review=review, review_form=ReviewForm())


@bp.get("/submissions/<int:submission_id>/summary.pdf")
@staff_required
def summary_pdf(submission_id: int):
    from ..report.pdf import ensure_pdf

    try:
        found = ensure_pdf(submission_id)
    except Exception as exc:  # noqa: BLE001 - say so plainly; the HTML summary still works
        db.session.rollback()
        current_app.logger.error("The PDF of submission %s could not be rendered (%s).", submission_id,
                                 type(exc).__name__)
        flash("The PDF could not be made just now; the summary below has the same content. "
              "Please tell your administrator.", "error")
        return redirect(url_for(".summary", submission_id=submission_id))
    if found is None:
        abort(404)
    submission, pdf = found
    audit.record(current_user.actor, "submission.pdf_viewed", f"submission:{submission.id}")
    db.session.commit()
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    disposition = "attachment" if request.args.get("download") else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="screening-summary-{submission.id}.pdf"'
    return response


@bp.post("/submissions/<int:submission_id>/review")
@staff_required
def review(submission_id: int):
    submission = _submission_or_404(submission_id)
    form = ReviewForm()
    if not form.validate_on_submit():
        flash("The review was not saved: " + ("the form had expired, please try again." if form.csrf_token.errors
                                              else "; ".join(form.note.errors)), "error")
        return redirect(url_for(".summary", submission_id=submission.id))
    existing = db.session.get(SubmissionReview, submission.id)
    if existing is not None:
        flash(f"Submission {submission.id} was already reviewed by {existing.reviewer_email}.", "info")
        return redirect(url_for(".summary", submission_id=submission.id))
    note = (form.note.data or "").strip() or None
    record_review(submission, current_user, note)
    audit.record(current_user.actor, "submission.reviewed", f"submission:{submission.id}", with_note=note is not None)
    try:
        db.session.commit()
    except IntegrityError:  # another clinician reviewed it at the same moment
        db.session.rollback()
        flash(f"Submission {submission.id} was already reviewed by someone else.", "info")
        return redirect(url_for(".summary", submission_id=submission.id))
    flash(f"Submission {submission.id} is marked reviewed.", "info")
    return redirect(url_for(".worklist"))
