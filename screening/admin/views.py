"""Admin pages: the sets, a set's page, publish/discard, YAML editor, history, diff, rollback,
import and export. Question and rule editing, preview and the dry run are in their own modules.

Every change is a POST with a CSRF token; GET never changes anything.
"""

from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.utils import secure_filename

from .. import audit, publishing
from ..confirmation import confirmation_page
from ..content import current_rule_set_version
from ..db import db
from ..diff import condition_text
from ..models import AuditEvent, Draft, Intake, User
from .base import actor, back_to, bp, kind_of, load_set, save_edit, set_url
from .content import KIND_NAMES, TYPE_NAMES, item_choices, read
from .forms import ActionForm, ImportForm, YamlForm

OPEN_STATES = ("not_started", "in_progress")
AUDITED = ("publish", "rollback", "import", "admin.draft_saved", "admin.draft_discarded", "admin.dry_run")


# -- the sets ----------------------------------------------------------------------------------

def set_rows(kind: str) -> list[dict]:
    model = publishing.KINDS[kind]
    ids = set(db.session.scalars(select(model.set_id).distinct()))
    ids |= set(db.session.scalars(select(Draft.set_id).where(Draft.kind == kind)))
    default_qs = current_app.config["DEFAULT_QUESTION_SET"]
    in_use = default_qs if kind == "question_set" else getattr(current_rule_set_version(default_qs), "set_id", None)
    rows = []
    for set_id in sorted(ids):
        published = publishing.current_version(kind, set_id)
        draft = publishing.get_draft(kind, set_id)
        count = db.session.scalar(select(func.count(model.id)).where(model.set_id == set_id)) or 0
        row = {"set_id": set_id, "published": published, "draft": draft, "versions": count,
               "in_use": set_id == in_use and published is not None,
               "title": published.title if published is not None else None,
               "draft_by": db.session.scalar(select(User.email).where(User.id == draft.updated_by))
               if draft is not None and draft.updated_by else None}
        if kind == "question_set":
            rules = current_rule_set_version(set_id)
            row["rule_set"] = rules.set_id if rules is not None else None
        else:
            row["applies_to"] = published.applies_to if published is not None else None
        rows.append(row)
    return rows


def render_index(import_form: ImportForm | None = None, import_problems=None, status: int = 200):
    return render_template("admin/index.html", question_sets=set_rows("question_set"), rule_sets=set_rows("rule_set"),
                           import_form=import_form or ImportForm(), import_problems=import_problems,
                           default_qs=current_app.config["DEFAULT_QUESTION_SET"]), status


@bp.get("/")
def index():
    return render_index()


@bp.post("/import")
def import_file():
    form = ImportForm()
    if not form.validate_on_submit():
        return render_index(form, ["The form had expired. Please choose the file again."], 400)
    upload = form.file.data
    if upload is None or not getattr(upload, "filename", ""):
        return render_index(form, ["Choose a .yaml file to import."], 400)
    name = secure_filename(upload.filename) or "upload.yaml"
    is_fhir = name.lower().endswith(".json")
    if not is_fhir and not name.lower().endswith((".yaml", ".yml")):
        return render_index(form, [f"{name}: only .yaml or .yml files (or a FHIR Questionnaire as .json) "
                                   f"can be imported."], 400)
    limit = int(current_app.config["ADMIN_UPLOAD_MAX_BYTES"])
    raw = upload.read(limit + 1)
    if len(raw) > limit:
        return render_index(form, [f"{name}: the file is larger than {limit // 1024} KB."], 400)
    try:
        text = raw.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError:
        return render_index(form, [f"{name}: the file is not UTF-8 text."], 400)
    if is_fhir:
        draft, messages = publishing.import_fhir_questionnaire(text, current_user.id, name)
    else:
        draft, problems = publishing.import_text(text, current_user.id, name)
        messages = [str(p) for p in problems]
    if draft is None:
        return render_index(form, messages, 400)
    flash(f"Imported {name} as the draft of the {KIND_NAMES[draft.kind]} '{draft.set_id}'. Nothing is live until "
          f"you publish it.", "info")
    return redirect(set_url("set_page", draft.kind, draft.set_id), 303)


# -- one set -----------------------------------------------------------------------------------

def render_set_page(state, refused=None, status: int = 200):
    template = "admin/question_set.html" if state.kind == "question_set" else "admin/rule_set.html"
    extra = {}
    if state.kind == "question_set":
        extra["choices_of"] = lambda item: item_choices(state.data, item)[0]
        extra["type_names"] = TYPE_NAMES
    return render_template(template, state=state, action_form=ActionForm(), refused=refused,
                           condition_text=condition_text, **extra), status


