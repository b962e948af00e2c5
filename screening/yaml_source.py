"""Reading YAML documents with line numbers, and reporting problems as ``file:line: reason``.

Question sets and rule sets share this: ruamel.yaml keeps the position of every
node, rejects duplicate keys and reads YAML 1.2 (``yes`` stays a string). Structural validation is done by pydantic on plain data; its error
locations are mapped back to lines here.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

Path = tuple[Any, ...]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class LoadError(Exception):
    """A question set, rule set or answers file that cannot be used, with every problem found."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class Source:
    """A parsed YAML document: its node tree (for line numbers) and plain data.

    ruamel's safe loader with its C extension composes the node tree (every node keeps its
    line), then its constructor builds the data, rejecting duplicate keys. This is about eight
    times faster than the pure-Python round-trip loader for the same guarantees.
    """

    def __init__(self, text: str, filename: str):
        self.text = text
        self.filename = filename
        try:
            try:
                self.tree, data = _compose_and_construct(text, pure=False)
            except YAMLError:
                # libyaml refuses a few plain scalars YAML 1.2 allows (`{text: Agree?}`): the pure
                # parser decides, so what is accepted never depends on the C extension.
                self.tree, data = _compose_and_construct(text, pure=True)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            if exc.context_mark is not None and (mark is None or mark.line >= len(text.splitlines())):
                mark = exc.context_mark  # an unclosed bracket is noticed at the end; point at its start
            line = mark.line + 1 if mark is not None else 1
            reason = " ".join(str(part) for part in (exc.context, exc.problem) if part)
            raise LoadError([Problem(filename, line, f"invalid YAML: {reason}")]) from None
        except YAMLError as exc:
            raise LoadError([Problem(filename, 1, f"invalid YAML: {exc}")]) from None
        if not isinstance(self.tree, MappingNode) or not isinstance(data, dict):
            raise LoadError([Problem(filename, 1, "the document must be a mapping (key: value pairs)")])
        self.data = to_plain(data)

    def line(self, path: Path) -> int:
        """1-based line of the node at ``path``, or of its nearest existing ancestor."""
        node: Any = self.tree
        line = node.start_mark.line
        for step in path:
            if isinstance(node, MappingNode):
                pair = next(((k, v) for k, v in node.value if isinstance(k, ScalarNode) and k.value == str(step)),
                            None)
                if pair is None:
                    continue  # a pydantic union tag or a missing key: keep the parent's line
                line, node = pair[0].start_mark.line, pair[1]
            elif isinstance(node, SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
                node = node.value[step]
                line = node.start_mark.line
        return line + 1

    def problem(self, path: Path, reason: str) -> Problem:
        return Problem(self.filename, self.line(path), reason)

    def validate(self, model: type[BaseModel]) -> Any:
        """Validate the plain data with a pydantic model; raise LoadError with lines on failure."""
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            raise LoadError(self.pydantic_problems(exc)) from None

    def pydantic_problems(self, exc: ValidationError, prefix: Path = ()) -> list[Problem]:
        problems = []
        for error in exc.errors(include_url=False):
            path = prefix + tuple(error["loc"])
            problems.append(self.problem(path, describe_error(path, error)))
        return sorted(set(problems), key=lambda p: p.line)

    def content_hash(self) -> str:
        return content_hash(self.data)


def _compose_and_construct(text: str, pure: bool) -> tuple[Any, Any]:
    yaml = YAML(typ="safe", pure=pure)
    yaml.allow_duplicate_keys = False
    tree = yaml.compose(text)
    return tree, (yaml.constructor.construct_document(tree) if tree is not None else None)


def describe_error(path: Path, error: dict) -> str:
    where = dotted(path[:-1]) if path else ""
    key = path[-1] if path else ""
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key '{key}'" + (f" in {where}" if where else "")
    if kind == "missing":
        return f"missing required key '{key}'" + (f" in {where}" if where else "")
    return f"{dotted(path)}: {error['msg']}"


def dotted(path: Iterable[Any]) -> str:
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += ("." if out else "") + str(step)
    return out


def to_plain(node: Any) -> Any:
    """Loaded YAML -> plain dict/list/str/int/float/bool, with dates as ISO strings."""
    if isinstance(node, dict):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if type(node).__name__ == "ScalarBoolean" or isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, datetime.date):  # an unquoted 2024-01-31; answers use the ISO string
        return node.isoformat()
    return node


def content_hash(data: Any) -> str:
    """SHA-256 of the canonical JSON of the data: formatting and comments do not change it."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
