"""A loaded, validated question set: sections, items, computed values, instruments and scores."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..rules.conditions import BOOL, CHOICE, DATE, INT, MULTI, NUM, TEXT, Node, SubjectInfo, format_value
from ..rules.context import EvaluationContext
from ..rules.scoring import CategoricalScore, Score
from .computed import FUNCTIONS, Computed

KIND_OF_TYPE = {"yes_no": BOOL, "scale": INT, "single_choice": CHOICE, "multi_choice": MULTI,
                "integer": INT, "decimal": NUM, "text": TEXT, "date": DATE}
DEFAULT_TEXT_LENGTH = 2000
# Larger numbers are no real answer, and arithmetic on them (a computed BMI) could overflow a float.
LARGEST_NUMBER = 10**15


@dataclass(frozen=True)
class Choice:
    value: int | str
    label: str
    help: str | None = None


@dataclass(eq=False)
class Item:
    id: str
    type: str
    text: str
    section_id: str
    position: int
    help: str | None = None
    required: bool = False
    show_if: Node | None = None
    choices: tuple[Choice, ...] = ()
    none_label: str | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    unit: str | None = None
    max_length: int = DEFAULT_TEXT_LENGTH
    not_future: bool = False
    max_years_ago: int | None = None

    @property
    def kind(self) -> str:
        return KIND_OF_TYPE[self.type]

    @cached_property
    def choice_values(self) -> tuple:
        return tuple(c.value for c in self.choices)

    def info(self) -> SubjectInfo:
        if self.type == "scale":
            values = self.choice_values
            return SubjectInfo(INT, frozenset(values), min(values), max(values))
        if self.choices:
            return SubjectInfo(self.kind, frozenset(self.choice_values))
        if self.type == "yes_no":
            return SubjectInfo(BOOL, frozenset({True, False}))
        return SubjectInfo(self.kind, lo=self.min, hi=self.max)

    def choice_label(self, value: Any) -> str:
        for choice in self.choices:
            if choice.value == value:
                return choice.label
        return format_value(value)


@dataclass(eq=False)
class Section:
    id: str
    title: str
    items: list[Item]
    intro: str | None = None
    show_if: Node | None = None


@dataclass(frozen=True)
class Instrument:
    id: str
    title: str
    licence: str
    citation: str
    items: tuple[str, ...]
    scores: tuple[str, ...]


@dataclass(frozen=True)
class Check:
    id: str
    fails_if: Node
    message: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class AnswerProblem:
    item_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.item_id}: {self.message}"


class InvalidAnswer(ValueError):
    """Why an answer is not valid: the message (English), and a ``code`` with the values it names, so
    an interface can say the same in the patient's language."""

    def __init__(self, message: str, code: str = "invalid", **params: Any):
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(eq=False)
class QuestionSet:
    id: str
    title: str
    sections: list[Section]
    items: dict[str, Item]
    computed: dict[str, Computed]
    scores: dict[str, Score]
    instruments: list[Instrument]
    checks: list[Check]
    content_hash: str
    source_text: str
    filename: str
    description: str | None = None
    score_instrument: dict[str, str] = field(default_factory=dict)
    translations: dict[str, Any] = field(default_factory=dict)  # language -> translations.Translation
    language: str = "en"  # the language of this object's texts (see in_language)
    source_language_items: frozenset[str] = frozenset()  # items left in the set's own language in this view
    source_language_intros: frozenset[str] = frozenset()  # sections whose intro is left in the set's language
    _views: dict[str, "QuestionSet"] = field(default_factory=dict, init=False, repr=False)
    _source: "QuestionSet | None" = field(default=None, init=False, repr=False)  # set on a language view

    def in_language(self, language: str) -> "QuestionSet":
        """The set with the texts of ``language`` where it has them, the set's own texts elsewhere.

        Ids, conditions, scores and answers are the same objects; only what a patient reads changes.
        """
        if self._source is not None:
            return self._source.in_language(language)
        if language == self.language:
            return self
        if language not in self._views:
            from .translations import language_view

            view = language_view(self, language)
            if view is not self:
                view._source = self
            self._views[language] = view
        return self._views[language]

    # -- the Resolver protocol used when conditions are compiled ------------------------------
    def subject(self, subject: str, ref: str) -> SubjectInfo | None:
        if subject == "answer":
            item = self.items.get(ref)
            return item.info() if item else None
        if subject == "computed":
            comp = self.computed.get(ref)
            return FUNCTIONS[comp.function].result if comp else None
        score = self.scores.get(ref)
        if score is None:
            return None
        if subject == "band":
            return SubjectInfo(CHOICE, score.bands.labels) if score.bands else None
        if isinstance(score, CategoricalScore):
            return SubjectInfo(CHOICE, score.values)
        return SubjectInfo(INT, lo=score.lo, hi=score.hi)

    # -- answers ---------------------------------------------------------------------------------
    def normalize_answers(self, answers: Any, as_of: datetime.date) -> tuple[dict[str, Any], list[AnswerProblem]]:
        """Check raw answers (JSON encoding of clinical-spec.md); return the valid ones and the problems."""
        if not isinstance(answers, dict):
            return {}, [AnswerProblem("answers", "must be an object mapping question ids to answers")]
        valid: dict[str, Any] = {}
        problems = []
        for key, raw in answers.items():
            item = self.items.get(key) if isinstance(key, str) else None
            if item is None:
                problems.append(AnswerProblem(str(key), "unknown question id"))
                continue
            if raw is None:
                continue
            try:
                valid[key] = normalize_answer(item, raw, as_of)
            except InvalidAnswer as exc:
                problems.append(AnswerProblem(key, str(exc)))
        return valid, problems

    def resolve(self, answers: dict[str, Any], as_of: datetime.date) -> EvaluationContext:
        """Apply ``show_if`` in order: the context holds only the answers of visible items."""
        ctx = EvaluationContext(self, as_of)
        for section in self.sections:
            section_shown = True if section.show_if is None else section.show_if.eval(ctx)
            for item in section.items:
                shown = section_shown
                if shown is True and item.show_if is not None:
                    shown = item.show_if.eval(ctx)
                if shown is True:
                    if item.id in answers:
                        ctx.answers[item.id] = answers[item.id]
                    continue
                ctx.hidden.add(item.id)
                if shown is None:
                    node = section.show_if if section_shown is None else item.show_if
                    deciding = tuple(ref for subject, ref in node.refs()
                                     if subject == "answer" and ref not in ctx.answers)
                    ctx.undetermined[item.id] = deciding or (item.id,)
        ctx.freeze()
        return ctx

    def failed_checks(self, ctx: EvaluationContext) -> list[Check]:
        return [check for check in self.checks if check.fails_if.eval(ctx) is True]

    def missing_required(self, ctx: EvaluationContext, items: list[Item] | None = None) -> list[str]:
        pool = items if items is not None else self.items.values()
        return [i.id for i in pool if i.required and i.id not in ctx.hidden and i.id not in ctx.answers]


