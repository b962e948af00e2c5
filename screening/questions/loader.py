"""Load a question set from YAML and check everything it says, reporting ``file:line: reason``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..rules.conditions import ConditionCompiler, Node, coerce_value, describe_kind
from ..rules.scoring import Band, Bands, CategoricalScore, CountScore, Score, SumScore, band_coverage_problems
from ..yaml_source import LoadError, Problem, Source
from .computed import FUNCTIONS, Computed
from .model import Check, Choice, Instrument, Item, QuestionSet, Section
from .schema import ChoiceDoc, QuestionSetDoc, ScoreDoc
from .translations import check_translations

CHOICE_TYPES = ("scale", "single_choice", "multi_choice")
NUMBER_TYPES = ("integer", "decimal")
TYPE_ONLY_KEYS = {
    "choices": CHOICE_TYPES, "none_label": ("multi_choice",), "min": NUMBER_TYPES, "max": NUMBER_TYPES,
    "unit": NUMBER_TYPES, "step": ("decimal",), "max_length": ("text",), "not_future": ("date",),
    "max_years_ago": ("date",),
}


def load_question_set(path: str | Path) -> QuestionSet:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError([Problem(str(path), 1, f"cannot read the file: {exc}")]) from None
    return parse_question_set(text, str(path))


def parse_question_set(text: str, filename: str = "<question set>") -> QuestionSet:
    source = Source(text, filename)
    doc: QuestionSetDoc = source.validate(QuestionSetDoc)
    return _Builder(source, doc).build()


class _Builder:
    def __init__(self, source: Source, doc: QuestionSetDoc):
        self.source = source
        self.doc = doc
        self.problems: list[Problem] = []
        self.ids: dict[str, tuple] = {}  # every item, computed and score id -> its path
        self.item_paths: dict[str, tuple] = {}
        self.qs = QuestionSet(
            id=doc.id, title=doc.title, description=doc.description, sections=[], items={}, computed={},
            scores={}, instruments=[], checks=[], content_hash=source.content_hash(), source_text=source.text,
            filename=source.filename)
        self.compiler = ConditionCompiler(self.qs, self.report)

    def report(self, path: tuple, reason: str) -> None:
        self.problems.append(self.source.problem(path, reason))

    def build(self) -> QuestionSet:
        self._items()
        self._computed()
        self._scores()
        self._item_conditions()
        self._checks()
        self.qs.translations = check_translations(self.qs, self.doc.translations, self.report)
        if self.problems:
            raise LoadError(sorted(dict.fromkeys(self.problems), key=lambda p: p.line))
        return self.qs

    def _claim(self, ident: str, path: tuple, what: str) -> bool:
        if ident in self.ids:
            first = self.source.line(self.ids[ident])
            self.report(path + ("id",), f"duplicate id '{ident}' ({what}); first used on line {first}")
            return False
        self.ids[ident] = path
        return True

    # -- items -------------------------------------------------------------------------------------
    def _items(self) -> None:
        section_ids: dict[str, int] = {}
        position = 0
        for s_index, sdoc in enumerate(self.doc.sections):
            s_path = ("sections", s_index)
            if sdoc.id in section_ids:
                self.report(s_path + ("id",), f"duplicate section id '{sdoc.id}'; first used on line "
                                              f"{self.source.line(('sections', section_ids[sdoc.id]))}")
            section_ids.setdefault(sdoc.id, s_index)
            section = Section(id=sdoc.id, title=sdoc.title, intro=sdoc.intro, items=[])
            self.qs.sections.append(section)
            for i_index, idoc in enumerate(sdoc.items):
                path = s_path + ("items", i_index)
                if not self._claim(idoc.id, path, "question"):
                    continue
                item = self._item(idoc, path, section.id, position)
                position += 1
                section.items.append(item)
                self.qs.items[item.id] = item
                self.item_paths[item.id] = path

    def _item(self, idoc: Any, path: tuple, section_id: str, position: int) -> Item:
        for key, types in TYPE_ONLY_KEYS.items():
            if getattr(idoc, key) not in (None, False) and idoc.type not in types:
                self.report(path + (key,), f"'{key}' does not apply to a {idoc.type} question "
                                           f"(only to: {', '.join(types)})")
        choices = self._choices(idoc, path)
        if idoc.min is not None and idoc.max is not None and idoc.min > idoc.max:
            self.report(path + ("min",), f"min ({idoc.min}) is greater than max ({idoc.max})")
        if idoc.type == "integer":
            for key in ("min", "max"):
                if isinstance(getattr(idoc, key), float):
                    self.report(path + (key,), f"'{key}' of a whole-number question must be a whole number")
        item = Item(id=idoc.id, type=idoc.type, text=idoc.text, section_id=section_id, position=position,
                    help=idoc.help, required=idoc.required, choices=choices, none_label=idoc.none_label,
                    min=idoc.min, max=idoc.max, step=idoc.step, unit=idoc.unit,
                    not_future=idoc.not_future, max_years_ago=idoc.max_years_ago)
        if idoc.max_length is not None:
            item.max_length = idoc.max_length
        return item

    def _choices(self, idoc: Any, path: tuple) -> tuple[Choice, ...]:
        raw = idoc.choices
        if idoc.type not in CHOICE_TYPES:
            return ()
        if raw is None:
            self.report(path, f"a {idoc.type} question needs 'choices'")
            return ()
        choice_path = path + ("choices",)
        if isinstance(raw, str):
            if raw not in self.doc.choice_sets:
                self.report(choice_path, f"unknown choice set '{raw}'")
                return ()
            raw = self.doc.choice_sets[raw]
            choice_path = ("choice_sets", idoc.choices)
        if not raw:
            self.report(choice_path, "a question needs at least one choice")
            return ()
        return self._choice_list(idoc.type, raw, choice_path)

    def _choice_list(self, item_type: str, raw: list[ChoiceDoc], path: tuple) -> tuple[Choice, ...]:
        seen: set = set()
        choices = []
        want_int = item_type == "scale"
        for index, cdoc in enumerate(raw):
            if want_int != isinstance(cdoc.value, int):
                need = "a whole-number score" if want_int else "a text value such as 'daily'"
                self.report(path + (index, "value"), f"choice value {cdoc.value!r} must be {need} "
                                                    f"for a {item_type} question")
                continue
            if cdoc.value in seen:
                self.report(path + (index, "value"), f"duplicate choice value {cdoc.value!r}")
                continue
            seen.add(cdoc.value)
            choices.append(Choice(cdoc.value, cdoc.label, cdoc.help))
        return tuple(choices)

    # -- computed values -------------------------------------------------------------------------
    def _computed(self) -> None:
        for index, cdoc in enumerate(self.doc.computed):
            path = ("computed", index)
            if not self._claim(cdoc.id, path, "computed value"):
                continue
            fn = FUNCTIONS[cdoc.function]
            ok = True
            if len(cdoc.inputs) != len(fn.inputs):
                self.report(path + ("inputs",), f"{cdoc.function} takes {len(fn.inputs)} input(s): "
                                                f"{', '.join(fn.input_names)}")
                ok = False
            for i, (ref, kinds) in enumerate(zip(cdoc.inputs, fn.inputs, strict=False)):
                item = self.qs.items.get(ref)
                if item is None:
                    self.report(path + ("inputs", i), f"unknown question id '{ref}'")
                    ok = False
                elif item.kind not in kinds:
                    self.report(path + ("inputs", i), f"input '{ref}' of {cdoc.function} must be "
                                                      f"{fn.input_names[i]}, but it is a {item.type} question")
                    ok = False
            if ok:
                self.qs.computed[cdoc.id] = Computed(cdoc.id, cdoc.label, cdoc.unit, cdoc.function,
                                                     tuple(cdoc.inputs))

    # -- instruments and scores ------------------------------------------------------------------
    def _scores(self) -> None:
        owner: dict[str, str] = {}
        pending: list[tuple[Score, ScoreDoc, tuple]] = []
        for i_index, idoc in enumerate(self.doc.instruments):
            path = ("instruments", i_index)
            for n, ref in enumerate(idoc.items):
                if ref not in self.qs.items:
                    self.report(path + ("items", n), f"unknown question id '{ref}'")
                elif ref in owner:
                    self.report(path + ("items", n), f"question '{ref}' already belongs to instrument "
                                                     f"'{owner[ref]}'")
                else:
                    owner[ref] = idoc.id
            score_ids = []
            for s_index, sdoc in enumerate(idoc.scores):
                s_path = path + ("scores", s_index)
                if not self._claim(sdoc.id, s_path, "score"):
                    continue
                score = self._score(sdoc, s_path, idoc.items)
                if score is not None:
                    self.qs.scores[score.id] = score
                    self.qs.score_instrument[score.id] = idoc.id
                    score_ids.append(score.id)
                    pending.append((score, sdoc, s_path))
            self.qs.instruments.append(Instrument(idoc.id, idoc.title, idoc.licence, idoc.citation,
                                                  tuple(idoc.items), tuple(score_ids)))
        # Conditions inside scores may name other scores, so they are compiled once all exist.
        for score, sdoc, path in pending:
            self._score_conditions(score, sdoc, path)
        self._score_cycles()

    def _score(self, sdoc: ScoreDoc, path: tuple, default_items: list[str]) -> Score | None:
        label = sdoc.label or sdoc.id
        if sdoc.method == "categorical":
            for key in ("bands", "bands_by", "items"):
                if getattr(sdoc, key) is not None:
                    self.report(path + (key,), f"'{key}' does not apply to a categorical score")
            if sdoc.reverse:
                self.report(path + ("reverse",), "'reverse' only applies to a sum")
            if sdoc.categories is None:
                self.report(path, "a categorical score needs 'categories'")
                return None
            # Conditions are compiled later; a placeholder keeps the category values known now.
            return CategoricalScore(sdoc.id, label, [(c.value, None) for c in sdoc.categories])
        if sdoc.categories is not None:
            self.report(path + ("categories",), "'categories' only applies to a categorical score")
        items_path = path + ("items",) if sdoc.items is not None else path
        refs = sdoc.items if sdoc.items is not None else default_items
        items = []
        for n, ref in enumerate(refs):
            item = self.qs.items.get(ref)
            where = items_path + ((n,) if sdoc.items is not None else ())
            if item is None:
                if sdoc.items is not None:
                    self.report(where, f"unknown question id '{ref}'")
                continue
            if sdoc.method == "sum" and not self._summable(item, where):
                continue
            items.append(item)
        if sdoc.method == "count":
            if sdoc.reverse:
                self.report(path + ("reverse",), "'reverse' only applies to a sum")
            for item in items:
                if coerce_value(item.info(), sdoc.counts) is not sdoc.counts or (
                        item.info().values is not None and sdoc.counts not in item.info().values):
                    self.report(path + ("counts",), f"{item.id} can never be {sdoc.counts!r}: it holds "
                                                    f"{describe_kind(item.info())}")
            return CountScore(sdoc.id, label, [i.id for i in items], sdoc.counts, None)
        reverse = {}
        for n, ref in enumerate(sdoc.reverse):
            item = self.qs.items.get(ref)
            if item is None or item not in items:
                self.report(path + ("reverse", n), f"reverse-scored '{ref}' is not one of this score's items")
            elif item.type != "scale":
                self.report(path + ("reverse", n), f"only scale questions can be reverse-scored; "
                                                   f"'{ref}' is {item.type}")
            else:
                reverse[ref] = (min(item.choice_values), max(item.choice_values))
        lo = sum(self._range(i)[0] for i in items)
        hi = sum(self._range(i)[1] for i in items)
        return SumScore(sdoc.id, label, [i.id for i in items], reverse, None, int(lo), int(hi))

    def _summable(self, item: Item, path: tuple) -> bool:
        if item.type in ("scale", "yes_no"):
            return True
        if item.type == "integer" and item.min is not None and item.max is not None:
            return True
        self.report(path, f"'{item.id}' cannot be summed: a sum takes scale, yes/no, or whole-number "
                          f"questions with min and max")
        return False

    @staticmethod
    def _range(item: Item) -> tuple[float, float]:
        if item.type == "scale":
            return min(item.choice_values), max(item.choice_values)
        if item.type == "yes_no":
            return 0, 1
        return item.min, item.max

    def _score_conditions(self, score: Score, sdoc: ScoreDoc, path: tuple) -> None:
        if isinstance(score, CategoricalScore):
            categories = []
            last = len(sdoc.categories) - 1
            seen = set()
            for n, cat in enumerate(sdoc.categories):
                c_path = path + ("categories", n)
                if cat.value in seen:
                    self.report(c_path + ("value",), f"duplicate category '{cat.value}'")
                seen.add(cat.value)
                if cat.when is None and n != last:
                    self.report(c_path, f"only the last category may omit 'when' (category '{cat.value}')")
                if cat.when is not None and n == last:
                    self.report(c_path, f"the last category must omit 'when': it is the value when no "
                                        f"other matches (category '{cat.value}')")
                node = self.compiler.compile(cat.when, c_path + ("when",)) if cat.when is not None else None
                categories.append((cat.value, node))
            self.qs.scores[score.id] = CategoricalScore(score.id, score.label, categories)
            return
        options = self._band_options(sdoc, path, score)
        if options is not None:
            score.bands = Bands(tuple(options))

    def _band_options(self, sdoc: ScoreDoc, path: tuple, score: Score) -> list | None:
        if sdoc.bands is not None and sdoc.bands_by is not None:
            self.report(path + ("bands_by",), "use either 'bands' or 'bands_by', not both")
            return None
        if sdoc.bands is not None:
            groups = [(None, sdoc.bands, path + ("bands",))]
        elif sdoc.bands_by is not None:
            groups = []
            last = len(sdoc.bands_by) - 1
            for n, option in enumerate(sdoc.bands_by):
                o_path = path + ("bands_by", n)
                if (option.when is None) != (n == last):
                    self.report(o_path, "every entry of 'bands_by' but the last needs 'when'; "
                                        "the last (used otherwise) has none")
                node = self.compiler.compile(option.when, o_path + ("when",)) if option.when else None
                groups.append((node, option.bands, o_path + ("bands",)))
        else:
            return None
        options = []
        for node, band_docs, b_path in groups:
            bands = tuple(Band(b.min, b.max, b.label) for b in band_docs)
            for index, reason in band_coverage_problems(bands, score.lo, score.hi):
                self.report(b_path + (index,), f"score '{score.id}': {reason}")
            labels = [b.label for b in bands]
            for index, label in enumerate(labels):
                if labels.index(label) != index:
                    self.report(b_path + (index, "label"), f"duplicate band label '{label}'")
            options.append((node, bands))
        return options

    def _score_cycles(self) -> None:
        for score_id in self.qs.scores:
            chain = self._find_cycle(score_id, [score_id])
            if chain:
                self.report(self.ids[score_id] + ("id",), f"score '{score_id}' depends on itself: "
                                                          + " -> ".join(chain))

    def _score_refs(self, score_id: str) -> set[str]:
        score = self.qs.scores[score_id]
        nodes: list[Node] = []
        if isinstance(score, CategoricalScore):
            nodes = [when for _, when in score.categories if when is not None]
        elif score.bands is not None:
            nodes = [when for when, _ in score.bands.options if when is not None]
        return {ref for node in nodes for subject, ref in node.refs() if subject in ("score", "band")}

    def _find_cycle(self, start: str, chain: list[str]) -> list[str] | None:
        for ref in sorted(self._score_refs(chain[-1])):
            if ref == start:
                return chain + [ref]
            if ref not in chain and ref in self.qs.scores:
                found = self._find_cycle(start, chain + [ref])
                if found:
                    return found
        return None

    # -- show_if and cross-field checks --------------------------------------------------------
    def _depends_on(self, subject: str, ref: str, seen: frozenset = frozenset()) -> set[str]:
        """The items a subject's value is derived from."""
        if subject == "answer":
            return {ref}
        if subject == "computed":
            comp = self.qs.computed.get(ref)
            return set(comp.inputs) if comp else set()
        score = self.qs.scores.get(ref)
        if score is None or ref in seen:
            return set()
        deps = set(score.items)
        nodes: list[Node] = []
        if isinstance(score, CategoricalScore):
            nodes = [when for _, when in score.categories if when is not None]
        elif score.bands is not None:
            nodes = [when for when, _ in score.bands.options if when is not None]
        for node in nodes:
            for sub, r in node.refs():
                deps |= self._depends_on(sub, r, seen | {ref})
        return deps

    def _item_conditions(self) -> None:
        for s_index, (sdoc, section) in enumerate(zip(self.doc.sections, self.qs.sections, strict=True)):
            s_path = ("sections", s_index)
            first = section.items[0].position if section.items else None
            if sdoc.show_if is not None:
                node = self.compiler.compile(sdoc.show_if, s_path + ("show_if",))
                if node is not None and first is not None:
                    self._check_order(node, s_path + ("show_if",), first, f"section '{section.id}'",
                                      "items of earlier sections")
                section.show_if = node
            for idoc in sdoc.items:
                item = self.qs.items.get(idoc.id)
                if idoc.show_if is None or item is None or item.section_id != section.id:
                    continue
                path = self.item_paths[item.id] + ("show_if",)
                node = self.compiler.compile(idoc.show_if, path)
                if node is not None:
                    self._check_order(node, path, item.position, f"'{item.id}'", "earlier questions")
                item.show_if = node

    def _check_order(self, node: Node, path: tuple, position: int, owner: str, allowed: str) -> None:
        for subject, ref in node.refs():
            for dep in sorted(self._depends_on(subject, ref)):
                dep_item = self.qs.items.get(dep)
                if dep_item is None or dep_item.position < position:
                    continue
                via = f" (through {subject} '{ref}')" if subject != "answer" else ""
                if dep_item.position == position and not owner.startswith("section"):
                    self.report(path, f"show_if of {owner} depends on its own answer{via}")
                else:
                    self.report(path, f"show_if of {owner} refers to '{dep}'{via}, which comes later; "
                                      f"show_if may only refer to {allowed}")

    def _checks(self) -> None:
        seen: set[str] = set()
        for index, cdoc in enumerate(self.doc.checks):
            path = ("checks", index)
            if cdoc.id in seen:
                self.report(path + ("id",), f"duplicate check id '{cdoc.id}'")
            seen.add(cdoc.id)
            for n, ref in enumerate(cdoc.items):
                if ref not in self.qs.items:
                    self.report(path + ("items", n), f"unknown question id '{ref}'")
            node = self.compiler.compile(cdoc.fails_if, path + ("fails_if",))
            if node is not None:
                self.qs.checks.append(Check(cdoc.id, node, cdoc.message, tuple(cdoc.items)))
