"""The shape of a question-set document (structure only; meaning is checked by the loader)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Id = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=4000)]
Number = int | float

ITEM_TYPES = ("yes_no", "single_choice", "multi_choice", "scale", "integer", "decimal", "text", "date")
ItemType = Literal["yes_no", "single_choice", "multi_choice", "scale", "integer", "decimal", "text", "date"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ChoiceDoc(Strict):
    value: int | Annotated[str, StringConstraints(min_length=1, max_length=64)]
    label: Text
    help: Text | None = None


class ItemDoc(Strict):
    id: Id
    type: ItemType
    text: Text
    help: Text | None = None
    required: bool = False
    show_if: dict[str, Any] | None = None
    choices: list[ChoiceDoc] | Id | None = None
    none_label: Text | None = None
    min: Number | None = None
    max: Number | None = None
    step: Number | None = None
    unit: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    max_length: Annotated[int, Field(gt=0, le=20000)] | None = None
    not_future: bool = False
    max_years_ago: Annotated[int, Field(gt=0, le=200)] | None = None


class SectionDoc(Strict):
    id: Id
    title: Text
    intro: Text | None = None
    show_if: dict[str, Any] | None = None
    items: Annotated[list[ItemDoc], Field(min_length=1)]


class ComputedDoc(Strict):
    id: Id
    label: Text
    function: Literal["age_years", "bmi"]
    inputs: list[Id]
    unit: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None


Label = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class BandDoc(Strict):
    min: int
    max: int
    label: Label


class BandsWhenDoc(Strict):
    when: dict[str, Any] | None = None
    bands: Annotated[list[BandDoc], Field(min_length=1)]


class CategoryDoc(Strict):
    value: Label
    when: dict[str, Any] | None = None


class ScoreDoc(Strict):
    id: Id
    label: Text | None = None
    method: Literal["sum", "count", "categorical"]
    items: list[Id] | None = None
    reverse: list[Id] = []
    counts: Any = True
    bands: Annotated[list[BandDoc], Field(min_length=1)] | None = None
    bands_by: Annotated[list[BandsWhenDoc], Field(min_length=1)] | None = None
    categories: Annotated[list[CategoryDoc], Field(min_length=1)] | None = None


class InstrumentDoc(Strict):
    id: Id
    title: Text
    licence: Text
    citation: Text
    items: Annotated[list[Id], Field(min_length=1)]
    scores: list[ScoreDoc] = []


class CheckDoc(Strict):
    id: Id
    fails_if: dict[str, Any]
    message: Text
    items: Annotated[list[Id], Field(min_length=1)]


class ChoiceTranslationDoc(Strict):
    label: Text | None = None
    help: Text | None = None


class ItemTranslationDoc(Strict):
    text: Text | None = None
    help: Text | None = None
    none_label: Text | None = None
    unit: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    choices: dict[str, Text | ChoiceTranslationDoc] | None = None  # keyed by choice value


class SectionTranslationDoc(Strict):
    title: Text | None = None
    intro: Text | None = None


class CheckTranslationDoc(Strict):
    message: Text


class InstrumentTranslationDoc(Strict):
    source: Text  # where the published translation used word for word comes from


class LanguageDoc(Strict):
    title: Text | None = None
    description: Text | None = None
    instruments: dict[str, InstrumentTranslationDoc] = {}
    sections: dict[str, SectionTranslationDoc] = {}
    items: dict[str, ItemTranslationDoc] = {}
    checks: dict[str, CheckTranslationDoc] = {}


class QuestionSetDoc(Strict):
    id: Id
    title: Text
    description: Text | None = None
    choice_sets: dict[Id, Annotated[list[ChoiceDoc], Field(min_length=1)]] = {}
    sections: Annotated[list[SectionDoc], Field(min_length=1)]
    computed: list[ComputedDoc] = []
    instruments: list[InstrumentDoc] = []
    checks: list[CheckDoc] = []
    translations: dict[str, LanguageDoc] = {}  # language code -> texts in that language
