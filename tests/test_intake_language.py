"""The patient flow in a second language: choosing and switching, what is kept, what the clinic sees."""

from __future__ import annotations

import re

import pytest

from intake_helpers import (GOOD_ANSWERS, GOOD_PAGES, error_summary, form_controls, hidden_value, invite, load_intake, location,
                            open_link, page, post_section)

def html_lang(text: str) -> str:
    return re.search(r'<html lang="([^"]+)"', text).group(1)


def switch(client, section_id: str, answers: dict, code: str):
    return post_section(client, section_id, answers, action=f"language:{code}")


def resume_at(app, intake_id: int, section_id: str) -> None:
    """The answers of every page before ``section_id`` stored, as if the patient had gone through them."""
    from screening.db import db
    from screening.models import Intake

    earlier = [sid for sid, _ in GOOD_PAGES[:[sid for sid, _ in GOOD_PAGES].index(section_id)]]
    with app.app_context():
        intake = db.session.get(Intake, intake_id)
        intake.answers = {k: v for k, v in GOOD_ANSWERS.items()
                          if any(k in answers for sid, answers in GOOD_PAGES if sid in earlier)}
        intake.completed_sections = earlier
        db.session.commit()


def complete(client, pages):
    """Post each page; when follow-up questions were added (the page comes back), post it again."""
    for section_id, answers in pages:
        response = post_section(client, section_id, answers)
        if response.status_code == 200:
            response = post_section(client, section_id, answers, controls=form_controls(page(response)))
        assert response.status_code == 303, (section_id, error_summary(page(response)))
    return response


def test_the_first_page_offers_spanish_and_switching_keeps_what_was_typed(app, client):
    intake_id, token = invite(app)
    first = page(client.get(location(open_link(client, token)), follow_redirects=True))
    assert html_lang(first) == "en"
    assert 'value="language:es" lang="es">Español</button>' in first
    assert 'form="section-form"' in first and 'id="section-form"' in first

    response = switch(client, "consent", {"consent_given": "yes"}, "es")
    text = page(response)
    assert response.status_code == 200
    assert html_lang(text) == "es"
    assert "¿Acepta contestar estas preguntas" in text
    assert re.search(r'id="q-consent_given" name="consent_given" value="yes"\s+checked', text)
    assert 'value="language:en" lang="en">English</button>' in text
    assert error_summary(text) == []  # switching asks nothing: no "please choose an answer"
    intake = load_intake(app, intake_id)
    assert intake.language == "es"
    assert intake.answers == {"consent_given": True}


def test_a_value_that_is_not_valid_yet_survives_a_switch(app, client):
    invite_id, token = invite(app)
    open_link(client, token)
    post_section(client, "consent", {"consent_given": "yes", "escort_available": "yes"})
    text = page(switch(client, "about_you", {"height_cm": "1,70 m", "date_of_birth": "1980-07-31"}, "es"))
    assert 'value="1,70 m"' in text  # not an answer yet, so not saved, but still in its box
    assert "¿Cuánto mide, en centímetros?" in text
    assert load_intake(app, invite_id).answers["date_of_birth"] == "1980-07-31"


def test_validation_and_required_messages_are_in_spanish(client, app):
    _, token = invite(app)
    open_link(client, token)
    switch(client, "consent", {}, "es")
    post_section(client, "consent", {"consent_given": "yes", "escort_available": "yes"})
    text = page(post_section(client, "about_you", {"height_cm": "300", "weight_kg": "setenta"}))
    errors = error_summary(text)
    assert any("Escriba un número de 100 a 250." in e for e in errors), errors
    assert any("Escriba un número." in e for e in errors), errors
    assert "Por favor, revise estas respuestas" in text
    required = error_summary(page(post_section(client, "about_you", {"height_cm": "170"})))
    assert required == ["¿Cuál es su fecha de nacimiento? Por favor, escriba una fecha."]


def test_a_refused_security_token_and_the_error_pages_stay_in_the_patients_language(app, client):
    _, token = invite(app)
    open_link(client, token)
    switch(client, "consent", {}, "es")
    controls = {**form_controls(page(client.get("/intake/section/consent"))), "csrf_token": ""}
    kept = client.post("/intake/section/consent", data={**controls, "consent_given": "yes", "_action": "next"})
    assert kept.status_code == 200 and html_lang(page(kept)) == "es" and "Antes de empezar" in page(kept)
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and html_lang(page(missing)) == "es"
    assert "No se encontró la página" in page(missing) and "llame a Test Clinic" in page(missing)
    browser = app.test_client().get("/no-such-page", headers={"Accept-Language": "es"})
    assert "Revise la dirección" in page(browser)
    for path in ("/staff/no-such-page", "/admin/no-such-page"):
        staff = client.get(path, headers={"Accept-Language": "es"})
        assert html_lang(page(staff)) == "en" and "Page not found" in page(staff), path


def test_an_instrument_without_a_published_spanish_version_stays_in_english_with_a_note(client, app):
    _, token = invite(app)
    open_link(client, token)
    switch(client, "consent", {}, "es")
    complete(client, GOOD_PAGES[:4])
    gad7 = page(client.get("/intake/section/gad7"))
    assert "Preocupación y ansiedad" in gad7  # the section title is the clinic's, translated
    assert 'data-item="gad7_1" lang="en"' in gad7
    assert "Feeling nervous, anxious or on edge" in gad7
    assert "se muestran en inglés" in gad7
    assert "Si una pregunta no le queda clara, llame a Test Clinic al 555-0100" in gad7  # someone to ask
    assert '<p class="intro" lang="en">Over the last 2 weeks' in gad7  # the GAD-7's own instructions
    assert '<span class="required" lang="es"> (obligatoria)</span>' in gad7
    phq9 = page(client.get("/intake/section/phq9"))
    assert "Se ha sentido decaído(a), deprimido(a) o sin esperanzas" in phq9  # the published Spanish PHQ-9
    assert "Más de la mitad de los días" in phq9
    assert "se muestran en inglés" not in phq9


