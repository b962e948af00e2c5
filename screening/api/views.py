"""``/api/v1``: list submissions since a time, fetch one as FHIR, and the OpenAPI document.

Every request but the OpenAPI document needs ``Authorization: Bearer <token>`` of an active token;
the session cookie is neither read nor set. Errors are JSON. Rate limits (config): per token, and
per address for failed authentications.
"""

from __future__ import annotations

import base64
import binascii
import datetime
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import HTTPException

from .. import audit, exports
from ..db import db
from ..exchange.fhir_base import FhirInvalid
from ..exchange.records import iso_instant
from ..models import Intake, Submission, utcnow
from ..questions.translations import SOURCE_LANGUAGE
from ..rules.ruleset import SEVERITIES
from ..security import configured, limiter
from ..yaml_source import Source
from .tokens import active_token, token_hash

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PUBLIC_ENDPOINTS = {"api.openapi"}
MAX_PAGE = 500
DEFAULT_PAGE = 100


def token_key() -> str:
    header = request.headers.get("Authorization", "")
    return "api-token:" + token_hash(header)[:16]


limiter.limit(configured("API_LIMIT_PER_TOKEN"), key_func=token_key, scope="api-token")(bp)
limiter.limit(configured("API_FAILED_AUTH_LIMIT_PER_ADDRESS"), scope="api-auth",
              deduct_when=lambda response: response.status_code == 401)(bp)


def error(status: int, message: str) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="screening"'
    return response


@bp.before_request
def authenticate():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return error(401, "send an API token as 'Authorization: Bearer <token>'")
    token = active_token(secret.strip())
    if token is None:
        return error(401, "the API token is unknown or was revoked")
    token.last_used_at = utcnow()
    g.api_token = token
    return None


@bp.after_request
def private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    if exc.code == 429:
        return error(429, "too many requests; wait a minute and try again")
    return error(exc.code or 500, exc.description if exc.code == 400 else (exc.name or "error").lower())


def actor() -> str:
    return f"api_token:{g.api_token.id}"


def external(endpoint: str, **values) -> str:
    return current_app.config["BASE_URL"].rstrip("/") + url_for(endpoint, **values)


# -- submissions -------------------------------------------------------------------------------

def parse_since(raw: str | None) -> datetime.datetime | None:
    if not raw:
        return None
    try:
        moment = datetime.datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise ValueError("'since' must be an ISO 8601 date-time, e.g. 2026-01-31T08:00:00Z") from None
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        except OverflowError:  # 0001-01-01T00:00+01:00 is before the first representable instant
            raise ValueError("'since' is out of range") from None
    return moment


def encode_cursor(submission: Submission) -> str:
    raw = f"{submission.submitted_at.isoformat()}|{submission.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime.datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, ident = raw.split("|")
        if not ident.isdigit() or int(ident) >= 2**63:
            raise ValueError(ident)
        return datetime.datetime.fromisoformat(moment), int(ident)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("'cursor' is not one this API gave out; start again without it") from None


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4) or not 1 <= int(raw) <= MAX_PAGE:
        raise ValueError(f"'limit' must be a whole number from 1 to {MAX_PAGE}")
    return int(raw)


def summary(submission: Submission) -> dict:
    counts = {"exclude": submission.exclude_count, "urgent": submission.urgent_count,
              "review": submission.review_count, "info": submission.info_count}
    qs_row = submission.intake.question_set_version
    return {"id": submission.id, "submitted_at": iso_instant(submission.submitted_at),
            "question_set": {"id": qs_row.set_id, "version": qs_row.version},
            "language": submission.intake.language or SOURCE_LANGUAGE,
            "highest_severity": SEVERITIES[submission.severity_rank] if submission.severity_rank < len(SEVERITIES)
            else None,
            "flag_counts": counts,
            "links": {"fhir": external("api.submission_fhir", submission_id=submission.id)}}


@bp.get("/submissions")
def submissions():
    try:
        since = parse_since(request.args.get("since"))
        limit = parse_limit(request.args.get("limit"))
        cursor = decode_cursor(request.args["cursor"]) if request.args.get("cursor") else None
    except ValueError as exc:
        return error(400, str(exc))
    query = (select(Submission).options(joinedload(Submission.intake).joinedload(Intake.question_set_version))
             .order_by(Submission.submitted_at, Submission.id))
    if since is not None:
        query = query.where(Submission.submitted_at >= since)
    if cursor is not None:
        moment, ident = cursor
        query = query.where(or_(Submission.submitted_at > moment,
                                and_(Submission.submitted_at == moment, Submission.id > ident)))
    rows = list(db.session.scalars(query.limit(limit + 1)))
    page, more = rows[:limit], len(rows) > limit
    next_link = None
    if more:
        args = {key: value for key, value in request.args.items() if key != "cursor"}
        next_link = external("api.submissions", **args, cursor=encode_cursor(page[-1]))
    audit.record(actor(), "api.list_submissions", None, token=g.api_token.name, count=len(page))
    data = [summary(s) for s in page]
    db.session.commit()
    return jsonify(data=data, links={"next": next_link})


@bp.get("/submissions/<int:submission_id>/fhir")
def submission_fhir(submission_id: int):
    submission = exports.submission(submission_id)
    if submission is None:
        db.session.commit()  # keep last_used_at
        return error(404, "no such submission")
    try:
        bundle = exports.bundle(submission, current_app.config["BASE_URL"], actor())
    except FhirInvalid as exc:  # a bug of ours, not the caller's: say so, log where (never the data)
        current_app.logger.error("Submission %s does not convert to valid FHIR: %s", submission_id, exc)
        return error(500, "this submission could not be converted to valid FHIR; the clinic's log says why")
    return Response(exports.to_json(bundle), content_type="application/fhir+json; charset=utf-8")


# -- the contract ------------------------------------------------------------------------------

@cache
def openapi_document() -> dict:
    path = Path(__file__).with_name("openapi.yaml")
    return Source(path.read_text(encoding="utf-8"), str(path)).data


@bp.get("/openapi.json")
def openapi():
    document = dict(openapi_document())
    document["servers"] = [{"url": current_app.config["BASE_URL"].rstrip("/") + bp.url_prefix}]
    return jsonify(document)
