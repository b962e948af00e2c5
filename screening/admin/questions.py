"""Editing a question set without YAML: a question's wording, help, choices, required flag and range;
adding, removing and moving questions and sections. Each edit goes to the draft (see base.save_edit)."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request

from .. import editing
from ..confirmation import confirmation_page
from ..diff import condition_text
from .base import back_to, bp, edit_failed, load_set, save_edit, set_url
from .content import (CHOICE_TYPES, NUMBER_TYPES, TYPE_NAMES, all_ids, choice_value, find_item, find_section,
                      item_choices, parse_number)
from .forms import ActionForm, ItemForm, NewItemForm, NewSectionForm, SectionForm

QS = "question_set"
BLANK_CHOICE_ROWS = 3


def editable_state(set_id: str, check: bool = True):
    """The set's state, and whether its text can be edited structurally (it must at least be YAML)."""
    state = load_set(QS, set_id, check=check)
    return state, state.source is not None


def form_errors(form) -> list[str]:
    """Every message of a form that did not validate, with the field it is about."""
    found = []
    for field in form:
        for error in field.errors:
            if isinstance(error, str):
                found.append(f"{field.label.text}: {error}" if field.name != "csrf_token" else
                             "The form had expired. Please try again.")
            elif isinstance(error, dict):
                found += [f"{field.label.text}: {m}" for messages in error.values() for m in messages]
    return found or ["Please check the form."]


def cannot_edit(state):
    edit_failed("the draft is not readable YAML. Fix it in the YAML editor first.")
    return back_to(state)


# -- reading a posted item form ------------------------------------------------------------------

def choice_rows(form: ItemForm, item_type: str) -> tuple[list[tuple[Any, str, str | None]], list[str]]:
    """The choice rows that were filled in, as (value, label, help); and what is wrong with them."""
    rows, errors, seen = [], [], set()
    for number, entry in enumerate(form.choices.entries, start=1):
        value = (entry.form.value.data or "").strip()
        label = " ".join((entry.form.label.data or "").split())  # one line, as the patient sees it
        help_text = " ".join((entry.form.help.data or "").split()) or None
        if not value and not label and not help_text:
            continue
        if not value or not label:
            errors.append(f"Choice {number}: give both a value and a label (clear both to remove the choice).")
            continue
        try:
            parsed = choice_value(item_type, value)
        except ValueError:
            errors.append(f"Choice {number}: the value of a scale choice is its score, a whole number.")
            continue
        if parsed in seen:
            errors.append(f"Choice {number}: the value '{value}' is used twice.")
        seen.add(parsed)
        rows.append((parsed, label, help_text))
    return rows, errors


def number_fields(form: ItemForm) -> tuple[dict[str, Any], list[str]]:
    out, errors = {}, []
    for name in ("min", "max"):
        try:
            out[name] = parse_number(getattr(form, name).data)
        except ValueError:
            errors.append(f"{getattr(form, name).label.text}: enter a number.")
    out["unit"] = (form.unit.data or "").strip() or None
    return out, errors


