"""The preview: a draft rendered by the patient's own form builder and template, page by page, with the
answers kept only in the page (never stored)."""

from __future__ import annotations

import json
import re

from sqlalchemy import func, select

from intake_helpers import GOOD_PAGES, complete_section, error_summary, hidden_value, invite, open_link, visible_items
from screening.db import db
from screening.models import AuditEvent, Draft, Intake
from test_admin_support import QS_PAGE, admin_client, plain, submit, text_of  # noqa: F401
from test_clinician_support import csrf_from, staff_app  # noqa: F401

PREVIEW = f"{QS_PAGE}/preview"


def stored_counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(db.session.scalar(select(func.count(m.id))) for m in (Intake, Draft, AuditEvent))


def section_form(html: str) -> str:
    return re.search(r'<form class="section-form".*?</form>', html, re.S).group(0)


def normalized(form_html: str) -> str:
    """A section form without what differs by design: where it posts, tokens, and the preview's own fields."""
    form_html = re.sub(r'(action|data-live-url)="[^"]*"', r'\1=""', form_html)
    form_html = re.sub(r'(name="(?:csrf_token|_ref)"[^>]*value=")[^"]*"', r'\1"', form_html)
    form_html = re.sub(r'<input type="hidden" name="_preview_(?:answers|language)"[^>]*>', "", form_html)
    return re.sub(r">\s+<", "><", form_html)


def preview_post(client, html: str, section_id: str, answers: dict, action: str = "next"):
    data = {"csrf_token": hidden_value(html, "csrf_token"), "_shown": hidden_value(html, "_shown") or "",
            "_preview_answers": hidden_value(html, "_preview_answers") or "{}", "_action": action, **answers,
            "_preview_language": hidden_value(html, "_preview_language") or "en"}
    return client.post(f"{PREVIEW}/{section_id}", data=data)


def test_preview_is_the_patient_page_itself(staff_app, admin_client):
    """With no draft, the preview of the published set renders the very form a patient gets, page after page."""
    _, token = invite(staff_app)
    patient = staff_app.test_client()
    open_link(patient, token)
    preview_html = text_of(admin_client.get(PREVIEW))
    for section_id, answers in GOOD_PAGES[:4]:
        patient_html = text_of(patient.get(f"/intake/section/{section_id}"))
        assert normalized(section_form(preview_html)) == normalized(section_form(patient_html)), section_id
        assert 'class="preview-banner"' in preview_html and "Answers are not saved anywhere" in plain_text(preview_html)
        assert f'action="{PREVIEW}/{section_id}"' in preview_html
        assert "intake.js" in preview_html  # the same enhancements as the patient's page
        assert complete_section(patient, section_id, answers).status_code == 303
        response = preview_post(admin_client, preview_html, section_id, answers)
        if "because of your answers" in text_of(response):
            response = preview_post(admin_client, text_of(response), section_id, answers)
        preview_html = text_of(response)


def plain_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_preview_walks_the_draft_like_a_patient_and_stores_nothing(staff_app, admin_client):
    item = f"{QS_PAGE}/items/escort_available"
    submit(admin_client, item, item, {"text": "Will an adult drive you home after each visit?"})
    before = stored_counts(staff_app)

    first = admin_client.get(PREVIEW)
    html = text_of(first)
    assert first.status_code == 200
    assert "Will an adult drive you home after each visit?" in html  # the draft, not the published wording
    assert "Preview of the draft of ketamine-intake" in plain_text(html)
    assert "Section 1 of 12" in html and 'value="back"' not in html

    # A required answer missing: the same message the patient would get, on the same page.
    missing = preview_post(admin_client, html, "consent", {"escort_available": "yes"})
    assert missing.status_code == 200
    assert any("Please choose an answer" in line for line in error_summary(text_of(missing)))

    # Next: the following page, with the answers so far carried in the page only.
    nxt = preview_post(admin_client, html, "consent", dict(GOOD_PAGES[0][1]))
    html = text_of(nxt)
    assert "Section 2 of 12" in html and f'action="{PREVIEW}/about_you"' in html
    assert json.loads(hidden_value(html, "_preview_answers")) == {"consent_given": True, "escort_available": True}

    # Back keeps what was typed on this page and shows the earlier answers again.
    back = preview_post(admin_client, html, "about_you", {"date_of_birth": "1980-07-31"}, action="back")
    html = text_of(back)
    assert "Section 1 of 12" in html
    assert re.search(r'value="yes"\s+checked', html)
    assert json.loads(hidden_value(html, "_preview_answers"))["date_of_birth"] == "1980-07-31"

    # Branching follows the draft: a "yes" adds the follow-up questions on the same page.
    html = text_of(preview_post(admin_client, html, "consent", dict(GOOD_PAGES[0][1])))
    html = text_of(preview_post(admin_client, html, "about_you", dict(GOOD_PAGES[1][1])))
    assert "dep_episode_months" in re.findall(r'data-item="([^"]+)" hidden>', html)
    added = preview_post(admin_client, html, "depression_history", {"dep_diagnosed": "yes"})
    assert "dep_episode_months" in visible_items(text_of(added))
    assert "because of your answers" in text_of(added)

    assert stored_counts(staff_app) == before  # no intake, no draft change, no audit event