@bp.get("/<slug>/<set_id>")
def set_page(slug: str, set_id: str):
    return render_set_page(load_set(kind_of(slug), set_id))


@bp.post("/<slug>/<set_id>/publish")
def publish(slug: str, set_id: str):
    kind = kind_of(slug)
    if not ActionForm().validate_on_submit():
        abort(400)
    state = load_set(kind, set_id, check=False)
    if state.draft is None:
        flash("There is no draft to publish.", "error")
        return back_to(state)
    if state.unchanged:
        flash("The draft is the same as the published version: there is nothing to publish.", "error")
        return back_to(state)
    row, problems = publishing.publish_draft(kind, set_id, current_user.id, current_user.email)
    if row is None:
        return render_set_page(load_set(kind, set_id), refused=problems, status=422)
    flash(f"Published {KIND_NAMES[kind]} '{set_id}' version {row.version}. New intakes use it; intakes already "
          f"started keep the version they began with.", "info")
    return redirect(set_url("history", kind, set_id), 303)


@bp.get("/<slug>/<set_id>/discard")
def confirm_discard(slug: str, set_id: str):
    kind = kind_of(slug)
    state = load_set(kind, set_id, check=False)
    if state.draft is None:
        flash("There is no draft to discard.", "info")
        return back_to(state)
    after = (f"The {KIND_NAMES[kind]} stays as published (version {state.published.version})."
             if state.published is not None else f"The {KIND_NAMES[kind]} was never published, so it is removed.")
    return confirmation_page(f"Discard the draft of {KIND_NAMES[kind]} '{set_id}'?",
                             f"Every change in the draft is lost; this cannot be undone. {after}",
                             set_url("discard", kind, set_id), "Discard the draft", set_url("set_page", kind, set_id),
                             nav="admin")


@bp.post("/<slug>/<set_id>/discard")
def discard(slug: str, set_id: str):
    kind = kind_of(slug)
    if not ActionForm().validate_on_submit():
        abort(400)
    state = load_set(kind, set_id, check=False)
    if state.draft is not None:
        publishing.discard_draft(kind, set_id)
        audit.record(actor(), "admin.draft_discarded", f"{kind}:{set_id}")
        db.session.commit()
        flash("The draft was discarded.", "info")
    if state.published is None:
        return redirect(url_for("admin_home.index"), 303)
    return back_to(state)


# -- YAML editor -------------------------------------------------------------------------------

def numbered_lines(text: str, by_line: dict[int, list[str]]) -> list[dict]:
    return [{"number": n, "text": line, "problems": by_line.get(n, [])}
            for n, line in enumerate(text.split("\n"), start=1)]


@bp.route("/<slug>/<set_id>/yaml", methods=["GET", "POST"])
def yaml_editor(slug: str, set_id: str):
    kind = kind_of(slug)
    form = YamlForm()
    if request.method == "POST":
        if form.validate_on_submit():
            state = load_set(kind, set_id, check=False)
            text = form.text.data.replace("\r\n", "\n")
            save_edit(state, text, edit="yaml")
            return redirect(set_url("yaml_editor", kind, set_id), 303)
        state = load_set(kind, set_id)
        flash("Not saved: " + ("; ".join(e for f in form for e in f.errors) or "please try again."), "error")
        return render_template("admin/yaml.html", state=state, form=form, action_form=ActionForm(),
                               lines=numbered_lines(state.text, state.located.by_line)), 400
    state = load_set(kind, set_id)
    form.text.data = state.text
    return render_template("admin/yaml.html", state=state, form=form, action_form=ActionForm(),
                           lines=numbered_lines(state.text, state.located.by_line))


# -- history, diff, rollback, export -----------------------------------------------------------

def version_rows(kind: str, set_id: str):
    model = publishing.KINDS[kind]
    return db.session.scalars(select(model).where(model.set_id == set_id).order_by(model.version.desc())).all()


