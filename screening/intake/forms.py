"""WTForms built from a section's items, with answers converted and checked by the core.

One form class per (question-set version, section), built on first use. Each item is a field named by
its item id; the answer a field holds is worked out by ``to_answer`` with the core's
``normalize_answer``, so the web form, the JSON import and the evaluation accept exactly the same
values. Whether an item is required depends on what else is answered, so that is decided per page in
the view (``Journey.problems``), not by a field validator.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, RadioField, SelectMultipleField, StringField
from wtforms.validators import StopValidation, ValidationError

try:  # WTForms 3.3+ wants choices as SelectChoice; older versions take (value, label) pairs
    from wtforms import SelectChoice as _Choice
except ImportError:  # pragma: no cover
    def _Choice(value, label):  # type: ignore[no-redef]
        return (value, label)

from ..questions.model import InvalidAnswer, Item, QuestionSet, Section, encode_answer, normalize_answer
from ..rules.conditions import format_value

NONE_VALUE = "__none__"  # the "None of these" box of a multi-choice item; item values never start with _


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # the field was left empty
INVALID: Any = object()  # the field holds something that is not a valid answer (its error says why)

US_DATE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$")


def sentence(message: str) -> str:
    message = message.strip()
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "?", "!")) else message + "."


def patient_message(item: Item, exc: InvalidAnswer) -> str:
    """Why an answer is not valid, as a sentence in the patient's language."""
    code, params = exc.code, exc.params
    if code == "number":
        return _("Enter a whole number.") if item.type == "integer" else _("Enter a number.")
    if code == "range":
        lo, hi = format_value(item.min), format_value(item.max)
        whole = item.type == "integer"
        if item.min is not None and item.max is not None:
            return (_("Enter a whole number from %(lo)s to %(hi)s.", lo=lo, hi=hi) if whole
                    else _("Enter a number from %(lo)s to %(hi)s.", lo=lo, hi=hi))
        if item.min is not None:
            return (_("Enter a whole number of at least %(lo)s.", lo=lo) if whole
                    else _("Enter a number of at least %(lo)s.", lo=lo))
        return (_("Enter a whole number of at most %(hi)s.", hi=hi) if whole
                else _("Enter a number of at most %(hi)s.", hi=hi))
    if code == "date":
        return _("Enter a real date, for example 07/31/1980.")
    if code == "date_future":
        return _("This date cannot be in the future.")
    if code == "date_too_old":
        return _("This date is more than %(years)s years ago; please check the year.", years=params["years"])
    if code == "control_characters":
        return _("Remove the special (invisible) characters from this answer.")
    if code == "too_long":
        return _("Keep this to %(n)s characters or fewer.", n=params["max_length"])
    if code == "yes_no":
        return _("Choose yes or no.")
    if code == "none_and_others":
        return _("Choose \u201c%(none)s\u201d or the ones that apply, not both.", none=none_label(item))
    if code == "choose_one":
        options = ", ".join(format_value(v) for v in item.choice_values)
        return _("Choose one of the options: %(options)s.", options=options)
    if code == "choose_answer":
        return _("Choose one of the answers.")
    if code == "choose_listed":
        return _("Choose only from the answers shown, each one once.")
    return sentence(str(exc))


def none_label(item: Item) -> str:
    return item.none_label or _("None of these")


def required_message(item: Item) -> str:
    """What a required question left empty says, in the patient's language."""
    if item.type in ("yes_no", "scale", "single_choice"):
        return _("Please choose an answer.")
    if item.type == "multi_choice":
        return _("Please choose the ones that apply, or \u201c%(none)s\u201d.", none=none_label(item))
    if item.type == "date":
        return _("Please enter a date.")
    return _("Please enter an answer.")


def to_answer(item: Item, raw: Any, as_of: datetime.date) -> Any:
    """A field's raw form data -> the item's answer (normalized), MISSING, or InvalidAnswer."""
    kind = item.type
    if kind == "multi_choice":
        chosen = [v for v in (raw or []) if v]
        if not chosen:
            return MISSING
        if NONE_VALUE in chosen:
            if len(chosen) > 1:
                raise InvalidAnswer(f"choose \u201c{item.none_label or 'None of these'}\u201d or the ones "
                                    f"that apply, not both", "none_and_others")
            return ()
        return normalize_answer(item, chosen, as_of)
    text = raw.strip() if isinstance(raw, str) else ""
    if kind == "text":
        text = raw.replace("\r\n", "\n").strip() if isinstance(raw, str) else ""
    if not text:
        return MISSING
    if kind == "yes_no":
        if text in ("yes", "no"):
            return text == "yes"
        raise InvalidAnswer("choose yes or no", "yes_no")
    if kind == "scale":
        try:
            return normalize_answer(item, int(text), as_of)
        except ValueError:
            raise InvalidAnswer("choose one of the answers", "choose_answer") from None
    if kind in ("integer", "decimal"):
        try:
            number: Any = int(text)
        except ValueError:
            try:
                number = float(text.replace(",", ".") if kind == "decimal" else text)
            except ValueError:
                raise InvalidAnswer("enter a whole number" if kind == "integer" else "enter a number",
                                    "number") from None
        return normalize_answer(item, number, as_of)
    if kind == "date":
        us = US_DATE.match(text)  # typed by hand where a browser has no date picker
        if us:
            text = f"{us.group(3)}-{int(us.group(1)):02d}-{int(us.group(2)):02d}"
        try:
            return normalize_answer(item, text, as_of)
        except InvalidAnswer as exc:
            if exc.code == "date":
                raise InvalidAnswer("enter a real date, for example 07/31/1980", "date") from None
            raise
    return normalize_answer(item, text, as_of)