def test_preview_runs_to_the_end_and_notes_the_crisis_page(staff_app, admin_client):
    before = stored_counts(staff_app)
    html = text_of(admin_client.get(PREVIEW))
    pages = [(sid, dict(answers)) for sid, answers in GOOD_PAGES]
    pages[5] = ("suicide_risk", {**pages[5][1], "asq_1": "yes", "asq_5": "no"})
    for section_id, answers in pages:
        response = preview_post(admin_client, html, section_id, answers)
        for _ in range(3):  # follow-up questions appear first, as for a patient without JavaScript
            if "because of your answers" not in text_of(response):
                break
            response = preview_post(admin_client, text_of(response), section_id, answers)
        assert response.status_code == 200, section_id
        html = text_of(response)
        assert not error_summary(html), (section_id, error_summary(html))
        if section_id == "suicide_risk":
            assert "a patient would now see the crisis-support page" in plain_text(html)
    text = plain_text(html)
    assert "End of the questions" in text and "July 31, 1980" in text and "sertraline 100 mg once a day" in text
    assert stored_counts(staff_app) == before


def test_live_show_and_hide_in_the_preview(admin_client):
    html = text_of(admin_client.get(f"{PREVIEW}?section=depression_history"))
    live = re.search(r'data-live-url="([^"]+)"', html).group(1)
    assert live == f"{PREVIEW}/depression_history/visibility"
    data = {"csrf_token": hidden_value(html, "csrf_token"), "_shown": "dep_diagnosed", "dep_diagnosed": "yes"}
    shown = admin_client.post(live, data=data).get_json()
    data["dep_diagnosed"] = "no"
    hidden = admin_client.post(live, data=data).get_json()
    assert "dep_episode_months" not in shown["hidden"] and "dep_episode_months" in hidden["hidden"]


def test_an_invalid_draft_cannot_be_previewed_and_says_why(staff_app, admin_client):
    yaml_page = f"{QS_PAGE}/yaml"
    text = re.search(r'<textarea id="yaml-text"[^>]*>\n?(.*?)</textarea>', text_of(admin_client.get(yaml_page)), re.S).group(1)
    import html as html_lib
    broken = html_lib.unescape(text).replace("type: yes_no", "type: maybe", 1)
    admin_client.post(yaml_page, data={"csrf_token": csrf_from(admin_client, yaml_page), "text": broken})
    response = admin_client.get(PREVIEW)
    assert response.status_code == 422
    assert "cannot be previewed yet" in plain(response) and "draft:" in plain(response)


def test_preview_in_the_patients_other_language(staff_app, admin_client):
    """An admin checks a translation as a Spanish-reading patient sees it; the banner stays in English."""
    first = text_of(admin_client.get(PREVIEW + "?lang=es"))
    assert '<html lang="es">' in first and "Antes de empezar" in first
    assert 'lang="en">' in first and "Answers are not saved anywhere" in plain_text(first)
    assert '<input type="hidden" name="_preview_language" value="es">' in first
    page = text_of(preview_post(admin_client, first, "consent", {}))  # nothing chosen: required, in Spanish
    assert "Por favor, elija una respuesta." in page and "Antes de empezar" in page
    staff_page = text_of(admin_client.get(QS_PAGE))
    assert '<html lang="en">' in staff_page
