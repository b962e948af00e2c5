"""The patient's pages: open a link, one section per page, crisis support, review, submit, thank you.

The link ``/i/<token>`` is the only URL with the token. It puts the intake's id in the session and
redirects to token-free URLs; every other page shows only the intake in the session. URLs never hold
answers or anything about the patient, and nothing here logs answers.
"""

from __future__ import annotations

import datetime
import re
import time
from typing import Any

from flask import (Blueprint, Response, current_app, g, jsonify, redirect, render_template, request, session,
                   url_for)
from flask_babel import format_date, refresh
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import select

from .. import audit
from ..security import configured, limiter
from ..content import question_set_of_version
from ..db import db
from ..draft_flags import note_draft_flags
from ..i18n import language_of_patient_request, patient_languages, use_patient_language
from ..invitations import NoPublishedContent, create_invitation, find_intake, link_expired
from ..models import Intake, utcnow
from ..questions.model import Item, QuestionSet, Section, encode_answer
from ..rules.conditions import format_value
from ..submissions import submit_intake
from .flow import DEFAULT_SUPPORT_TRIGGERS, Journey, Problem, compile_triggers, live_triggers, support_level
from .forms import INVALID, MISSING, PlainForm, SectionForm, make_form, none_label, required_message, to_form_value

bp = Blueprint("intake", __name__)

OPEN_STATES = ("not_started", "in_progress")
# The last activity is written to the session cookie at most once a minute: an unchanged session is not
# signed and sent again on every page (the idle limit is counted in tens of minutes).
SEEN_RESOLUTION_S = 60
SESSION_KEYS = ("intake_id", "intake_seen", "intake_support", "intake_validate", "intake_link")

NOTICES = {
    "csrf": _l("For your security we could not save this page yet. Please check your answers and press Next "
               "again."),
    "csrf_review": _l("For your security we could not send your answers yet. Please press \u201cSend my "
                      "answers\u201d again."),
    "csrf_start": _l("For your security we could not start yet. Please press the button again."),
    "session_ended": _l("Your session has ended, so this page is not saved yet. What you typed is still here. "
                        "To save it, open the link your clinic sent you again (in a new tab or window), then "
                        "come back to this page and press Next."),
    "other_intake": _l("This page belongs to a different questionnaire from the one that is open now, so it was "
                       "not saved. What you typed is still here. To save it, open the link your clinic sent you "
                       "for this questionnaire, then come back to this page and press Next."),
}
LANGUAGE_ACTION = "language:"  # the section form's language switch: "_action" = "language:es"


# -- helpers -----------------------------------------------------------------------------------------
def today() -> datetime.date:
    """The date answers are checked on; the same clock ``submit_intake`` evaluates with."""
    return utcnow().date()


def actor(intake: Intake) -> str:
    return f"patient:intake:{intake.id}"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="screening.intake.page")


def sign_ref(intake: Intake) -> str:
    return _serializer().dumps(intake.id)


def read_ref(value: str | None) -> int | None:
    """The intake a page was shown for. It only ever identifies; it never lets anyone in or shows data."""
    if not value or len(value) > 200:
        return None
    try:
        intake_id = _serializer().loads(value)
    except BadData:
        return None
    return intake_id if isinstance(intake_id, int) else None


def forget_intake() -> None:
    for key in SESSION_KEYS:
        session.pop(key, None)


def session_intake(for_update: bool = False) -> Intake | None:
    """The intake in this session, or None (never opened here, idle too long, or gone).

    ``g.session_state`` says which: "none" or "ended".
    """
    intake_id = session.get("intake_id")
    if not isinstance(intake_id, int):
        g.session_state = "none"
        return None
    idle = float(current_app.config["INTAKE_IDLE_MINUTES"]) * 60
    now = int(time.time())
    seen = int(session.get("intake_seen") or 0)
    if now - seen > idle:
        forget_intake()
        g.session_state = "ended"
        return None
    statement = select(Intake).where(Intake.id == intake_id)
    if for_update:
        statement = statement.with_for_update()
    intake = db.session.scalar(statement)
    if intake is None:
        forget_intake()
        g.session_state = "ended"
        return None
    if now - seen >= SEEN_RESOLUTION_S:
        session["intake_seen"] = now
    return intake


