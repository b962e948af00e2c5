"""Run every rule's worked examples through the whole question set, so a rule set is tested like code."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..yaml_source import Problem
from .ruleset import RuleSet

if TYPE_CHECKING:
    from ..questions.model import QuestionSet


def run_examples(question_set: QuestionSet, rule_set: RuleSet) -> list[Problem]:
    """A problem for every example whose verdict differs from what it declares (empty: all pass)."""
    problems = []
    for rule in rule_set.rules:
        for number, example in enumerate(rule.examples, start=1):
            ctx = question_set.resolve(example.answers, example.as_of)
            outcome = rule.when.eval(ctx)
            if (outcome is True) == example.fires:
                continue
            facts = "; ".join(f.text for f in rule.when.explain(ctx, outcome is True)) or "no answers"
            verdict = {True: "fired", False: "did not fire",
                       None: "could not decide (an answer it needs is missing)"}[outcome]
            expected = "fire" if example.fires else "not fire"
            problems.append(Problem(rule_set.filename, example.line,
                                    f"rule '{rule.id}' example {number}: expected to {expected} but it "
                                    f"{verdict}: {facts}"))
    return problems


def count_examples(rule_set: RuleSet) -> int:
    return sum(len(rule.examples) for rule in rule_set.rules)
