"""Structured edits of question-set and rule-set YAML, for admins who do not write YAML.

Each edit takes the draft's text and returns new text. ruamel's round-trip mode keeps
comments, key order and formatting of everything the edit does not touch. Edits do not
validate: the caller validates the result (parse_question_set / parse_rule_set) before
saving it, so an edit that would break the set is refused with the loader's message.
"""

from __future__ import annotations

import io
from typing import Any, Iterable, Iterator

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq


class EditError(ValueError):
    """An edit that cannot be applied (unknown id, impossible move)."""


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap lines the edit did not touch
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def load(yaml_text: str) -> CommentedMap:
    data = _yaml().load(yaml_text)
    if not isinstance(data, CommentedMap):
        raise EditError("the document is not a mapping")
    return data


def dump(data: CommentedMap) -> str:
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def _sections(data: CommentedMap) -> CommentedSeq:
    sections = data.get("sections")
    if not isinstance(sections, list):
        raise EditError("the question set has no sections")
    return sections


def _find_section(data: CommentedMap, section_id: str) -> tuple[int, CommentedMap]:
    for index, section in enumerate(_sections(data)):
        if isinstance(section, dict) and section.get("id") == section_id:
            return index, section
    raise EditError(f"no section with id '{section_id}'")


def _find_item(data: CommentedMap, item_id: str) -> tuple[CommentedMap, int, CommentedMap]:
    for section in _sections(data):
        for index, item in enumerate(section.get("items") or []):
            if isinstance(item, dict) and item.get("id") == item_id:
                return section, index, item
    raise EditError(f"no question with id '{item_id}'")


def _set_or_remove(mapping: CommentedMap, key: str, value: Any) -> None:
    if value is None or value == "":
        mapping.pop(key, None)
    else:
        mapping[key] = value


ITEM_FIELDS = ("text", "help", "required", "unit", "min", "max")


def set_item_fields(yaml_text: str, item_id: str, **fields: Any) -> str:
    """Change an item's text, help, required flag, unit or range; empty optional values are removed."""
    data = load(yaml_text)
    _, _, item = _find_item(data, item_id)
    for key, value in fields.items():
        if key not in ITEM_FIELDS:
            raise EditError(f"'{key}' cannot be edited here")
        if key == "required":
            _set_or_remove(item, key, True if value else None)
        elif key == "text":
            item[key] = value
        else:
            _set_or_remove(item, key, value)
    return dump(data)


def set_item_choices(yaml_text: str, item_id: str, choices: list[tuple[Any, ...]]) -> str:
    """Replace an item's own choice list with (value, label) or (value, label, help) tuples.

    An item that uses a shared choice set gets its own copy, so other items keep theirs.
    A choice's help text is kept when it is given (a choice with help is written in block style).
    """
    data = load(yaml_text)
    _, _, item = _find_item(data, item_id)
    seq = CommentedSeq()
    for value, label, *rest in choices:
        choice = CommentedMap([("value", value), ("label", label)])
        help_text = rest[0] if rest else None
        if help_text:
            choice["help"] = help_text
        else:
            choice.fa.set_flow_style()
        seq.append(choice)
    item["choices"] = seq
    values = {str(value) for value, *_ in choices}
    for block in _translations(data, "items"):
        translated = block.get(item_id)
        labels = translated.get("choices") if isinstance(translated, dict) else None
        if isinstance(labels, dict):
            for key in [k for k in labels if str(k) not in values]:
                del labels[key]  # a choice that is gone has nothing left to translate
    return dump(data)


def add_item(yaml_text: str, section_id: str, item: dict[str, Any], position: int | None = None) -> str:
    data = load(yaml_text)
    _, section = _find_section(data, section_id)
    items = section.setdefault("items", CommentedSeq())
    new = CommentedMap(item)
    items.insert(len(items) if position is None else max(0, min(position, len(items))), new)
    return dump(data)


def _translations(data: CommentedMap, kind: str) -> Iterator[CommentedMap]:
    """Each language's ``kind`` block ("items", "sections") of the translations, where there is one."""
    for language in (data.get("translations") or {}).values():
        block = language.get(kind) if isinstance(language, dict) else None
        if isinstance(block, dict):
            yield block


def _forget_translations(data: CommentedMap, kind: str, ids: Iterable[str]) -> None:
    """Translations of what was removed would name ids that no longer exist."""
    ids = set(ids)
    for block in _translations(data, kind):
        for key in [k for k in block if k in ids]:
            del block[key]


def remove_item(yaml_text: str, item_id: str) -> str:
    data = load(yaml_text)
    section, index, _ = _find_item(data, item_id)
    del section["items"][index]
    _forget_translations(data, "items", [item_id])
    return dump(data)


