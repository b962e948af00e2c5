"""``flask --app screening ...`` commands. Bad input gets one clear line and exit code 1."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import with_appcontext

from . import content
from .evaluation import evaluate
from .questions import QuestionSet
from .rules import RuleSet
from .rules.examples import count_examples
from .yaml_source import LoadError


def init_app(app: Flask) -> None:
    app.cli.add_command(check_command)
    app.cli.add_command(evaluate_command)
    app.cli.add_command(audit_group)
    app.cli.add_command(backup_command)
    app.cli.add_command(export_fhir_group)
    app.cli.add_command(import_fhir_command)
    app.cli.add_command(export_csv_command)


def fail(message: str) -> None:
    click.echo(message, err=True)
    raise SystemExit(1)


@click.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@with_appcontext
def check_command(paths: tuple[Path, ...]) -> None:
    """Validate question sets and rule sets and run every rule example (default: the shipped content)."""
    if paths:
        missing = [p for p in paths if not p.is_file()]
        if missing:
            fail(f"{missing[0]}: no such file")
        rule_paths = [p for p in paths if content.is_rule_set_file(p)]
        question_paths = [p for p in paths if p not in rule_paths]
        shipped_questions, _ = content.shipped_files()
        given_ids = {content.document_header(p).get("id") for p in question_paths}
        question_paths += [p for p in shipped_questions if content.document_header(p).get("id") not in given_ids]
    else:
        question_paths, rule_paths = content.shipped_files()
    question_sets, rule_sets, problems = content.load_checked(question_paths, rule_paths)
    if problems:
        for problem in problems:
            click.echo(str(problem), err=True)
        fail(f"{len(problems)} problem(s) found")
    examples = sum(count_examples(rs) for rs in rule_sets)
    click.echo(f"ok: {len(question_sets)} question set(s), {len(rule_sets)} rule set(s), "
               f"{examples} rule example(s) passed")


@click.command("evaluate")
@click.argument("answers_file", type=click.Path(path_type=Path))
@click.option("--question-set", "question_set_path", type=click.Path(path_type=Path),
              help="A question-set YAML file to use instead of the published one.")
@click.option("--rule-set", "rule_set_path", type=click.Path(path_type=Path),
              help="A rule-set YAML file to use instead of the published one.")
@with_appcontext
def evaluate_command(answers_file: Path, question_set_path: Path | None, rule_set_path: Path | None) -> None:
    """Evaluate ANSWERS_FILE ({"question_set": id, "answers": {...}}) and print the result as JSON."""
    document = read_answers_file(answers_file)
    try:
        qs, rs, versions = resolve_sets(document["question_set"], question_set_path, rule_set_path)
    except LoadError as exc:
        fail(str(exc))
    as_of = document["as_of"]
    valid, problems = qs.normalize_answers(document["answers"], as_of or datetime.date.today())
    if problems:
        fail(f"{answers_file}: answer {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    result = evaluate(qs, rs, document["answers"], as_of)
    output = result.to_json()
    output["question_set"]["version"], output["rule_set"]["version"] = versions
    click.echo(json.dumps(output, indent=2, ensure_ascii=False, default=str))


# Keys a test case or a clinic's own file may carry beside the answers; evaluate ignores them.
COMMENT_KEYS = ("description", "reasoning", "expect", "note")


def read_text_file(path: Path, encoding: str = "utf-8") -> str:
    try:
        return path.read_text(encoding=encoding)
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{path}: cannot read the file: {exc}")


def read_answers_file(path: Path) -> dict[str, Any]:
    """Parse and shape-check an answers file; any problem ends the command with one clear line."""
    text = read_text_file(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}")
    if not isinstance(data, dict):
        fail(f"{path}: the file must hold a JSON object with 'question_set' and 'answers'")
    unknown = sorted(set(data) - {"question_set", "answers", "as_of", *COMMENT_KEYS})
    if unknown:
        fail(f"{path}: unknown key '{unknown[0]}' (expected question_set, answers, as_of)")
    if not isinstance(data.get("question_set"), str):
        fail(f"{path}: 'question_set' must name a question set id, such as \"ketamine-intake\"")
    if not isinstance(data.get("answers"), dict):
        fail(f"{path}: 'answers' must be an object mapping question ids to answers")
    as_of = None
    if data.get("as_of") is not None:
        try:
            as_of = datetime.date.fromisoformat(data["as_of"]) if isinstance(data["as_of"], str) else None
        except ValueError:
            pass
        if as_of is None:
            fail(f"{path}: 'as_of' must be a date as \"YYYY-MM-DD\"")
    return {"question_set": data["question_set"], "answers": data["answers"], "as_of": as_of}


def resolve_sets(set_id: str, question_set_path: Path | None, rule_set_path: Path | None
                 ) -> tuple[QuestionSet, RuleSet, tuple[int | None, int | None]]:
    """The question set and rule set to evaluate with: given files, else the published versions."""
    qs_version = rs_version = None
    if question_set_path:
        qs = content.load_question_set(question_set_path)
        qs_row = None
    else:
        qs_row = content.current_question_set_version(set_id)
        if qs_row is None:
            fail(f"no published question set with id '{set_id}'")
        qs, qs_version = content.compile_question_set(qs_row), qs_row.version
    if qs.id != set_id:
        fail(f"the answers are for '{set_id}' but the question set given is '{qs.id}'")
    if rule_set_path:
        rs = content.load_rule_set(rule_set_path, qs)
    else:
        rs_row = content.current_rule_set_version(set_id)
        if rs_row is None:
            fail(f"no published rule set applies to '{set_id}'; give one with --rule-set")
        if qs_row is None:
            rs = content.parse_rule_set(rs_row.yaml_text, qs, f"{rs_row.set_id} v{rs_row.version}")
        else:
            rs = content.compile_rule_set(rs_row, qs_row)
        rs_version = rs_row.version
    return qs, rs, (qs_version, rs_version)


@click.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log."""


