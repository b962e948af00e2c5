"""Rule sets: flags with a severity, a message, a source, a condition and worked examples."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ..yaml_source import LoadError, Problem, Source
from .conditions import ConditionCompiler, Node

if TYPE_CHECKING:
    from ..questions.model import QuestionSet

SEVERITIES = ("exclude", "urgent", "review", "info")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

Id = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=4000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ExampleDoc(_Strict):
    answers: dict[str, Any]
    fires: bool
    as_of: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = None
    note: Text | None = None


class RuleDoc(_Strict):
    id: Id
    severity: Literal["exclude", "urgent", "review", "info"]
    when: dict[str, Any]
    message: Text
    source: Text
    examples: Annotated[list[ExampleDoc], Field(min_length=2)]


class RuleSetDoc(_Strict):
    id: Id
    title: Text
    description: Text | None = None
    applies_to: Id
    rules: Annotated[list[RuleDoc], Field(min_length=1)]


@dataclass(frozen=True)
class Example:
    answers: dict[str, Any]  # normalized
    fires: bool
    as_of: datetime.date
    line: int
    note: str | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    when: Node
    message: str
    source: str
    examples: tuple[Example, ...]
    line: int


@dataclass(eq=False)
class RuleSet:
    id: str
    title: str
    applies_to: str
    rules: list[Rule]
    content_hash: str
    source_text: str
    filename: str
    description: str | None = None


# Examples without an as_of are evaluated on this fixed date, so a rule set's examples give the
# same verdict every day (an example about age would otherwise change as time passes).
EXAMPLE_DEFAULT_AS_OF = datetime.date(2026, 1, 1)


def load_rule_set(path: str | Path, question_set: QuestionSet) -> RuleSet:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError([Problem(str(path), 1, f"cannot read the file: {exc}")]) from None
    return parse_rule_set(text, question_set, str(path))


def parse_rule_set(text: str, question_set: QuestionSet, filename: str = "<rule set>") -> RuleSet:
    source = Source(text, filename)
    doc: RuleSetDoc = source.validate(RuleSetDoc)
    problems: list[Problem] = []

    def report(path: tuple, reason: str) -> None:
        problems.append(source.problem(path, reason))

    if doc.applies_to != question_set.id:
        report(("applies_to",), f"this rule set applies to '{doc.applies_to}', not to the question set "
                                f"'{question_set.id}' it is being checked against")
        raise LoadError(problems)
    compiler = ConditionCompiler(question_set, report)
    rules = []
    seen: dict[str, int] = {}
    for index, rdoc in enumerate(doc.rules):
        path = ("rules", index)
        if rdoc.id in seen:
            report(path + ("id",), f"duplicate rule id '{rdoc.id}'; first used on line {seen[rdoc.id]}")
        seen.setdefault(rdoc.id, source.line(path))
        when = compiler.compile(rdoc.when, path + ("when",))
        examples = _examples(rdoc, path, question_set, source, report)
        if when is not None:
            rules.append(Rule(rdoc.id, rdoc.severity, when, rdoc.message, rdoc.source, tuple(examples),
                              source.line(path)))
    if problems:
        raise LoadError(sorted(dict.fromkeys(problems), key=lambda p: p.line))
    return RuleSet(doc.id, doc.title, doc.applies_to, rules, source.content_hash(), text, filename,
                   doc.description)


def _examples(rdoc: RuleDoc, path: tuple, question_set: QuestionSet, source: Source, report) -> list[Example]:
    verdicts = {e.fires for e in rdoc.examples}
    if verdicts != {True, False}:
        missing = "fires" if True not in verdicts else "does not fire"
        report(path + ("examples",), f"rule '{rdoc.id}' needs at least one example that {missing}")
    examples = []
    for n, edoc in enumerate(rdoc.examples):
        e_path = path + ("examples", n)
        try:
            as_of = datetime.date.fromisoformat(edoc.as_of) if edoc.as_of else EXAMPLE_DEFAULT_AS_OF
        except ValueError:
            report(e_path + ("as_of",), f"as_of '{edoc.as_of}' is not a real date")
            continue
        answers, answer_problems = question_set.normalize_answers(edoc.answers, as_of)
        for problem in answer_problems:
            report(e_path + ("answers", problem.item_id), f"example answer {problem}")
        examples.append(Example(answers, edoc.fires, as_of, source.line(e_path), edoc.note))
    return examples
