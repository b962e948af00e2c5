"""Admin pages for exchange: a question-set version as a FHIR Questionnaire or its submissions as CSV,
and the API tokens of EHR integrations (created with their secret shown once, revocable)."""

from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import exports
from ..api.models import ApiToken
from ..api.tokens import all_tokens, create_token, revoke_token
from ..confirmation import already_created, confirmation_page
from ..db import db
from ..exchange.fhir_base import FhirInvalid
from ..models import User
from ..once import AlreadySubmitted, spend
from .base import actor, bp
from .forms import ActionForm, ApiTokenForm


def version_or_404(set_id: str, version: int):
    row = exports.question_set_row(set_id, version)
    if row is None:
        abort(404)
    return row


def download(body: str | bytes, content_type: str, filename: str) -> Response:
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/question-sets/<set_id>/versions/<int:version>/questionnaire.json")
def export_questionnaire(set_id: str, version: int):
    row = version_or_404(set_id, version)
    try:
        resource = exports.questionnaire(row, current_app.config["BASE_URL"], actor())
    except FhirInvalid as exc:
        flash(f"This version cannot be written as a valid FHIR Questionnaire: {exc}", "error")
        return redirect(url_for("admin_home.history", slug="question-sets", set_id=set_id), 303)
    return download(exports.to_json(resource), "application/fhir+json; charset=utf-8",
                    f"{set_id}-v{version}-questionnaire.json")


@bp.get("/question-sets/<set_id>/versions/<int:version>/submissions.zip")
def export_csv(set_id: str, version: int):
    row = version_or_404(set_id, version)
    name, data, _ = exports.csv_zip(row, actor())
    return download(data, "application/zip", name)


# -- API tokens --------------------------------------------------------------------------------

def render_tokens(form: ApiTokenForm | None = None, secret: str | None = None, created=None, status: int = 200):
    users = dict(db.session.execute(select(User.id, User.email)).all())
    return render_template("admin/api_tokens.html", tokens=all_tokens(), users=users, form=form or ApiTokenForm(),
                           action_form=ActionForm(), secret=secret, created=created,
                           api_base=current_app.config["BASE_URL"].rstrip("/") + "/api/v1"), status


@bp.get("/api-tokens")
def api_tokens():
    return render_tokens()


@bp.post("/api-tokens")
def create_api_token():
    form = ApiTokenForm()
    if not form.validate_on_submit():
        return render_tokens(form, status=400)
    try:
        spent = spend(form.nonce.data, "api_token")
    except AlreadySubmitted as done:
        return already_created(done, "API token", url_for("admin_home.api_tokens"), "Integrations", nav="admin")
    row, secret = create_token(form.name.data.strip(), current_user.id)
    if spent is not None:
        spent.target = f"api_token:{row.id}"
        db.session.commit()
    # The secret is on this response only (no-store), never in a URL, a log or the database.
    return render_tokens(ApiTokenForm(formdata=None), secret=secret, created=row)


@bp.get("/api-tokens/<int:token_id>/revoke")
def confirm_revoke_api_token(token_id: int):
    row = db.session.get(ApiToken, token_id)
    if row is None:
        abort(404)
    if not row.active:
        flash(f"The token '{row.name}' is already revoked.", "info")
        return redirect(url_for("admin_home.api_tokens"), 303)
    return confirmation_page(f"Revoke the API token '{row.name}'?",
                             "The integration that uses it is refused from its next request on; this cannot be "
                             "undone (a new token would have to be created and set up in the integration).",
                             url_for("admin_home.revoke_api_token", token_id=row.id), "Revoke the token",
                             url_for("admin_home.api_tokens"), nav="admin")


@bp.post("/api-tokens/<int:token_id>/revoke")
def revoke_api_token(token_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    row = revoke_token(token_id, current_user.id)
    if row is None:
        abort(404)
    flash(f"The token '{row.name}' was revoked: it no longer opens the API.", "info")
    return redirect(url_for("admin_home.api_tokens"), 303)
