"""The condition language shared by ``show_if``, rule ``when``, categorical scores and ``bands_by``.

A condition is parsed once into a tree of nodes and checked against the
question set (unknown ids, impossible values, wrong types). Evaluation uses
three-valued logic: a comparison on something unanswered is ``None``
(unknown), ``not`` of unknown stays unknown, ``any`` is true if one branch is
true and ``all`` is false if one branch is false. ``explain`` returns the
facts that made a node true (or false), which become a flag's "because".
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

# Kinds of value a subject can hold.
BOOL, INT, NUM, CHOICE, MULTI, TEXT, DATE = "bool", "int", "num", "choice", "multi", "text", "date"
NUMERIC = frozenset({INT, NUM})
ORDERED = frozenset({INT, NUM, DATE})
SCALAR = frozenset({BOOL, INT, NUM, CHOICE, TEXT, DATE})

SUBJECTS = ("answer", "score", "band", "computed")


@dataclass(frozen=True)
class SubjectInfo:
    """What a condition may know about a subject at load time."""

    kind: str
    values: frozenset | None = None  # the only values it can take (choices, scale scores, bands)
    lo: Any = None
    hi: Any = None


class Resolver(Protocol):
    def subject(self, subject: str, ref: str) -> SubjectInfo | None: ...


class Context(Protocol):
    answers: dict[str, Any]

    def score_value(self, ref: str) -> Any: ...
    def band(self, ref: str) -> str | None: ...
    def computed(self, ref: str) -> Any: ...


@dataclass(frozen=True)
class Operator:
    name: str
    symbol: str
    kinds: frozenset[str]
    operand: str  # "value", "list" or "pair"
    test: Callable[[Any, Any], bool]


def _between(value: Any, bounds: tuple[Any, Any]) -> bool:
    return bounds[0] <= value <= bounds[1]


OPERATORS: dict[str, Operator] = {
    op.name: op
    for op in (
        Operator("eq", "=", SCALAR, "value", lambda v, o: v == o),
        Operator("ne", "≠", SCALAR, "value", lambda v, o: v != o),
        Operator("gt", ">", ORDERED, "value", lambda v, o: v > o),
        Operator("gte", "≥", ORDERED, "value", lambda v, o: v >= o),
        Operator("lt", "<", ORDERED, "value", lambda v, o: v < o),
        Operator("lte", "≤", ORDERED, "value", lambda v, o: v <= o),
        Operator("between", "between", ORDERED, "pair", _between),
        Operator("in", "in", SCALAR - {BOOL}, "list", lambda v, o: v in o),
        Operator("contains", "includes", frozenset({MULTI}), "value", lambda v, o: o in v),
        Operator("contains_any", "includes one of", frozenset({MULTI}), "list",
                 lambda v, o: any(x in v for x in o)),
    )
}
REFERABLE_OPERATORS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte"})


@dataclass(frozen=True)
class Fact:
    """One piece of a trace: a subject, its value, and what was true of it."""

    subject: str
    ref: str
    value: Any
    text: str

    def to_json(self) -> dict:
        value = self.value.isoformat() if isinstance(self.value, datetime.date) else self.value
        if isinstance(value, tuple):
            value = list(value)
        return {"kind": self.subject, "id": self.ref, "value": value, "text": self.text}


def format_value(value: Any) -> str:
    if value is None:
        return "unanswered"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (list, tuple, frozenset)):
        return ", ".join(format_value(v) for v in value) if value else "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class Node:
    __slots__ = ()

    def eval(self, ctx: Context) -> bool | None:
        raise NotImplementedError

    def explain(self, ctx: Context, want: bool) -> list[Fact]:
        raise NotImplementedError

    def refs(self) -> Iterator[tuple[str, str]]:
        raise NotImplementedError


def _getter(subject: str, ref: str) -> Callable[[Context], Any]:
    if subject == "answer":
        return lambda ctx: ctx.answers.get(ref)
    if subject == "score":
        return lambda ctx: ctx.score_value(ref)
    if subject == "band":
        return lambda ctx: ctx.band(ref)
    return lambda ctx: ctx.computed(ref)


class Compare(Node):
    __slots__ = ("subject", "ref", "op", "operand", "operand_ref", "get", "get_operand")

    def __init__(self, subject: str, ref: str, op: Operator, operand: Any,
                 operand_ref: tuple[str, str] | None = None):
        self.subject, self.ref, self.op, self.operand = subject, ref, op, operand
        self.operand_ref = operand_ref
        self.get = _getter(subject, ref)
        self.get_operand = _getter(*operand_ref) if operand_ref else None

    def _operand(self, ctx: Context) -> Any:
        return self.operand if self.get_operand is None else self.get_operand(ctx)

    def eval(self, ctx: Context) -> bool | None:
        value = self.get(ctx)
        if value is None:
            return None
        operand = self._operand(ctx)
        if operand is None:
            return None
        return self.op.test(value, operand)

    def explain(self, ctx: Context, want: bool) -> list[Fact]:
        value = self.get(ctx)
        return [Fact(self.subject, self.ref, value, self.describe(value, self._operand(ctx), self.eval(ctx)))]

    def describe(self, value: Any, operand: Any, holds: bool | None) -> str:
        label = f"{self.ref} band" if self.subject == "band" else self.ref
        if holds is None:
            missing = self.operand_ref[1] if value is not None and self.operand_ref else label
            return f"{missing} unanswered"
        shown = format_value(value)
        if self.operand_ref:
            target = f"{self.operand_ref[1]} ({format_value(operand)})"
        elif self.op.operand == "pair":
            target = f"{format_value(operand[0])} and {format_value(operand[1])}"
        else:
            target = format_value(operand)
        name = self.op.name
        if name in ("contains", "contains_any"):
            if holds:
                matched = [x for x in (operand if name == "contains_any" else (operand,)) if x in value]
                return f"{label} includes {format_value(matched)}"
            return f"{label} = {shown}, not including {target if name == 'contains' else 'any of ' + target}"
        if name == "eq":
            return f"{label} = {shown}" if holds else f"{label} = {shown}, not {target}"
        if name == "in":
            return f"{label} = {shown}, one of {target}" if holds else f"{label} = {shown}, not one of {target}"
        if holds:
            return f"{label} = {shown} {self.op.symbol} {target}"
        return f"{label} = {shown}, not {self.op.symbol} {target}"

    def refs(self) -> Iterator[tuple[str, str]]:
        yield (self.subject, self.ref)
        if self.operand_ref:
            yield self.operand_ref


class Answered(Node):
    __slots__ = ("ref",)

    def __init__(self, ref: str):
        self.ref = ref

    def eval(self, ctx: Context) -> bool:
        return self.ref in ctx.answers

    def explain(self, ctx: Context, want: bool) -> list[Fact]:
        value = ctx.answers.get(self.ref)
        text = f"{self.ref} answered" if value is not None else f"{self.ref} not answered"
        return [Fact("answer", self.ref, value, text)]

    def refs(self) -> Iterator[tuple[str, str]]:
        yield ("answer", self.ref)


class All(Node):
    __slots__ = ("children",)

    def __init__(self, children: list[Node]):
        self.children = children

    def eval(self, ctx: Context) -> bool | None:
        result: bool | None = True
        for child in self.children:
            value = child.eval(ctx)
            if value is False:
                return False
            if value is None:
                result = None
        return result

    def explain(self, ctx: Context, want: bool) -> list[Fact]:
        if want:
            return [f for c in self.children for f in c.explain(ctx, True)]
        return [f for c in self.children if c.eval(ctx) is False for f in c.explain(ctx, False)]

    def refs(self) -> Iterator[tuple[str, str]]:
        for child in self.children:
            yield from child.refs()


class AnyOf(All):
    __slots__ = ()

    def eval(self, ctx: Context) -> bool | None:
        result: bool | None = False
        for child in self.children:
            value = child.eval(ctx)
            if value is True:
                return True
            if value is None:
                result = None
        return result

    def explain(self, ctx: Context, want: bool) -> list[Fact]:
        if want:
            return [f for c in self.children if c.eval(ctx) is True for f in c.explain(ctx, True)]
        return [f for c in self.children for f in c.explain(ctx, False)]


class Not(Node):
    __slots__ = ("child",)

    def __init__(self, child: Node):
        self.child = child

    def eval(self, ctx: Context) -> bool | None:
        value = self.child.eval(ctx)
        return None if value is None else not value

    def explain(self, ctx: Context, want: bool) -> list[Fact]:
        return self.child.explain(ctx, not want)

    def refs(self) -> Iterator[tuple[str, str]]:
        return self.child.refs()


ProblemSink = Callable[[tuple, str], None]


class ConditionCompiler:
    """Parses raw condition mappings into nodes, reporting every problem with its path."""

    def __init__(self, resolver: Resolver, report: ProblemSink):
        self.resolver = resolver
        self.report = report

    def compile(self, raw: Any, path: tuple) -> Node | None:
        if not isinstance(raw, dict) or not raw:
            self.report(path, "a condition must be a mapping such as {answer: item_id, eq: value}")
            return None
        keys = set(raw)
        for group, cls in (("all", All), ("any", AnyOf)):
            if group in keys:
                if keys != {group}:
                    return self._extra(path, group, keys)
                items = raw[group]
                if not isinstance(items, list) or not items:
                    self.report(path + (group,), f"'{group}' needs a non-empty list of conditions")
                    return None
                children = [self.compile(c, path + (group, i)) for i, c in enumerate(items)]
                return None if None in children else cls(children)
        if "not" in keys:
            if keys != {"not"}:
                return self._extra(path, "not", keys)
            child = self.compile(raw["not"], path + ("not",))
            return None if child is None else Not(child)
        if "answered" in keys:
            if keys != {"answered"}:
                return self._extra(path, "answered", keys)
            ref = raw["answered"]
            if self._info("answer", ref, path + ("answered",)) is None:
                return None
            return Answered(ref)
        return self._compare(raw, path)

    def _extra(self, path: tuple, key: str, keys: set) -> None:
        others = ", ".join(sorted(str(k) for k in keys - {key}))
        self.report(path, f"'{key}' cannot be combined with other keys here ({others})")
        return None

    def _info(self, subject: str, ref: Any, path: tuple) -> SubjectInfo | None:
        if not isinstance(ref, str):
            self.report(path, f"'{subject}' must name an id")
            return None
        info = self.resolver.subject(subject, ref)
        if info is None:
            noun = {"answer": "question", "score": "score", "band": "banded score", "computed": "computed value"}
            self.report(path, f"unknown {noun[subject]} id '{ref}'")
        return info

    def _compare(self, raw: dict, path: tuple) -> Node | None:
        subjects = [k for k in raw if k in SUBJECTS]
        operators = [k for k in raw if k in OPERATORS]
        unknown = [k for k in raw if k not in SUBJECTS and k not in OPERATORS]
        if unknown:
            known = ", ".join(("all", "any", "not", "answered") + SUBJECTS + tuple(OPERATORS))
            self.report(path + (unknown[0],), f"unknown condition key '{unknown[0]}' (expected one of: {known})")
            return None
        if len(subjects) != 1 or len(operators) != 1:
            self.report(path, "a comparison needs exactly one subject (answer, score, band, computed) "
                              "and one operator (" + ", ".join(OPERATORS) + ")")
            return None
        subject, opname = subjects[0], operators[0]
        info = self._info(subject, raw[subject], path + (subject,))
        if info is None:
            return None
        op = OPERATORS[opname]
        ref = raw[subject]
        op_path = path + (opname,)
        if info.kind not in op.kinds:
            hint = " (use contains or contains_any)" if info.kind == MULTI else ""
            self.report(op_path, f"'{opname}' cannot be used on {ref}, which holds {describe_kind(info)}{hint}")
            return None
        operand = raw[opname]
        if isinstance(operand, dict):
            return self._compare_to_subject(subject, ref, info, op, operand, op_path)
        value = self._operand(ref, info, op, operand, op_path)
        if value is _INVALID:
            return None
        return Compare(subject, ref, op, value)

    def _compare_to_subject(self, subject, ref, info, op, operand, path) -> Node | None:
        other = [k for k in operand if k in SUBJECTS]
        if op.name not in REFERABLE_OPERATORS or len(operand) != 1 or len(other) != 1:
            self.report(path, f"'{op.name}' needs a value" + (
                " or one {answer|score|computed: id}" if op.name in REFERABLE_OPERATORS else ""))
            return None
        other_info = self._info(other[0], operand[other[0]], path + (other[0],))
        if other_info is None:
            return None
        same_family = (info.kind in NUMERIC and other_info.kind in NUMERIC) or info.kind == other_info.kind
        if not same_family:
            self.report(path, f"cannot compare {ref} ({describe_kind(info)}) with "
                              f"{operand[other[0]]} ({describe_kind(other_info)})")
            return None
        return Compare(subject, ref, op, None, operand_ref=(other[0], operand[other[0]]))

    def _operand(self, ref: str, info: SubjectInfo, op: Operator, raw: Any, path: tuple) -> Any:
        if op.operand == "value":
            value = self._value(ref, info, raw, path, check_possible=op.kinds is not ORDERED)
            if value is _INVALID:
                return _INVALID
            if op.kinds is ORDERED and not _satisfiable(info, op, value):
                self.report(path, f"{ref} {op.symbol} {format_value(value)} can never be true: "
                                  f"{ref} holds {describe_kind(info)}")
                return _INVALID
            return value
        if op.operand == "pair":
            if not isinstance(raw, list) or len(raw) != 2:
                self.report(path, "'between' needs a list of two values [low, high]")
                return _INVALID
            pair = tuple(self._value(ref, info, v, path, check_possible=False) for v in raw)
            if _INVALID in pair:
                return _INVALID
            if pair[0] > pair[1]:
                self.report(path, f"'between' low ({format_value(pair[0])}) is above high ({format_value(pair[1])})")
                return _INVALID
            if (info.hi is not None and pair[0] > info.hi) or (info.lo is not None and pair[1] < info.lo):
                self.report(path, f"{ref} between {format_value(pair[0])} and {format_value(pair[1])} can "
                                  f"never be true: {ref} holds {describe_kind(info)}")
                return _INVALID
            return pair
        if not isinstance(raw, list) or not raw:
            self.report(path, f"'{op.name}' needs a non-empty list of values")
            return _INVALID
        values = [self._value(ref, info, v, path, check_possible=True) for v in raw]
        return _INVALID if _INVALID in values else tuple(values)

    def _value(self, ref: str, info: SubjectInfo, raw: Any, path: tuple, check_possible: bool) -> Any:
        value = coerce_value(info, raw)
        if value is _INVALID:
            self.report(path, f"{format_value(raw) if raw is not None else 'null'} is not a value {ref} can "
                              f"have: {ref} holds {describe_kind(info)}")
            return _INVALID
        if check_possible and not _possible(info, value):
            self.report(path, f"{ref} can never be {format_value(value)}: it holds {describe_kind(info)}")
            return _INVALID
        return value


_INVALID = object()


def coerce_value(info: SubjectInfo, raw: Any) -> Any:
    """A literal from YAML as a value of the subject's kind, or _INVALID."""
    kind = info.kind
    if kind == BOOL:
        return raw if isinstance(raw, bool) else _INVALID
    if isinstance(raw, bool):
        return _INVALID
    if kind == INT:
        return raw if isinstance(raw, int) else _INVALID
    if kind == NUM:
        return raw if isinstance(raw, (int, float)) else _INVALID
    if kind == DATE:
        if isinstance(raw, datetime.date):
            return raw
        try:
            return datetime.date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else _INVALID
        except ValueError:
            return _INVALID
    return raw if isinstance(raw, str) else _INVALID


