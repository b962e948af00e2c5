"""A question-set version as a FHIR R4 Questionnaire, and a Questionnaire back as a question-set document.

Sections become ``group`` items, questions their child items. What FHIR has an element or a core
extension for travels in it (types, answer options with scores as ``ordinalValue``, ``required``,
``minValue``/``maxValue``, units, ``maxLength``, help as a ``help`` display item, simple ``show_if`` as
``enableWhen``/``enableBehavior``). What it has none for (other ``show_if`` forms, ``none_label``,
``step``, date limits, choice help; and the set's computed values, instruments, scores and checks)
travels as JSON in the project's own extensions, so exporting and importing again gives the same
question set. Other FHIR software ignores those extensions: a question whose ``show_if`` could not be
written as ``enableWhen`` is then always shown, never wrongly hidden.

Translations (the ``translations:`` block) travel the FHIR way: ``Questionnaire.language`` is the set's
own language, and each translated text is a core ``translation`` extension (``lang``, ``content``) on
the ``_text`` of its group, question, intro or help item, the ``_display`` of its answer option's or
unit's coding, and the Questionnaire's ``_title`` and ``_description``. The rest (instruments' published
sources, check messages, ``none_label``, choice help) rides in the set's own extension. On import, a
regional tag is read as its language (``es-MX``: ``es``); a translation into the set's own language is
the text itself and is skipped; one into a language this service has no patient pages for is refused.
"""

from __future__ import annotations

import copy
import datetime
import io
import json
import re
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML

from ..questions.model import has_control_characters
from ..questions.schema import QuestionSetDoc
from ..questions.translations import LANGUAGES, SOURCE_LANGUAGE, language_name
from ..yaml_source import LoadError, Source
from .fhir_base import (EXT_ITEM_CONTROL, EXT_MAX, EXT_MIN, EXT_ORDINAL, EXT_TRANSLATION, EXT_UNIT,
                        ITEM_CONTROL_SYSTEM, OWN_ITEM_EXTENSION, OWN_SET_EXTENSION, FhirInvalid, Urls,
                        is_own_extension, own_extension, resource_id, translation_extension, validate)
from .records import iso_instant

FHIR_TYPE = {"yes_no": "boolean", "scale": "choice", "single_choice": "choice", "multi_choice": "choice",
             "integer": "integer", "decimal": "decimal", "text": "text", "date": "date"}
ANSWER_KEY = {"yes_no": "answerBoolean", "integer": "answerInteger", "decimal": "answerDecimal",
              "date": "answerDate", "text": "answerString"}
ORDERING = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
OPERATOR_OF = {"eq": "=", **ORDERING}
ORDERED_TYPES = ("integer", "decimal", "date")
# Keys of an item that FHIR has no element for; they travel in the item's own extension.
ITEM_EXTRAS = ("none_label", "step", "not_future", "max_years_ago")
SET_EXTRAS = ("computed", "instruments", "checks")
# A language block's keys, in the format's order; the first ones travel in translation extensions.
LANGUAGE_KEYS = ("title", "description", "instruments", "sections", "items", "checks")


# -- export ------------------------------------------------------------------------------------

def question_set_document(yaml_text: str) -> dict:
    """The plain data of a question-set YAML, with named choice sets written out at each item."""
    data = Source(yaml_text, "question set").data
    QuestionSetDoc.model_validate(data)
    return inline_choice_sets(data)


def inline_choice_sets(data: dict) -> dict:
    named = data.get("choice_sets") or {}
    out = {key: value for key, value in data.items() if key != "choice_sets"}
    out["sections"] = [{**section, "items": [
        {**item, "choices": named.get(item["choices"], item["choices"])} if isinstance(item.get("choices"), str)
        else item for item in section["items"]]} for section in data["sections"]]
    return out


