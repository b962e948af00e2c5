"""Editing a rule without YAML (severity, message, source, thresholds, examples), and trying a rule
set on a past submission or an uploaded answers file (a dry run: nothing is stored but an audit event)."""

from __future__ import annotations

import datetime
import json
from typing import Any

from flask import abort, current_app, redirect, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .. import audit, editing
from ..content import compile_question_set, current_question_set_version
from ..db import db
from ..diff import condition_text
from ..evaluation import evaluate
from ..models import Intake, Submission
from ..questions.model import parse_date
from ..report.summary import Patient, build_summary
from ..rules import parse_rule_set
from ..rules.conditions import OPERATORS, format_value
from ..rules.ruleset import SEVERITY_RANK
from ..yaml_source import LoadError
from .base import actor, back_to, bp, edit_failed, load_set, save_edit
from .content import DRAFT_LABEL, answers_text, parse_answers_text, parse_as_of, parse_number, path_key
from .forms import RuleForm, TryForm
from .questions import clean, form_errors

RS = "rule_set"
BLANK_EXAMPLE_ROWS = 2


def find_rule(data: dict, rule_id: str) -> tuple[int, dict] | None:
    for index, rule in enumerate(data.get("rules") or []):
        if isinstance(rule, dict) and rule.get("id") == rule_id:
            return index, rule
    return None


def threshold_fields(rule: dict, posted=None) -> list[dict]:
    """One entry per number in the rule's condition, with the input names and values to show."""
    fields = []
    for path, subject, op, value in editing.thresholds(rule.get("when")):
        key = path_key(path)
        symbol = OPERATORS[op].symbol if op in OPERATORS else op
        if op == "between" and isinstance(value, list) and len(value) == 2:
            inputs = [(f"th-{key}-0", value[0], "from"), (f"th-{key}-1", value[1], "to")]
        else:
            inputs = [(f"th-{key}", value, None)]
        fields.append({"key": key, "path": path, "subject": subject, "op": op, "symbol": symbol, "value": value,
                       "inputs": [{"name": name, "label": part,
                                   "value": posted.get(name, "") if posted is not None else format_value(v)}
                                  for name, v, part in inputs]})
    return fields


def read_thresholds(fields: list[dict], form) -> tuple[dict[tuple, Any], list[str]]:
    """The thresholds that were changed, by path; and what is wrong with the typed numbers."""
    changed, errors = {}, []
    for field in fields:
        values = []
        for entry in field["inputs"]:
            try:
                number = parse_number(form.get(entry["name"]))
            except ValueError:
                number = None
            if number is None:
                errors.append(f"{field['subject']} {field['symbol']}: enter a number.")
                break
            values.append(number)
        else:
            new = values if field["op"] == "between" else values[0]
            if new != field["value"]:
                changed[field["path"]] = new
    return changed, errors


def current_examples(rule: dict) -> list[dict]:
    out = []
    for example in rule.get("examples") or []:
        if isinstance(example, dict):
            entry = {"answers": example.get("answers") or {}, "fires": bool(example.get("fires"))}
            if example.get("as_of"):
                entry["as_of"] = str(example["as_of"])
            if example.get("note"):
                entry["note"] = example["note"]
            out.append(entry)
    return out


def read_examples(form: RuleForm) -> tuple[list[dict], list[str]]:
    examples, errors = [], []
    for number, entry in enumerate(form.examples.entries, start=1):
        row = entry.form
        if row.remove.data:
            continue
        text = (row.answers.data or "").strip()
        if not text and not (row.as_of.data or "").strip() and not (row.note.data or "").strip():
            continue  # an empty row (the ones offered for adding)
        try:
            answers = parse_answers_text(text or "{}")
            as_of = parse_as_of(row.as_of.data)
        except ValueError as exc:
            errors.append(f"Example {number}: {exc}.")
            continue
        example = {"answers": answers, "fires": row.fires.data == "yes"}
        if as_of:
            example["as_of"] = as_of
        if (row.note.data or "").strip():
            example["note"] = row.note.data.strip()
        examples.append(example)
    return examples, errors