def clean(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").strip()


def fill_choice_rows(form: ItemForm, choices: list[dict], blank: int = BLANK_CHOICE_ROWS) -> None:
    while form.choices.entries:
        form.choices.pop_entry()
    for choice in choices:
        form.choices.append_entry({"value": str(choice.get("value", "")), "label": choice.get("label", ""),
                                   "help": choice.get("help") or ""})
    for _ in range(blank):
        form.choices.append_entry()


# -- one question ------------------------------------------------------------------------------

@bp.route("/question-sets/<set_id>/items/<item_id>", methods=["GET", "POST"])
def item_edit(set_id: str, item_id: str):
    state, ok = editable_state(set_id)
    if not ok:
        return cannot_edit(state)
    found = find_item(state.data, item_id)
    if found is None:
        abort(404)
    section, item = found
    item_type = item.get("type")
    current_choices, shared = item_choices(state.data, item)
    form = ItemForm()
    errors: list[str] = []
    if request.method == "POST":
        if not form.validate_on_submit():
            errors = form_errors(form)
        else:
            fields: dict[str, Any] = {}
            text, help_text = clean(form.text.data), clean(form.help.data) or None
            if text != item.get("text"):
                fields["text"] = text
            if help_text != item.get("help"):
                fields["help"] = help_text
            if bool(form.required.data) != bool(item.get("required")):
                fields["required"] = bool(form.required.data)
            if item_type in NUMBER_TYPES:
                numbers, errors = number_fields(form)
                fields.update({k: v for k, v in numbers.items() if v != item.get(k)})
            rows: list = []
            if item_type in CHOICE_TYPES:
                rows, choice_errors = choice_rows(form, item_type)
                errors += choice_errors
            if not errors:
                try:
                    new_text = state.text
                    if fields:
                        new_text = editing.set_item_fields(new_text, item_id, **fields)
                    before = [(c.get("value"), c.get("label"), c.get("help") or None) for c in current_choices]
                    if item_type in CHOICE_TYPES and rows != before:
                        new_text = editing.set_item_choices(new_text, item_id, rows)
                except editing.EditError as exc:
                    errors.append(str(exc))
                else:
                    if new_text == state.text:
                        return redirect(set_url("set_page", QS, set_id) + f"#item-{item_id}", 303)
                    save_edit(state, new_text, edit="question", item=item_id)
                    return redirect(request.path, 303)
    else:
        form.text.data = item.get("text")
        form.help.data = item.get("help")
        form.required.data = bool(item.get("required"))
        for name in ("unit", "min", "max"):
            value = item.get(name)
            getattr(form, name).data = "" if value is None else str(value)
        fill_choice_rows(form, current_choices)
    return render_template("admin/item.html", state=state, form=form, item=item, section=section,
                           item_type=item_type, type_name=TYPE_NAMES.get(item_type, item_type), shared=shared,
                           show_if=condition_text(item["show_if"]) if item.get("show_if") else None,
                           problems=state.located.of("item", item_id), errors=errors,
                           choice_types=CHOICE_TYPES, number_types=NUMBER_TYPES), 400 if errors else 200


def _move_offset() -> int:
    direction = request.form.get("direction")
    if direction not in ("up", "down"):
        abort(400)
    return -1 if direction == "up" else 1


def _structural_edit(set_id: str, apply, anchor, failed_anchor: str | None, **audit):
    """A one-button edit (move, remove): CSRF, an editable draft, the edit, then back to the set page.
    ``anchor`` is where to return after the edit: a fragment, or a function of the pre-edit state."""
    if not ActionForm().validate_on_submit():
        abort(400)
    state, ok = editable_state(set_id, check=False)
    if not ok:
        return cannot_edit(state)
    try:
        new_text = apply(state)
    except editing.EditError as exc:
        edit_failed(str(exc))
        return back_to(state, failed_anchor)
    save_edit(state, new_text, **audit)
    return back_to(state, anchor(state) if callable(anchor) else anchor)


@bp.post("/question-sets/<set_id>/items/<item_id>/move")
def item_move(set_id: str, item_id: str):
    return _structural_edit(set_id, lambda state: editing.move_item(state.text, item_id, _move_offset()),
                            f"item-{item_id}", f"item-{item_id}", edit="move_question", item=item_id)


def confirm_removal(set_id: str, question: str, consequences: str, endpoint: str, anchor: str, **ids: str):
    return confirmation_page(question, consequences + " The change goes to the draft: patients see nothing until "
                             "it is published, and discarding the draft brings it back.",
                             set_url(endpoint, QS, set_id, **ids), "Remove", set_url("set_page", QS, set_id) + anchor,
                             nav="admin")


@bp.get("/question-sets/<set_id>/items/<item_id>/remove")
def confirm_item_remove(set_id: str, item_id: str):
    state, ok = editable_state(set_id, check=False)
    if not ok:
        return cannot_edit(state)
    found = find_item(state.data, item_id)
    if found is None:
        abort(404)
    text = " ".join(str(found[1].get("text") or "").split())
    return confirm_removal(set_id, f"Remove the question '{item_id}' from the draft?",
                           f"“{text[:200]}” and its answer choices are taken out of the draft; rules or conditions "
                           f"that use it will show as problems.", "item_remove", f"#item-{item_id}", item_id=item_id)


@bp.get("/question-sets/<set_id>/sections/<section_id>/remove")
def confirm_section_remove(set_id: str, section_id: str):
    state, ok = editable_state(set_id, check=False)
    if not ok:
        return cannot_edit(state)
    section = find_section(state.data, section_id)
    if section is None:
        abort(404)
    count = len(section.get("items") or [])
    return confirm_removal(set_id, f"Remove the section '{section.get('title') or section_id}' from the draft?",
                           f"The section and its {count} question{'s' if count != 1 else ''} are taken out of the "
                           f"draft; rules or conditions that use them will show as problems.", "section_remove",
                           f"#section-{section_id}", section_id=section_id)


@bp.post("/question-sets/<set_id>/items/<item_id>/remove")
def item_remove(set_id: str, item_id: str):
    def section_of_item(state) -> str | None:
        found = find_item(state.data, item_id)  # state.data is the draft before the removal
        return f"section-{found[0].get('id')}" if found else None

    return _structural_edit(set_id, lambda state: editing.remove_item(state.text, item_id), section_of_item, None,
                            edit="remove_question", item=item_id)


# -- new questions and sections ----------------------------------------------------------------

def new_item_from(form: NewItemForm, taken: set[str]) -> tuple[dict | None, list, list[str]]:
    """The new question (without choices), its choice rows, and what is wrong with the form."""
    errors: list[str] = []
    item_id = (form.id.data or "").strip()
    if item_id in taken:
        errors.append(f"The id '{item_id}' is already used in this question set; choose another.")
    item: dict[str, Any] = {"id": item_id, "type": form.type.data, "text": clean(form.text.data)}
    if clean(form.help.data):
        item["help"] = clean(form.help.data)
    if form.required.data:
        item["required"] = True
    rows: list = []
    if form.type.data in NUMBER_TYPES:
        numbers, number_errors = number_fields(form)
        errors += number_errors
        item.update({k: v for k, v in numbers.items() if v is not None})
    if form.type.data in CHOICE_TYPES:
        rows, choice_errors = choice_rows(form, form.type.data)
        errors += choice_errors
        if not rows and not choice_errors:
            errors.append("A question with choices needs its choices: fill in at least two rows.")
    return (None if errors else item), rows, errors


@bp.route("/question-sets/<set_id>/sections/<section_id>/new-item", methods=["GET", "POST"])
def item_new(set_id: str, section_id: str):
    state, ok = editable_state(set_id)
    if not ok:
        return cannot_edit(state)
    section = find_section(state.data, section_id)
    if section is None:
        abort(404)
    form = NewItemForm()
    errors: list[str] = []
    if request.method == "POST":
        if not form.validate_on_submit():
            errors = form_errors(form)
        else:
            item, rows, errors = new_item_from(form, all_ids(state.data))
            if item is not None:
                try:
                    new_text = editing.add_item(state.text, section_id, item)
                    if rows:
                        new_text = editing.set_item_choices(new_text, item["id"], rows)
                except editing.EditError as exc:
                    errors.append(str(exc))
                else:
                    save_edit(state, new_text, edit="add_question", item=item["id"], section=section_id)
                    return back_to(state, f"item-{item['id']}")
    else:
        fill_choice_rows(form, [], blank=6)
    return render_template("admin/new_item.html", state=state, form=form, section=section, errors=errors,
                           new_section=False), 400 if errors else 200


@bp.route("/question-sets/<set_id>/new-section", methods=["GET", "POST"])
def section_new(set_id: str):
    state, ok = editable_state(set_id)
    if not ok:
        return cannot_edit(state)
    form = NewSectionForm()
    errors: list[str] = []
    if request.method == "POST":
        if not form.validate_on_submit():
            errors = form_errors(form)
        else:
            taken = all_ids(state.data)
            section_id = form.section_id.data.strip()
            item, rows, errors = new_item_from(form, taken | {section_id})
            if section_id in taken:
                errors.insert(0, f"The id '{section_id}' is already used in this question set; choose another.")
            if item is not None and not errors:
                try:
                    new_text = editing.add_section(state.text, section_id, form.section_title.data.strip(), item)
                    if rows:
                        new_text = editing.set_item_choices(new_text, item["id"], rows)
                except editing.EditError as exc:
                    errors.append(str(exc))
                else:
                    save_edit(state, new_text, edit="add_section", section=section_id)
                    return back_to(state, f"section-{section_id}")
    else:
        fill_choice_rows(form, [], blank=6)
    return render_template("admin/new_item.html", state=state, form=form, section=None, errors=errors,
                           new_section=True), 400 if errors else 200


# -- sections ----------------------------------------------------------------------------------

@bp.route("/question-sets/<set_id>/sections/<section_id>", methods=["GET", "POST"])
def section_edit(set_id: str, section_id: str):
    state, ok = editable_state(set_id)
    if not ok:
        return cannot_edit(state)
    section = find_section(state.data, section_id)
    if section is None:
        abort(404)
    form = SectionForm()
    errors: list[str] = []
    if request.method == "POST":
        if not form.validate_on_submit():
            errors = form_errors(form)
        else:
            title, intro = clean(form.title.data), clean(form.intro.data) or None
            if title == section.get("title") and intro == section.get("intro"):
                return back_to(state, f"section-{section_id}")
            try:
                new_text = editing.set_section_fields(state.text, section_id, title, intro)
            except editing.EditError as exc:
                errors.append(str(exc))
            else:
                save_edit(state, new_text, edit="section", section=section_id)
                return redirect(request.path, 303)
    else:
        form.title.data = section.get("title")
        form.intro.data = section.get("intro")
    return render_template("admin/section.html", state=state, form=form, section=section, errors=errors,
                           show_if=condition_text(section["show_if"]) if section.get("show_if") else None,
                           problems=state.located.of("section", section_id)), 400 if errors else 200


@bp.post("/question-sets/<set_id>/sections/<section_id>/move")
def section_move(set_id: str, section_id: str):
    return _structural_edit(set_id, lambda state: editing.move_section(state.text, section_id, _move_offset()),
                            f"section-{section_id}", f"section-{section_id}", edit="move_section",
                            section=section_id)


@bp.post("/question-sets/<set_id>/sections/<section_id>/remove")
def section_remove(set_id: str, section_id: str):
    return _structural_edit(set_id, lambda state: editing.remove_section(state.text, section_id), None, None,
                            edit="remove_section", section=section_id)
