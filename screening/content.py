"""Shipped default content, publishing versions to the database, and the compiled-set cache.

Published versions are immutable, so a compiled QuestionSet/RuleSet is cached per version row
for the life of the process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from .db import db
from .models import QuestionSetVersion, RuleSetVersion
from .questions import QuestionSet, load_question_set, parse_question_set
from .rules import RuleSet, load_rule_set, parse_rule_set
from .rules.examples import run_examples
from .yaml_source import LoadError, Problem, Source

PACKAGE = Path(__file__).parent
QUESTION_DIR = PACKAGE / "questions"
RULE_DIR = PACKAGE / "rules"
default_question_set_path = QUESTION_DIR / "ketamine-intake.yaml"
default_rule_set_path = RULE_DIR / "ketamine-safety.yaml"


def shipped_files() -> tuple[list[Path], list[Path]]:
    return sorted(QUESTION_DIR.glob("*.yaml")), sorted(RULE_DIR.glob("*.yaml"))


def load_checked(question_paths: list[Path], rule_paths: list[Path]
                 ) -> tuple[dict[str, QuestionSet], list[RuleSet], list[Problem]]:
    """Load question sets, then rule sets against the question set they name; run every example."""
    question_sets: dict[str, QuestionSet] = {}
    rule_sets: list[RuleSet] = []
    problems: list[Problem] = []
    for path in question_paths:
        try:
            qs = load_question_set(path)
        except LoadError as exc:
            problems.extend(exc.problems)
            continue
        if qs.id in question_sets:
            problems.append(Problem(str(path), 1, f"question set id '{qs.id}' is also used by "
                                                  f"{question_sets[qs.id].filename}"))
        question_sets[qs.id] = qs
    for path in rule_paths:
        target = document_header(path).get("applies_to")
        if target not in question_sets:
            problems.append(Problem(str(path), 1, f"no question set with id '{target}' was given to check "
                                                  f"this rule set against"))
            continue
        try:
            rs = load_rule_set(path, question_sets[target])
        except LoadError as exc:
            problems.extend(exc.problems)
            continue
        problems.extend(run_examples(question_sets[target], rs))
        rule_sets.append(rs)
    return question_sets, rule_sets, problems


def document_header(path: Path) -> dict:
    """The top-level keys of a YAML file (for telling rule sets from question sets), or {} if unreadable."""
    try:
        return Source(path.read_text(encoding="utf-8"), str(path)).data
    except (LoadError, OSError, UnicodeDecodeError):
        return {}


def is_rule_set_file(path: Path) -> bool:
    return "applies_to" in document_header(path)


_shipped_checked: dict[tuple, tuple] = {}


def checked_shipped_content() -> tuple[dict[str, QuestionSet], list[RuleSet], list[Problem]]:
    """The shipped sets, loaded and checked (examples run) once per process for the same files and
    contents: every new database publishes them, and the tests make hundreds of databases."""
    question_paths, rule_paths = shipped_files()
    key = tuple((str(path), path.read_bytes()) for path in [*question_paths, *rule_paths])
    if key not in _shipped_checked:
        _shipped_checked.clear()
        _shipped_checked[key] = load_checked(question_paths, rule_paths)
    return _shipped_checked[key]


def bootstrap_defaults() -> None:
    """Publish the shipped content as version 1 of each set the database does not have yet."""
    question_sets, rule_sets, problems = checked_shipped_content()
    if problems:
        raise LoadError(problems)
    for qs in question_sets.values():
        if db.session.scalar(select(QuestionSetVersion.id).where(QuestionSetVersion.set_id == qs.id)) is None:
            db.session.add(QuestionSetVersion(set_id=qs.id, version=1, title=qs.title, yaml_text=qs.source_text,
                                              content_hash=qs.content_hash, published_by="shipped default"))
    for rs in rule_sets:
        if db.session.scalar(select(RuleSetVersion.id).where(RuleSetVersion.set_id == rs.id)) is None:
            db.session.add(RuleSetVersion(set_id=rs.id, version=1, applies_to=rs.applies_to, title=rs.title,
                                          yaml_text=rs.source_text, content_hash=rs.content_hash,
                                          published_by="shipped default"))
    db.session.commit()


def current_question_set_version(set_id: str) -> QuestionSetVersion | None:
    return db.session.scalar(select(QuestionSetVersion).where(QuestionSetVersion.set_id == set_id)
                             .order_by(QuestionSetVersion.version.desc()).limit(1))


def current_rule_set_version(applies_to: str) -> RuleSetVersion | None:
    """The newest published rule set for a question set (the most recently published set wins)."""
    return db.session.scalar(select(RuleSetVersion).where(RuleSetVersion.applies_to == applies_to)
                             .order_by(RuleSetVersion.published_at.desc(), RuleSetVersion.id.desc()).limit(1))


_compiled: dict[tuple[str, ...], QuestionSet | RuleSet] = {}


def compile_question_set(row: QuestionSetVersion) -> QuestionSet:
    key = (row.content_hash,)
    if key not in _compiled:
        _compiled[key] = parse_question_set(row.yaml_text, f"{row.set_id} v{row.version}")
    return _compiled[key]


_by_version_id: dict[tuple[Any, int], QuestionSet] = {}


def question_set_of_version(version_id: int) -> QuestionSet:
    """The compiled question set of a published version, by its id. Versions are immutable, so
    after the first call this makes no query (the patient's pages ask on every request). Keyed by
    the database URL too: one process may serve several databases (the tests do)."""
    key = (db.engine.url, version_id)
    qs = _by_version_id.get(key)
    if qs is None:
        qs = _by_version_id[key] = compile_question_set(db.session.get(QuestionSetVersion, version_id))
    return qs


def compile_rule_set(row: RuleSetVersion, qs_row: QuestionSetVersion) -> RuleSet:
    key = (row.content_hash, qs_row.content_hash)
    if key not in _compiled:
        _compiled[key] = parse_rule_set(row.yaml_text, compile_question_set(qs_row), f"{row.set_id} v{row.version}")
    return _compiled[key]


_rules_by_version_ids: dict[tuple[Any, int, int], RuleSet] = {}


def rule_set_of_versions(rule_set_version_id: int, question_set_version_id: int) -> RuleSet:
    """The compiled rule set of a published version against its question set's version, by their ids;
    like ``question_set_of_version``, no query after the first call (a patient's every save asks)."""
    key = (db.engine.url, rule_set_version_id, question_set_version_id)
    rs = _rules_by_version_ids.get(key)
    if rs is None:
        rs = _rules_by_version_ids[key] = compile_rule_set(db.session.get(RuleSetVersion, rule_set_version_id),
                                                           db.session.get(QuestionSetVersion, question_set_version_id))
    return rs


def latest_version_number(model, set_id: str) -> int:
    return db.session.scalar(select(func.max(model.version)).where(model.set_id == set_id)) or 0
