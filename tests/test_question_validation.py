"""Every load-time problem in a question set is reported as file:line: reason.

Each bad document marks the line the problem must be reported on with ``# <-``.
"""

from __future__ import annotations

import textwrap

import pytest

from screening.questions import LoadError, load_question_set, parse_question_set

HEAD = """\
id: t
title: T
sections:
  - id: s1
    title: One
    items:
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(LoadError) as caught:
        parse_question_set(text, "bad.yaml")
    return [str(p) for p in caught.value.problems]


def marked_line(text: str) -> int:
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if "# <-" in line]
    assert len(lines) == 1, "a case marks exactly one line"
    return lines[0]


def assert_reported(text: str, reason: str) -> None:
    found = problems_of(text)
    expected = f"bad.yaml:{marked_line(text)}: "
    assert any(p.startswith(expected) and reason in p for p in found), found


def doc(items: str, tail: str = "") -> str:
    return HEAD + textwrap.indent(textwrap.dedent(items), "      ") + textwrap.dedent(tail)


CASES = {
    "unknown key in an item": (doc("""\
        - id: a
          type: yes_no
          text: A?
          requird: true   # <-
        """), "unknown key 'requird'"),
    "unknown top-level key": ("id: t\ntitle: T\nsection: []   # <-\nsections:\n  - {id: s, title: S, items: "
                              "[{id: a, type: yes_no, text: A}]}\n", "unknown key 'section'"),
    "missing required key": (doc("""\
        - id: a      # <-
          type: yes_no
        """), "missing required key 'text'"),
    "unknown item type": (doc("""\
        - id: a
          type: yesno   # <-
          text: A?
        """), "Input should be 'yes_no'"),
    "duplicate item id": (doc("""\
        - {id: a, type: yes_no, text: A?}
        - {id: a, type: yes_no, text: Again?}   # <-
        """), "duplicate id 'a' (question); first used on line 7"),
    "duplicate YAML key": (doc("""\
        - id: a
          type: yes_no
          text: A?
          text: B?   # <-
        """), 'found duplicate key "text"'),
    "bad YAML": (doc("""\
        - id: a
          type: [yes_no   # <-
        """), "invalid YAML"),
    "show_if names an unknown id": (doc("""\
        - {id: a, type: yes_no, text: A?}
        - {id: b, type: yes_no, text: B?, show_if: {answer: nope, eq: true}}   # <-
        """), "unknown question id 'nope'"),
    "show_if refers to a later item": (doc("""\
        - {id: a, type: yes_no, text: A?, show_if: {answer: b, eq: true}}   # <-
        - {id: b, type: yes_no, text: B?}
        """), "refers to 'b', which comes later"),
    "show_if refers to itself": (doc("""\
        - {id: a, type: yes_no, text: A?, show_if: {answer: a, eq: true}}   # <-
        """), "depends on its own answer"),
    "show_if compares a choice that does not exist": (doc("""\
        - id: a
          type: single_choice
          text: A?
          choices: [{value: x, label: X}, {value: y, label: Y}]
        - {id: b, type: yes_no, text: B?, show_if: {answer: a, eq: z}}   # <-
        """), "a can never be z"),
    "show_if compares a number out of range": (doc("""\
        - {id: a, type: integer, text: A?, min: 0, max: 10}
        - {id: b, type: yes_no, text: B?, show_if: {answer: a, gt: 10}}   # <-
        """), "a > 10 can never be true"),
    "show_if compares with the wrong type": (doc("""\
        - {id: a, type: yes_no, text: A?}
        - {id: b, type: yes_no, text: B?, show_if: {answer: a, eq: "yes"}}   # <-
        """), "is not a value a can have"),
    "ordering operator on a choice": (doc("""\
        - id: a
          type: single_choice
          text: A?
          choices: [{value: x, label: X}]
        - {id: b, type: yes_no, text: B?, show_if: {answer: a, gte: x}}   # <-
        """), "'gte' cannot be used on a"),
    "unknown operator": (doc("""\
        - {id: a, type: integer, text: A?}
        - {id: b, type: yes_no, text: B?, show_if: {answer: a, greater: 1}}   # <-
        """), "unknown condition key 'greater'"),
    "choices without values": (doc("""\
        - id: a
          type: single_choice
          text: A?
          choices:
            - {label: X}   # <-
        """), "missing required key 'value'"),
    "choice type needs choices": (doc("""\
        - {id: a, type: single_choice, text: A?}   # <-
        """), "needs 'choices'"),
    "scale choices must be numbers": (doc("""\
        - id: a
          type: scale
          text: A?
          choices:
            - {value: low, label: Low}   # <-
        """), "must be a whole-number score"),
    "duplicate choice value": (doc("""\
        - id: a
          type: single_choice
          text: A?
          choices:
            - {value: x, label: X}
            - {value: x, label: Also X}   # <-
        """), "duplicate choice value 'x'"),
    "key that does not apply to the type": (doc("""\
        - {id: a, type: yes_no, text: A?, min: 1}   # <-
        """), "'min' does not apply to a yes_no question"),
    "min above max": (doc("""\
        - {id: a, type: integer, text: A?, min: 5, max: 1}   # <-
        """), "min (5) is greater than max (1)"),
}


@pytest.mark.parametrize("name", CASES)
def test_problem_is_reported_with_file_line_and_reason(name):
    text, reason = CASES[name]
    assert_reported(text, reason)


INSTRUMENT_HEAD = doc("""\
    - {id: q1, type: scale, text: One, choices: [{value: 0, label: No}, {value: 1, label: Some}, {value: 2, label: Lots}]}
    - {id: q2, type: scale, text: Two, choices: [{value: 0, label: No}, {value: 1, label: Some}, {value: 2, label: Lots}]}
    - {id: sex, type: single_choice, text: Sex, choices: [{value: f, label: F}, {value: m, label: M}]}
    """)


def instrument(score: str) -> str:
    return INSTRUMENT_HEAD + textwrap.dedent("""\
        instruments:
          - id: inst
            title: Inst
            licence: Free
            citation: Someone 2020
            items: [q1, q2]
            scores:
        """) + textwrap.indent(textwrap.dedent(score), "      ")


BAND_CASES = {
    "bands with a gap": ("""\
        - id: total
          method: sum
          bands:
            - {min: 0, max: 1, label: low}
            - {min: 3, max: 4, label: high}   # <-
        """, "gap before band 'high': scores of 2 have no band"),
    "overlapping bands": ("""\
        - id: total
          method: sum
          bands:
            - {min: 0, max: 2, label: low}
            - {min: 2, max: 4, label: high}   # <-
        """, "band 'high' overlaps the band before it"),
    "bands that stop short": ("""\
        - id: total
          method: sum
          bands:
            - {min: 0, max: 1, label: low}
            - {min: 2, max: 3, label: high}   # <-
        """, "scores of 4 to 4 have no band"),
    "bands that start too low": ("""\
        - id: total
          method: sum
          bands:
            - {min: -1, max: 4, label: all}   # <-
        """, "below the lowest possible score 0"),
    "conditional bands with a gap in one branch": ("""\
        - id: total
          method: sum
          bands_by:
            - when: {answer: sex, eq: m}
              bands: [{min: 0, max: 4, label: negative}]
            - bands:
                - {min: 0, max: 1, label: negative}
                - {min: 3, max: 4, label: positive}   # <-
        """, "gap before band 'positive'"),
    "bands_by without an otherwise": ("""\
        - id: total
          method: sum
          bands_by:
            - when: {answer: sex, eq: m}   # <-
              bands: [{min: 0, max: 4, label: negative}]
        """, "the last (used otherwise) has none"),
    "reverse item not in the score": ("""\
        - id: total
          method: sum
          items: [q1]
          reverse: [q2]   # <-
        """, "reverse-scored 'q2' is not one of this score's items"),
    "categorical without an otherwise": ("""\
        - id: cat
          method: categorical
          categories:
            - {value: a, when: {answer: q1, eq: 0}}
            - {value: b, when: {answer: q1, eq: 1}}   # <-
        """, "the last category must omit 'when'"),
    "score id clashing with an item id": ("""\
        - id: q1   # <-
          method: sum
        """, "duplicate id 'q1' (score)"),
    "score depending on itself": ("""\
        - id: cat   # <-
          method: categorical
          categories:
            - {value: a, when: {score: cat, eq: b}}
            - {value: b}
        """, "score 'cat' depends on itself: cat -> cat"),
    "band condition on an unknown band label": ("""\
        - id: total
          method: sum
          bands: [{min: 0, max: 4, label: any}]
        - id: cat
          method: categorical
          categories:
            - {value: a, when: {band: total, eq: severe}}   # <-
            - {value: b}
        """, "total can never be severe"),
}


@pytest.mark.parametrize("name", BAND_CASES)
def test_score_problem_is_reported_with_file_line_and_reason(name):
    score, reason = BAND_CASES[name]
    assert_reported(instrument(score), reason)


def test_show_if_through_a_score_of_later_items_is_rejected():
    text = doc("""\
        - {id: early, type: yes_no, text: E?, show_if: {score: total, gte: 1}}   # <-
        - {id: q1, type: scale, text: One, choices: [{value: 0, label: No}, {value: 1, label: Yes}]}
        """, """\
        instruments:
          - {id: i, title: I, licence: L, citation: C, items: [q1], scores: [{id: total, method: sum}]}
        """)
    assert_reported(text, "refers to 'q1' (through score 'total'), which comes later")


def test_section_show_if_may_not_use_its_own_items():
    text = HEAD.replace("    title: One\n", "    title: One\n    show_if: {answer: a, eq: true}   # <-\n") + \
        "      - {id: a, type: yes_no, text: A?}\n"
    assert_reported(text, "show_if may only refer to items of earlier sections")


def test_every_problem_is_reported_not_just_the_first():
    text = doc("""\
        - {id: a, type: yes_no, text: A?, show_if: {answer: nope, eq: true}}
        - {id: a, type: yes_no, text: B?}
        - {id: c, type: integer, text: C?, min: 3, max: 1}
        """)
    found = problems_of(text)
    assert len(found) == 3
    assert [int(p.split(":")[1]) for p in found] == [7, 8, 9]


def test_document_that_is_not_a_mapping():
    assert problems_of("- just\n- a list\n") == ["bad.yaml:1: the document must be a mapping (key: value pairs)"]


def test_yes_is_a_string_not_true():
    """YAML 1.2: an unquoted `yes` is text, so it cannot slip in as a boolean."""
    text = doc("""\
        - {id: a, type: yes_no, text: A?}
        - {id: b, type: yes_no, text: B?, show_if: {answer: a, eq: yes}}   # <-
        """)
    assert_reported(text, "is not a value a can have")


def test_unreadable_file_names_the_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(LoadError) as caught:
        load_question_set(missing)
    assert str(caught.value).startswith(f"{missing}:1: cannot read the file")


def test_content_hash_ignores_formatting_and_comments_but_not_content():
    base = doc("- {id: a, type: yes_no, text: A?}\n")
    reformatted = "# a comment\n" + doc("- id: a\n  type: yes_no\n  text: A?\n")
    changed = doc("- {id: a, type: yes_no, text: A changed?}\n")
    h = parse_question_set(base).content_hash
    assert h.startswith("sha256:")
    assert parse_question_set(reformatted).content_hash == h
    assert parse_question_set(changed).content_hash != h


@pytest.mark.parametrize("path", ["questions/ketamine-intake.yaml", "rules/ketamine-safety.yaml"])
def test_the_shipped_content_takes_the_fast_libyaml_path(path):
    """A flow mapping with a plain `?` in it (`{text: ¿Qué...?}`) sends a whole document to the pure-Python
    parser, about eight times slower; every admin edit and every new database reads these files."""
    from pathlib import Path

    import screening
    from screening.yaml_source import _compose_and_construct

    _compose_and_construct((Path(screening.__file__).parent / path).read_text(encoding="utf-8"), pure=False)
