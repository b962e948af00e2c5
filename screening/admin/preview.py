"""Preview: the draft question set page by page, exactly as a patient sees it, saving nothing.

It uses the intake's own form builder (``make_form``), page rules (``Journey``), page merging and the
``intake/section.html`` template. The answers given so far travel only in the page itself (a hidden
field posted with Next/Back); there is no intake row, no session state and no audit of answers.
"""

from __future__ import annotations

import json

from flask import abort, current_app, g, jsonify, render_template, request, url_for
from flask_babel import refresh

from .. import publishing
from ..i18n import patient_languages
from ..intake.flow import Journey, support_level
from ..intake.forms import make_form
from ..intake.views import (display_answer, fill_unposted, find_section, merge_page, page_problems,
                            section_context, support_triggers, today)
from ..questions import parse_question_set
from ..yaml_source import LoadError
from .base import bp
from .content import DRAFT_LABEL

QS = "question_set"
CARRY_FIELD = "_preview_answers"
LANGUAGE_FIELD = "_preview_language"
MAX_CARRY = 200_000


def preview_language() -> str:
    """The patient language the preview shows: ``?lang=`` on its first page, then carried by each page.

    The patient's part of the page is rendered in it (question texts and interface); the preview's own
    banner stays in English.
    """
    offered = patient_languages(current_app.config)
    code = request.args.get("lang") or request.form.get(LANGUAGE_FIELD)
    g.patient_language = code if code in offered else offered[0]
    refresh()
    return g.patient_language


def draft_question_set(set_id: str):
    """(the compiled draft or published question set in the preview's language, whether it is the draft,
    problems)."""
    draft = publishing.get_draft(QS, set_id)
    text = publishing.draft_or_current_text(QS, set_id)
    if text is None:
        abort(404)
    try:
        return parse_question_set(text, DRAFT_LABEL).in_language(preview_language()), draft is not None, []
    except LoadError as exc:
        return None, draft is not None, exc.problems


def carried_answers() -> dict:
    raw = request.form.get(CARRY_FIELD) or ""
    if not raw or len(raw) > MAX_CARRY:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def render_page(set_id, is_draft, qs, section, form, journey, answers, errors=None, notice=None, added=0,
                note=None, status=200):
    context = section_context(qs, section, form, journey, errors or {}, notice, added=added)
    return render_template(
        "admin/preview.html", **context, set_id=set_id, is_draft=is_draft,
        form_action=url_for("admin_home.preview_page", set_id=set_id, section_id=section.id),
        live_url=url_for("admin_home.preview_visibility", set_id=set_id, section_id=section.id),
        carried=json.dumps(answers, ensure_ascii=False, separators=(",", ":")), preview_note=note,
        jump_to=Journey(qs, {}, today()).visible_sections(), preview_languages=patient_languages(current_app.config),
        language_field=LANGUAGE_FIELD), status


def open_page(set_id, is_draft, qs, section, answers, note=None):
    """A section as it opens after Next/Back, filled with the answers given so far."""
    as_of = today()
    form = make_form(qs, section, as_of, answers=answers)
    return render_page(set_id, is_draft, qs, section, form, Journey(qs, answers, as_of), answers, note=note)


def problem_page(set_id, is_draft, problems):
    return render_template("admin/preview_problem.html", set_id=set_id, is_draft=is_draft,
                           problems=[str(p) for p in problems]), 422


@bp.get("/question-sets/<set_id>/preview")
def preview(set_id: str):
    qs, is_draft, problems = draft_question_set(set_id)
    if qs is None:
        return problem_page(set_id, is_draft, problems)
    journey = Journey(qs, {}, today())
    visible = journey.visible_sections()
    wanted = request.args.get("section")
    section = next((s for s in visible if s.id == wanted), None) or (visible[0] if visible else None)
    if section is None:
        return problem_page(set_id, is_draft, ["No section of this question set shows before any answer."])
    return open_page(set_id, is_draft, qs, section, {})


@bp.post("/question-sets/<set_id>/preview/<section_id>")
def preview_page(set_id: str, section_id: str):
    """Next or Back on a preview page: the same checks as the patient's page, then the page they lead to."""
    qs, is_draft, problems = draft_question_set(set_id)
    if qs is None:
        return problem_page(set_id, is_draft, problems)
    section = find_section(qs, section_id)
    if section is None:
        abort(404)
    carried = carried_answers()
    as_of = today()
    form = make_form(qs, section, as_of, formdata=request.form)
    form.validate()
    before = Journey(qs, carried, as_of)
    shown = form.shown_ids({item.id for item in before.visible_items(section)})
    answers, view = merge_page(carried, form, shown)
    journey = Journey(qs, view, as_of)
    fill_unposted(form, carried, shown)
    if form.meta.csrf and form.csrf_token.errors:
        return render_page(set_id, is_draft, qs, section, form, journey, carried, notice="csrf")

    visible = {item.id for item in journey.visible_items(section)}
    errors = {field.item.id: field.errors[0] for field in form.item_fields()
              if field.item.id in visible and field.errors}
    if errors:
        return render_page(set_id, is_draft, qs, section, form, journey, answers, errors=errors)
    if request.form.get("_action") == "back":
        target = journey.previous_before(section) or section
        return open_page(set_id, is_draft, qs, target, answers)

    added, notice = page_problems(journey, section, visible, shown, errors)
    if errors or notice:
        return render_page(set_id, is_draft, qs, section, form, journey, answers, errors=errors, notice=notice,
                           added=len(added))
    level = support_level(journey, section, support_triggers(qs))
    note = None
    if level:
        note = ("After that page a patient would now see the crisis-support page "
                f"({'urgent help' if level == 'urgent' else 'support'}), then this page.")
    target = journey.next_after(section)
    if target is None:
        return end_page(set_id, is_draft, qs, journey, note)
    return open_page(set_id, is_draft, qs, target, answers, note=note)


def end_page(set_id, is_draft, qs, journey, note):
    sections = []
    for section in journey.visible_sections():
        rows = []
        for item in journey.visible_items(section):
            value = journey.answer(item.id)
            rows.append({"item": item, "answer": None if value is None else display_answer(item, value)})
        sections.append({"section": section, "rows": rows})
    return render_template("admin/preview_end.html", set_id=set_id, is_draft=is_draft, sections=sections,
                           preview_note=note, preview_languages=patient_languages(current_app.config))


@bp.post("/question-sets/<set_id>/preview/<section_id>/visibility")
def preview_visibility(set_id: str, section_id: str):
    """The preview's version of the intake's live show/hide (intake.js calls it)."""
    qs, _, _ = draft_question_set(set_id)
    section = find_section(qs, section_id) if qs is not None else None
    if section is None:
        return jsonify(error="no such section"), 404
    form = make_form(qs, section, today(), formdata=request.form)
    form.validate()
    if form.meta.csrf and form.csrf_token.errors:
        return jsonify(error="csrf"), 400
    shown = form.shown_ids(set())
    _, view = merge_page(carried_answers(), form, shown)
    journey = Journey(qs, view, today())
    return jsonify(hidden=[item.id for item in section.items if item.id in journey.ctx.hidden])