def test_pages_without_a_form_switch_with_a_link_and_the_choice_is_kept_on_resume(app, client):
    intake_id, token = invite(app)
    open_link(client, token)
    response = client.get("/intake/section/consent?lang=es")
    assert response.status_code == 303 and location(response) == "/intake/section/consent"
    assert load_intake(app, intake_id).language == "es"

    response = client.get("/intake/section/consent?from=review&lang=en")
    assert location(response) == "/intake/section/consent?from=review"  # other arguments are kept
    assert load_intake(app, intake_id).language == "en"
    client.get("/intake/section/consent?lang=es")

    other_device = app.test_client()
    text = page(other_device.get(location(open_link(other_device, token)), follow_redirects=True))
    assert html_lang(text) == "es" and "Antes de empezar" in text


@pytest.mark.parametrize("setting", [{"CLINIC_LANGUAGE": "fr"}, {"PATIENT_LANGUAGES": ["en", "xx"]},
                                     {"PATIENT_LANGUAGES": []}])
def test_a_language_setting_the_service_cannot_honour_stops_it_at_start(tmp_path, setting):
    from screening import create_app

    with pytest.raises(ValueError, match="must"):
        create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "x", **setting})


def test_english_only_hides_the_switch(tmp_path):
    from screening import create_app
    from screening.db import db

    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "x",
                      "PATIENT_LANGUAGES": ["en"]})
    client = app.test_client()
    _, token = invite(app)
    text = page(client.get(location(open_link(client, token)), follow_redirects=True,
                           headers={"Accept-Language": "es"}))
    assert html_lang(text) == "en" and "language-switch" not in text
    with app.app_context():
        db.engine.dispose()


def test_the_browser_language_is_the_first_choice_and_staff_pages_stay_in_english(app, client):
    _, token = invite(app)
    headers = {"Accept-Language": "es-MX,es;q=0.9"}
    response = client.get(f"/i/{token}", headers=headers)
    text = page(client.get(location(response), headers=headers, follow_redirects=True))
    assert html_lang(text) == "es" and "Antes de empezar" in text
    staff = page(app.test_client().get("/sign-in", headers=headers))
    assert html_lang(staff) == "en"


def test_the_crisis_support_page_in_spanish(app, client):
    intake_id, token = invite(app)
    open_link(client, token)
    switch(client, "consent", {}, "es")
    resume_at(app, intake_id, "suicide_risk")
    response = complete(client, [("suicide_risk", {"asq_1": "yes", "asq_2": "no", "asq_3": "no", "asq_4": "no",
                                                   "asq_5": "yes"})])
    assert location(response) == "/intake/support"
    text = page(client.get("/intake/support"))
    assert html_lang(text) == "es"
    assert "Por favor, busque apoyo ahora" in text
    assert "la Línea 988 de Prevención del Suicidio y Crisis" in text
    assert "Ofrece ayuda en español." in text
    assert 'href="tel:988"' in text and 'href="tel:911"' in text


def test_a_spanish_intake_reaches_the_clinic_in_english_with_the_patients_language(app, client):
    intake_id, token = invite(app, patient_name="Test Paciente")
    open_link(client, token)
    switch(client, "consent", {}, "es")
    resume_at(app, intake_id, "vitals")
    complete(client, GOOD_PAGES[-1:])
    review = page(client.get("/intake/review"))
    assert "Revise sus respuestas" in review and "Sí" in review and "31 de julio de 1980" in review
    # A screen reader reads the English wording of an instrument without a Spanish version in English,
    # in the hidden name of its "Change" link too.
    gad7_1 = "Feeling nervous, anxious or on edge"
    assert re.search(r'<dt class="review-list__question" lang="en">%s</dt>' % gad7_1, review)
    assert '<span lang="en">%s</span>' % gad7_1 in review
    done = client.post("/intake/review", data={"csrf_token": hidden_value(review, "csrf_token")})
    assert location(done) == "/intake/done"
    assert "Gracias" in page(client.get("/intake/done"))

    from screening.db import db
    from screening.models import Intake
    from screening.report.pdf import summary_document
    from screening.report.summary import summary_for_submission

    with app.test_request_context():
        submission = db.session.get(Intake, intake_id).submission
        html = summary_document(summary_for_submission(submission))
    assert "Patient answered in: Spanish · questions and answers are shown in English, the clinic's language" \
        in html.replace("&#39;", "'")
    assert "Little interest or pleasure in doing things" in html  # the clinic's language, not the patient's
    assert "Poco interés" not in html
    # The clinician learns which instruments the patient read in English (no published Spanish version).
    from screening.content import default_question_set_path
    from screening.questions import load_question_set

    qs = load_question_set(default_question_set_path)
    published = qs.translations["es"].sources
    english_only = [i.title for i in qs.instruments if i.id not in published]
    assert english_only and len(english_only) < len(qs.instruments)
    line = re.search(r"Shown to the patient in English \(no published Spanish version in this question set\): "
                     r"([^<]*)</p>", html)
    assert line and line.group(1) == ", ".join(english_only)

    app.config["CLINIC_LANGUAGE"] = "es"  # a clinic working in Spanish reads the questions in Spanish
    with app.test_request_context():
        html = summary_document(summary_for_submission(db.session.get(Intake, intake_id).submission))
    assert "Poco interés o placer en hacer cosas" in html
    assert "Patient answered in: Spanish</p>" in html
