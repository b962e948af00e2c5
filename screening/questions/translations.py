"""A question set's texts in other languages: checking the ``translations:`` block, and language views.

The set's own texts are in ``SOURCE_LANGUAGE``. A translation gives, per language, any of the texts a
patient reads (titles, intros, question texts, help, choice labels, units, check messages); a text
it does not give falls back to the set's own, one text at a time. A question that belongs to a
validated instrument may only be translated when the language names the instrument's published
translation (``instruments: {phq9: {source: ...}}``): an instrument reworded by anyone else is no
longer the validated instrument, so without one its questions stay in the source language.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from .model import QuestionSet
    from .schema import LanguageDoc

SOURCE_LANGUAGE = "en"
# The languages a question set can be translated into: code -> (name in English, name in itself).
LANGUAGES: dict[str, tuple[str, str]] = {
    "en": ("English", "English"),
    "es": ("Spanish", "Español"),
}


def language_name(code: str | None, native: bool = False) -> str:
    names = LANGUAGES.get(code or SOURCE_LANGUAGE)
    if names is None:
        return str(code)
    return names[1] if native else names[0]


@dataclass(frozen=True)
class ItemText:
    text: str | None = None
    help: str | None = None
    none_label: str | None = None
    unit: str | None = None
    choices: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # value -> (label, help)


@dataclass(frozen=True)
class Translation:
    """One language's texts, checked against the set; ids are the set's own."""

    language: str
    title: str | None
    description: str | None
    sources: dict[str, str]  # instrument id -> where its published translation comes from
    sections: dict[str, tuple[str | None, str | None]]  # section id -> (title, intro)
    items: dict[str, ItemText]
    checks: dict[str, str]


def check_translations(qs: QuestionSet, docs: dict[str, LanguageDoc],
                       report: Callable[[tuple, str], None]) -> dict[str, Translation]:
    """Every language block checked against the built set; problems go to ``report(path, reason)``."""
    instrument_of = {ref: inst.id for inst in qs.instruments for ref in inst.items}
    instrument_ids = {inst.id for inst in qs.instruments}
    sections = {s.id: s for s in qs.sections}
    checks = {c.id for c in qs.checks}
    found = {}
    for code, doc in docs.items():
        path = ("translations", code)
        if code == SOURCE_LANGUAGE:
            report(path, f"'{code}' is the language of the set's own texts; translations are for other languages")
            continue
        if code not in LANGUAGES:
            known = ", ".join(c for c in LANGUAGES if c != SOURCE_LANGUAGE)
            report(path, f"unknown language code '{code}' (known: {known})")
            continue
        for inst_id in doc.instruments:
            if inst_id not in instrument_ids:
                report(path + ("instruments", inst_id), f"unknown instrument id '{inst_id}'")
        section_texts = {}
        for sid, sdoc in doc.sections.items():
            s_path = path + ("sections", sid)
            section = sections.get(sid)
            if section is None:
                report(s_path, f"unknown section id '{sid}'")
                continue
            if sdoc.intro is not None and section.intro is None:
                report(s_path + ("intro",), f"section '{sid}' has no intro to translate")
            section_texts[sid] = (sdoc.title, sdoc.intro)
        items = {}
        for item_id, idoc in doc.items.items():
            i_path = path + ("items", item_id)
            item = qs.items.get(item_id)
            if item is None:
                report(i_path, f"unknown question id '{item_id}'")
                continue
            owner = instrument_of.get(item_id)
            if owner is not None and owner not in doc.instruments:
                report(i_path, f"'{item_id}' belongs to instrument '{owner}': use its published translation "
                               f"word for word and name it in translations.{code}.instruments.{owner}.source, "
                               f"or leave the question untranslated")
                continue
            for key in ("help", "none_label", "unit"):
                if getattr(idoc, key) is not None and getattr(item, key) is None:
                    report(i_path + (key,), f"'{item_id}' has no {key} to translate")
            choices = {}
            if idoc.choices is not None:
                if not item.choices:
                    report(i_path + ("choices",), f"'{item_id}' has no choices to translate")
                own = {str(c.value): c for c in item.choices}
                for value, cdoc in idoc.choices.items():
                    choice = own.get(value)
                    if choice is None:
                        if item.choices:
                            report(i_path + ("choices", value), f"'{value}' is not a choice value of "
                                                                f"'{item_id}' (its values: {', '.join(own)})")
                        continue
                    label, help_text = (cdoc, None) if isinstance(cdoc, str) else (cdoc.label, cdoc.help)
                    if help_text is not None and choice.help is None:
                        report(i_path + ("choices", value, "help"), f"choice '{value}' of '{item_id}' has no "
                                                                    f"help to translate")
                    choices[value] = (label, help_text)
            items[item_id] = ItemText(idoc.text, idoc.help, idoc.none_label, idoc.unit, choices)
        for check_id in doc.checks:
            if check_id not in checks:
                report(path + ("checks", check_id), f"unknown check id '{check_id}'")
        found[code] = Translation(code, doc.title, doc.description,
                                  {k: v.source for k, v in doc.instruments.items()}, section_texts, items,
                                  {k: v.message for k, v in doc.checks.items() if k in checks})
    return found


def language_view(qs: QuestionSet, language: str) -> QuestionSet:
    """The set as a patient reading ``language`` sees it; the source language or an unknown one: the set.

    ``source_language_items`` and ``source_language_intros`` name what is still in the set's own language
    (so a page can mark it and say so): questions without a translated text, which includes every question
    of an instrument without a published translation, and section intros without one.
    """
    if language == SOURCE_LANGUAGE or language not in LANGUAGES:
        return qs
    t = qs.translations.get(language) or Translation(language, None, None, {}, {}, {}, {})
    items = {}
    for item_id, item in qs.items.items():
        text = t.items.get(item_id)
        if text is None:
            items[item_id] = item
            continue
        choices = tuple(_translated_choice(c, text) for c in item.choices)
        items[item_id] = replace(item, text=_pick(text.text, item.text), help=_pick(text.help, item.help),
                                 none_label=_pick(text.none_label, item.none_label),
                                 unit=_pick(text.unit, item.unit), choices=choices)
    sections = []
    for section in qs.sections:
        title, intro = t.sections.get(section.id, (None, None))
        sections.append(replace(section, title=_pick(title, section.title), intro=_pick(intro, section.intro),
                                items=[items[i.id] for i in section.items]))
    checks = [replace(c, message=_pick(t.checks.get(c.id), c.message)) for c in qs.checks]
    english_only = frozenset(i for i in qs.items if t.items.get(i) is None or t.items[i].text is None)
    intros_in_source = frozenset(s.id for s in qs.sections
                                 if s.intro and t.sections.get(s.id, (None, None))[1] is None)
    return replace(qs, title=_pick(t.title, qs.title), description=_pick(t.description, qs.description),
                   sections=sections, items=items, checks=checks, language=language,
                   source_language_items=english_only, source_language_intros=intros_in_source)


def _translated_choice(choice: Any, text: ItemText) -> Any:
    label, help_text = text.choices.get(str(choice.value), (None, None))
    return replace(choice, label=_pick(label, choice.label), help=_pick(help_text, choice.help))


def _pick(translated: Any, own: Any) -> Any:
    return own if translated is None else translated