def export_questionnaire(yaml_text: str, version: int, urls: Urls,
                         published_at: datetime.datetime | None = None) -> dict:
    """A published question-set version as a validated FHIR Questionnaire (a dict, JSON-ready)."""
    doc = question_set_document(yaml_text)
    return validate(_Exporter(doc, urls).questionnaire(version, published_at))


class _Exporter:
    def __init__(self, doc: dict, urls: Urls):
        self.doc, self.urls = doc, urls
        self.set_id = doc["id"]
        self.items = {item["id"]: item for section in doc["sections"] for item in section["items"]}
        self.languages: dict[str, dict] = doc.get("translations") or {}

    def questionnaire(self, version: int, published_at: datetime.datetime | None) -> dict:
        out: dict[str, Any] = {
            "resourceType": "Questionnaire", "id": resource_id(f"{self.set_id}-v{version}"),
            "url": self.urls.questionnaire(self.set_id),
            "identifier": [{"system": self.urls.question_set_system, "value": self.set_id}],
            "version": str(version), "language": SOURCE_LANGUAGE, "title": self.doc["title"],
            "status": "active", "subjectType": ["Patient"],
        }
        self.translate(out, "title", ("title",))
        if published_at is not None:
            out["date"] = iso_instant(published_at)
        if self.doc.get("description"):
            out["description"] = self.doc["description"]
            self.translate(out, "description", ("description",))
        extras = {key: self.doc[key] for key in SET_EXTRAS if self.doc.get(key)}
        rest = self.untranslatable()
        if rest:
            extras["translations"] = rest
        if extras:
            out["extension"] = [own_extension(self.urls, OWN_SET_EXTENSION, json.dumps(extras, ensure_ascii=False))]
        out["item"] = [self.section(section) for section in self.doc["sections"]]
        return out

    def section(self, section: dict) -> dict:
        group: dict[str, Any] = {"linkId": section["id"], "type": "group", "text": section["title"]}
        self.translate(group, "text", ("sections", section["id"], "title"))
        children = []
        if section.get("intro"):
            intro = {"linkId": f"{section['id']}.intro", "type": "display", "text": section["intro"]}
            self.translate(intro, "text", ("sections", section["id"], "intro"))
            children.append(intro)
        children += [self.question(item) for item in section["items"]]
        extras: dict[str, Any] = {}
        self.condition(group, section.get("show_if"), extras)
        if extras:
            group["extension"] = [self.item_extension(extras)]
        group["item"] = children
        return group

    def question(self, item: dict) -> dict:
        kind = item["type"]
        out: dict[str, Any] = {"linkId": item["id"], "type": FHIR_TYPE[kind], "text": item["text"]}
        self.translate(out, "text", ("items", item["id"], "text"))
        extensions: list[dict] = []
        extras: dict[str, Any] = {key: item[key] for key in ITEM_EXTRAS if item.get(key) not in (None, False)}
        if item.get("required"):
            out["required"] = True
        if kind == "multi_choice":
            out["repeats"] = True
        if item.get("choices"):
            out["answerOption"] = [self.option(item, choice) for choice in item["choices"]]
            helps = {str(c["value"]): c["help"] for c in item["choices"] if c.get("help")}
            if helps:
                extras["choice_help"] = helps
        value_key = "valueInteger" if kind == "integer" else "valueDecimal"
        for key, url in (("min", EXT_MIN), ("max", EXT_MAX)):
            if item.get(key) is not None:
                extensions.append({"url": url, value_key: item[key]})
        if item.get("unit"):
            unit = {"display": item["unit"]}
            self.translate(unit, "display", ("items", item["id"], "unit"))
            extensions.append({"url": EXT_UNIT, "valueCoding": unit})
        if item.get("max_length") is not None:
            out["maxLength"] = item["max_length"]
        self.condition(out, item.get("show_if"), extras)
        if extras:
            extensions.append(self.item_extension(extras))
        if extensions:
            out["extension"] = extensions
        if item.get("help"):
            help_item = {"linkId": f"{item['id']}.help", "type": "display", "text": item["help"],
                         "extension": [{"url": EXT_ITEM_CONTROL, "valueCodeableConcept": {
                             "coding": [{"system": ITEM_CONTROL_SYSTEM, "code": "help"}]}}]}
            self.translate(help_item, "text", ("items", item["id"], "help"))
            out["item"] = [help_item]
        return out

    def option(self, item: dict, choice: dict) -> dict:
        coding = {"system": self.urls.answer_system(self.set_id, item["id"]), "code": str(choice["value"]),
                  "display": choice["label"]}
        self.translate(coding, "display", ("items", item["id"], "choices", str(choice["value"])))
        option: dict[str, Any] = {"valueCoding": coding}
        if item["type"] == "scale":
            option["extension"] = [{"url": EXT_ORDINAL, "valueDecimal": choice["value"]}]
        return option

    def item_extension(self, extras: dict) -> dict:
        return own_extension(self.urls, OWN_ITEM_EXTENSION, json.dumps(extras, ensure_ascii=False))

    # -- translations ----------------------------------------------------------------------------
    def translate(self, element: dict, key: str, path: tuple[str, ...]) -> None:
        """The text at ``path`` of each language block as translation extensions on ``element._<key>``."""
        found = []
        for language, block in self.languages.items():
            text: Any = block
            for step in path:
                text = text.get(step) if isinstance(text, dict) else None
            if isinstance(text, dict):  # a choice given as {label, help}
                text = text.get("label")
            if text is not None:
                found.append(translation_extension(language, text))
        if found:
            element["_" + key] = {"extension": found}

    def untranslatable(self) -> dict:
        """Per language, what FHIR has no element for: instruments' sources, check messages, ``none_label``,
        choice help (and which choices were written as ``{label, help}``, so the document comes back as is)."""
        out = {}
        for language, block in self.languages.items():
            rest = {key: block[key] for key in ("instruments", "checks") if block.get(key)}
            items = {}
            for item_id, text in (block.get("items") or {}).items():
                entry: dict[str, Any] = {}
                if text.get("none_label") is not None:
                    entry["none_label"] = text["none_label"]
                forms = {value: {k: v for k, v in choice.items() if k != "label"}
                         for value, choice in (text.get("choices") or {}).items() if isinstance(choice, dict)}
                if forms:
                    entry["choices"] = forms
                if entry:
                    items[item_id] = entry
            if items:
                rest["items"] = items
            if rest:
                out[language] = rest
        return out

    # -- show_if -> enableWhen -------------------------------------------------------------------
    def condition(self, out: dict, condition: dict | None, extras: dict) -> None:
        if not condition:
            return
        native = self.enable_when(condition)
        if native is None:
            extras["show_if"] = condition
            return
        out["enableWhen"], behavior = native
        if behavior:
            out["enableBehavior"] = behavior

    def enable_when(self, condition: dict) -> tuple[list[dict], str | None] | None:
        """The condition as enableWhen entries (and "any"/"all"), or None when FHIR cannot say it the same way."""
        for key in ("any", "all"):
            if set(condition) == {key} and isinstance(condition[key], list) and len(condition[key]) >= 2:
                leaves = [self.leaf(child) for child in condition[key]]
                return (leaves, key) if all(leaves) else None
        leaf = self.leaf(condition)
        return ([leaf], None) if leaf else None

    def leaf(self, condition: Any) -> dict | None:
        if not isinstance(condition, dict):
            return None
        if set(condition) == {"answered"} and condition["answered"] in self.items:
            return {"question": condition["answered"], "operator": "exists", "answerBoolean": True}
        if len(condition) != 2 or "answer" not in condition:
            return None
        item = self.items.get(condition["answer"])
        (op, value), = ((k, v) for k, v in condition.items() if k != "answer")
        if item is None or isinstance(value, (dict, list)):
            return None
        kind = item["type"]
        if kind in ("scale", "single_choice") and op == "eq" or kind == "multi_choice" and op == "contains":
            return {"question": item["id"], "operator": "=", "answerCoding": {
                "system": self.urls.answer_system(self.set_id, item["id"]), "code": str(value)}}
        if kind in ANSWER_KEY and (op == "eq" or op in ORDERING and kind in ORDERED_TYPES):
            return {"question": item["id"], "operator": OPERATOR_OF[op], ANSWER_KEY[kind]: value}
        return None