def normalize_answer(item: Item, raw: Any, as_of: datetime.date) -> Any:
    """One answer in its JSON encoding -> the value conditions and scores use, or InvalidAnswer."""
    kind = item.type
    if kind == "yes_no":
        if isinstance(raw, bool):
            return raw
        raise InvalidAnswer("answer yes or no (true or false)", "yes_no")
    if kind in ("scale", "single_choice"):
        if not isinstance(raw, bool) and raw in item.choice_values and type(raw) is type(item.choices[0].value):
            return raw
        raise InvalidAnswer("choose one of the options: " + ", ".join(map(format_value, item.choice_values)),
                            "choose_one")
    if kind == "multi_choice":
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise InvalidAnswer("give a list of choices (an empty list if none apply)", "choose_listed")
        unknown = [v for v in raw if v not in item.choice_values]
        if unknown:
            raise InvalidAnswer(f"'{unknown[0]}' is not one of the options: " + ", ".join(item.choice_values),
                                "choose_listed")
        if len(set(raw)) != len(raw):
            raise InvalidAnswer("each option can be chosen only once", "choose_listed")
        return tuple(v for v in item.choice_values if v in raw)
    if kind in ("integer", "decimal"):
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not abs(raw) <= LARGEST_NUMBER:
            raise InvalidAnswer("enter a whole number" if kind == "integer" else "enter a number", "number")
        if kind == "integer":
            if isinstance(raw, float) and not raw.is_integer():
                raise InvalidAnswer("enter a whole number", "number")
            raw = int(raw)
        if (item.min is not None and raw < item.min) or (item.max is not None and raw > item.max):
            raise InvalidAnswer(range_message(item), "range")
        return raw
    if kind == "date":
        value = parse_date(raw)
        if value is None:
            raise InvalidAnswer("enter a real date as YYYY-MM-DD", "date")
        if item.not_future and value > as_of:
            raise InvalidAnswer("this date cannot be in the future", "date_future")
        if item.max_years_ago is not None and value < years_before(as_of, item.max_years_ago):
            raise InvalidAnswer(f"this date is more than {item.max_years_ago} years ago; please check the year",
                                "date_too_old", years=item.max_years_ago)
        return value
    if not isinstance(raw, str):
        raise InvalidAnswer("enter text", "text")
    if has_control_characters(raw):
        raise InvalidAnswer("remove the special (invisible) characters from this answer", "control_characters")
    if len(raw) > item.max_length:
        raise InvalidAnswer(f"keep this to {item.max_length} characters or fewer", "too_long",
                            max_length=item.max_length)
    return raw


CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control_characters(text: str) -> bool:
    """Free text may hold tabs and line breaks; other control characters (NUL, ESC, ...) are refused."""
    return CONTROL_CHARACTERS.search(text) is not None


def range_message(item: Item) -> str:
    noun = "a whole number" if item.type == "integer" else "a number"
    lo, hi = format_value(item.min), format_value(item.max)
    if item.min is not None and item.max is not None:
        return f"enter {noun} from {lo} to {hi}"
    if item.min is not None:
        return f"enter {noun} of at least {lo}"
    return f"enter {noun} of at most {hi}"


def parse_date(raw: Any) -> datetime.date | None:
    if isinstance(raw, datetime.date):
        return raw
    if not isinstance(raw, str) or len(raw) != 10:
        return None
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError:
        return None


def years_before(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


def encode_answer(value: Any) -> Any:
    """The JSON encoding of a normalized answer (the inverse of normalize_answer)."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value
