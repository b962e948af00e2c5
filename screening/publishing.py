"""Drafts, validation, publishing, rollback and import of question sets and rule sets.

A published version is immutable. Publishing validates the draft, runs every rule example,
and refuses a question-set change that would break the rule set that applies to it. Intakes
keep the version rows they were created with, so publishing never changes an intake in progress.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select

from . import audit
from .content import (compile_question_set, current_question_set_version, current_rule_set_version,
                      latest_version_number)
from .db import db
from .exchange.fhir_questionnaire import ImportRefused, document_yaml, import_questionnaire
from .models import Draft, QuestionSetVersion, RuleSetVersion, utcnow
from .questions import QuestionSet, parse_question_set
from .rules import RuleSet, parse_rule_set
from .rules.examples import run_examples
from .yaml_source import LoadError, Problem, Source

KINDS = {"question_set": QuestionSetVersion, "rule_set": RuleSetVersion}


@dataclass
class Checked:
    """The outcome of validating a text: the loaded set (if it loads) and every problem found."""

    question_set: QuestionSet | None = None
    rule_set: RuleSet | None = None
    problems: list[Problem] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def kind_of(text: str) -> str | None:
    try:
        data = Source(text, "upload").data
    except LoadError:
        return None
    return "rule_set" if "applies_to" in data else "question_set"


def check_question_set(text: str, label: str = "draft") -> Checked:
    try:
        qs = parse_question_set(text, label)
    except LoadError as exc:
        return Checked(problems=exc.problems)
    problems: list[Problem] = []
    rs_row = current_rule_set_version(qs.id)
    if rs_row is not None:
        name = f"rule set {rs_row.set_id} v{rs_row.version}"
        try:
            rs = parse_rule_set(rs_row.yaml_text, qs, name)
            problems += run_examples(qs, rs)
        except LoadError as exc:
            problems += exc.problems
        if problems:
            problems.insert(0, Problem(label, 1, f"this change would break the published {name}, "
                                                 f"which applies to this question set:"))
    return Checked(question_set=qs, problems=problems)


def check_rule_set(text: str, label: str = "draft") -> Checked:
    try:
        target = Source(text, label).data.get("applies_to")
    except LoadError as exc:
        return Checked(problems=exc.problems)
    qs_row = current_question_set_version(target) if isinstance(target, str) else None
    if qs_row is None:
        return Checked(problems=[Problem(label, 1, f"no published question set '{target}' to check this "
                                                   f"rule set against (applies_to)")])
    qs = compile_question_set(qs_row)
    try:
        rs = parse_rule_set(text, qs, label)
    except LoadError as exc:
        return Checked(question_set=qs, problems=exc.problems)
    return Checked(question_set=qs, rule_set=rs, problems=run_examples(qs, rs))


def check(kind: str, text: str, label: str = "draft", set_id: str | None = None) -> Checked:
    """Validate a text; with ``set_id``, its ``id`` must also still be that set's id (a draft of one
    set cannot be published as another)."""
    checked = check_question_set(text, label) if kind == "question_set" else check_rule_set(text, label)
    loaded = checked.question_set if kind == "question_set" else checked.rule_set
    if set_id is not None and loaded is not None and loaded.id != set_id:
        line = Source(text, label).line(("id",))
        checked.problems = [Problem(label, line, f"the id must stay '{set_id}' (this is the draft of "
                                                 f"'{set_id}'); to start a new set, import a file"),
                            *(checked.problems or [])]
    return checked


def set_id_of(checked: Checked, kind: str) -> str:
    return checked.question_set.id if kind == "question_set" else checked.rule_set.id


def get_draft(kind: str, set_id: str) -> Draft | None:
    return db.session.scalar(select(Draft).where(Draft.kind == kind, Draft.set_id == set_id))


def current_version(kind: str, set_id: str):
    model = KINDS[kind]
    return db.session.scalar(select(model).where(model.set_id == set_id).order_by(model.version.desc()).limit(1))


def draft_or_current_text(kind: str, set_id: str) -> str | None:
    draft = get_draft(kind, set_id)
    if draft is not None:
        return draft.yaml_text
    row = current_version(kind, set_id)
    return row.yaml_text if row is not None else None


def save_draft(kind: str, set_id: str, text: str, user_id: int | None) -> Draft:
    """Keep the admin's text whatever its state; validation is shown beside it, not enforced here."""
    draft = get_draft(kind, set_id)
    if draft is None:
        current = current_version(kind, set_id)
        draft = Draft(kind=kind, set_id=set_id, based_on_version=current.version if current else None)
        db.session.add(draft)
    draft.yaml_text = text
    draft.updated_at = utcnow()
    draft.updated_by = user_id
    db.session.commit()
    return draft


