"""The condition language: every operator, three-valued logic, and traces."""

from __future__ import annotations

import datetime

import pytest

from screening.questions import LoadError, parse_question_set
from screening.rules.conditions import ConditionCompiler

QS = parse_question_set("""\
id: ops
title: Operators
sections:
  - id: s
    title: S
    items:
      - {id: flag, type: yes_no, text: Flag?}
      - {id: level, type: scale, text: Level, choices: [{value: 0, label: None}, {value: 1, label: Some}, {value: 2, label: Lots}, {value: 3, label: All}]}
      - {id: kind, type: single_choice, text: Kind, choices: [{value: a, label: A}, {value: b, label: B}, {value: c, label: C}]}
      - {id: tags, type: multi_choice, text: Tags, choices: [{value: x, label: X}, {value: y, label: Y}, {value: z, label: Z}]}
      - {id: count, type: integer, text: Count, min: 0, max: 100}
      - {id: weight, type: decimal, text: Weight, min: 20, max: 300}
      - {id: note, type: text, text: Note}
      - {id: day, type: date, text: Day}
      - {id: other, type: integer, text: Other, min: 0, max: 100}
""", "ops.yaml")


def compile_condition(raw):
    problems = []
    node = ConditionCompiler(QS, lambda path, reason: problems.append(reason)).compile(raw, ())
    assert problems == [], problems
    return node


def truth(raw, answers):
    valid, problems = QS.normalize_answers(answers, datetime.date(2026, 1, 1))
    assert problems == []
    return compile_condition(raw).eval(QS.resolve(valid, datetime.date(2026, 1, 1)))


@pytest.mark.parametrize("raw, answers, expected", [
    ({"answer": "flag", "eq": True}, {"flag": True}, True),
    ({"answer": "flag", "eq": True}, {"flag": False}, False),
    ({"answer": "kind", "ne": "a"}, {"kind": "b"}, True),
    ({"answer": "kind", "ne": "a"}, {"kind": "a"}, False),
    ({"answer": "level", "gt": 1}, {"level": 2}, True),
    ({"answer": "level", "gt": 1}, {"level": 1}, False),
    ({"answer": "level", "gte": 1}, {"level": 1}, True),
    ({"answer": "level", "gte": 1}, {"level": 0}, False),
    ({"answer": "count", "lt": 10}, {"count": 9}, True),
    ({"answer": "count", "lt": 10}, {"count": 10}, False),
    ({"answer": "count", "lte": 10}, {"count": 10}, True),
    ({"answer": "count", "lte": 10}, {"count": 11}, False),
    ({"answer": "weight", "between": [50, 60.5]}, {"weight": 60.5}, True),
    ({"answer": "weight", "between": [50, 60.5]}, {"weight": 49.9}, False),
    ({"answer": "kind", "in": ["a", "c"]}, {"kind": "c"}, True),
    ({"answer": "kind", "in": ["a", "c"]}, {"kind": "b"}, False),
    ({"answer": "tags", "contains": "y"}, {"tags": ["x", "y"]}, True),
    ({"answer": "tags", "contains": "y"}, {"tags": []}, False),
    ({"answer": "tags", "contains_any": ["y", "z"]}, {"tags": ["z"]}, True),
    ({"answer": "tags", "contains_any": ["y", "z"]}, {"tags": ["x"]}, False),
    ({"answer": "note", "eq": "hello"}, {"note": "hello"}, True),
    ({"answer": "day", "gte": "2025-01-01"}, {"day": "2025-01-01"}, True),
    ({"answer": "day", "gte": "2025-01-01"}, {"day": "2024-12-31"}, False),
    ({"answered": "count"}, {"count": 0}, True),
    ({"answered": "count"}, {}, False),
    ({"answer": "other", "lt": {"answer": "count"}}, {"count": 5, "other": 4}, True),
    ({"answer": "other", "lt": {"answer": "count"}}, {"count": 5, "other": 5}, False),
])
def test_operator(raw, answers, expected):
    assert truth(raw, answers) is expected


