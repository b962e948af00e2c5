"""The EHR API: tokens created by an admin (secret shown once, stored hashed), revocable; listing and
FHIR fetches with a token, refusals without one; no session cookie, no CSRF; the OpenAPI document
lists every route; audit events; a rate limit on failed authentication."""

from __future__ import annotations

import datetime
import hashlib
import re

from fhir.resources.R4B.bundle import Bundle
from openapi_schema_validator import OAS31Validator, validate
from openapi_spec_validator import validate as validate_document
from sqlalchemy import select

from screening.api.models import ApiToken
from screening.db import db
from test_admin_support import admin_client, audit_events, plain  # noqa: F401
from test_clinician_support import (case_answers, clinician, clinician_client, csrf_from, make_submission,  # noqa: F401
                                    staff_app)

TOKEN_RE = re.compile(r'id="token-secret"[^>]*value="(scr_[A-Za-z0-9_-]+)"')


def create_token(client, name="Epic bridge") -> str:
    response = client.post("/admin/api-tokens", data={"csrf_token": csrf_from(client, "/admin/api-tokens"),
                                                      "name": name})
    assert response.status_code == 200
    match = TOKEN_RE.search(response.get_data(as_text=True))
    assert match, "the new token is shown"
    return match.group(1)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def documented(app, path: str, status: str, media: str = "application/json") -> dict:
    """The schema the OpenAPI document promises for a response (with its components, for $refs)."""
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    response = document["paths"][path]["get"]["responses"][status]
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return {**response["content"][media]["schema"], "components": document["components"]}


def conforms(app, path: str, response, media: str = "application/json") -> None:
    validate(response.get_json(force=True), documented(app, path, str(response.status_code), media),
             cls=OAS31Validator)


def test_an_admin_creates_a_token_shown_once_and_stored_only_as_its_hash(staff_app, admin_client):
    secret = create_token(admin_client)
    assert len(secret) >= 40
    with staff_app.app_context():
        row = db.session.scalar(select(ApiToken))
        assert row.name == "Epic bridge" and row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    page = admin_client.get("/admin/api-tokens").get_data(as_text=True)
    assert "Epic bridge" in page and secret not in page
    assert audit_events(staff_app, "api_token.")[0][1:3] == ("api_token.created", f"api_token:{row.id}")
    response = admin_client.post("/admin/api-tokens", data={"csrf_token": csrf_from(admin_client, "/admin/api-tokens"),
                                                            "name": ""})
    assert response.status_code == 400


def test_the_api_lists_submissions_since_a_time_and_pages_through_them(staff_app, admin_client):
    secret = create_token(admin_client)
    start = datetime.datetime(2026, 5, 1, 8, 0)
    ids = [make_submission(staff_app, case_answers("01-suitable-candidate.json"), ref=f"MRN-{n}",
                           submitted_at=start + datetime.timedelta(hours=n)) for n in range(5)]
    api = staff_app.test_client()  # no session: only the token
    response = api.get("/api/v1/submissions?since=2026-05-01T09:00:00Z&limit=2", headers=bearer(secret))
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    page = response.get_json()
    conforms(staff_app, "/submissions", response)
    assert [s["id"] for s in page["data"]] == ids[1:3]
    first = page["data"][0]
    assert first["submitted_at"] == "2026-05-01T09:00:00Z" and first["question_set"] == {"id": "ketamine-intake", "version": 1}
    assert first["links"]["fhir"].endswith(f"/api/v1/submissions/{ids[1]}/fhir")
    assert "MRN" not in response.get_data(as_text=True)  # the list holds no patient details
    seen = [s["id"] for s in page["data"]]
    while page["links"]["next"]:
        path = page["links"]["next"].split("://", 1)[1].split("/", 1)[1]
        page = api.get("/" + path, headers=bearer(secret)).get_json()
        seen += [s["id"] for s in page["data"]]
    assert seen == ids[1:]
    for query, reason in [("since=yesterday", "'since'"), ("limit=0", "'limit'"), ("limit=501", "'limit'"),
                          ("cursor=%%%", "'cursor'"), ("cursor=MjAyNi0wMS0wMVQwMDowMDowMHw5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ", "'cursor'"),
                          ("since=0001-01-01T00:00:00%2B01:00", "'since'"), ("since=9999-12-31T23:59:59-05:00", "'since'"),
                          ("limit=%C2%B2", "'limit'"), ("limit=" + "0" * 400 + "5", "'limit'")]:
        response = api.get(f"/api/v1/submissions?{query}", headers=bearer(secret))
        assert response.status_code == 400 and reason in response.get_json()["error"], query
        conforms(staff_app, "/submissions", response)
    assert {e[1] for e in audit_events(staff_app, "api.")} == {"api.list_submissions"}