def pinned_set(intake: Intake) -> QuestionSet:
    """The intake's pinned question set in the patient's language, without loading its version row (or its
    YAML text) per request."""
    return question_set_of_version(intake.question_set_version_id).in_language(g.get("patient_language") or "en")


# -- language ---------------------------------------------------------------------------------------
@bp.before_request
def patient_language():
    """The patient's language for this request: chosen on a page, else the browser's, else the first offered.

    ``?lang=xx`` (the language links on pages without answers to keep) records the choice and comes back to
    the same page without it.
    """
    offered = patient_languages(current_app.config)
    wanted = request.args.get("lang")
    if wanted is not None and request.method == "GET":
        if wanted in offered:
            set_language(wanted)
            db.session.commit()
        rest = {k: v for k, v in request.args.items() if k != "lang"}
        return redirect(url_for(request.endpoint, **(request.view_args or {}), **rest), 303)
    g.patient_language = language_of_patient_request(current_app.config)


def set_language(code: str, intake: Intake | None = None) -> None:
    """Use ``code`` from now on in this session, and record it on the open intake (resume and PDF use it)."""
    session["intake_language"] = code
    g.patient_language = code
    refresh()
    if intake is None and isinstance(session.get("intake_id"), int):
        intake = db.session.get(Intake, session["intake_id"])
    if intake is not None and intake.state in OPEN_STATES and intake.language != code:
        intake.language = code


@bp.context_processor
def language_choices():
    return {"language_choices": patient_languages(current_app.config)}


def problem_text(qs: QuestionSet, problem: Problem) -> str:
    if problem.kind == "required":
        return required_message(qs.items[problem.item_id])
    return problem.message


def journey_for(intake: Intake, answers: dict | None = None) -> Journey:
    return Journey(pinned_set(intake), intake.answers if answers is None else answers, today(),
                   intake.completed_sections or ())


def find_section(qs: QuestionSet, section_id: str) -> Section | None:
    return next((s for s in qs.sections if s.id == section_id), None)


def section_url(section: Section | None, **args: Any) -> str:
    if section is None:
        return url_for(".review")
    return url_for(".section", section_id=section.id, **args)


def message(kind: str, status: int = 200) -> Response:
    return Response(render_template("intake/message.html", kind=kind), status)


def not_open(intake: Intake | None) -> Response | None:
    """The response for a session without an open intake, or None if the intake is open."""
    if intake is None:
        return message("session_ended" if g.get("session_state") == "ended" else "no_session")
    if intake.state == "submitted":
        return redirect(url_for(".done"), 303)
    if intake.state not in OPEN_STATES:
        forget_intake()
        return message("revoked", 410)
    return None


def support_triggers(qs: QuestionSet):
    return compile_triggers(qs, current_app.config.get("INTAKE_SUPPORT_TRIGGERS") or DEFAULT_SUPPORT_TRIGGERS)


@bp.app_template_filter("tel_href")
def tel(number: str) -> str:
    """A phone number as dialled from a ``tel:`` link."""
    return re.sub(r"[^\d+]", "", number or "")


@bp.app_template_global("intake_date_max")
def date_max(item: Item) -> str:
    return today().isoformat()


@bp.app_template_global("intake_date_min")
def date_min(item: Item) -> str:
    day, years = today(), item.max_years_ago or 0
    try:
        return day.replace(year=day.year - years).isoformat()
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28).isoformat()


@bp.app_template_filter("intake_paragraphs")
def paragraphs(text: str | None) -> list[dict]:
    """Text with line breaks -> blocks: {"p": text} or {"ul": [lines]} for lines starting with a bullet."""
    blocks: list[dict] = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        if line[:1] in "\u2022-*" and len(line) > 1 and line[1] == " ":
            if not blocks or "ul" not in blocks[-1]:
                blocks.append({"ul": []})
            blocks[-1]["ul"].append(line[2:].strip())
        else:
            blocks.append({"p": line})
    return blocks


