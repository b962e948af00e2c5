"""Helpers for the patient-flow tests: invitations, reading pages, posting a section like a browser."""

from __future__ import annotations

import html
import re

from screening.db import db
from screening.invitations import create_invitation
from screening.models import Intake

# A complete, calm intake for the default question set, as a browser posts it (no answer calls for the
# crisis-support page). Sections in order; values are the form values.
GOOD_PAGES: list[tuple[str, dict]] = [
    ("consent", {"consent_given": "yes", "escort_available": "yes"}),
    ("about_you", {"date_of_birth": "1980-07-31", "sex_at_birth": "female", "height_cm": "168",
                   "weight_kg": "68.5"}),
    ("depression_history", {"dep_diagnosed": "yes", "dep_episode_months": "18", "ad_trials": "3",
                            "ect_history": "no", "tms_history": "no", "prior_ketamine_treatment": "no",
                            "psych_hospitalizations": "0", "bipolar_diagnosis": "no", "mania_history": "no",
                            "psychosis_history": "no", "psychosis_family": "no"}),
    ("phq9", {**{f"phq9_{n}": "2" for n in range(1, 9)}, "phq9_9": "0", "phq9_difficulty": "very"}),
    ("gad7", {f"gad7_{n}": "1" for n in range(1, 8)}),
    ("suicide_risk", {f"asq_{n}": "no" for n in range(1, 5)}),
    ("trauma", {"pcptsd_exposure": "no"}),
    ("alcohol", {"auditc_1": "1", "auditc_2": "0", "auditc_3": "0"}),
    ("drug_use", {"use_cannabis": "never", "use_stimulants": "never", "use_opioids": "never",
                  "use_sedatives": "never", "use_ketamine": "never", "use_hallucinogens": "never",
                  "ketamine_misuse_ever": "no", "sud_treatment_current": "no"}),
    ("medical", {"medical_conditions": ["hypertension"], "ketamine_allergy": "no", "pregnant": "no",
                 "breastfeeding": "no"}),
    ("medications", {"medications": ["ssri"], "medications_other": "sertraline 100 mg once a day"}),
    ("vitals", {"bp_systolic": "128", "bp_diastolic": "82", "bp_measured_on": "2025-01-15"}),
]

# The same answers in the stored JSON encoding.
GOOD_ANSWERS = {
    "consent_given": True, "escort_available": True,
    "date_of_birth": "1980-07-31", "sex_at_birth": "female", "height_cm": 168, "weight_kg": 68.5,
    "dep_diagnosed": True, "dep_episode_months": 18, "ad_trials": 3, "ect_history": False, "tms_history": False,
    "prior_ketamine_treatment": False, "psych_hospitalizations": 0, "bipolar_diagnosis": False,
    "mania_history": False, "psychosis_history": False, "psychosis_family": False,
    **{f"phq9_{n}": 2 for n in range(1, 9)}, "phq9_9": 0, "phq9_difficulty": "very",
    **{f"gad7_{n}": 1 for n in range(1, 8)},
    **{f"asq_{n}": False for n in range(1, 5)},
    "pcptsd_exposure": False,
    "auditc_1": 1, "auditc_2": 0, "auditc_3": 0,
    "use_cannabis": "never", "use_stimulants": "never", "use_opioids": "never", "use_sedatives": "never",
    "use_ketamine": "never", "use_hallucinogens": "never", "ketamine_misuse_ever": False,
    "sud_treatment_current": False,
    "medical_conditions": ["hypertension"], "ketamine_allergy": False, "pregnant": "no", "breastfeeding": False,
    "medications": ["ssri"], "medications_other": "sertraline 100 mg once a day",
    "bp_systolic": 128, "bp_diastolic": 82, "bp_measured_on": "2025-01-15",
}


def invite(app, **kwargs) -> tuple[int, str]:
    """A new invitation: (intake id, link token)."""
    with app.app_context():
        intake, token = create_invitation(**kwargs)
        db.session.commit()
        return intake.id, token


def load_intake(app, intake_id: int) -> Intake:
    with app.app_context():
        intake = db.session.get(Intake, intake_id)
        db.session.expunge(intake)
        return intake


