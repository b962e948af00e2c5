"""What the admin pages show about a set, worked out from its YAML (no Flask here).

The pages read a draft's *plain data* (``Source(text).data``), not the loaded set, so a draft that
does not validate can still be listed and edited; ``publishing.check`` says what is wrong with it,
and ``locate`` ties each problem (``draft:LINE: reason``) to the section, question or rule it is in.
"""

from __future__ import annotations

import bisect
import datetime
import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..yaml_source import LoadError, Problem, Source

KIND_SLUGS = {"question-sets": "question_set", "rule-sets": "rule_set"}
SLUG_OF = {kind: slug for slug, kind in KIND_SLUGS.items()}
KIND_NAMES = {"question_set": "question set", "rule_set": "rule set"}
ITEM_TYPES = ("yes_no", "single_choice", "multi_choice", "scale", "integer", "decimal", "text", "date")
TYPE_NAMES = {"yes_no": "Yes / no", "single_choice": "One choice", "multi_choice": "Several choices",
              "scale": "Scale (scored choices)", "integer": "Whole number", "decimal": "Number",
              "text": "Text", "date": "Date"}
CHOICE_TYPES = ("single_choice", "multi_choice", "scale")
NUMBER_TYPES = ("integer", "decimal")
SEVERITIES = ("exclude", "urgent", "review", "info")
ID_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
DRAFT_LABEL = "draft"


def read(text: str | None, label: str = DRAFT_LABEL) -> tuple[Source | None, list[Problem]]:
    """The parsed document, or None and why it cannot be read as YAML."""
    if text is None:
        return None, []
    try:
        return Source(text, label), []
    except LoadError as exc:
        return None, exc.problems


# -- problems, tied to where they are ----------------------------------------------------------

@dataclass
class Located:
    """A draft's problems: by (kind, id) of what they are in, the rest for the whole set, and by line."""

    by_key: dict[tuple[str, str], list[Problem]] = field(default_factory=dict)
    general: list[Problem] = field(default_factory=list)
    by_line: dict[int, list[str]] = field(default_factory=dict)
    total: int = 0

    def of(self, what: str, ident: str) -> list[Problem]:
        return self.by_key.get((what, ident), [])


def locate(source: Source | None, problems: list[Problem], label: str = DRAFT_LABEL) -> Located:
    located = Located(total=len(problems))
    starts: list[tuple[int, tuple[str, str] | None]] = []
    if source is not None:
        data = source.data
        for key in data:
            if key not in ("sections", "rules"):
                starts.append((source.line((key,)), None))
        for s_index, section in enumerate(data.get("sections") or []):
            if not isinstance(section, dict):
                continue
            starts.append((source.line(("sections", s_index)), ("section", str(section.get("id")))))
            for i_index, item in enumerate(section.get("items") or []):
                if isinstance(item, dict):
                    starts.append((source.line(("sections", s_index, "items", i_index)), ("item", str(item.get("id")))))
        for r_index, rule in enumerate(data.get("rules") or []):
            if isinstance(rule, dict):
                starts.append((source.line(("rules", r_index)), ("rule", str(rule.get("id")))))
    starts.sort(key=lambda s: s[0])
    lines = [s[0] for s in starts]
    for problem in problems:
        if problem.file != label:
            located.general.append(problem)
            continue
        located.by_line.setdefault(problem.line, []).append(problem.reason)
        rule = re.match(r"rule '([^']+)' example", problem.reason)
        if rule:
            located.by_key.setdefault(("rule", rule.group(1)), []).append(problem)
            continue
        index = bisect.bisect_right(lines, problem.line) - 1
        key = starts[index][1] if index >= 0 else None
        if key is None:
            located.general.append(problem)
        else:
            located.by_key.setdefault(key, []).append(problem)
    return located


# -- question sets -----------------------------------------------------------------------------

def choice_sets(data: dict) -> dict[str, list]:
    value = data.get("choice_sets")
    return value if isinstance(value, dict) else {}


def item_choices(data: dict, item: dict) -> tuple[list[dict], str | None]:
    """An item's choices as the patient sees them, and the shared set's name if it uses one."""
    choices = item.get("choices")
    if isinstance(choices, str):
        shared = choice_sets(data).get(choices)
        return [c for c in shared or [] if isinstance(c, dict)], choices
    return [c for c in choices or [] if isinstance(c, dict)], None


def find_item(data: dict, item_id: str) -> tuple[dict, dict] | None:
    for section in data.get("sections") or []:
        for item in (section.get("items") or []) if isinstance(section, dict) else []:
            if isinstance(item, dict) and item.get("id") == item_id:
                return section, item
    return None


def find_section(data: dict, section_id: str) -> dict | None:
    return next((s for s in data.get("sections") or [] if isinstance(s, dict) and s.get("id") == section_id), None)


def all_ids(data: dict) -> set[str]:
    """Item, section, computed and score ids already used (a new question needs a fresh id)."""
    ids = set()
    for section in data.get("sections") or []:
        if isinstance(section, dict):
            ids.add(str(section.get("id")))
            ids |= {str(i.get("id")) for i in section.get("items") or [] if isinstance(i, dict)}
    ids |= {str(c.get("id")) for c in data.get("computed") or [] if isinstance(c, dict)}
    for instrument in data.get("instruments") or []:
        if isinstance(instrument, dict):
            ids |= {str(s.get("id")) for s in instrument.get("scores") or [] if isinstance(s, dict)}
    return ids


def parse_number(text: str | None) -> int | float | None:
    """'' -> None; '12' -> 12; '12.5' or '12,5' -> 12.5; anything else raises ValueError."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        number = float(text.replace(",", "."))
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError(text) from None
        return number


def choice_value(item_type: str, text: str) -> int | str:
    """A choice value as typed: scale values are whole numbers, other choice values are text."""
    text = text.strip()
    return int(text) if item_type == "scale" else text


# -- rules -------------------------------------------------------------------------------------

def path_key(path: tuple) -> str:
    """A threshold's path in a rule's `when`, as a form field name part: ('any', 0, 'gte') -> 'any.0.gte'."""
    return ".".join(str(step) for step in path)


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .\-]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _flow(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED and text == text.strip():
        return text
    return json.dumps(text, ensure_ascii=False)


def answers_text(answers: dict) -> str:
    """Example answers as an admin types them: `bp_systolic: 185, medical_conditions: [aneurysm]`."""
    return ", ".join(f"{key}: {_flow(value)}" for key, value in (answers or {}).items())


def parse_answers_text(text: str) -> dict:
    """`a: 1, b: [x, y]`, `{a: 1}` or JSON -> a dict of answers; ValueError with a reason otherwise."""
    text = (text or "").strip()
    if not text:
        return {}
    if not text.startswith("{"):
        text = "{" + text + "}"
    try:
        data = Source(text, "answers").data
    except LoadError as exc:
        reason = exc.problems[0].reason if exc.problems else "not readable"
        raise ValueError(f"write answers as `question_id: value, other_id: value` ({reason})") from None
    return {str(k): v for k, v in data.items()}


def parse_as_of(text: str | None) -> str | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        raise ValueError("write the date as YYYY-MM-DD") from None
    return text
