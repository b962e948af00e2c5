"""Declared scores: sums (with reverse-scored items), counts, categorical results and bands.

Hidden items never count: they add 0 to a sum, never match a count and are
never "missing". A visible unanswered item makes the score incomplete, which
is reported as such and never as a number that looks complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .conditions import Node


@dataclass(frozen=True)
class ScoreResult:
    value: Any
    band: str | None
    complete: bool
    missing: tuple[str, ...] = ()

    def to_json(self) -> dict:
        if not self.complete:
            return {"value": None, "complete": False, "missing": list(self.missing)}
        return {"value": self.value, "band": self.band, "complete": True}


@dataclass(frozen=True)
class Band:
    lo: int
    hi: int
    label: str


@dataclass(frozen=True)
class Bands:
    """Band lists, each with an optional condition; the first whose condition is true applies."""

    options: tuple[tuple[Node | None, tuple[Band, ...]], ...]

    def label_for(self, value: int, ctx: Any) -> str | None:
        for when, bands in self.options:
            if when is None or when.eval(ctx) is True:
                for band in bands:
                    if band.lo <= value <= band.hi:
                        return band.label
                return None
        return None

    @property
    def labels(self) -> frozenset[str]:
        return frozenset(self.labels_in_order)

    @property
    def labels_in_order(self) -> tuple[str, ...]:
        """Each label once, in the order the set declares them (lowest band first)."""
        return tuple(dict.fromkeys(b.label for _, bands in self.options for b in bands))


def band_coverage_problems(bands: Sequence[Band], lo: int, hi: int) -> list[tuple[int, str]]:
    """(index of the band, reason) for every gap, overlap or overhang in a band list."""
    problems = []
    expected = lo
    for index, band in enumerate(bands):
        if band.lo > band.hi:
            problems.append((index, f"band '{band.label}' has min {band.lo} above max {band.hi}"))
            continue
        if band.lo > expected:
            gap = f"{expected}" if band.lo - 1 == expected else f"{expected} to {band.lo - 1}"
            problems.append((index, f"gap before band '{band.label}': scores of {gap} have no band"))
        elif band.lo < expected:
            if index == 0:
                problems.append((index, f"band '{band.label}' starts at {band.lo}, below the lowest "
                                        f"possible score {lo}"))
            else:
                problems.append((index, f"band '{band.label}' overlaps the band before it "
                                        f"(starts at {band.lo}, the previous one ends at {expected - 1})"))
        expected = max(expected, band.hi + 1)
    if bands and expected - 1 < hi:
        problems.append((len(bands) - 1, f"scores of {expected} to {hi} have no band "
                                         f"(the highest possible score is {hi})"))
    elif bands and expected - 1 > hi:
        problems.append((len(bands) - 1, f"band '{bands[-1].label}' ends at {expected - 1}, above the "
                                         f"highest possible score {hi}"))
    return problems


class Score:
    """Base of the declared score methods."""

    id: str
    label: str
    items: tuple[str, ...]
    bands: Bands | None

    def compute(self, ctx: Any) -> ScoreResult:
        raise NotImplementedError

    def _result(self, value: Any, ctx: Any, missing: list[str]) -> ScoreResult:
        if missing:
            return ScoreResult(None, None, False, tuple(dict.fromkeys(missing)))
        band = self.bands.label_for(value, ctx) if self.bands is not None else None
        return ScoreResult(value, band, True)


class SumScore(Score):
    def __init__(self, id: str, label: str, items: Sequence[str], reverse: dict[str, tuple[int, int]],
                 bands: Bands | None, lo: int, hi: int):
        self.id, self.label, self.items = id, label, tuple(items)
        self.reverse = reverse  # item id -> (lowest, highest) option score
        self.bands, self.lo, self.hi = bands, lo, hi

    def compute(self, ctx: Any) -> ScoreResult:
        total = 0
        missing: list[str] = []
        answers = ctx.answers
        for item_id in self.items:
            value = answers.get(item_id)
            if value is None:
                missing.extend(ctx.missing_for(item_id))
                continue
            if item_id in self.reverse:
                low, high = self.reverse[item_id]
                value = low + high - value
            total += int(value)
        return self._result(total, ctx, missing)


class CountScore(Score):
    def __init__(self, id: str, label: str, items: Sequence[str], counts: Any, bands: Bands | None):
        self.id, self.label, self.items = id, label, tuple(items)
        self.counts, self.bands = counts, bands
        self.lo, self.hi = 0, len(self.items)

    def compute(self, ctx: Any) -> ScoreResult:
        count = 0
        missing = []
        for item_id in self.items:
            value = ctx.answers.get(item_id)
            if value is None:
                missing.extend(ctx.missing_for(item_id))
            elif value == self.counts and type(value) is type(self.counts):
                count += 1
        return self._result(count, ctx, missing)


class CategoricalScore(Score):
    def __init__(self, id: str, label: str, categories: Sequence[tuple[str, Node | None]]):
        self.id, self.label = id, label
        self.categories = tuple(categories)
        self.items = tuple(dict.fromkeys(
            ref for _, when in self.categories if when is not None
            for subject, ref in when.refs() if subject == "answer"))
        self.bands = None

    @property
    def values(self) -> frozenset[str]:
        return frozenset(value for value, _ in self.categories)

    def compute(self, ctx: Any) -> ScoreResult:
        for value, when in self.categories:
            outcome = True if when is None else when.eval(ctx)
            if outcome is True:
                return ScoreResult(value, None, True)
            if outcome is None:
                missing = [m for i in self.items for m in ctx.missing_for(i)]
                return ScoreResult(None, None, False, tuple(dict.fromkeys(missing)))
        raise AssertionError("the loader guarantees a final category without a condition")