@bp.after_request
def private_headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


# -- entry ------------------------------------------------------------------------------------------
@bp.get("/i/<token>")
@limiter.limit(configured("PATIENT_LINK_LIMIT_PER_ADDRESS"), deduct_when=lambda r: r.status_code == 404,
               scope="patient-link")
def open_link(token: str):
    intake = find_intake(token)
    if intake is None:
        return message("link_not_found", 404)
    forget_intake()
    if intake.state == "revoked":
        return message("revoked", 410)
    if intake.state == "submitted":
        return message("already_sent")
    if link_expired(intake):
        audit.record(actor(intake), "intake.link_expired", f"intake:{intake.id}")
        db.session.commit()
        return message("link_expired", 410)
    session["intake_id"] = intake.id
    session["intake_seen"] = int(time.time())
    if intake.language in patient_languages(current_app.config):
        session["intake_language"] = intake.language  # resuming on another device keeps the language
    if intake.state == "not_started":
        intake.state = "in_progress"
        intake.started_at = utcnow()
    audit.record(actor(intake), "intake.opened", f"intake:{intake.id}")
    db.session.commit()
    return redirect(url_for(".resume"), 303)


@bp.route("/start", methods=["GET", "POST"])
@limiter.limit(configured("PUBLIC_START_LIMIT_PER_ADDRESS"), methods=["POST"], scope="public-start")
def start():
    if not current_app.config.get("PUBLIC_START"):
        return message("not_found", 404)
    form = PlainForm()
    if request.method == "POST":
        if not form.validate():
            return render_template("intake/start.html", form=form, notice=NOTICES["csrf_start"])
        try:
            intake, token = create_invitation()
        except NoPublishedContent:
            current_app.logger.error("Public start: no published question set and rule set")
            return message("unavailable", 503)
        intake.state, intake.started_at = "in_progress", utcnow()
        audit.record(actor(intake), "intake.created", f"intake:{intake.id}", via="public start page")
        db.session.commit()
        forget_intake()
        session.update(intake_id=intake.id, intake_seen=int(time.time()),
                       intake_link=url_for(".open_link", token=token, _external=True))
        return redirect(url_for(".resume"), 303)
    return render_template("intake/start.html", form=form)


@bp.get("/intake")
def resume():
    intake = session_intake()
    blocked = not_open(intake)
    if blocked:
        return blocked
    return redirect(section_url(journey_for(intake).resume_section()), 303)


# -- a section --------------------------------------------------------------------------------------
@bp.route("/intake/section/<section_id>", methods=["GET", "POST"])
def section(section_id: str):
    if request.method == "POST":
        return save_section(section_id)
    intake = session_intake()
    blocked = not_open(intake)
    if blocked:
        return blocked
    qs = pinned_set(intake)
    section = find_section(qs, section_id)
    if section is None:
        return message("not_found", 404)
    journey = journey_for(intake)
    if not journey.may_open(section):
        return redirect(url_for(".resume"), 303)
    session.pop("intake_support", None)
    validate = session.pop("intake_validate", None) == section.id
    from_review = request.args.get("from") == "review"
    form = make_form(qs, section, today(), answers=intake.answers, ref=sign_ref(intake),
                     return_to="review" if from_review else "")
    errors: dict[str, str] = {}
    notice = None
    if validate:
        for problem in journey.problems(section):
            if problem.kind == "gate":
                notice = "gate"
            else:
                errors[problem.item_id] = problem_text(qs, problem)
    return render_section(intake, qs, section, form, journey, errors, notice)


