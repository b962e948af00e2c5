"""A readable difference between two versions of a question set or a rule set.

Works on the documents' plain data, so it can compare any two published versions, even
ones whose rule set no longer loads against today's question set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .rules.conditions import OPERATORS, format_value
from .yaml_source import Source

ITEM_FIELDS = ("type", "text", "help", "required", "choices", "none_label", "min", "max", "unit", "step",
               "max_length", "not_future", "max_years_ago", "show_if")
RULE_FIELDS = ("severity", "when", "message", "source")


@dataclass
class Change:
    kind: str  # added | removed | changed | moved
    what: str  # question | section | score | instrument | rule | set
    id: str
    details: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.what} '{self.id}' {self.kind}"
        return text + (": " + "; ".join(self.details) if self.details else "")


def condition_text(raw: Any) -> str:
    """A condition in words: `{any: [{answer: a, gte: 1}, {not: {answered: b}}]}` -> "a ≥ 1 or not (b answered)"."""
    if not isinstance(raw, dict):
        return format_value(raw)
    if "all" in raw or "any" in raw:
        joiner = " and " if "all" in raw else " or "
        parts = raw.get("all") or raw.get("any") or []
        return joiner.join(f"({condition_text(p)})" if isinstance(p, dict) and ({"all", "any"} & set(p))
                           else condition_text(p) for p in parts)
    if "not" in raw:
        return f"not ({condition_text(raw['not'])})"
    if "answered" in raw:
        return f"{raw['answered']} answered"
    subject = next((f"{raw[k]} band" if k == "band" else str(raw[k])
                    for k in ("answer", "score", "band", "computed") if k in raw), "?")
    for name, op in OPERATORS.items():
        if name in raw:
            operand = raw[name]
            if isinstance(operand, dict):
                operand = next(iter(operand.values()), "?")
            elif name == "between" and isinstance(operand, list) and len(operand) == 2:
                operand = f"{format_value(operand[0])} and {format_value(operand[1])}"
            elif isinstance(operand, list):
                operand = ", ".join(format_value(v) for v in operand)
            else:
                operand = format_value(operand)
            return f"{subject} {op.symbol} {operand}"
    return str(raw)


def _show(key: str, value: Any) -> str:
    if value is None:
        return "(none)"
    if key in ("show_if", "when"):
        return condition_text(value)
    if key == "choices" and isinstance(value, list):
        return ", ".join(f"{c.get('value')}={c.get('label')}" if isinstance(c, dict) else str(c) for c in value)
    text = format_value(value) if not isinstance(value, str) else value
    return f"“{text}”" if isinstance(value, str) else text


def _field_changes(old: dict, new: dict, keys: tuple[str, ...]) -> list[str]:
    return [f"{key}: {_show(key, old.get(key))} → {_show(key, new.get(key))}"
            for key in keys if old.get(key) != new.get(key)]


def _items(data: dict) -> dict[str, tuple[str, dict]]:
    choice_sets = data.get("choice_sets") or {}
    out = {}
    for section in data.get("sections") or []:
        for item in section.get("items") or []:
            item = dict(item)
            if isinstance(item.get("choices"), str):  # compare what the patient sees, not the set's name
                item["choices"] = choice_sets.get(item["choices"], item["choices"])
            out[item.get("id")] = (section.get("id"), item)
    return out


def diff_question_sets(old_text: str, new_text: str) -> list[Change]:
    old, new = Source(old_text, "old").data, Source(new_text, "new").data
    changes: list[Change] = []
    if old.get("title") != new.get("title"):
        changes.append(Change("changed", "set", str(new.get("id")), _field_changes(old, new, ("title",))))
    old_sections = {s.get("id"): s for s in old.get("sections") or []}
    new_sections = {s.get("id"): s for s in new.get("sections") or []}
    for sid in new_sections.keys() - old_sections.keys():
        changes.append(Change("added", "section", sid, [f"title: {_show('title', new_sections[sid].get('title'))}"]))
    for sid in old_sections.keys() - new_sections.keys():
        changes.append(Change("removed", "section", sid))
    for sid in old_sections.keys() & new_sections.keys():
        details = _field_changes(old_sections[sid], new_sections[sid], ("title", "intro", "show_if"))
        if details:
            changes.append(Change("changed", "section", sid, details))
    common_sections = [s for s in old_sections if s in new_sections]
    if common_sections != [s for s in new_sections if s in old_sections]:
        changes.append(Change("moved", "section", "order", ["sections are in a new order"]))

    old_items, new_items = _items(old), _items(new)
    for iid in [i for i in new_items if i not in old_items]:
        section, item = new_items[iid]
        changes.append(Change("added", "question", iid, [f"in {section}: {_show('text', item.get('text'))}"]))
    for iid in [i for i in old_items if i not in new_items]:
        changes.append(Change("removed", "question", iid, [f"was in {old_items[iid][0]}"]))
    common = [i for i in old_items if i in new_items]
    new_order = [i for i in new_items if i in old_items]
    for iid in common:
        details = _field_changes(old_items[iid][1], new_items[iid][1], ITEM_FIELDS)
        if details:
            changes.append(Change("changed", "question", iid, details))
        if old_items[iid][0] != new_items[iid][0]:
            changes.append(Change("moved", "question", iid, [f"from {old_items[iid][0]} to {new_items[iid][0]}"]))
        elif common.index(iid) != new_order.index(iid):
            changes.append(Change("moved", "question", iid, ["new position in its section"]))

    old_instruments = {i.get("id"): i for i in old.get("instruments") or []}
    new_instruments = {i.get("id"): i for i in new.get("instruments") or []}
    for iid in sorted(old_instruments.keys() | new_instruments.keys()):
        before, after = old_instruments.get(iid), new_instruments.get(iid)
        if before is None:
            changes.append(Change("added", "instrument", iid))
        elif after is None:
            changes.append(Change("removed", "instrument", iid))
        elif before != after:
            keys = tuple(k for k in ("title", "licence", "citation", "items", "scores") if before.get(k) != after.get(k))
            changes.append(Change("changed", "instrument", iid, [f"{k} changed" for k in keys]))
    return changes


def diff_rule_sets(old_text: str, new_text: str) -> list[Change]:
    old, new = Source(old_text, "old").data, Source(new_text, "new").data
    changes: list[Change] = []
    if old.get("applies_to") != new.get("applies_to"):
        changes.append(Change("changed", "set", str(new.get("id")), _field_changes(old, new, ("applies_to",))))
    old_rules = {r.get("id"): r for r in old.get("rules") or []}
    new_rules = {r.get("id"): r for r in new.get("rules") or []}
    for rid in [r for r in new_rules if r not in old_rules]:
        rule = new_rules[rid]
        changes.append(Change("added", "rule", rid, [f"{rule.get('severity')} when {condition_text(rule.get('when'))}"]))
    for rid in [r for r in old_rules if r not in new_rules]:
        changes.append(Change("removed", "rule", rid))
    for rid in [r for r in old_rules if r in new_rules]:
        details = _field_changes(old_rules[rid], new_rules[rid], RULE_FIELDS)
        if old_rules[rid].get("examples") != new_rules[rid].get("examples"):
            details.append(f"examples: {len(old_rules[rid].get('examples') or [])} → "
                           f"{len(new_rules[rid].get('examples') or [])}")
        if details:
            changes.append(Change("changed", "rule", rid, details))
    return changes
