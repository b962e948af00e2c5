"""Values computed from answers: a closed registry of functions, named in YAML."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable

from ..rules.conditions import DATE, INT, NUM, NUMERIC, SubjectInfo


def age_years(as_of: datetime.date, born: datetime.date) -> int | None:
    """Whole years completed on ``as_of``; someone born on 29 February turns a year older on 1 March."""
    if born > as_of:
        return None
    years = as_of.year - born.year
    if (as_of.month, as_of.day) < (born.month, born.day):
        years -= 1
    return years


def round_half_up(value: float, decimals: int) -> float:
    return float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def bmi(as_of: datetime.date, weight_kg: float, height_cm: float) -> float | None:
    if height_cm <= 0:
        return None
    return round_half_up(weight_kg / (height_cm / 100) ** 2, 1)


@dataclass(frozen=True)
class Function:
    inputs: tuple[frozenset[str], ...]  # accepted kinds for each input
    input_names: tuple[str, ...]
    result: SubjectInfo
    fn: Callable[..., Any]


FUNCTIONS: dict[str, Function] = {
    "age_years": Function((frozenset({DATE}),), ("a date of birth",), SubjectInfo(INT, lo=0, hi=150), age_years),
    "bmi": Function((NUMERIC, NUMERIC), ("a weight in kg", "a height in cm"), SubjectInfo(NUM, lo=0), bmi),
}


@dataclass(frozen=True)
class Computed:
    id: str
    label: str
    unit: str | None
    function: str
    inputs: tuple[str, ...]

    def compute(self, ctx: Any) -> Any:
        values = [ctx.answers.get(i) for i in self.inputs]
        if None in values:
            return None
        return FUNCTIONS[self.function].fn(ctx.as_of, *values)