def save_section(section_id: str, csrf_failed: bool = False):
    intake = session_intake(for_update=True)
    raw_ref = request.form.get("_ref")
    ref_id = read_ref(raw_ref)
    if intake is None or (raw_ref and ref_id != intake.id):
        return unsaved_page(section_id, ref_id, "other_intake" if intake is not None else "session_ended")
    blocked = not_open(intake)
    if blocked:
        return blocked
    qs = pinned_set(intake)
    section = find_section(qs, section_id)
    if section is None:
        return message("not_found", 404)
    as_of = today()
    form = make_form(qs, section, as_of, formdata=request.form)
    form.validate()
    before = journey_for(intake)
    shown = form.shown_ids({i.id for i in before.visible_items(section)})
    answers, valid_view = merge_page(intake.answers, form, shown)
    journey = Journey(qs, valid_view, as_of)
    fill_unposted(form, intake.answers, shown)
    if csrf_failed or (form.meta.csrf and form.csrf_token.errors):
        # Nothing is saved; the page comes back as it was posted (what shows follows what was typed).
        return render_section(intake, qs, section, form, journey, {}, "csrf")

    action = request.form.get("_action", "next")
    visible = {item.id for item in journey.visible_items(section)}
    errors: dict[str, str] = {}
    for field in form.item_fields():
        if field.item.id in visible and field.errors:
            errors[field.item.id] = field.errors[0]

    if answers != intake.answers:
        intake.answers = answers
        intake.updated_at = utcnow()
        note_draft_flags(intake, as_of)
        if intake.language is None:
            intake.language = g.patient_language  # the language these answers were given in
    if action.startswith(LANGUAGE_ACTION):
        return switch_language(intake, section, action[len(LANGUAGE_ACTION):])
    return_to_review = form.return_to.data == "review"
    added: list[str] = []
    notice = None
    if not errors and action != "back":
        added, notice = page_problems(journey, section, visible, shown, errors)
        if not errors and not notice and section.id not in (intake.completed_sections or []):
            intake.completed_sections = [*(intake.completed_sections or []), section.id]
    # One commit, after which nothing reads the (now expired) intake again: no second SELECT.
    db.session.commit()

    if errors or notice:
        return render_section(intake, qs, section, form, journey, errors, notice, added=len(added))
    if action == "back":
        target = None if return_to_review else journey.previous_before(section)
        if target is None and not return_to_review:
            target = section
        return leave_page(journey, section, section_url(target))
    if return_to_review:
        target = journey.first_incomplete()
    else:
        target = journey.next_after(section)
    return leave_page(journey, section, section_url(target))


def page_problems(journey: Journey, section: Section, visible: set[str], shown: set[str],
                  errors: dict[str, str]) -> tuple[list[str], str | None]:
    """Pressing Next on a page without field errors: the items that appeared with this save (not
    an error yet: the patient has not seen them), the notice to show, and the page's other problems
    added to ``errors``."""
    added = [item_id for item_id in visible if item_id not in shown]
    notice = "added" if added else None
    for problem in journey.problems(section):
        if problem.item_id in added:
            continue
        if problem.kind == "gate":
            notice = notice or "gate"
        else:
            errors[problem.item_id] = problem_text(journey.qs, problem)
    return added, notice


def switch_language(intake: Intake, section: Section, code: str):
    """The page again in another language, with everything on it as it was typed (valid answers are saved
    already; a value that is not valid yet stays in its field). No problems are shown: nothing was asked."""
    if code in patient_languages(current_app.config):
        set_language(code, intake)
    db.session.commit()
    qs = pinned_set(intake)
    section = find_section(qs, section.id)
    form = make_form(qs, section, today(), formdata=request.form)
    form.validate()
    journey = journey_for(intake)
    fill_unposted(form, intake.answers, form.shown_ids({i.id for i in journey.visible_items(section)}))
    return render_section(intake, qs, section, form, journey, {}, None)


def merge_page(stored: dict, form: SectionForm, shown: set[str]) -> tuple[dict, dict]:
    """The draft with this page's answers in it, and the same without values that were not valid.

    Only items the patient could see are taken from the page; every other stored answer is kept as it was
    (a stale answer to a hidden item stays in the draft; the core ignores it). A field left empty
    removes its answer; a value that is not valid keeps the stored one in the draft.
    """
    answers = dict(stored or {})
    view = dict(answers)
    for field in form.item_fields():
        item_id = field.item.id
        if item_id not in shown:
            continue
        if field.answer is MISSING:
            answers.pop(item_id, None)
            view.pop(item_id, None)
        elif field.answer is INVALID:
            view.pop(item_id, None)
        else:
            answers[item_id] = view[item_id] = encode_answer(field.answer)
    return answers, view


