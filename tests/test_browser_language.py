"""A whole intake in Spanish in a real headless Chromium on a 375 px screen: the patient chooses Spanish on
the first page, switches language in the middle of a page without losing what was typed, finishes in
Spanish, and the clinician's PDF is in the clinic's language and names the patient's.

Screenshots go to test-artifacts/language/; axe-core checks the pages where languages mix.
"""

from __future__ import annotations

import io
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from intake_helpers import invite
from test_browser_intake import CHROMIUM, LAUNCH_ARGS, Keyboard, axe_script

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "language"
WIDTH = 375


@dataclass
class Run:
    pages: list[str] = field(default_factory=list)
    lang: dict[str, str] = field(default_factory=dict)  # page -> <html lang>
    text: dict[str, str] = field(default_factory=dict)  # page -> the text of <main>
    violations: dict[str, list] = field(default_factory=dict)
    overflow: dict[str, int] = field(default_factory=dict)
    kept_after_switch: dict[str, str] = field(default_factory=dict)
    kept_after_switch_back: dict[str, str] = field(default_factory=dict)
    english_items: list[str] = field(default_factory=list)  # items marked lang="en" on the GAD-7 page
    stored_language: str | None = None
    answers: dict | None = None
    pdf_text: str = ""


TYPED = {"date_of_birth": "1980-07-31", "height_cm": "1,68", "weight_kg": "68.5"}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader
    from werkzeug.serving import make_server

    from screening import create_app
    from screening.db import db
    from screening.models import Intake
    from screening.report.pdf import render_pdf
    from screening.report.summary import summary_for_submission

    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path_factory.mktemp("language") / "instance"),
                      "SECRET_KEY": "language-test", "CLINIC_NAME": "Test Clinic", "CLINIC_PHONE": "555-0100",
                      "REPORT_RENDER_ON_SUBMIT": False})
    intake_id, token = invite(app, patient_name="Paciente de Prueba")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    axe_path = axe_script()
    result = Run()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            context = browser.new_context(viewport={"width": WIDTH, "height": 800}, locale="en-US")
            context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base + "/")
                          else route.abort())
            if axe_path is not None:
                context.add_init_script(path=str(axe_path))
            page = context.new_page()
            keys = Keyboard(page)

            def record(name: str, audit: bool = False) -> None:
                page.wait_for_load_state("load")
                result.pages.append(name)
                result.lang[name] = page.evaluate("document.documentElement.lang")
                result.text[name] = page.inner_text("main")
                page.screenshot(path=str(ARTIFACTS / f"{len(result.pages):02d}-{name}.png"), full_page=True)
                width = page.evaluate("document.documentElement.scrollWidth")
                if width > WIDTH:
                    result.overflow[name] = width
                if audit and axe_path is not None:
                    result.violations[name] = page.evaluate(
                        "async () => (await axe.run(document, {resultTypes: ['violations']}))"
                        ".violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))")

            def choose(name: str, value: str) -> None:
                page.check(f"input[name='{name}'][value='{value}']")

            def next_page() -> None:
                with page.expect_navigation():
                    page.click("button[value='next']")

            def switch_by_keyboard(code: str) -> None:
                keys.press_button(f"el.tagName === 'BUTTON' && el.value === 'language:{code}'")

            page.goto(f"{base}/i/{token}")
            record("consent-en")
            switch_by_keyboard("es")  # the first page: the patient chooses Spanish
            record("consent-es", audit=True)
            choose("consent_given", "yes")
            choose("escort_available", "yes")
            next_page()

            for item_id, value in TYPED.items():
                page.fill(f"#q-{item_id}", value)
            choose("sex_at_birth", "female")
            with page.expect_navigation():
                page.click("button[value='language:en']")  # in the middle of the page
            record("about-you-switched-to-en", audit=True)
            result.kept_after_switch = {i: page.input_value(f"#q-{i}") for i in TYPED}
            result.kept_after_switch["sex_at_birth"] = page.evaluate(
                "document.querySelector('input[name=sex_at_birth]:checked')?.value")
            switch_by_keyboard("es")
            record("about-you-back-in-es")
            result.kept_after_switch_back = {i: page.input_value(f"#q-{i}") for i in TYPED}
            page.fill("#q-height_cm", "168")
            page.set_viewport_size({"width": 1280, "height": 900})
            page.screenshot(path=str(ARTIFACTS / "about-you-es-1280.png"), full_page=True)
            page.set_viewport_size({"width": WIDTH, "height": 800})
            next_page()

            choose("dep_diagnosed", "no")
            for item_id in ("bipolar_diagnosis", "mania_history", "psychosis_history", "psychosis_family"):
                choose(item_id, "no")
            next_page()

            record("phq9-es")
            for n in range(1, 10):
                choose(f"phq9_{n}", "0")
            next_page()

            record("gad7-es", audit=True)
            result.english_items = page.eval_on_selector_all("[data-item][lang='en']",
                                                             "els => els.map(e => e.dataset.item)")
            for n in range(1, 8):
                choose(f"gad7_{n}", "0")
            next_page()

            choose("asq_1", "yes")
            for n in (2, 3, 4):
                choose(f"asq_{n}", "no")
            keys.wait_shown("asq_5")
            choose("asq_5", "no")
            next_page()
            record("support-es", audit=True)
            with page.expect_navigation():
                page.click("a.button[href^='/intake']")

            choose("pcptsd_exposure", "no")
            next_page()
            choose("auditc_1", "0")
            next_page()
            for item_id in ("use_cannabis", "use_stimulants", "use_opioids", "use_sedatives", "use_ketamine",
                            "use_hallucinogens"):
                choose(item_id, "never")
            choose("ketamine_misuse_ever", "no")
            choose("sud_treatment_current", "no")
            next_page()
            page.check("input[name='medical_conditions'][value='__none__']")
            choose("ketamine_allergy", "no")
            choose("pregnant", "no")
            choose("breastfeeding", "no")
            next_page()
            page.check("input[name='medications'][value='__none__']")
            page.fill("#q-medications_other", "vitamina D")
            next_page()
            page.fill("#q-bp_systolic", "128")
            page.fill("#q-bp_diastolic", "82")
            next_page()

            record("review-es", audit=True)
            with page.expect_navigation():
                page.click("button:has-text('Enviar mis respuestas')")
            record("done-es")
            browser.close()
    finally:
        server.shutdown()
        thread.join(timeout=5)

    with app.test_request_context():
        intake = db.session.get(Intake, intake_id)
        result.stored_language = intake.language
        result.answers = intake.submission.answers if intake.submission else None
        if intake.submission is not None:
            pdf = render_pdf(summary_for_submission(intake.submission))
            (ARTIFACTS / "summary.pdf").write_bytes(pdf)
            text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
            result.pdf_text = " ".join(text.split())  # lines wrap anywhere
        db.session.remove()
        db.engine.dispose()
    return result