def test_the_list_and_the_bundle_say_the_language_the_patient_answered_in(staff_app, admin_client):
    secret = create_token(admin_client)
    spanish = make_submission(staff_app, case_answers("01-suitable-candidate.json"), language="es")
    unrecorded = make_submission(staff_app, case_answers("01-suitable-candidate.json"))  # before languages
    api = staff_app.test_client()
    response = api.get("/api/v1/submissions", headers=bearer(secret))
    conforms(staff_app, "/submissions", response)
    assert {s["id"]: s["language"] for s in response.get_json()["data"]} == {spanish: "es", unrecorded: "en"}
    bundle = api.get(f"/api/v1/submissions/{spanish}/fhir", headers=bearer(secret)).get_json()
    answered = bundle["entry"][1]["resource"]
    assert answered["resourceType"] == "QuestionnaireResponse" and answered["language"] == "es"
    assert answered["item"][0]["text"] == "Antes de empezar"


def test_a_submission_is_fetched_as_a_valid_fhir_bundle_and_each_fetch_is_audited(staff_app, admin_client):
    secret = create_token(admin_client)
    ident = make_submission(staff_app, case_answers("07-several-review-flags.json"), ref="MRN-7")
    api = staff_app.test_client()
    response = api.get(f"/api/v1/submissions/{ident}/fhir", headers=bearer(secret))
    assert response.status_code == 200 and response.mimetype == "application/fhir+json"
    bundle = Bundle.model_validate_json(response.data)
    kinds = [entry.resource.get_resource_type() for entry in bundle.entry]
    assert kinds[:2] == ["Patient", "QuestionnaireResponse"] and kinds[-1] == "RiskAssessment"
    for missing in ("999999", "9" * 30):  # the second is no id the database can hold: not routed at all
        response = api.get(f"/api/v1/submissions/{missing}/fhir", headers=bearer(secret))
        assert response.status_code == 404 and response.is_json and response.get_json()["error"], missing
    with staff_app.app_context():
        token = db.session.scalar(select(ApiToken))
        assert token.last_used_at is not None
    assert audit_events(staff_app, "export.fhir_submission") == [
        (f"api_token:{token.id}", "export.fhir_submission", f"submission:{ident}", {})]


def test_without_a_token_or_with_a_revoked_one_the_api_refuses(staff_app, admin_client):
    secret = create_token(admin_client)
    ident = make_submission(staff_app, case_answers("01-suitable-candidate.json"))
    api = staff_app.test_client()
    for headers in ({}, {"Authorization": "Basic abc"}, bearer("scr_not-a-real-token"), bearer("")):
        for path in ("/api/v1/submissions", f"/api/v1/submissions/{ident}/fhir"):
            response = api.get(path, headers=headers)
            assert response.status_code == 401, (path, headers)
            assert response.headers["WWW-Authenticate"].startswith("Bearer") and "error" in response.get_json()
            conforms(staff_app, "/submissions" if path.endswith("submissions") else "/submissions/{submission_id}/fhir",
                     response)
    # A signed-in admin's session cookie does not open the API either.
    assert admin_client.get("/api/v1/submissions").status_code == 401
    with staff_app.app_context():
        token_id = db.session.scalar(select(ApiToken.id))
    assert api.get("/api/v1/submissions", headers=bearer(secret)).status_code == 200
    response = admin_client.post(f"/admin/api-tokens/{token_id}/revoke",
                                 data={"csrf_token": csrf_from(admin_client, "/admin/api-tokens")})
    assert response.status_code == 303
    assert "Revoked" in plain(admin_client.get("/admin/api-tokens"))
    assert api.get("/api/v1/submissions", headers=bearer(secret)).status_code == 401
    assert api.get(f"/api/v1/submissions/{ident}/fhir", headers=bearer(secret)).status_code == 401
    assert audit_events(staff_app, "api_token.revoked")[0][2] == f"api_token:{token_id}"
    assert not audit_events(staff_app, "export.fhir_submission")


def test_clinicians_cannot_manage_tokens(staff_app, clinician_client):
    assert clinician_client.get("/admin/api-tokens").status_code == 403
    token = csrf_from(clinician_client, "/staff/")
    assert clinician_client.post("/admin/api-tokens", data={"csrf_token": token, "name": "x"}).status_code == 403
    with staff_app.app_context():
        assert db.session.scalar(select(ApiToken)) is None


def test_failed_authentication_is_rate_limited_per_address(staff_app, admin_client):
    staff_app.config["API_FAILED_AUTH_LIMIT_PER_ADDRESS"] = "3 per minute"
    secret = create_token(admin_client)
    api = staff_app.test_client()
    statuses = [api.get("/api/v1/submissions", headers=bearer("scr_guess")).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert api.get("/api/v1/submissions", headers=bearer(secret)).status_code == 429


def test_the_openapi_document_describes_every_api_route(staff_app):
    response = staff_app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    validate_document(document)
    assert document["openapi"].startswith("3.") and document["servers"][0]["url"].endswith("/api/v1")
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    routes = set()
    for rule in staff_app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len("/api/v1"):])
            routes.add((path, "get"))
            assert rule.methods - {"HEAD", "OPTIONS"} == {"GET"}, rule.rule
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert routes == documented
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    assert "{" + parameter["name"] + "}" in path
