"""End to end in a real headless Chromium (Debian's, driven by Playwright from PyPI): a whole intake on a
375 px wide screen, by keyboard alone (Tab, Shift+Tab, Space, arrows, Enter and typing), then the stored
submission. Every control Tab stops on must show a focus ring; each new page must put focus on its heading
(or on the error summary after a failed page). Every page is saved as a screenshot under
test-artifacts/intake/ and checked with axe-core (bundled by axe-playwright-python), all rules; the
WCAG-level audit at both widths and the user's settings are in test_browser_accessibility.py.

The run happens once per module (it takes a few seconds); the tests then look at what it recorded.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from intake_helpers import invite

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "intake"
WIDTH = 375


def axe_script() -> Path | None:
    spec = importlib.util.find_spec("axe_playwright_python")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "axe.min.js"
    return path if path.is_file() else None


# What the keyboard run answers, as stored (JSON encoding of clinical-spec.md).
EXPECTED_ANSWERS = {
    "consent_given": True, "escort_available": True,
    "date_of_birth": "1980-07-31", "sex_at_birth": "female", "height_cm": 168, "weight_kg": 68.5,
    "dep_diagnosed": True, "dep_episode_months": 18, "ad_trials": 3, "ect_history": False, "tms_history": False,
    "prior_ketamine_treatment": False, "psych_hospitalizations": 0, "bipolar_diagnosis": False,
    "mania_history": False, "psychosis_history": False, "psychosis_family": False,
    **{f"phq9_{n}": 1 for n in range(1, 9)}, "phq9_9": 0, "phq9_difficulty": "somewhat",
    **{f"gad7_{n}": 1 for n in range(1, 8)},
    "asq_1": True, "asq_2": False, "asq_3": False, "asq_4": False, "asq_5": False,
    "pcptsd_exposure": False,
    "auditc_1": 0,
    "use_cannabis": "never", "use_stimulants": "never", "use_opioids": "never", "use_sedatives": "never",
    "use_ketamine": "never", "use_hallucinogens": "never", "ketamine_misuse_ever": False,
    "sud_treatment_current": False,
    "medical_conditions": ["hypertension"], "ketamine_allergy": False, "pregnant": "no", "breastfeeding": False,
    "medications": [], "medications_other": "vitamin D",
    "bp_systolic": 128, "bp_diastolic": 82,
}


@dataclass
class Run:
    pages: list[str] = field(default_factory=list)  # names, in the order seen
    urls: list[str] = field(default_factory=list)
    violations: dict[str, list] = field(default_factory=dict)
    overflow: dict[str, int] = field(default_factory=dict)  # page -> scrollWidth when wider than the screen
    focus_on_summary: bool = False
    focus_landing: dict[str, str] = field(default_factory=dict)  # page -> where focus was when it opened
    focus_stops: list[dict] = field(default_factory=list)  # every control Tab reached, and its focus ring
    back_with_shift_tab: bool = False
    consent_note: bool = False
    focus_styles: dict[str, str] = field(default_factory=dict)
    offsite: list[str] = field(default_factory=list)  # requests to anything but the app
    submission: dict | None = None
    intake_state: str | None = None
    axe: bool = False


# Where Tab has put focus, and whether it is drawn on the control or on the option box around it: "ring"
# an outline of 2 px or more or a box-shadow, "outline" the outline alone (high-contrast mode drops shadows).
FOCUS_STOP = """el => {
  if (!el || el === document.body) return null;
  const outlined = node => {
    const s = getComputedStyle(node);
    return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
  };
  const shadowed = node => getComputedStyle(node).boxShadow !== 'none';
  const box = el.closest('.option');
  const outline = outlined(el) || (!!box && outlined(box));
  return {kind: el.tagName === 'INPUT' ? el.type : el.tagName.toLowerCase(), name: el.name || el.id ||
          el.textContent.trim().slice(0, 40), outline, ring: outline || shadowed(el) || (!!box && shadowed(box))};
}"""


class Keyboard:
    """Drives a page with the keyboard only: Tab to a control, then type, Space, arrows or Enter.
    Every control Tab stops on is recorded with whether its focus ring shows."""

    def __init__(self, page, stops: list[dict] | None = None):
        self.page = page
        self.stops = stops if stops is not None else []

    def active(self, expression: str):
        return self.page.evaluate(f"(() => {{ const el = document.activeElement; return el && ({expression}); }})()")

    def tab_to(self, predicate: str, limit: int = 80) -> None:
        check = (f"(() => {{ const el = document.activeElement; "
                 f"return [!!(el && ({predicate})), ({FOCUS_STOP})(el)]; }})()")
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            reached, stop = self.page.evaluate(check)
            if stop is not None:
                self.stops.append(stop)
            if reached:
                return
        raise AssertionError(f"Tab never reached: {predicate} on {self.page.url}")

    def choose(self, name: str, value: str) -> None:
        self.tab_to(f"el.type === 'radio' && el.name === {json.dumps(name)}")
        for _ in range(12):
            if self.active("el.value") == value:
                self.page.keyboard.press("Space")
                break
            self.page.keyboard.press("ArrowDown")
        checked = self.page.evaluate(f"document.querySelector('input[name={json.dumps(name)}]:checked')?.value")
        assert checked == value, (name, value, checked)

    def tick(self, name: str, value: str) -> None:
        self.tab_to(f"el.type === 'checkbox' && el.name === {json.dumps(name)} && el.value === {json.dumps(value)}")
        self.page.keyboard.press("Space")

    def type_into(self, item_id: str, text: str, replace: bool = False) -> None:
        self.tab_to(f"el.id === {json.dumps('q-' + item_id)}")
        if replace:
            self.page.keyboard.press("Control+A")
            self.page.keyboard.press("Backspace")
        self.page.keyboard.type(text)

    def press_button(self, predicate: str) -> None:
        self.tab_to(predicate)
        with self.page.expect_navigation():
            self.page.keyboard.press("Enter")

    def next(self) -> None:
        self.press_button("el.tagName === 'BUTTON' && el.value === 'next'")

    def wait_shown(self, item_id: str) -> None:
        self.page.wait_for_selector(f"#item-{item_id}:not([hidden])", timeout=5000)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from screening import create_app
    from screening.db import db
    from screening.models import Intake

    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path_factory.mktemp("browser") / "instance"),
                      "SECRET_KEY": "browser-test", "CLINIC_NAME": "Test Clinic", "CLINIC_PHONE": "555-0100",
                      "PUBLIC_START": True,
                      # the clinician PDF is rendered on submit by the report module; not what this test is about
                      "REPORT_RENDER_ON_SUBMIT": False})
    intake_id, token = invite(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    axe_path = axe_script()
    result = Run(axe=axe_path is not None)

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            context = browser.new_context(viewport={"width": WIDTH, "height": 800}, locale="en-US",
                                          timezone_id="America/New_York")
            def only_the_app(route):  # nothing from the network but the app
                if route.request.url.startswith(base + "/"):
                    route.continue_()
                else:
                    result.offsite.append(route.request.url)
                    route.abort()

            context.route("**/*", only_the_app)
            if axe_path is not None:
                context.add_init_script(path=str(axe_path))  # axe-core in every page, before its own scripts
            page = context.new_page()
            keys = Keyboard(page, result.focus_stops)

            def record(name: str) -> None:
                page.wait_for_load_state("load")
                number = len(result.pages) + 1
                result.pages.append(name)
                result.urls.append(page.url[len(base):])
                result.focus_landing[name] = page.evaluate(
                    "(() => { const el = document.activeElement; return el.tagName === 'H1' ? 'heading' : "
                    "el.hasAttribute('data-error-summary') ? 'error summary' : el.tagName; })()")
                page.screenshot(path=str(ARTIFACTS / f"{number:02d}-{name}.png"), full_page=True)
                width = page.evaluate("document.documentElement.scrollWidth")
                if width > WIDTH:
                    result.overflow[name] = width
                if axe_path is not None:
                    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']}))"
                                          ".violations.map(v => ({id: v.id, impact: v.impact, help: v.help, "
                                          "nodes: v.nodes.map(n => n.target.join(' '))}))")
                    result.violations[name] = found

            page.goto(f"{base}/i/{token}")
            assert page.url == f"{base}/intake/section/consent"
            record("consent")
            keys.choose("consent_given", "no")
            keys.next()
            record("consent-not-given")
            result.consent_note = page.locator(".notice--calm").count() == 1 and "/consent" in page.url
            keys.choose("consent_given", "yes")
            keys.choose("escort_available", "yes")
            keys.next()

            record("about-you")
            keys.type_into("date_of_birth", "07311980")
            keys.choose("sex_at_birth", "female")
            keys.type_into("height_cm", "168")
            keys.type_into("weight_kg", "400")
            keys.next()
            record("about-you-error")
            result.focus_on_summary = page.evaluate("document.activeElement.hasAttribute('data-error-summary')")
            keys.tab_to("el.tagName === 'A' && el.getAttribute('href') === '#q-weight_kg'")
            page.keyboard.press("Enter")
            if not keys.active("el.id === 'q-weight_kg'"):
                keys.tab_to("el.id === 'q-weight_kg'")
            page.keyboard.press("Control+A")
            page.keyboard.type("68.5")
            keys.tab_to("el.tagName === 'BUTTON' && el.value === 'next'")
            result.focus_styles["button"] = page.evaluate(
                "getComputedStyle(document.activeElement).backgroundColor")
            page.screenshot(path=str(ARTIFACTS / "focus-button.png"))  # what keyboard focus looks like
            with page.expect_navigation():
                page.keyboard.press("Enter")

            record("depression-history")
            keys.choose("dep_diagnosed", "yes")
            result.focus_styles["radio"] = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            page.screenshot(path=str(ARTIFACTS / "focus-radio.png"))
            keys.wait_shown("dep_episode_months")
            keys.type_into("dep_episode_months", "18")
            keys.type_into("ad_trials", "3")
            for item_id in ("ect_history", "tms_history", "prior_ketamine_treatment"):
                keys.choose(item_id, "no")
            keys.type_into("psych_hospitalizations", "0")
            for item_id in ("bipolar_diagnosis", "mania_history", "psychosis_history", "psychosis_family"):
                keys.choose(item_id, "no")
            keys.next()

            record("phq9")
            for n in range(1, 9):
                keys.choose(f"phq9_{n}", "1")
            keys.choose("phq9_9", "0")
            keys.wait_shown("phq9_difficulty")
            keys.choose("phq9_difficulty", "somewhat")
            keys.next()

            record("gad7")
            for n in range(1, 8):
                keys.choose(f"gad7_{n}", "1")
            keys.next()

            record("suicide-risk")
            keys.choose("asq_1", "yes")
            for n in (2, 3, 4):
                keys.choose(f"asq_{n}", "no")
            keys.wait_shown("asq_5")
            keys.choose("asq_5", "no")
            keys.next()

            record("support")
            keys.press_button("el.tagName === 'A' && el.textContent.includes('Continue with the questions')")

            record("trauma")
            keys.choose("pcptsd_exposure", "no")
            keys.next()

            record("alcohol")
            keys.choose("auditc_1", "0")
            keys.next()

            record("drug-use")
            for item_id in ("use_cannabis", "use_stimulants", "use_opioids", "use_sedatives", "use_ketamine",
                            "use_hallucinogens"):
                keys.choose(item_id, "never")
            keys.choose("ketamine_misuse_ever", "no")
            keys.choose("sud_treatment_current", "no")
            keys.next()

            record("medical")
            keys.tick("medical_conditions", "hypertension")
            keys.choose("ketamine_allergy", "no")
            keys.choose("pregnant", "no")
            keys.choose("breastfeeding", "no")
            keys.next()

            record("medications")
            keys.tick("medications", "__none__")
            keys.type_into("medications_other", "vitamin D")
            keys.next()

            record("vitals")
            keys.type_into("bp_systolic", "126")
            keys.type_into("bp_diastolic", "82")
            page.keyboard.press("Shift+Tab")  # back to the top number, to correct it
            result.back_with_shift_tab = keys.active("el.id === 'q-bp_systolic'")
            page.keyboard.press("Control+A")
            page.keyboard.type("128")
            keys.next()

            record("review")
            keys.press_button("el.tagName === 'BUTTON' && el.textContent.includes('Send my answers')")
            record("done")

            page.goto(f"{base}/i/{token}")
            record("link-already-used")
            page.goto(f"{base}/i/not-a-real-link")
            record("link-not-found")
            context.clear_cookies()
            page.goto(f"{base}/intake")
            record("no-session")
            page.goto(f"{base}/start")
            record("public-start")
            browser.close()
    finally:
        server.shutdown()
        thread.join(timeout=5)

    with app.app_context():
        intake = db.session.get(Intake, intake_id)
        result.intake_state = intake.state
        if intake.submission is not None:
            result.submission = {"answers": intake.submission.answers, "result": intake.submission.result,
                                 "severity_rank": intake.submission.severity_rank}
        db.session.remove()
        db.engine.dispose()
    return result


def test_a_whole_intake_by_keyboard_on_a_phone_screen(run):
    assert run.pages[-5:] == ["done", "link-already-used", "link-not-found", "no-session", "public-start"]
    assert run.urls[:4] == ["/intake/section/consent", "/intake/section/consent", "/intake/section/about_you",
                            "/intake/section/about_you"]
    assert run.consent_note, "the kind note when consent is not given"
    assert run.offsite == []
    assert "/intake/support" in run.urls and run.urls[run.pages.index("review")] == "/intake/review"
    assert run.overflow == {}, "pages wider than the screen"
    assert run.focus_on_summary, "focus was not moved to the error summary"
    assert run.back_with_shift_tab
    expected_landing = {name: "error summary" if name == "about-you-error" else "heading" for name in run.pages}
    assert run.focus_landing == expected_landing, "focus on a new page: the heading, or the error summary"
    kinds = {stop["kind"] for stop in run.focus_stops}
    assert {"radio", "checkbox", "text", "textarea", "button", "a"} <= kinds, kinds
    assert [stop for stop in run.focus_stops if not stop["ring"]] == [], "focus stops without a visible ring"
    assert run.focus_styles["radio"] != "none"
    assert run.focus_styles["button"] == "rgb(255, 221, 0)"  # the yellow focus state
    for name in run.pages:
        assert (ARTIFACTS / f"{run.pages.index(name) + 1:02d}-{name}.png").stat().st_size > 1000


def test_the_stored_submission_holds_the_answers_and_the_result(run):
    assert run.intake_state == "submitted"
    assert run.submission is not None
    assert run.submission["answers"] == EXPECTED_ANSWERS
    result = run.submission["result"]
    assert result["question_set"]["version"] == 1 and result["rule_set"]["version"] == 1
    # Worked out by hand: PHQ-9 = 8 (mild); ASQ: asq_1 yes, asq_5 no -> non-acute positive, one review flag.
    assert result["scores"]["phq9"]["value"] == 8 and result["scores"]["phq9"]["band"] == "mild"
    assert result["scores"]["asq"]["value"] == "non_acute_positive"
    assert [f["rule"] for f in result["flags"]] == ["asq-non-acute-positive"]
    assert run.submission["severity_rank"] == 2


def test_axe_finds_no_violations_on_any_patient_page(run):
    assert run.axe, "axe-playwright-python (the test extra; it bundles axe.min.js) must be installed"
    assert set(run.violations) == set(run.pages)
    problems = {name: found for name, found in run.violations.items() if found}
    assert problems == {}