def move_item(yaml_text: str, item_id: str, offset: int) -> str:
    """Move an item up (-1) or down (+1) within its section, or across into the next/previous section."""
    data = load(yaml_text)
    section, index, item = _find_item(data, item_id)
    items = section["items"]
    target = index + offset
    if 0 <= target < len(items):
        items.insert(target, items.pop(index))
        return dump(data)
    sections = _sections(data)
    s_index = next(i for i, s in enumerate(sections) if s is section)
    neighbour = s_index + (1 if offset > 0 else -1)
    if not 0 <= neighbour < len(sections):
        raise EditError(f"'{item_id}' is already the {'last' if offset > 0 else 'first'} question")
    items.pop(index)
    into = sections[neighbour].setdefault("items", CommentedSeq())
    into.insert(0 if offset > 0 else len(into), item)
    return dump(data)


def add_section(yaml_text: str, section_id: str, title: str, first_item: dict[str, Any],
                position: int | None = None) -> str:
    """A section needs at least one item, so it is created with one."""
    data = load(yaml_text)
    sections = _sections(data)
    section = CommentedMap([("id", section_id), ("title", title), ("items", CommentedSeq([CommentedMap(first_item)]))])
    sections.insert(len(sections) if position is None else max(0, min(position, len(sections))), section)
    return dump(data)


def remove_section(yaml_text: str, section_id: str) -> str:
    data = load(yaml_text)
    index, section = _find_section(data, section_id)
    del _sections(data)[index]
    _forget_translations(data, "sections", [section_id])
    _forget_translations(data, "items", [item.get("id") for item in section.get("items") or []
                                         if isinstance(item, dict)])
    return dump(data)


def move_section(yaml_text: str, section_id: str, offset: int) -> str:
    data = load(yaml_text)
    index, _ = _find_section(data, section_id)
    sections = _sections(data)
    target = index + offset
    if not 0 <= target < len(sections):
        raise EditError(f"section '{section_id}' cannot move further")
    sections.insert(target, sections.pop(index))
    return dump(data)


def set_section_fields(yaml_text: str, section_id: str, title: str, intro: str | None) -> str:
    data = load(yaml_text)
    _, section = _find_section(data, section_id)
    section["title"] = title
    _set_or_remove(section, "intro", intro)
    return dump(data)


# -- rules -----------------------------------------------------------------------------------

def _find_rule(data: CommentedMap, rule_id: str) -> CommentedMap:
    for rule in data.get("rules") or []:
        if isinstance(rule, dict) and rule.get("id") == rule_id:
            return rule
    raise EditError(f"no rule with id '{rule_id}'")


NUMERIC_OPERATORS = ("gt", "gte", "lt", "lte", "between")


def thresholds(when: Any, path: tuple = ()) -> Iterator[tuple[tuple, str, str, Any]]:
    """(path, subject id, operator, number) for every numeric comparison in a condition."""
    if isinstance(when, dict):
        for key in ("all", "any"):
            if isinstance(when.get(key), list):
                for index, child in enumerate(when[key]):
                    yield from thresholds(child, path + (key, index))
        if "not" in when:
            yield from thresholds(when["not"], path + ("not",))
        subject = next((when[k] for k in ("answer", "score", "computed") if k in when), None)
        for op in NUMERIC_OPERATORS + ("eq", "ne"):
            value = when.get(op)
            is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if subject is not None and (is_number or (op == "between" and isinstance(value, list))):
                yield path + (op,), str(subject), op, value


def rule_thresholds(yaml_text: str, rule_id: str) -> list[tuple[tuple, str, str, Any]]:
    return list(thresholds(_find_rule(load(yaml_text), rule_id).get("when")))


def set_rule_fields(yaml_text: str, rule_id: str, severity: str | None = None, message: str | None = None,
                    source: str | None = None, threshold_values: dict[tuple, Any] | None = None) -> str:
    """Change a rule's severity, message, source and numeric thresholds (keyed by their path in `when`)."""
    data = load(yaml_text)
    rule = _find_rule(data, rule_id)
    for key, value in (("severity", severity), ("message", message), ("source", source)):
        if value is not None:
            rule[key] = value
    known = {path for path, *_ in thresholds(rule.get("when"))}
    for path, value in (threshold_values or {}).items():
        if path not in known:
            raise EditError(f"rule '{rule_id}' has no threshold at {'/'.join(map(str, path))}")
        node = rule["when"]
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value
    return dump(data)


def set_rule_examples(yaml_text: str, rule_id: str, examples: list[dict[str, Any]]) -> str:
    """Replace a rule's examples; each is {answers: {...}, fires: bool, as_of?: "YYYY-MM-DD", note?: str}.

    A changed threshold usually needs new examples at and beside the new cut-off: publishing
    runs them all, so a threshold cannot change without its examples agreeing.
    """
    data = load(yaml_text)
    rule = _find_rule(data, rule_id)
    seq = CommentedSeq()
    for example in examples:
        entry = CommentedMap()
        entry["answers"] = CommentedMap(example["answers"])
        entry["answers"].fa.set_flow_style()
        if example.get("as_of"):
            entry["as_of"] = example["as_of"]
        entry["fires"] = bool(example["fires"])
        if example.get("note"):
            entry["note"] = example["note"]
        entry.fa.set_flow_style()
        seq.append(entry)
    rule["examples"] = seq
    return dump(data)