# -- import ------------------------------------------------------------------------------------

class ImportRefused(ValueError):
    """A Questionnaire this service cannot take; ``problems`` name the item and what is wrong."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


IMPORT_TYPES = {"boolean": "yes_no", "integer": "integer", "decimal": "decimal", "date": "date",
                "string": "text", "text": "text"}
CONDITION_OPERATORS = {"=": "eq", "!=": "ne", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}


def make_id(text: str) -> str:
    """A FHIR linkId or name as an id of this format (lower-case letters, digits, - and _)."""
    ident = re.sub(r"[^a-z0-9_-]+", "_", text.strip().lower()).strip("_-")
    if not ident or not ident[0].isalpha():
        ident = "q_" + ident
    return ident[:64]


def primary_language(tag: str) -> str:
    """A BCP 47 tag's language: ``es-MX`` -> ``es``."""
    return tag.strip().lower().split("-")[0]


def import_questionnaire(data: Any) -> dict:
    """A FHIR Questionnaire (parsed JSON) -> a question-set document (plain data), or ImportRefused."""
    if not isinstance(data, dict) or data.get("resourceType") != "Questionnaire":
        kind = data.get("resourceType") if isinstance(data, dict) else None
        raise ImportRefused([f"expected a FHIR Questionnaire, but the file holds "
                             f"{'a ' + str(kind) if kind else 'no FHIR resource (resourceType is missing)'}"])
    try:
        validate(data)
    except FhirInvalid as exc:
        raise ImportRefused([f"not a valid FHIR Questionnaire: {exc}"]) from None
    unreadable = control_character_path(data, "Questionnaire")
    if unreadable:
        raise ImportRefused([f"{unreadable}: remove the special (invisible) characters from this text"])
    return _Importer(data).document()


