"""answers + question set + rule set -> Result: scores, computed values, and flags that explain themselves.

Plain Python: the web layer, the CLI and the PDF all call ``evaluate``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from .questions.model import AnswerProblem, QuestionSet
from .rules.conditions import Fact
from .rules.context import EvaluationContext
from .rules.ruleset import SEVERITY_RANK, Rule, RuleSet
from .rules.scoring import ScoreResult


@dataclass(frozen=True)
class Flag:
    rule: str
    severity: str
    message: str
    source: str
    because: tuple[Fact, ...]

    def to_json(self) -> dict:
        return {"rule": self.rule, "severity": self.severity, "message": self.message,
                "source": self.source, "because": [f.to_json() for f in self.because]}


@dataclass
class Result:
    question_set: QuestionSet
    rule_set: RuleSet
    as_of: datetime.date
    scores: dict[str, ScoreResult]
    computed: dict[str, Any]
    flags: list[Flag]
    ignored: list[str] = field(default_factory=list)   # answers to hidden items
    rejected: list[AnswerProblem] = field(default_factory=list)  # answers that were not valid

    def flags_by_severity(self) -> dict[str, list[Flag]]:
        grouped: dict[str, list[Flag]] = {name: [] for name in SEVERITY_RANK}
        for flag in self.flags:
            grouped[flag.severity].append(flag)
        return grouped

    @property
    def highest_severity(self) -> str | None:
        return self.flags[0].severity if self.flags else None

    def to_json(self) -> dict:
        return {
            "question_set": {"id": self.question_set.id, "content_hash": self.question_set.content_hash},
            "rule_set": {"id": self.rule_set.id, "content_hash": self.rule_set.content_hash},
            "as_of": self.as_of.isoformat(),
            "scores": {sid: r.to_json() for sid, r in self.scores.items()},
            "computed": self.computed,
            "flags": [f.to_json() for f in self.flags],
            "ignored": self.ignored,
            "rejected": [{"id": p.item_id, "reason": p.message} for p in self.rejected],
        }


def evaluate(question_set: QuestionSet, rule_set: RuleSet, answers: Any,
             as_of: datetime.date | None = None) -> Result:
    """Evaluate raw answers (JSON encoding). Never raises on bad answers: they are reported in ``rejected``."""
    as_of = as_of or datetime.date.today()
    valid, rejected = question_set.normalize_answers(answers, as_of)
    ctx = question_set.resolve(valid, as_of)
    return Result(
        question_set=question_set,
        rule_set=rule_set,
        as_of=as_of,
        scores={sid: ctx.score(sid) for sid in question_set.scores},
        computed={cid: ctx.computed(cid) for cid in question_set.computed},
        flags=fired_flags(rule_set.rules, ctx),
        ignored=[item_id for item_id in valid if item_id in ctx.hidden],
        rejected=rejected,
    )


def fired_flags(rules: list[Rule], ctx: EvaluationContext) -> list[Flag]:
    flags = [Flag(rule.id, rule.severity, rule.message, rule.source, tuple(rule.when.explain(ctx, True)))
             for rule in rules if rule.when.eval(ctx) is True]
    flags.sort(key=lambda f: SEVERITY_RANK[f.severity])  # stable: file order within a severity
    return flags