def render_history(kind: str, set_id: str, problems=None, status: int = 200):
    state = load_set(kind, set_id, check=False)
    versions = version_rows(kind, set_id)
    pin = Intake.question_set_version_id if kind == "question_set" else Intake.rule_set_version_id
    open_counts = dict(db.session.execute(select(pin, func.count(Intake.id)).where(Intake.state.in_(OPEN_STATES))
                                          .group_by(pin)).all())
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.target == f"{kind}:{set_id}",
                                                         AuditEvent.action.in_(AUDITED))
                                .order_by(AuditEvent.id.desc()).limit(50)).all()
    users = {f"user:{u.id}": u.email for u in db.session.scalars(select(User))}
    restored = {e.detail.get("version"): e.detail.get("restored_version") for e in events if e.action == "rollback"}
    choices = ([("draft", "the draft")] if state.draft is not None else []) + \
        [(str(v.version), f"version {v.version}") for v in versions]
    return render_template("admin/history.html", state=state, versions=versions, open_counts=open_counts,
                           events=events, users=users, restored=restored, diff_choices=choices,
                           diff_a=str(versions[1].version) if len(versions) > 1 else choices[-1][0],
                           diff_b=choices[0][0],
                           action_form=ActionForm(), problems=problems), status


@bp.get("/<slug>/<set_id>/versions")
def history(slug: str, set_id: str):
    return render_history(kind_of(slug), set_id)


def text_of(kind: str, set_id: str, which: str | None, state) -> tuple[str | None, str]:
    if which == "draft":
        return (state.draft.yaml_text if state.draft is not None else None), "the draft"
    if which and which.isascii() and which.isdigit() and len(which) <= 9:  # a version number, never beyond an int
        model = publishing.KINDS[kind]
        row = db.session.scalar(select(model).where(model.set_id == set_id, model.version == int(which)))
        return (row.yaml_text if row is not None else None), f"version {which}"
    return None, str(which)


@bp.get("/<slug>/<set_id>/diff")
def diff(slug: str, set_id: str):
    from .base import changes_between

    kind = kind_of(slug)
    state = load_set(kind, set_id, check=False)
    old, old_name = text_of(kind, set_id, request.args.get("a"), state)
    new, new_name = text_of(kind, set_id, request.args.get("b"), state)
    if old is None or new is None:
        flash("Choose two versions to compare.", "error")
        return redirect(set_url("history", kind, set_id), 303)
    changes = changes_between(kind, old, new)
    problems = None
    if changes is None:
        problems = [str(p) for text in (old, new) for p in read(text)[1]]
    return render_template("admin/diff.html", state=state, changes=changes, problems=problems,
                           old_name=old_name, new_name=new_name)


@bp.get("/<slug>/<set_id>/versions/<int:version>/rollback")
def confirm_rollback(slug: str, set_id: str, version: int):
    kind = kind_of(slug)
    state = load_set(kind, set_id, check=False)
    if state.published is None or not any(v.version == version for v in version_rows(kind, set_id)):
        abort(404)
    if version == state.published.version:
        flash(f"Version {version} is the current version already.", "info")
        return redirect(set_url("history", kind, set_id), 303)
    whom = "New intakes then use it" if kind == "question_set" else "New intakes are then scored with it"
    return confirmation_page(f"Publish version {version} of {KIND_NAMES[kind]} '{set_id}' again?",
                             f"It becomes version {state.published.version + 1} and replaces version "
                             f"{state.published.version} as the live one. {whom}; intakes already started keep "
                             f"their version. The draft, if any, is kept.",
                             set_url("rollback", kind, set_id, version=version), f"Publish version {version} again",
                             set_url("history", kind, set_id), nav="admin", danger=False)


@bp.post("/<slug>/<set_id>/versions/<int:version>/rollback")
def rollback(slug: str, set_id: str, version: int):
    kind = kind_of(slug)
    if not ActionForm().validate_on_submit():
        abort(400)
    row, problems = publishing.rollback(kind, set_id, version, current_user.id, current_user.email)
    if row is None:
        return render_history(kind, set_id, problems=problems, status=422)
    flash(f"Version {version} was published again as version {row.version}. New intakes use it; intakes already "
          f"started keep their version.", "info")
    return redirect(set_url("history", kind, set_id), 303)


@bp.get("/<slug>/<set_id>/versions/<int:version>/export")
def export(slug: str, set_id: str, version: int):
    kind = kind_of(slug)
    model = publishing.KINDS[kind]
    row = db.session.scalar(select(model).where(model.set_id == set_id, model.version == version))
    if row is None:
        abort(404)
    response = Response(row.yaml_text, content_type="application/yaml; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{set_id}-v{version}.yaml"'
    response.headers["Cache-Control"] = "no-store"
    return response


from . import exchange, preview, questions, rules  # noqa: E402,F401  (their routes are on the same blueprint)