def fill_unposted(form: SectionForm, stored: dict, shown: set[str]) -> None:
    """Fields that were hidden (so not posted) show their stored answer if they show now."""
    for field in form.item_fields():
        if field.item.id not in shown:
            field.data = to_form_value(field.item, (stored or {}).get(field.item.id))


def leave_page(journey: Journey, section: Section, destination: str) -> Response:
    """Go on from a saved page, through the crisis-support page first when its answers call for it."""
    level = support_level(journey, section, support_triggers(journey.qs))
    if level:
        session["intake_support"] = {"level": level, "next": destination}
        return redirect(url_for(".support"), 303)
    return redirect(destination, 303)


def unsaved_page(section_id: str, ref_id: int | None, reason: str):
    """A page posted without its intake in the session: show it again with what was typed, save nothing."""
    intake = db.session.get(Intake, ref_id) if ref_id is not None else None
    if intake is None or intake.state not in OPEN_STATES:
        if reason == "other_intake":
            return message("other_intake")
        return message("session_ended" if g.get("session_state") == "ended" or ref_id else "no_session")
    qs = pinned_set(intake)
    section = find_section(qs, section_id)
    if section is None:
        return message("session_ended")
    form = make_form(qs, section, today(), formdata=request.form)
    shown = form.shown_ids({item.id for item in section.items if item.show_if is None})
    return render_section(intake, qs, section, form, None, {}, reason, shown=shown)


def render_section(intake: Intake, qs: QuestionSet, section: Section, form: SectionForm,
                   journey: Journey | None, errors: dict[str, str], notice: str | None,
                   shown: set[str] | None = None, added: int = 0) -> str:
    """Render a section. ``journey`` is None when the session has ended: no progress, nothing stored shown."""
    if not form.ref.data:
        form.ref.data = sign_ref(intake)
    context = section_context(qs, section, form, journey, errors, notice, shown, added)
    return render_template("intake/section.html", **context,
                           saved_link=session.pop("intake_link", None) if journey is not None else None)


def section_context(qs: QuestionSet, section: Section, form: SectionForm, journey: Journey | None,
                    errors: dict[str, str], notice: str | None, shown: set[str] | None = None,
                    added: int = 0) -> dict[str, Any]:
    """What ``intake/section.html`` shows, with no intake needed (the admin preview uses it too)."""
    if journey is not None:
        shown = {item.id for item in journey.visible_items(section)}
    shown = shown or set()
    form.shown.data = " ".join(item.id for item in section.items if item.id in shown)
    position = journey.position(section) if journey is not None else None
    back = journey is not None and (journey.previous_before(section) is not None
                                    or form.return_to.data == "review")
    error_list = [(item.id, errors[item.id]) for item in section.items if item.id in errors]
    notice_text = NOTICES.get(notice) if notice else None
    return dict(qs=qs, section=section, form=form, shown=shown, errors=errors, error_list=error_list,
                notice=notice, notice_text=notice_text, added=added, position=position, back=back,
                live=live_triggers(qs, section) if journey is not None else [],
                in_english=qs.source_language_items)


@bp.post("/intake/section/<section_id>/visibility")
def visibility(section_id: str):
    """Which of this page's items are hidden, for the answers on the page as they are now (not saved)."""
    intake = session_intake()
    if intake is None or intake.state not in OPEN_STATES:
        return jsonify(error="no open questionnaire in this session"), 409
    qs = pinned_set(intake)
    section = find_section(qs, section_id)
    if section is None:
        return jsonify(error="no such section"), 404
    form = make_form(qs, section, today(), formdata=request.form)
    form.validate()
    if form.meta.csrf and form.csrf_token.errors:
        return jsonify(error="csrf"), 400
    shown = form.shown_ids(set())
    _, view = merge_page(intake.answers, form, shown)
    journey = Journey(qs, view, today())
    return jsonify(hidden=[item.id for item in section.items if item.id in journey.ctx.hidden])


