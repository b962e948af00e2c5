"""``flask --app screening render-pdf ANSWERS.json -o summary.pdf``."""

from __future__ import annotations

import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..cli import fail, read_answers_file, resolve_sets
from ..evaluation import evaluate
from ..yaml_source import LoadError
from .pdf import render_pdf
from .summary import Patient, build_summary


@click.command("render-pdf")
@click.argument("answers_file", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Where to write the PDF.")
@click.option("--question-set", "question_set_path", type=click.Path(path_type=Path),
              help="A question-set YAML file to use instead of the published one.")
@click.option("--rule-set", "rule_set_path", type=click.Path(path_type=Path),
              help="A rule-set YAML file to use instead of the published one.")
@click.option("--patient-name", help="A name to print as the patient's identity (default: none).")
@click.option("--clinic-ref", help="A clinic reference to print with the identity.")
@with_appcontext
def render_pdf_command(answers_file: Path, output: Path, question_set_path: Path | None,
                       rule_set_path: Path | None, patient_name: str | None, clinic_ref: str | None) -> None:
    """Evaluate ANSWERS_FILE (as for `evaluate`) and write its clinician summary as a PDF."""
    document = read_answers_file(answers_file)
    try:
        qs, rs, versions = resolve_sets(document["question_set"], question_set_path, rule_set_path)
    except LoadError as exc:
        fail(str(exc))
    as_of = document["as_of"] or datetime.date.today()
    _, problems = qs.normalize_answers(document["answers"], as_of)
    if problems:
        fail(f"{answers_file}: answer {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    result = evaluate(qs, rs, document["answers"], as_of)
    result_doc = result.to_json()
    result_doc["question_set"].update(version=versions[0], title=qs.title)
    result_doc["rule_set"].update(version=versions[1], title=rs.title)
    summary = build_summary(qs.in_language(current_app.config["CLINIC_LANGUAGE"]), result_doc, document["answers"],
                            Patient(patient_name, None, clinic_ref),
                            clinic_name=current_app.config["CLINIC_NAME"],
                            tz_name=current_app.config["CLINIC_TIMEZONE"],
                            origin=f"rendered from {answers_file.name}")
    pdf = render_pdf(summary)
    try:
        output.write_bytes(pdf)
    except OSError as exc:
        fail(f"{output}: cannot write the PDF: {exc.strerror or exc}")
    click.echo(f"Wrote {output} ({len(pdf) // 1024 + 1} KiB, {len(result.flags)} flag(s)).")


@click.command("render-pending-pdfs")
@with_appcontext
def render_pending_pdfs_command() -> None:
    """Render and store the PDF of every submission that has none yet (e.g. from a timer, or after
    a restart interrupted the render that follows a submission)."""
    from ..db import db
    from ..models import Submission
    from .pdf import pending_ids, try_store_pdf

    ids = pending_ids()
    failed = [sid for sid in ids if not try_store_pdf(db.session.get(Submission, sid))]
    click.echo(f"Rendered {len(ids) - len(failed)} PDF(s); {len(failed)} failed"
               + (f" (submissions {', '.join(map(str, failed))}; see the log)." if failed else "."))
    if failed:
        raise SystemExit(1)