def control_character_path(value: Any, path: str) -> str | None:
    """Where a text holds a control character other than tab and line breaks (as refused everywhere else)."""
    if isinstance(value, str):
        return path if has_control_characters(value) else None
    if isinstance(value, dict):
        children = ((f"{path}.{key}", child) for key, child in value.items())
    elif isinstance(value, list):
        children = ((f"{path}[{index}]", child) for index, child in enumerate(value))
    else:
        return None
    return next((found for child_path, child in children if (found := control_character_path(child, child_path))), None)


def document_yaml(doc: dict) -> str:
    """A question-set document as YAML text in the format's key order."""
    order = ("id", "title", "description", "sections", *SET_EXTRAS, "translations")
    ordered = {key: doc[key] for key in order if key in doc}
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False
    yaml.width = 4096
    out = io.StringIO()
    yaml.dump(ordered, out)
    return out.getvalue()


def describe(doc: dict, error: dict) -> str:
    """A schema error in the converted document, named by the question it is about."""
    loc = error.get("loc", ())
    if len(loc) >= 4 and loc[0] == "sections" and loc[2] == "items":
        item = doc["sections"][loc[1]]["items"][loc[3]]["id"]
        return f"item '{item}': {'.'.join(map(str, loc[4:])) or 'question'}: {error.get('msg')}"
    return f"{'.'.join(map(str, loc))}: {error.get('msg')}"