@bp.errorhandler(CSRFError)
def csrf_error(exc: CSRFError):
    """If the app checks CSRF before the views (CSRFProtect), keep the page instead of a bare 400.

    CSRFProtect refuses the request before the blueprint's own ``before_request``: the language is set here."""
    use_patient_language(current_app.config)
    endpoint = request.endpoint or ""
    if endpoint == "intake.section":
        return save_section(request.view_args["section_id"], csrf_failed=True)
    if endpoint == "intake.visibility":
        return jsonify(error="csrf"), 400
    if endpoint == "intake.review":
        return review(csrf_failed=True)
    if endpoint == "intake.start":
        return render_template("intake/start.html", form=PlainForm(formdata=None), notice=NOTICES["csrf_start"])
    return message("session_ended")


# -- crisis support ---------------------------------------------------------------------------------
@bp.get("/intake/support")
def support():
    intake = session_intake()
    blocked = not_open(intake)
    if blocked:
        return blocked
    pending = session.get("intake_support")
    if not isinstance(pending, dict) or pending.get("level") not in ("urgent", "support"):
        return redirect(url_for(".resume"), 303)
    destination = pending.get("next") or url_for(".resume")
    if not destination.startswith("/intake"):
        destination = url_for(".resume")
    return render_template("intake/support.html", level=pending["level"], next_url=destination)


# -- review, submit, thank you ---------------------------------------------------------------------
def display_answer(item: Item, value: Any, in_english: bool = False) -> dict:
    """An answer as the patient should read it back: {"text": ...} or {"list": [...]}.

    ``in_english``: the question has no text in the patient's language and is shown in English."""
    if item.type == "yes_no":
        if in_english:
            return {"text": "Yes" if value else "No"}
        return {"text": _("Yes") if value else _("No")}
    if item.type in ("scale", "single_choice"):
        return {"text": item.choice_label(value)}
    if item.type == "multi_choice":
        if not value:
            return {"text": none_label(item)}
        return {"list": [item.choice_label(v) for v in value]}
    if item.type == "date":
        return {"text": format_date(value, "long")}
    if item.type in ("integer", "decimal"):
        return {"text": format_value(value) + (f" {item.unit}" if item.unit else "")}
    return {"text": value, "pre": True}


@bp.route("/intake/review", methods=["GET", "POST"])
def review(csrf_failed: bool = False):
    posted = request.method == "POST"
    intake = session_intake(for_update=posted)
    blocked = not_open(intake)
    if blocked:
        return blocked
    journey = journey_for(intake)
    incomplete = journey.first_incomplete()
    if incomplete is not None:
        session["intake_validate"] = incomplete.id
        return redirect(section_url(incomplete), 303)
    form = PlainForm(formdata=None) if csrf_failed else PlainForm()
    notice = None
    if posted:
        if not csrf_failed and form.validate():
            audit.record(actor(intake), "intake.submitted", f"intake:{intake.id}")
            submit_intake(intake)
            return redirect(url_for(".done"), 303)
        notice = NOTICES["csrf_review"]
    session.pop("intake_support", None)
    sections = []
    english = journey.qs.source_language_items
    for section in journey.visible_sections():
        rows = []
        for item in journey.visible_items(section):
            value = journey.answer(item.id)
            rows.append({"item": item, "in_english": item.id in english,
                         "answer": None if value is None else display_answer(item, value, item.id in english),
                         "href": section_url(section, **{"from": "review"}) + f"#item-{item.id}"})
        sections.append({"section": section, "rows": rows})
    return render_template("intake/review.html", sections=sections, form=form, notice=notice)


@bp.get("/intake/done")
def done():
    intake = session_intake()
    if intake is not None and intake.state == "submitted":
        return render_template("intake/done.html")
    blocked = not_open(intake)
    if blocked:
        return blocked
    return redirect(url_for(".resume"), 303)