def fill_examples(form: RuleForm, examples: list[dict]) -> None:
    for example in examples:
        form.examples.append_entry({"answers": answers_text(example["answers"]) or "{}",
                                    "fires": "yes" if example["fires"] else "no",
                                    "as_of": example.get("as_of") or "", "note": example.get("note") or ""})
    for _ in range(BLANK_EXAMPLE_ROWS):
        form.examples.append_entry({"fires": "no"})


def example_problems(state, rule_index: int, rule: dict) -> dict[int, list[str]]:
    """Problems of this rule's examples, by example number (1-based), from the draft's check."""
    if state.source is None:
        return {}
    lines = {state.source.line(("rules", rule_index, "examples", n)): n + 1
             for n in range(len(rule.get("examples") or []))}
    found: dict[int, list[str]] = {}
    for problem in state.located.of("rule", rule.get("id")):
        if problem.line in lines:
            found.setdefault(lines[problem.line], []).append(problem.reason)
    return found


@bp.route("/rule-sets/<set_id>/rules/<rule_id>", methods=["GET", "POST"])
def rule_edit(set_id: str, rule_id: str):
    state = load_set(RS, set_id)
    if state.source is None:
        edit_failed("the draft is not readable YAML. Fix it in the YAML editor first.")
        return back_to(state)
    found = find_rule(state.data, rule_id)
    if found is None:
        abort(404)
    index, rule = found
    form = RuleForm()
    errors: list[str] = []
    posted = None
    if request.method == "POST":
        posted = request.form
        thresholds = threshold_fields(rule, posted)
        if not form.validate_on_submit():
            errors = form_errors(form)
        else:
            changed, errors = read_thresholds(thresholds, request.form)
            examples, example_errors = read_examples(form)
            errors += example_errors
            if not errors:
                fields = {}
                for name in ("severity", "message", "source"):
                    value = clean(getattr(form, name).data)
                    if value != rule.get(name):
                        fields[name] = value
                try:
                    new_text = state.text
                    if fields or changed:
                        new_text = editing.set_rule_fields(new_text, rule_id, threshold_values=changed, **fields)
                    if examples != current_examples(rule):
                        new_text = editing.set_rule_examples(new_text, rule_id, examples)
                except editing.EditError as exc:
                    errors.append(str(exc))
                else:
                    if new_text == state.text:
                        return back_to(state, f"rule-{rule_id}")
                    save_edit(state, new_text, edit="rule", rule=rule_id)
                    return redirect(request.path, 303)
    else:
        thresholds = threshold_fields(rule)
        form.severity.data = rule.get("severity")
        form.message.data = rule.get("message")
        form.source.data = rule.get("source")
        fill_examples(form, current_examples(rule))
    return render_template("admin/rule.html", state=state, form=form, rule=rule, thresholds=thresholds,
                           condition=condition_text(rule.get("when")), errors=errors,
                           problems=state.located.of("rule", rule_id),
                           example_problems=example_problems(state, index, rule)), 400 if errors else 200


# -- try the rule set --------------------------------------------------------------------------

def recent_submissions(applies_to: str, limit: int) -> list[Submission]:
    rows = db.session.scalars(select(Submission).options(joinedload(Submission.intake).joinedload(
        Intake.question_set_version)).order_by(Submission.submitted_at.desc(), Submission.id.desc())
        .limit(limit * 4)).all()
    return [s for s in rows if s.intake.question_set_version.set_id == applies_to][:limit]


def rules_for(text: str, qs_rows: list, label: str):
    """Load the rule set against the first of ``qs_rows`` it loads with: (rule set, row) or (None, problems)."""
    problems = []
    for row in qs_rows:
        try:
            return parse_rule_set(text, compile_question_set(row), label), row
        except LoadError as exc:
            problems = exc.problems
    return None, problems


def flag_map(summary) -> dict[str, Any]:
    return {flag.rule: flag for group in summary.groups for flag in group.flags}


def comparison(now: dict, then: dict | None) -> list[dict]:
    rows = []
    for rule_id in sorted(set(now) | set(then or {}),
                          key=lambda r: (SEVERITY_RANK[(now.get(r) or (then or {}).get(r)).severity], r)):
        would, had = now.get(rule_id), (then or {}).get(rule_id)
        if then is None:
            status = "fires"
        elif would and had:
            status = "same" if would.severity == had.severity else "severity"
        else:
            status = "new" if would else "gone"
        rows.append({"rule": rule_id, "now": would, "then": had, "status": status})
    return rows