def _possible(info: SubjectInfo, value: Any) -> bool:
    if info.values is not None:
        return value in info.values
    if info.lo is not None and value < info.lo:
        return False
    return not (info.hi is not None and value > info.hi)


def _satisfiable(info: SubjectInfo, op: Operator, value: Any) -> bool:
    if info.values is not None:
        return any(op.test(x, value) for x in info.values)
    if op.name in ("gt", "gte") and info.hi is not None:
        return op.test(info.hi, value)
    if op.name in ("lt", "lte") and info.lo is not None:
        return op.test(info.lo, value)
    return True


def describe_kind(info: SubjectInfo) -> str:
    if info.values is not None:
        shown = ", ".join(format_value(v) for v in sorted(info.values, key=str))
        return f"a list of choices from: {shown}" if info.kind == MULTI else f"one of: {shown}"
    names = {BOOL: "yes/no (true or false)", INT: "a whole number", NUM: "a number",
             MULTI: "a list of choices", TEXT: "text", DATE: "a date (YYYY-MM-DD)", CHOICE: "a choice"}
    text = names[info.kind]
    if info.lo is not None and info.hi is not None:
        text += f" from {format_value(info.lo)} to {format_value(info.hi)}"
    elif info.lo is not None:
        text += f" of at least {format_value(info.lo)}"
    elif info.hi is not None:
        text += f" of at most {format_value(info.hi)}"
    return text