class _Importer:
    def __init__(self, data: dict):
        self.data = data
        self.problems: list[str] = []
        self.ids: dict[str, str] = {}  # linkId -> item id
        self.types: dict[str, str] = {}  # item id -> type
        self.codes: dict[str, dict[str, Any]] = {}  # item id -> answer code -> choice value
        self.pending: list[tuple[dict, dict, dict]] = []  # (section or item out, FHIR element, own extras)
        self.translations: dict[str, dict] = {}  # language -> its block of the format
        self.unknown_languages: dict[str, str] = {}  # language tag -> where it is first used

    def refuse(self, link_id: str | None, message: str) -> None:
        self.problems.append(f"item '{link_id}': {message}" if link_id else message)

    def document(self) -> dict:
        data = self.data
        doc: dict[str, Any] = {"id": self.set_id(), "title": data.get("title") or data.get("name")
                               or "Imported questionnaire"}
        self.check_language()
        extras = self.own_json(data, OWN_SET_EXTENSION, None)
        self.untranslatable(extras.get("translations"))
        self.translated(data, "title", "Questionnaire.title", ("title",))
        if data.get("description"):
            doc["description"] = data["description"]
            self.translated(data, "description", "Questionnaire.description", ("description",))
        self.claim_ids(data.get("item") or [])
        doc["sections"] = self.sections(data.get("item") or [])
        self.resolve_conditions()
        for key in SET_EXTRAS:
            if extras.get(key):
                doc[key] = extras[key]
        for tag, where in self.unknown_languages.items():
            known = ", ".join(f"{language_name(code)} ({code})" for code in LANGUAGES if code != SOURCE_LANGUAGE)
            self.refuse(None, f"{where} has a translation into '{tag}', a language this service has no patient "
                              f"pages for (it knows: {known}); remove the translations into '{tag}'")
        if self.translations:
            doc["translations"] = self.ordered_translations(doc)
        if not doc["sections"] and not self.problems:
            self.refuse(None, "the Questionnaire has no questions")
        if self.problems:
            raise ImportRefused(self.problems)
        try:
            QuestionSetDoc.model_validate(doc)
        except ValidationError as exc:
            raise ImportRefused([describe(doc, error) for error in exc.errors(include_url=False)[:10]]) from None
        return doc

    def set_id(self) -> str:
        candidates = [ident.get("value") for ident in self.data.get("identifier") or [] if ident.get("value")]
        url = self.data.get("url") or ""
        candidates += [url.rstrip("/").rsplit("/", 1)[-1] if url else None, self.data.get("name"), self.data.get("id")]
        for candidate in candidates:
            if isinstance(candidate, str) and candidate.strip():
                return make_id(candidate)
        return "imported-questionnaire"

    def claim_ids(self, items: list[dict]) -> None:
        """Map every linkId to an id; sections and questions are separate namespaces, as in the format."""
        taken: dict[bool, set[str]] = {True: set(), False: set()}

        def walk(children: list[dict]) -> None:
            for item in children:
                if item.get("type") != "display":
                    group = item.get("type") == "group"
                    ident = make_id(item["linkId"])
                    if ident in taken[group]:
                        what = "group" if group else "question"
                        self.refuse(item["linkId"], f"its id '{ident}' is the same as another {what}'s; "
                                                    f"give each a distinct linkId")
                    taken[group].add(ident)
                    self.ids[item["linkId"]] = ident
                walk(item.get("item") or [])

        walk(items)

    def sections(self, items: list[dict]) -> list[dict]:
        sections: list[dict] = []
        loose: list[dict] = []  # questions outside any group: one section of their own
        for item in items:
            if item.get("type") == "group":
                if loose:
                    sections.append(self.loose_section(loose, len(sections)))
                    loose = []
                sections.append(self.section(item))
            elif item.get("type") == "display":
                continue
            else:
                loose.append(item)
        if loose:
            sections.append(self.loose_section(loose, len(sections)))
        return sections

    def loose_section(self, items: list[dict], index: int) -> dict:
        return {"id": f"questions_{index + 1}", "title": self.data.get("title") or "Questions",
                "items": [q for q in (self.question(item) for item in items) if q]}

    def section(self, group: dict) -> dict:
        section: dict[str, Any] = {"id": self.ids[group["linkId"]], "title": group.get("text") or group["linkId"]}
        self.translated(group, "text", f"item '{group['linkId']}'", ("sections", section["id"], "title"))
        children = group.get("item") or []
        first = children[0] if children else {}
        if first.get("type") == "display" and first.get("text") and not self.is_help(first):
            section["intro"] = first["text"]
            self.translated(first, "text", f"item '{first['linkId']}'", ("sections", section["id"], "intro"))
            children = children[1:]
        self.condition(section, group)
        questions = []
        for child in children:
            if child.get("type") == "group":
                self.refuse(child["linkId"], "a group inside a group is not supported: sections are one level deep")
            elif child.get("type") == "display":
                continue
            else:
                question = self.question(child)
                if question:
                    questions.append(question)
        if not questions:
            self.refuse(group["linkId"], "this group has no questions")
        section["items"] = questions
        return section

    @staticmethod
    def is_help(item: dict) -> bool:
        for extension in item.get("extension") or []:
            if extension.get("url") == EXT_ITEM_CONTROL:
                codes = [c.get("code") for c in (extension.get("valueCodeableConcept") or {}).get("coding") or []]
                return "help" in codes
        return False

    def question(self, item: dict) -> dict | None:
        link_id, fhir_type = item["linkId"], item.get("type")
        ident = self.ids[link_id]
        kind = self.item_type(item)
        if kind is None:
            self.refuse(link_id, f"type '{fhir_type}' is not supported (supported: boolean, choice, integer, "
                                 f"decimal, string, text, date)")
            return None
        if not item.get("text"):
            self.refuse(link_id, "a question needs its text")
            return None
        self.types[ident] = kind
        out: dict[str, Any] = {"id": ident, "type": kind, "text": item["text"]}
        self.translated(item, "text", f"item '{link_id}'", ("items", ident, "text"))
        for child in item.get("item") or []:
            if child.get("type") == "display" and self.is_help(child) and child.get("text"):
                out["help"] = child["text"]
                self.translated(child, "text", f"item '{child['linkId']}'", ("items", ident, "help"))
            else:
                self.refuse(child["linkId"], "only a help text can be nested under a question")
        if item.get("required"):
            out["required"] = True
        extras = self.own_json(item, OWN_ITEM_EXTENSION, link_id)
        if kind in ("scale", "single_choice", "multi_choice"):
            out["choices"] = self.choices(item, ident, kind, extras.get("choice_help") or {})
        for extension in item.get("extension") or []:
            url = extension.get("url")
            if url in (EXT_MIN, EXT_MAX):
                value = extension.get("valueInteger", extension.get("valueDecimal"))
                if value is not None:
                    out["min" if url == EXT_MIN else "max"] = value
            elif url == EXT_UNIT:
                coding = extension.get("valueCoding") or {}
                if coding.get("display") or coding.get("code"):
                    out["unit"] = coding.get("display") or coding.get("code")
                    self.translated(coding, "display", f"item '{link_id}'", ("items", ident, "unit"))
        if item.get("maxLength") is not None and kind == "text":
            out["max_length"] = item["maxLength"]
        for key in ITEM_EXTRAS:
            if extras.get(key) is not None:
                out[key] = extras[key]
        self.pending.append((out, item, extras))
        return out

    def item_type(self, item: dict) -> str | None:
        fhir_type = item.get("type")
        if fhir_type != "choice":
            return IMPORT_TYPES.get(fhir_type)
        if item.get("repeats"):
            return "multi_choice"
        options = item.get("answerOption") or []
        if options and all(self.ordinal(option) is not None for option in options):
            return "scale"
        return "single_choice"

    @staticmethod
    def ordinal(option: dict) -> int | None:
        coding = option.get("valueCoding") or {}
        for extension in [*(option.get("extension") or []), *(coding.get("extension") or [])]:
            if extension.get("url") in (EXT_ORDINAL, "http://hl7.org/fhir/StructureDefinition/itemWeight"):
                value = extension.get("valueDecimal")
                if isinstance(value, (int, float)) and float(value).is_integer():
                    return int(value)
        return None

    def choices(self, item: dict, ident: str, kind: str, helps: dict) -> list[dict]:
        if item.get("answerValueSet"):
            self.refuse(item["linkId"], "answerValueSet is not supported: list the options in answerOption")
            return []
        choices, codes = [], {}
        for option in item.get("answerOption") or []:
            coding = option.get("valueCoding")
            if coding is not None:
                code = coding.get("code")
                label = coding.get("display") or code
                labelled, key = coding, "display"
            elif option.get("valueString") is not None:
                code = label = option["valueString"]
                labelled, key = option, "valueString"
            else:
                self.refuse(item["linkId"], "only valueCoding and valueString answer options are supported")
                continue
            if not code:
                self.refuse(item["linkId"], "an answer option has no code")
                continue
            value = self.ordinal(option) if kind == "scale" else code
            codes[code] = value
            choice = {"value": value, "label": label}
            self.translated(labelled, key, f"item '{item['linkId']}'", ("items", ident, "choices", str(value)))
            if helps.get(str(value)):
                choice["help"] = helps[str(value)]
            choices.append(choice)
        if not choices:
            self.refuse(item["linkId"], "a choice question needs its answer options (answerOption)")
        self.codes[ident] = codes
        return choices

    def own_json(self, element: dict, name: str, link_id: str | None) -> dict:
        for extension in element.get("extension") or []:
            if is_own_extension(extension, name):
                try:
                    value = json.loads(extension.get("valueString") or "")
                except json.JSONDecodeError:
                    value = None
                if not isinstance(value, dict):
                    self.refuse(link_id, f"the {name} extension does not hold a JSON object")
                    return {}
                return value
        return {}

    # -- translations ----------------------------------------------------------------------------
    def check_language(self) -> None:
        tag = self.data.get("language")
        if tag and primary_language(tag) != SOURCE_LANGUAGE:
            self.refuse(None, f"Questionnaire.language is '{tag}': a question set's own texts are in "
                              f"{language_name(SOURCE_LANGUAGE)} here, and other languages come as their "
                              f"translations (the FHIR translation extension)")

    def untranslatable(self, rest: Any) -> None:
        """The set extension's part of the translations (what FHIR has no element for), taken as it is."""
        if rest is None:
            return
        if not isinstance(rest, dict) or not all(isinstance(block, dict) for block in rest.values()):
            self.refuse(None, f"the {OWN_SET_EXTENSION} extension's translations are not one JSON object "
                              f"per language")
            return
        self.translations = {language: copy.deepcopy(block) for language, block in rest.items()}

    def translated(self, element: dict, key: str, where: str, path: tuple[str, ...]) -> None:
        """Each translation extension on ``element._<key>`` into its language's block at ``path``."""
        found = []
        for extension in (element.get("_" + key) or {}).get("extension") or []:
            if extension.get("url") != EXT_TRANSLATION:
                continue
            parts = {part.get("url"): part for part in extension.get("extension") or []}
            tag = (parts.get("lang") or {}).get("valueCode")
            content = next((value for name in ("valueString", "valueMarkdown")
                            if isinstance(value := (parts.get("content") or {}).get(name), str)), None)
            if not isinstance(tag, str) or not tag.strip() or content is None or not content.strip():
                self.refuse(None, f"{where}: a translation needs its 'lang' (a language code) and its "
                                  f"'content' (the text)")
                continue
            language = primary_language(tag)
            if language == SOURCE_LANGUAGE:
                continue
            if language not in LANGUAGES:
                self.unknown_languages.setdefault(tag.strip(), where)
                continue
            found.append((tag.strip().lower() == language, language, content))
        for _, language, content in sorted(found, key=lambda entry: entry[0]):  # "es" over "es-MX"
            self.put(language, path, content, where)

    def put(self, language: str, path: tuple[str, ...], content: str, where: str) -> None:
        node = self.translations.setdefault(language, {})
        for step in path[:-1]:
            node = node.setdefault(step, {})
            if not isinstance(node, dict):
                self.refuse(None, f"{where}: the {OWN_SET_EXTENSION} extension's translations into "
                                  f"'{language}' do not fit its {'.'.join(path[:-1])}")
                return
        if path[-2:-1] == ("choices",) and isinstance(node.get(path[-1]), dict):
            node[path[-1]] = {"label": content, **node[path[-1]]}  # the choice also has a translated help
        else:
            node[path[-1]] = content

    def ordered_translations(self, doc: dict) -> dict:
        """The language blocks in the format's key order, sections and questions in the set's order."""
        sections = [section["id"] for section in doc["sections"]]
        items = [item["id"] for section in doc["sections"] for item in section["items"]]
        out = {}
        for language, block in self.translations.items():
            ordered = {key: block[key] for key in (*LANGUAGE_KEYS, *block) if key in block}
            for key, order in (("sections", sections), ("items", items)):
                if isinstance(ordered.get(key), dict):
                    ordered[key] = {ident: ordered[key][ident] for ident in (*order, *ordered[key])
                                    if ident in ordered[key]}
            out[language] = ordered
        return out

    # -- enableWhen -> show_if -------------------------------------------------------------------
    def condition(self, out: dict, element: dict) -> None:
        extras = self.own_json(element, OWN_ITEM_EXTENSION, element.get("linkId"))
        self.pending.append((out, element, extras))

    def resolve_conditions(self) -> None:
        """After every item is known (enableWhen may name any of them): enableWhen -> show_if."""
        for out, element, extras in self.pending:
            if extras.get("show_if") is not None:
                out["show_if"] = extras["show_if"]
                continue
            entries = element.get("enableWhen") or []
            leaves = [self.leaf(element["linkId"], entry) for entry in entries]
            if not leaves or any(leaf is None for leaf in leaves):
                continue
            if len(leaves) == 1:
                out["show_if"] = leaves[0]
            elif element.get("enableBehavior") in ("any", "all"):
                out["show_if"] = {element["enableBehavior"]: leaves}
            else:
                self.refuse(element["linkId"], "several enableWhen need enableBehavior 'any' or 'all'")

    def leaf(self, link_id: str, entry: dict) -> dict | None:
        question = self.ids.get(entry.get("question"))
        if question is None or question not in self.types:
            self.refuse(link_id, f"enableWhen refers to '{entry.get('question')}', which is not a question here")
            return None
        operator = entry.get("operator")
        if operator == "exists":
            return {"answered": question} if entry.get("answerBoolean", True) else {"not": {"answered": question}}
        if operator not in CONDITION_OPERATORS:
            self.refuse(link_id, f"enableWhen operator '{operator}' is not supported")
            return None
        if "answerCoding" in entry:
            code = (entry["answerCoding"] or {}).get("code")
            codes = self.codes.get(question, {})
            if code not in codes:
                self.refuse(link_id, f"enableWhen names the answer '{code}', which '{entry.get('question')}' "
                                     f"does not offer")
                return None
            value = codes[code]
        else:
            value = next((v for k, v in entry.items() if k.startswith("answer")), None)
        if self.types[question] == "multi_choice":
            if operator != "=":
                self.refuse(link_id, "a multiple-answer question can only be tested with '=' in enableWhen")
                return None
            return {"answer": question, "contains": value}
        return {"answer": question, CONDITION_OPERATORS[operator]: value}