def read_answers_file(upload) -> tuple[dict | None, str | None, str | None]:
    """(answers, as_of, error) from an uploaded JSON file: {"answers": {...}, "as_of"?} or just the answers."""
    limit = int(current_app.config["ADMIN_UPLOAD_MAX_BYTES"])
    raw = upload.read(limit + 1)
    if len(raw) > limit:
        return None, None, f"the file is larger than {limit // 1024} KB"
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return None, None, "the file is not a JSON document"
    if not isinstance(data, dict):
        return None, None, "the file must hold a JSON object"
    answers = data.get("answers", data) if isinstance(data.get("answers"), dict) else data
    as_of = data.get("as_of") if isinstance(data.get("as_of"), str) else None
    if as_of and parse_date(as_of) is None:
        return None, None, "as_of must be a date written YYYY-MM-DD"
    return answers, as_of, None


@bp.route("/rule-sets/<set_id>/try", methods=["GET", "POST"])
def try_rules(set_id: str):
    state = load_set(RS, set_id, check=False)
    applies_to = (state.data.get("applies_to") if state.source is not None else None) or \
        getattr(state.published, "applies_to", None)
    submissions = recent_submissions(str(applies_to), int(current_app.config["ADMIN_TRY_SUBMISSIONS"]))
    form = TryForm()
    form.submission.choices = [(str(s.id), str(s.id)) for s in submissions]
    context: dict[str, Any] = {"state": state, "form": form, "submissions": submissions, "applies_to": applies_to}
    if request.method == "GET":
        return render_template("admin/try.html", **context)
    if not form.validate_on_submit():
        return render_template("admin/try.html", **context, error="The form had expired. Please try again."), 400

    current_qs = current_question_set_version(str(applies_to))
    upload = form.answers_file.data
    submission = None
    if upload is not None and getattr(upload, "filename", ""):
        answers, as_of_text, error = read_answers_file(upload)
        if error:
            return render_template("admin/try.html", **context, error=f"The answers file: {error}."), 400
        qs_rows = [current_qs] if current_qs is not None else []
        as_of = parse_date(as_of_text) or datetime.date.today()
        source_detail = {"answers": "uploaded file"}
    else:
        chosen = form.submission.data
        submission = next((s for s in submissions if str(s.id) == chosen), None)
        if submission is None:
            return render_template("admin/try.html", **context,
                                   error="Choose a past submission, or an answers file."), 400
        answers = submission.answers
        pinned = submission.intake.question_set_version
        qs_rows = [pinned] + ([current_qs] if current_qs is not None and current_qs.id != pinned.id else [])
        as_of = parse_date((submission.result or {}).get("as_of")) or submission.submitted_at.date()
        source_detail = {"submission": submission.id}

    label = DRAFT_LABEL if state.draft is not None else f"{set_id} v{state.published.version}"
    rule_set, used = rules_for(state.text, qs_rows, label)
    if rule_set is None:
        return render_template("admin/try.html", **context, load_problems=[str(p) for p in used],
                               error="This rule set does not load, so it cannot be tried. Fix it first."), 422
    qs = compile_question_set(used)
    result = evaluate(qs, rule_set, answers, as_of)
    now = flag_map(build_summary(qs, result.to_json(), answers, Patient()))
    then = None
    if submission is not None:
        pinned_qs = compile_question_set(submission.intake.question_set_version)
        then = flag_map(build_summary(pinned_qs, submission.result, submission.answers, Patient()))
    audit.record(actor(), "admin.dry_run", f"{RS}:{set_id}", draft=state.draft is not None, **source_detail)
    db.session.commit()
    return render_template(
        "admin/try.html", **context, ran=True, rows=comparison(now, then), submission=submission,
        used_qs=used, pinned_qs=submission.intake.question_set_version if submission is not None else None,
        as_of=as_of, rejected=[(p.item_id, p.message) for p in result.rejected],
        stored_rules=(submission.result or {}).get("rule_set", {}) if submission is not None else None)
