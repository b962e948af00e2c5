"""A generated question set (150 items) and rule set (60 rules) shaped like real intake content."""

from __future__ import annotations

SECTIONS, ITEMS_PER_SECTION, RULES = 15, 10, 60
FREQUENCY = "[{value: 0, label: Never}, {value: 1, label: Sometimes}, {value: 2, label: Often}, {value: 3, label: Always}]"


def item_yaml(s: int, i: int) -> str:
    ident = f"s{s}_q{i}"
    kind = i % 5
    show = f", show_if: {{answer: s{s}_q0, eq: true}}" if i in (1, 2) else ""
    if kind == 0:
        return f"      - {{id: {ident}, type: yes_no, text: Question {ident}, required: true}}"
    if kind in (1, 2):
        return f"      - {{id: {ident}, type: scale, text: Question {ident}, choices: frequency{show}}}"
    if kind == 3:
        return (f"      - {{id: {ident}, type: multi_choice, text: Question {ident}, choices: "
                f"[{{value: a, label: A}}, {{value: b, label: B}}, {{value: c, label: C}}]}}")
    return f"      - {{id: {ident}, type: integer, text: Question {ident}, min: 0, max: 300{show}}}"


def question_set() -> str:
    lines = ["id: synthetic", "title: Synthetic", f"choice_sets:\n  frequency: {FREQUENCY}", "sections:"]
    for s in range(SECTIONS):
        lines += [f"  - id: sec{s}", f"    title: Section {s}", "    items:"]
        lines += [item_yaml(s, i) for i in range(ITEMS_PER_SECTION)]
    lines.append("instruments:")
    for s in range(SECTIONS):
        items = [f"s{s}_q{i}" for i in range(ITEMS_PER_SECTION) if i % 5 in (1, 2)]
        lines += [f"  - id: inst{s}", f"    title: Instrument {s}", "    licence: none", "    citation: none",
                  f"    items: [{', '.join(items)}]", "    scores:",
                  f"      - {{id: score{s}, method: sum, bands: [{{min: 0, max: 5, label: low}}, "
                  f"{{min: 6, max: 12, label: high}}]}}"]
    return "\n".join(lines) + "\n"


def rule_yaml(r: int) -> str:
    s = r % SECTIONS
    shapes = [
        f"{{answer: s{s}_q3, contains_any: [a, b]}}",
        f"{{all: [{{score: score{s}, gte: 6}}, {{answer: s{s}_q1, gte: 2}}]}}",
        f"{{any: [{{answer: s{s}_q4, gte: 180}}, {{answer: s{s}_q9, gte: 120}}]}}",
        f"{{not: {{answered: s{s}_q4}}}}",
        f"{{all: [{{answer: s{s}_q0, eq: true}}, {{not: {{band: score{s}, eq: low}}}}]}}",
    ]
    return (f"  - id: rule{r}\n    severity: {['exclude', 'urgent', 'review', 'info'][r % 4]}\n"
            f"    when: {shapes[r % len(shapes)]}\n    message: Rule {r}\n    source: Synthetic\n"
            f"    examples:\n      - {{answers: {{}}, fires: false}}\n      - {{answers: {{}}, fires: true}}\n")


def rule_set() -> str:
    return "id: synthetic-rules\ntitle: Synthetic rules\napplies_to: synthetic\nrules:\n" + "".join(
        rule_yaml(r) for r in range(RULES))


def answers() -> dict:
    """A full, plausible patient: every item answered."""
    out: dict = {}
    for s in range(SECTIONS):
        for i in range(ITEMS_PER_SECTION):
            kind = i % 5
            ident = f"s{s}_q{i}"
            out[ident] = [True, 2, 1, ["a"], 150][kind]
    return out