def test_the_patient_chooses_spanish_on_the_first_page(run):
    assert run.lang["consent-en"] == "en" and "Before you start" in run.text["consent-en"]
    assert run.lang["consent-es"] == "es" and "Antes de empezar" in run.text["consent-es"]
    assert "¿Acepta contestar estas preguntas" in run.text["consent-es"]


def test_switching_in_the_middle_of_a_page_keeps_what_was_typed(run):
    assert run.lang["about-you-switched-to-en"] == "en"
    assert "How tall are you, in centimeters?" in run.text["about-you-switched-to-en"]
    assert run.kept_after_switch == {**TYPED, "sex_at_birth": "female"}
    assert run.lang["about-you-back-in-es"] == "es"
    assert run.kept_after_switch_back == TYPED  # "1,68" is not an answer yet, and is still in its box
    assert "Por favor" not in run.text["about-you-back-in-es"]  # switching raises no errors


def test_the_intake_is_finished_in_spanish(run):
    assert all(run.lang[name] == "es" for name in run.pages if name.endswith("-es"))
    assert "Poco interés o placer en hacer cosas" in run.text["phq9-es"]
    assert "la Línea 988 de Prevención del Suicidio y Crisis" in run.text["support-es"]
    assert "Revise sus respuestas" in run.text["review-es"] and "vitamina D" in run.text["review-es"]
    assert "Gracias" in run.text["done-es"]
    assert run.stored_language == "es"
    assert run.answers["height_cm"] == 168 and run.answers["date_of_birth"] == "1980-07-31"
    assert run.answers["medications_other"] == "vitamina D"


def test_an_instrument_without_a_published_spanish_version_is_shown_in_english_and_marked_so(run):
    assert run.english_items == [f"gad7_{n}" for n in range(1, 8)]
    assert "Feeling nervous, anxious or on edge" in run.text["gad7-es"]
    assert "se muestran en inglés" in run.text["gad7-es"]


def test_the_pdf_is_in_the_clinics_language_and_names_the_patients(run):
    assert "Patient answered in: Spanish" in run.pdf_text
    assert "Little interest or pleasure in doing things" in run.pdf_text
    assert "Poco interés" not in run.pdf_text


def test_pages_fit_the_phone_and_axe_finds_no_violations(run):
    assert run.overflow == {}
    assert set(run.violations) == {"consent-es", "about-you-switched-to-en", "gad7-es", "support-es", "review-es"}
    assert {name: found for name, found in run.violations.items() if found} == {}