UNKNOWN = {"answer": "count", "gt": 5}
TRUE = {"answer": "flag", "eq": True}
FALSE = {"answer": "flag", "eq": False}


@pytest.mark.parametrize("raw, expected", [
    (UNKNOWN, None),
    ({"not": UNKNOWN}, None),
    ({"any": [UNKNOWN, TRUE]}, True),
    ({"any": [UNKNOWN, FALSE]}, None),
    ({"all": [UNKNOWN, FALSE]}, False),
    ({"all": [UNKNOWN, TRUE]}, None),
    ({"not": {"answered": "count"}}, True),
    ({"answer": "other", "lt": {"answer": "count"}}, None),
])
def test_three_valued_logic(raw, expected):
    """count is unanswered and flag is true: comparisons on count are unknown, not false."""
    assert truth(raw, {"flag": True, "other": 1}) is expected


def test_trace_names_the_answers_and_thresholds_that_made_it_true():
    node = compile_condition({"all": [{"answer": "count", "gte": 20}, {"answer": "level", "gte": 1}]})
    ctx = QS.resolve({"count": 21, "level": 2}, datetime.date(2026, 1, 1))
    assert [f.text for f in node.explain(ctx, True)] == ["count = 21 ≥ 20", "level = 2 ≥ 1"]


def test_trace_of_any_lists_only_the_branches_that_were_true():
    node = compile_condition({"any": [{"answer": "tags", "contains_any": ["x", "y"]}, {"answer": "count", "gt": 50},
                                      {"not": {"answer": "flag", "eq": True}}]})
    ctx = QS.resolve({"tags": ("x",), "count": 1, "flag": False}, datetime.date(2026, 1, 1))
    facts = node.explain(ctx, True)
    assert [f.text for f in facts] == ["tags includes x", "flag = no, not yes"]
    assert facts[0].to_json() == {"kind": "answer", "id": "tags", "value": ["x"], "text": "tags includes x"}


@pytest.mark.parametrize("raw, reason", [
    ({"answer": "tags", "eq": "x"}, "'eq' cannot be used on tags, which holds a list of choices from: x, y, z (use contains"),
    ({"answer": "note", "gt": "a"}, "'gt' cannot be used on note"),
    ({"answer": "count", "between": [5, 1]}, "'between' low (5) is above high (1)"),
    ({"answer": "count", "between": [200, 300]}, "can never be true"),
    ({"answer": "count", "in": []}, "'in' needs a non-empty list"),
    ({"answer": "count", "eq": 1, "ne": 2}, "exactly one subject"),
    ({"all": []}, "'all' needs a non-empty list"),
    ({"not": TRUE, "any": [TRUE]}, "cannot be combined"),
    ({"answer": "day", "eq": "2025-02-30"}, "is not a value day can have"),
    ({"answer": "weight", "lt": {"answer": "kind"}}, "cannot compare weight"),
    ({"answered": "nothing"}, "unknown question id 'nothing'"),
    ({"score": "nothing", "gt": 1}, "unknown score id 'nothing'"),
    ("flag", "a condition must be a mapping"),
])
def test_bad_condition_reason(raw, reason):
    problems = []
    node = ConditionCompiler(QS, lambda path, why: problems.append(why)).compile(raw, ())
    assert node is None
    assert any(reason in p for p in problems), problems


def test_a_bad_condition_is_a_load_error_with_its_line():
    with pytest.raises(LoadError) as caught:
        parse_question_set(QS.source_text.replace(
            "{id: other, type: integer, text: Other, min: 0, max: 100}",
            "{id: other, type: integer, text: Other, show_if: {answer: kind, eq: d}}"), "ops.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "ops.yaml:15: kind can never be d: it holds one of: a, b, c"]