def set_answers(app, intake_id: int, answers: dict) -> None:
    with app.app_context():
        intake = db.session.get(Intake, intake_id)
        intake.answers = dict(answers)
        db.session.commit()


def page(response) -> str:
    return response.get_data(as_text=True)


def hidden_value(text: str, name: str) -> str | None:
    match = re.search(r'<input[^>]*name="%s"[^>]*value="([^"]*)"' % re.escape(name), text)
    if match is None:
        match = re.search(r'<input[^>]*value="([^"]*)"[^>]*name="%s"' % re.escape(name), text)
    return html.unescape(match.group(1)) if match else None


def form_controls(text: str) -> dict:
    """The hidden control fields of a section page (csrf_token, _shown, _ref, _return)."""
    return {name: hidden_value(text, name) or "" for name in ("csrf_token", "_shown", "_ref", "_return")}


def visible_items(text: str) -> list[str]:
    """Item ids on the page that are not hidden."""
    return re.findall(r'data-item="([^"]+)"(?! hidden)>', text)


def hidden_items(text: str) -> list[str]:
    return re.findall(r'data-item="([^"]+)" hidden>', text)


def location(response) -> str:
    return response.headers.get("Location", "")


def open_link(client, token: str):
    return client.get(f"/i/{token}")


def post_section(client, section_id: str, answers: dict, action: str = "next", controls: dict | None = None,
                 follow: bool = False):
    """GET the section (for its token and what shows), then POST the answers as a browser without script."""
    if controls is None:
        got = client.get(f"/intake/section/{section_id}")
        assert got.status_code == 200, (section_id, got.status_code, location(got))
        controls = form_controls(page(got))
    data = dict(controls)
    data.update(answers)
    data["_action"] = action
    return client.post(f"/intake/section/{section_id}", data=data, follow_redirects=follow)


def error_summary(text: str) -> list[str]:
    block = re.search(r'<div class="error-summary".*?</div>', text, re.S)
    if not block:
        return []
    return [html.unescape(re.sub(r"<[^>]+>", "", m)) for m in re.findall(r"<li>(.*?)</li>", block.group(0), re.S)]


def complete_section(client, section_id: str, answers: dict, action: str = "next"):
    """Post a section like a browser without script: when follow-up questions are added, post again."""
    response = post_section(client, section_id, answers, action)
    for _ in range(3):
        text = page(response)
        if response.status_code != 200 or "because of your answers" not in text:
            return response
        response = post_section(client, section_id, answers, action, controls=form_controls(text))
    return response


def complete_intake(client, pages=GOOD_PAGES, submit: bool = True):
    """Every page of the default set in order; returns the locations visited (and submits)."""
    visited = []
    for section_id, answers in pages:
        response = complete_section(client, section_id, answers)
        assert response.status_code == 303, (section_id, error_summary(page(response)))
        visited.append(location(response))
    if submit:
        review = client.get("/intake/review")
        assert review.status_code == 200
        response = client.post("/intake/review", data={"csrf_token": hidden_value(page(review), "csrf_token")})
        assert location(response) == "/intake/done"
        visited.append(location(response))
    return visited


def publish(app, question_yaml: str, rules_yaml: str) -> None:
    """Publish a question set and a rule set as the next versions (as the admin screens will)."""
    from screening.content import latest_version_number
    from screening.models import QuestionSetVersion, RuleSetVersion
    from screening.questions import parse_question_set
    from screening.rules import parse_rule_set

    qs = parse_question_set(question_yaml, "test question set")
    rs = parse_rule_set(rules_yaml, qs, "test rule set")
    with app.app_context():
        db.session.add(QuestionSetVersion(set_id=qs.id, version=latest_version_number(QuestionSetVersion, qs.id) + 1,
                                          title=qs.title, yaml_text=question_yaml, content_hash=qs.content_hash))
        db.session.add(RuleSetVersion(set_id=rs.id, version=latest_version_number(RuleSetVersion, rs.id) + 1,
                                      applies_to=rs.applies_to, title=rs.title, yaml_text=rules_yaml,
                                      content_hash=rs.content_hash))
        db.session.commit()