def discard_draft(kind: str, set_id: str) -> None:
    draft = get_draft(kind, set_id)
    if draft is not None:
        db.session.delete(draft)
        db.session.commit()


def _publish_text(kind: str, text: str, user_id: int | None, email: str | None, action: str,
                  detail: dict, set_id: str | None = None, label: str = "draft") -> tuple[object | None, list[Problem]]:
    checked = check(kind, text, label, set_id=set_id)
    if not checked.ok:
        return None, checked.problems
    loaded = checked.question_set if kind == "question_set" else checked.rule_set
    set_id = loaded.id
    model = KINDS[kind]
    fields = dict(set_id=set_id, version=latest_version_number(model, set_id) + 1, title=loaded.title,
                  yaml_text=text, content_hash=loaded.content_hash, published_at=utcnow(), published_by=email)
    if kind == "rule_set":
        fields["applies_to"] = loaded.applies_to
    row = model(**fields)
    db.session.add(row)
    draft = get_draft(kind, set_id)
    if draft is not None and action == "publish":
        db.session.delete(draft)
    db.session.flush()
    audit.record(f"user:{user_id}" if user_id else "system", action, f"{kind}:{set_id}",
                 version=row.version, content_hash=row.content_hash, **detail)
    db.session.commit()
    return row, []


def publish_draft(kind: str, set_id: str, user_id: int | None, email: str | None = None):
    """Validate the draft and publish it as a new immutable version: (row, []) or (None, problems)."""
    draft = get_draft(kind, set_id)
    if draft is None:
        return None, [Problem("draft", 1, "there is no draft to publish")]
    return _publish_text(kind, draft.yaml_text, user_id, email, "publish", {}, set_id=set_id)


def rollback(kind: str, set_id: str, version: int, user_id: int | None, email: str | None = None):
    """Publish an older version's content again, as a new version (history is never rewritten)."""
    model = KINDS[kind]
    old = db.session.scalar(select(model).where(model.set_id == set_id, model.version == version))
    if old is None:
        return None, [Problem("rollback", 1, f"{set_id} has no version {version}")]
    return _publish_text(kind, old.yaml_text, user_id, email, "rollback", {"restored_version": version},
                         label=f"{set_id} v{version}")


def import_text(text: str, user_id: int | None, filename: str = "upload") -> tuple[Draft | None, list[Problem]]:
    """Validate an uploaded YAML file fully; only if it is valid, it becomes the draft of its set."""
    kind = kind_of(text)
    if kind is None:
        try:
            Source(text, filename)
        except LoadError as exc:
            return None, exc.problems
    checked = check(kind, text, filename)
    if not checked.ok:
        return None, checked.problems
    set_id = set_id_of(checked, kind)
    draft = save_draft(kind, set_id, text, user_id)
    audit.record(f"user:{user_id}" if user_id else "system", "import", f"{kind}:{set_id}",
                 content_hash=(checked.question_set if kind == "question_set" else checked.rule_set).content_hash)
    db.session.commit()
    return draft, []


def free_set_id(kind: str, wanted: str) -> str:
    """``wanted`` if no version or draft of that kind uses it, else ``wanted-fhir``, ``wanted-fhir-2``, ..."""
    model = KINDS[kind]

    def used(set_id: str) -> bool:
        return (db.session.scalar(select(model.id).where(model.set_id == set_id).limit(1)) is not None
                or get_draft(kind, set_id) is not None)

    candidate, n = wanted, 1
    while used(candidate):
        suffix = "-fhir" if n == 1 else f"-fhir-{n}"
        candidate, n = wanted[:64 - len(suffix)] + suffix, n + 1
    return candidate


def import_fhir_questionnaire(text: str, user_id: int | None, filename: str = "upload.json"
                              ) -> tuple[Draft | None, list[str]]:
    """A FHIR Questionnaire (JSON) becomes the draft of a NEW question set (never an existing set's draft);
    every problem names the item and what is wrong, and nothing is saved unless the whole set is valid."""
    try:
        doc = import_questionnaire(json.loads(text))
    except json.JSONDecodeError as exc:
        return None, [f"{filename}:{exc.lineno}: invalid JSON: {exc.msg}"]
    except RecursionError:
        return None, [f"{filename}: the JSON is nested too deeply to be a Questionnaire"]
    except ImportRefused as exc:
        return None, [f"{filename}: {problem}" for problem in exc.problems]
    doc["id"] = free_set_id("question_set", doc["id"])
    draft, problems = import_text(document_yaml(doc), user_id, filename)
    return draft, [f"{p.file}: after conversion to this service's format: {p.reason}" for p in problems]