def to_form_value(item: Item, value: Any) -> Any:
    """A stored answer (JSON encoding) -> what the field shows."""
    if value is None:
        return None
    if item.type == "yes_no":
        return "yes" if value is True else "no" if value is False else None
    if item.type == "multi_choice":
        return [NONE_VALUE] if value == [] else list(value) if isinstance(value, list) else None
    return str(encode_answer(value))


class AnswerOf:
    """Field validator: works out ``field.answer`` (or MISSING), and explains an invalid value."""

    def __call__(self, form: "SectionForm", field: Field) -> None:
        try:
            field.answer = to_answer(field.item, field.data, form.as_of)
        except InvalidAnswer as exc:
            field.answer = INVALID
            raise ValidationError(patient_message(field.item, exc)) from None
        if field.answer is MISSING:
            raise StopValidation()  # empty is not an error here; required-ness depends on the page


class ItemMixin:
    item: Item
    answer: Any = MISSING
    options: list[tuple[str, str]] = []  # (form value, label), for the templates

    @property
    def kind(self) -> str:
        return self.item.type


class ChoiceItemField(ItemMixin, RadioField):
    def __init__(self, item: Item, in_source_language: bool = False, **kwargs: Any):
        if item.type == "yes_no":
            choices = [("yes", "Yes"), ("no", "No")] if in_source_language else [("yes", _("Yes")), ("no", _("No"))]
        else:
            choices = [(str(c.value), c.label) for c in item.choices]
        super().__init__(item.text, choices=[_Choice(v, label) for v, label in choices], validate_choice=False,
                         validators=[AnswerOf()], **kwargs)
        self.item, self.options = item, choices


class MultiItemField(ItemMixin, SelectMultipleField):
    def __init__(self, item: Item, **kwargs: Any):
        choices = [(c.value, c.label) for c in item.choices]
        choices.append((NONE_VALUE, none_label(item)))
        super().__init__(item.text, choices=[_Choice(v, label) for v, label in choices], validate_choice=False,
                         validators=[AnswerOf()], **kwargs)
        self.item, self.options = item, choices


class TextItemField(ItemMixin, StringField):
    """Numbers, dates and text: the raw string is kept as typed, so a wrong value is shown back."""

    def __init__(self, item: Item, **kwargs: Any):
        super().__init__(item.text, validators=[AnswerOf()], **kwargs)
        self.item = item


def _field_for(item: Item, in_source_language: bool) -> Any:
    if item.type in ("yes_no", "scale", "single_choice"):
        return ChoiceItemField(item, in_source_language, name=item.id)
    if item.type == "multi_choice":
        return MultiItemField(item, name=item.id)
    return TextItemField(item, name=item.id)


class SectionForm(FlaskForm):
    """Base of the per-section forms. Control fields start with ``_``; item ids never do."""

    shown = HiddenField(name="_shown")  # the items the patient could see when pressing a button
    ref = HiddenField(name="_ref")  # a signed reference to the intake, to keep a page if the session ended
    return_to = HiddenField(name="_return")  # "review" when the page was opened from the review

    as_of: datetime.date
    section: Section

    def item_fields(self) -> list[Any]:
        return [self[f"q_{item.id}"] for item in self.section.items]

    def field_for(self, item_id: str) -> Any:
        return self[f"q_{item_id}"]

    def shown_ids(self, default: set[str]) -> set[str]:
        """The items the patient could see, as the page (or its script) reported them."""
        if self.shown.data is None:
            return default
        allowed = {item.id for item in self.section.items}
        return {part for part in self.shown.data.split() if part in allowed}


_form_classes: dict[tuple[str, str, str], type[SectionForm]] = {}


def section_form_class(qs: QuestionSet, section: Section) -> type[SectionForm]:
    """The form class of a section in the language of ``qs`` (a language view of the set)."""
    key = (qs.content_hash, qs.language, section.id)
    if key not in _form_classes:
        english = qs.language == "en"
        attrs: dict[str, Any] = {f"q_{item.id}": _field_for(item, english or item.id in qs.source_language_items)
                                 for item in section.items}
        attrs["section"] = section
        _form_classes[key] = type(f"Section_{section.id}", (SectionForm,), attrs)
    return _form_classes[key]


def make_form(qs: QuestionSet, section: Section, as_of: datetime.date, formdata: Any = None,
              answers: dict[str, Any] | None = None, **controls: Any) -> SectionForm:
    """A bound form: from posted data, or filled with the stored answers."""
    cls = section_form_class(qs, section)
    data = {}
    if formdata is None:
        for item in section.items:
            value = to_form_value(item, (answers or {}).get(item.id))
            if value is not None:
                data[f"q_{item.id}"] = value
        data.update(controls)
    form = cls(formdata=formdata, data=data)
    form.as_of = as_of
    if formdata is not None:
        for field in form.item_fields():
            field.answer = MISSING
    return form


class PlainForm(FlaskForm):
    """A form with only its CSRF token (review/submit, public start)."""
