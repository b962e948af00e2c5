"""The state one evaluation works on: the visible answers, hidden items, and lazily computed values."""

from __future__ import annotations

import datetime
from typing import Any

from .scoring import ScoreResult


class EvaluationContext:
    __slots__ = ("question_set", "as_of", "answers", "hidden", "undetermined", "caching", "_scores", "_computed")

    def __init__(self, question_set: Any, as_of: datetime.date):
        self.question_set = question_set
        self.as_of = as_of
        self.answers: dict[str, Any] = {}
        self.hidden: set[str] = set()
        # Items hidden only because their show_if was unknown, with the unanswered ids that decide it:
        # a score over them is incomplete rather than a number that looks complete.
        self.undetermined: dict[str, tuple[str, ...]] = {}
        self.caching = False  # off while visibility is being resolved and answers still change
        self._scores: dict[str, ScoreResult] = {}
        self._computed: dict[str, Any] = {}

    def missing_for(self, item_id: str) -> tuple[str, ...]:
        """Why an item's answer is missing from a score: itself, what decides whether it is asked, or nothing."""
        if item_id in self.answers:
            return ()
        if item_id not in self.hidden:
            return (item_id,)
        return self.undetermined.get(item_id, ())

    def freeze(self) -> None:
        self.caching = True

    def score(self, ref: str) -> ScoreResult:
        if self.caching and ref in self._scores:
            return self._scores[ref]
        result = self.question_set.scores[ref].compute(self)
        if self.caching:
            self._scores[ref] = result
        return result

    def score_value(self, ref: str) -> Any:
        result = self.score(ref)
        return result.value if result.complete else None

    def band(self, ref: str) -> str | None:
        return self.score(ref).band

    def computed(self, ref: str) -> Any:
        if self.caching and ref in self._computed:
            return self._computed[ref]
        value = self.question_set.computed[ref].compute(self)
        if self.caching:
            self._computed[ref] = value
        return value
