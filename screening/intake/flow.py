"""The patient's path through a pinned question set: which sections show, where to resume, what blocks a page.

Plain functions over the core's ``QuestionSet`` (no Flask here, so the rules of the path can be tested
without a request). Answers come in as stored (the JSON encoding of clinical-spec.md) and are
normalized once; a stale answer to a hidden item stays in the draft and is simply not visible here.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from typing import Any, Iterable

from ..questions.model import Item, QuestionSet, Section
from ..rules.conditions import ConditionCompiler, Node

log = logging.getLogger(__name__)

# An item whose answer must be exactly this for the patient to go on. The page is shown again with a
# kind note (never an error tone) until it is. Kept here, not in the YAML: the format has no such key.
GATES: dict[str, Any] = {"consent_given": True}

# When the crisis-support page follows a page. Each entry is (level, condition) in the core's condition
# language, compiled against the intake's own question set; an entry naming an id the set does not have
# is skipped (a clinic's own set without the ASQ still works). A trigger fires right after a page that
# holds one of the answers it names, when the condition is true. ``INTAKE_SUPPORT_TRIGGERS`` in the app
# config replaces this list.
DEFAULT_SUPPORT_TRIGGERS: tuple[tuple[str, dict], ...] = (
    ("urgent", {"answer": "asq_5", "eq": True}),
    ("support", {"answer": "asq_1", "eq": True}),
    ("support", {"answer": "asq_2", "eq": True}),
    ("support", {"answer": "asq_3", "eq": True}),
    ("support", {"answer": "asq_4", "eq": True}),
    ("support", {"answer": "phq9_9", "gte": 1}),
)
SUPPORT_LEVELS = ("urgent", "support")  # most pressing first


@dataclass(frozen=True)
class Problem:
    item_id: str
    kind: str  # "required", "check" or "gate"
    message: str


def required_message(item: Item) -> str:
    if item.type in ("yes_no", "scale", "single_choice"):
        return "Please choose an answer."
    if item.type == "multi_choice":
        return f"Please choose the ones that apply, or \u201c{item.none_label or 'None of these'}\u201d."
    if item.type == "date":
        return "Please enter a date."
    return "Please enter an answer."


class Journey:
    """One moment of one intake: its normalized answers, what is visible, and the path through it."""

    def __init__(self, qs: QuestionSet, answers: dict[str, Any], as_of: datetime.date,
                 completed: Iterable[str] = ()):
        self.qs = qs
        self.as_of = as_of
        self.completed = frozenset(completed)
        self.answers, _ = qs.normalize_answers(answers or {}, as_of)
        self.ctx = qs.resolve(self.answers, as_of)

    # -- visibility ------------------------------------------------------------------------------
    def visible_items(self, section: Section) -> list[Item]:
        return [item for item in section.items if item.id not in self.ctx.hidden]

    def is_visible(self, section: Section) -> bool:
        return any(item.id not in self.ctx.hidden for item in section.items)

    def visible_sections(self) -> list[Section]:
        return [s for s in self.qs.sections if self.is_visible(s)]

    def answer(self, item_id: str) -> Any:
        """The visible answer (None if unanswered or hidden)."""
        return self.ctx.answers.get(item_id)

    # -- what stops a page -------------------------------------------------------------------------
    def problems(self, section: Section) -> list[Problem]:
        items = self.visible_items(section)
        found: dict[str, Problem] = {}
        for item_id in self.qs.missing_required(self.ctx, items):
            found[item_id] = Problem(item_id, "required", required_message(self.qs.items[item_id]))
        visible = {item.id for item in items}
        for check in self.qs.failed_checks(self.ctx):
            for item_id in check.items:
                if item_id in visible and item_id not in found:
                    found[item_id] = Problem(item_id, "check", check.message)
        for item_id, wanted in GATES.items():
            if item_id in visible and item_id not in found and item_id in self.ctx.answers \
                    and self.ctx.answers[item_id] != wanted:
                found[item_id] = Problem(item_id, "gate", "")
        order = {item.id: n for n, item in enumerate(section.items)}
        return sorted(found.values(), key=lambda p: order[p.item_id])

    def first_incomplete(self) -> Section | None:
        for section in self.visible_sections():
            if self.problems(section):
                return section
        return None

    # -- the path --------------------------------------------------------------------------------
    def resume_section(self) -> Section | None:
        """Where to pick up: the first visible page the patient has not yet left with Next, or one
        that stops them (an answer there changed since); None means every page is done (review)."""
        for section in self.visible_sections():
            if section.id not in self.completed or self.problems(section):
                return section
        return None

    def may_open(self, section: Section) -> bool:
        """A visible page no later than the first page that stops the patient."""
        if not self.is_visible(section):
            return False
        blocking = self.first_incomplete()
        return blocking is None or self.qs.sections.index(section) <= self.qs.sections.index(blocking)

    def next_after(self, section: Section) -> Section | None:
        later = self.qs.sections[self.qs.sections.index(section) + 1:]
        return next((s for s in later if self.is_visible(s)), None)

    def previous_before(self, section: Section) -> Section | None:
        earlier = self.qs.sections[:self.qs.sections.index(section)]
        return next((s for s in reversed(earlier) if self.is_visible(s)), None)

    def position(self, section: Section) -> tuple[int, int]:
        """(number, total) among the visible sections, e.g. (3, 11) for "Section 3 of 11"."""
        sections = self.visible_sections()
        number = sections.index(section) + 1 if section in sections else len(sections)
        return number, len(sections)


def live_triggers(qs: QuestionSet, section: Section) -> list[str]:
    """Ids of this page's items whose answers can change which of this page's items show."""
    on_page = {item.id for item in section.items}
    found: set[str] = set()
    for item in section.items:
        if item.show_if is not None:
            found |= answer_refs(qs, item.show_if) & on_page
    return [item.id for item in section.items if item.id in found]


def answer_refs(qs: QuestionSet, node: Node) -> set[str]:
    """Every item whose answer a condition reads, also through scores and computed values."""
    refs: set[str] = set()
    for subject, ref in node.refs():
        refs |= _subject_items(qs, subject, ref, frozenset())
    return refs


def _subject_items(qs: QuestionSet, subject: str, ref: str, seen: frozenset) -> set[str]:
    if subject == "answer":
        return {ref}
    if (subject, ref) in seen:
        return set()
    seen = seen | {(subject, ref)}
    if subject == "computed":
        comp = qs.computed.get(ref)
        return set(comp.inputs) if comp else set()
    score = qs.scores.get(ref)
    if score is None:
        return set()
    found = set(score.items)
    for attr in ("categories",):
        for _, when in getattr(score, attr, ()) or ():
            if when is not None:
                for sub, sref in when.refs():
                    found |= _subject_items(qs, sub, sref, seen)
    return found


# -- crisis support ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SupportTrigger:
    level: str
    when: Node
    items: frozenset[str]


_compiled_triggers: dict[tuple, list[SupportTrigger]] = {}


def compile_triggers(qs: QuestionSet, raw: Iterable[tuple[str, dict]]) -> list[SupportTrigger]:
    raw = tuple((level, cond) for level, cond in raw)
    key = (qs.content_hash, repr(raw))
    if key in _compiled_triggers:
        return _compiled_triggers[key]
    triggers = []
    for n, (level, condition) in enumerate(raw):
        problems: list[str] = []
        node = ConditionCompiler(qs, lambda path, reason: problems.append(reason)).compile(condition, (n,))
        if node is None or level not in SUPPORT_LEVELS:
            log.info("support trigger %d not used with question set %s: %s", n, qs.id,
                     "; ".join(problems) or f"unknown level {level!r}")
            continue
        triggers.append(SupportTrigger(level, node, frozenset(answer_refs(qs, node))))
    _compiled_triggers[key] = triggers
    return triggers


def support_level(journey: Journey, section: Section, triggers: list[SupportTrigger]) -> str | None:
    """The crisis-support level the answers on ``section`` call for, most pressing first, or None."""
    on_page = {item.id for item in section.items}
    fired = {t.level for t in triggers if t.items & on_page and t.when.eval(journey.ctx) is True}
    return next((level for level in SUPPORT_LEVELS if level in fired), None)