@audit_group.command("verify")
@with_appcontext
def audit_verify_command() -> None:
    """Check the hash chain: exit 1 if any event was edited, inserted or deleted."""
    from . import audit

    problems = audit.verify()
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        fail(f"audit log is NOT intact: {len(problems)} problem(s)")
    click.echo("audit log intact")


@click.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@with_appcontext
def backup_command(path: Path) -> None:
    """Write a consistent copy of the SQLite database to PATH while the service runs."""
    from .backup import BackupError, backup_sqlite

    try:
        size = backup_sqlite(path)
    except BackupError as exc:
        fail(str(exc))
    click.echo(f"backup written to {path} ({size} bytes, integrity ok)")


# -- exchange: FHIR and CSV (each export is an audit event with the actor "cli") ------------------

def question_set_version_row(set_id: str, version: int | None):
    from . import exports

    row = exports.question_set_row(set_id, version) if version else content.current_question_set_version(set_id)
    if row is None:
        fail(f"no published question set '{set_id}'" + (f" with version {version}" if version else ""))
    return row


def write_output(output: Path | None, data: str | bytes) -> None:
    if output is None:
        click.echo(data if isinstance(data, str) else data.decode("utf-8"))
        return
    try:
        output.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    except OSError as exc:
        fail(f"{output}: cannot write the file: {exc}")
    click.echo(f"written to {output}", err=True)


@click.group("export-fhir")
def export_fhir_group() -> None:
    """FHIR R4 JSON: a question-set version as a Questionnaire, or a submission as a Bundle."""


@export_fhir_group.command("questionnaire")
@click.argument("set_id")
@click.option("--version", type=int, help="The version to export (default: the newest).")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file (default: print).")
@with_appcontext
def export_fhir_questionnaire_command(set_id: str, version: int | None, output: Path | None) -> None:
    from flask import current_app

    from . import exports
    from .exchange.fhir_base import FhirInvalid

    row = question_set_version_row(set_id, version)
    try:
        resource = exports.questionnaire(row, current_app.config["BASE_URL"], "cli")
    except FhirInvalid as exc:
        fail(f"{set_id} v{row.version} cannot be written as a valid FHIR Questionnaire: {exc}")
    write_output(output, exports.to_json(resource))


@export_fhir_group.command("submission")
@click.argument("submission_id", type=int)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file (default: print).")
@with_appcontext
def export_fhir_submission_command(submission_id: int, output: Path | None) -> None:
    from flask import current_app

    from . import exports
    from .exchange.fhir_base import FhirInvalid

    row = exports.submission(submission_id)
    if row is None:
        fail(f"no submission {submission_id}")
    try:
        bundle = exports.bundle(row, current_app.config["BASE_URL"], "cli")
    except FhirInvalid as exc:
        fail(f"submission {submission_id} does not convert to valid FHIR: {exc}")
    write_output(output, exports.to_json(bundle))


@click.command("import-fhir")
@click.argument("path", type=click.Path(path_type=Path))
@with_appcontext
def import_fhir_command(path: Path) -> None:
    """Import a FHIR Questionnaire (JSON) as the draft of a new question set."""
    from .publishing import import_fhir_questionnaire

    text = read_text_file(path, encoding="utf-8-sig")
    draft, problems = import_fhir_questionnaire(text, None, path.name)
    if draft is None:
        for problem in problems:
            click.echo(problem, err=True)
        fail(f"not imported: {len(problems)} problem(s)")
    click.echo(f"imported as the draft of the new question set '{draft.set_id}'; publish it from the admin pages")


@click.command("export-csv")
@click.argument("set_id")
@click.option("--version", type=int, help="The question-set version (default: the newest).")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The .zip to write (submissions CSV and data dictionary).")
@with_appcontext
def export_csv_command(set_id: str, version: int | None, output: Path) -> None:
    """The submissions of one question-set version as CSV with its data dictionary, in a zip."""
    from . import exports

    row = question_set_version_row(set_id, version)
    _, data, count = exports.csv_zip(row, "cli")
    write_output(output, data)
    click.echo(f"{count} submission(s) of {set_id} v{row.version}", err=True)
