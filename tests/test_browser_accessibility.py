"""Every patient page in a real headless Chromium: axe-core at WCAG 2.0/2.1 A and AA on a 375 px phone,
a 1280 px laptop and the phone in dark mode; the phone at 200 % zoom (nothing cut off, no sideways
scrolling); Windows high-contrast mode (focus and selection still shown, errors not by colour alone);
reduced motion; and the review page on paper.

One browser and one live server for the module; each setting walks the same tour of pages once (see
``tour``). Screenshots go to test-artifacts/accessibility/ (to look at; not kept in the repository).
The keyboard-only intake is in test_browser_intake.py.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from intake_helpers import GOOD_ANSWERS
from test_browser_intake import CHROMIUM, FOCUS_STOP, LAUNCH_ARGS, axe_script

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "accessibility"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

# Every follow-up question of the default set is shown by these answers (so every kind of question is
# audited), and the suicide-risk page leads to the crisis-support page.
ALL_SHOWN = {
    **GOOD_ANSWERS,
    "pcptsd_exposure": True, **{f"pcptsd_{n}": False for n in range(1, 6)},
    "asq_1": True, "asq_5": True,
    "medications": ["ssri", "benzodiazepine"], "benzodiazepine_daily": False,
}

AXE = """async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags},
    resultTypes: ['violations']})).violations.map(v => ({id: v.id, help: v.help,
    targets: v.nodes.map(n => n.target.join(' '))}))"""

# Elements that cut off what they hold, or stick out of the screen (the visually-hidden helpers and
# form controls, which scroll their own text, aside).
CUT_OFF = """() => {
  const screen = document.documentElement.clientWidth;
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const found = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('.visually-hidden, [hidden]') || el.matches('input, textarea, select, progress, option')) continue;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.right > screen + 1) found.push(name(el) + ' sticks out by ' + Math.round(box.right - screen) + 'px');
    const clipsX = style.overflowX !== 'visible', clipsY = style.overflowY !== 'visible';
    if ((clipsX && el.scrollWidth > el.clientWidth + 1) || (clipsY && el.scrollHeight > el.clientHeight + 1)) {
      found.push(name(el) + ' cuts off its content');
    }
  }
  return found;
}"""

MOVING = """() => {
  const moving = [];
  const seconds = list => list.split(',').some(v => parseFloat(v) > 0);
  for (const el of [document.documentElement, ...document.querySelectorAll('body, body *')]) {
    for (const pseudo of [null, '::before', '::after']) {
      const s = getComputedStyle(el, pseudo);
      if (seconds(s.transitionDuration) || s.animationName !== 'none') moving.push(el.tagName + (pseudo || ''));
    }
  }
  if (getComputedStyle(document.documentElement).scrollBehavior !== 'auto') moving.push('smooth scrolling');
  return moving;
}"""


@dataclass
class Audit:
    """What one walk through the pages found, by page name."""
    pages: list[str] = field(default_factory=list)
    violations: dict[str, list] = field(default_factory=dict)
    sideways: dict[str, tuple[int, int]] = field(default_factory=dict)  # page -> (scrollWidth, clientWidth)
    cut_off: dict[str, list] = field(default_factory=dict)


@dataclass
class Site:
    app: object
    base: str
    browser: object
    axe: Path
    sections: list[str]  # the default set's section ids, in order

    def prefilled_link(self, revoked: bool = False, expired: bool = False) -> str:
        """A new invitation whose every page is already answered (or a revoked one, or an expired one)."""
        from screening.db import db
        from screening.invitations import create_invitation, revoke
        from screening.models import utcnow

        with self.app.app_context():
            intake, token = create_invitation()
            if revoked:
                revoke(intake)
            elif expired:
                intake.link_expires_at = utcnow()
            else:
                intake.answers = dict(ALL_SHOWN)
                intake.completed_sections = list(self.sections)
            db.session.commit()
            return f"{self.base}/i/{token}"

    def context(self, axe: bool = True, **options):
        options.setdefault("viewport", {"width": 375, "height": 800})
        context = self.browser.new_context(locale="en-US", **options)
        if axe:  # before the page's own scripts; the CSP allows no inline tag
            context.add_init_script(path=str(self.axe))
        return context


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from screening import create_app
    from screening.content import compile_question_set, current_question_set_version
    from screening.db import db

    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path_factory.mktemp("a11y") / "instance"),
                      "SECRET_KEY": "a11y-test", "CLINIC_NAME": "Test Clinic", "CLINIC_PHONE": "555-0100",
                      "PUBLIC_START": True, "REPORT_RENDER_ON_SUBMIT": False})
    with app.app_context():
        qs = compile_question_set(current_question_set_version(app.config["DEFAULT_QUESTION_SET"]))
        sections = [section.id for section in qs.sections]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    axe = axe_script()
    assert axe is not None, "axe-playwright-python (the test extra) bundles axe.min.js"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            yield Site(app, f"http://127.0.0.1:{server.server_port}", browser, axe, sections)
            browser.close()
    finally:
        server.shutdown()
        thread.join(timeout=5)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def submit(page, selector: str = "button[value=next]") -> None:
    with page.expect_navigation():
        page.click(selector)


def tour(site: Site, page, visit) -> None:
    """Every patient page once, calling ``visit(name)`` on each: the public start page, a first page with the
    personal link, every section (all follow-up questions shown), a page with errors, the consent page when
    consent is refused, both crisis-support pages, the session-ended page, review, thank-you, and the link
    pages (already used, revoked, not found, no session) and the site's own error page."""
    base = site.base

    def arrived(name: str, heading: str | None = None, showing: str | None = None) -> None:
        """Check it is the page meant (by its heading, or something only it shows), then visit it."""
        if heading is not None:
            assert page.locator("main h1").inner_text() == heading, (name, page.url)
        if showing is not None:
            assert page.locator(showing).count() == 1, (name, showing, page.url)
        visit(name)

    page.goto(f"{base}/start")
    arrived("start", heading="Before your visit")
    submit(page, "button[type=submit]")
    arrived("first-page-with-personal-link", showing=".link-text")

    link = site.prefilled_link()
    page.goto(link)
    site.app.config["INTAKE_IDLE_MINUTES"] = -1  # as if the patient had left the page open for hours
    try:
        page.goto(f"{base}/intake/section/consent")
    finally:
        site.app.config["INTAKE_IDLE_MINUTES"] = 60
    arrived("session-ended", heading="Your session has ended")
    page.goto(link)

    for section_id in site.sections:
        page.goto(f"{base}/intake/section/{section_id}")
        arrived(section_id, showing=f"form[action='/intake/section/{section_id}']")
        assert page.locator("[data-item][hidden]").count() == 0, section_id  # every follow-up is on show

    page.goto(f"{base}/intake/section/about_you")
    page.fill("#q-height_cm", "tall")
    page.fill("#q-weight_kg", "400")
    submit(page)
    arrived("about_you-errors", showing=".error-summary")

    page.goto(f"{base}/intake/section/consent")
    page.check("#q-consent_given-O1")  # No
    submit(page)
    arrived("consent-not-given", showing=".notice--calm")
    page.check("#q-consent_given")
    submit(page)

    page.goto(f"{base}/intake/section/suicide_risk")
    submit(page)
    arrived("support-urgent", heading="Please get support now")  # asq_5: thoughts of killing yourself now
    page.goto(f"{base}/intake/section/suicide_risk")
    page.check("#q-asq_5-O1")
    submit(page)
    arrived("support", heading="Support is here for you")

    page.goto(f"{base}/intake/review")
    arrived("review", heading="Check your answers")
    submit(page, "form.send-form button[type=submit]")
    arrived("done", heading="Thank you")

    page.goto(link)
    arrived("link-already-used", heading="Your answers have already been sent")
    page.goto(site.prefilled_link(revoked=True))
    arrived("link-revoked", heading="This link is no longer active")
    page.goto(site.prefilled_link(expired=True))
    arrived("link-expired", heading="This link has expired")
    page.goto(f"{base}/i/not-a-real-link")
    arrived("link-not-found", heading="This link does not work")
    page.context.clear_cookies()
    page.goto(f"{base}/intake")
    arrived("no-session", heading="Please open the link from your clinic")
    page.goto(f"{base}/no-such-page")
    arrived("page-not-found", heading="Page not found")


def audit(site: Site, label: str, axe: bool = True, full_page: bool = True, **options) -> Audit:
    found = Audit()
    context = site.context(axe=axe, **options)
    page = context.new_page()

    def visit(name: str) -> None:
        page.wait_for_load_state("load")
        found.pages.append(name)
        page.screenshot(path=str(ARTIFACTS / f"{label}-{len(found.pages):02d}-{name}.png"), full_page=full_page)
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        if widths[0] > widths[1]:
            found.sideways[name] = tuple(widths)
        cut = page.evaluate(CUT_OFF)
        if cut:
            found.cut_off[name] = cut
        if axe:
            violations = page.evaluate(AXE, WCAG_TAGS)
            if violations:
                found.violations[name] = violations

    try:
        tour(site, page, visit)
    finally:
        context.close()
    return found


def report(problems: dict[str, list]) -> str:
    lines = []
    for page_name, violations in problems.items():
        for v in violations:
            lines.append(f"{page_name}: {v['id']} ({v['help']}) at {', '.join(v['targets'][:5])}")
    return "\n".join(lines)


EXPECTED_PAGES = {"start", "first-page-with-personal-link", "session-ended", "consent", "about_you",
                  "depression_history", "phq9", "gad7", "suicide_risk", "trauma", "alcohol", "drug_use", "medical",
                  "medications", "vitals", "about_you-errors", "consent-not-given", "support-urgent", "support",
                  "review", "done", "link-already-used", "link-revoked", "link-expired", "link-not-found", "no-session",
                  "page-not-found"}


@pytest.mark.parametrize("label, options", [
    ("phone", {"viewport": {"width": 375, "height": 800}}),
    ("laptop", {"viewport": {"width": 1280, "height": 900}}),
    ("phone-dark", {"viewport": {"width": 375, "height": 800}, "color_scheme": "dark"}),
])
def test_axe_finds_no_wcag_a_or_aa_violation_on_any_patient_page(site, label, options):
    found = audit(site, label, **options)
    assert set(found.pages) == EXPECTED_PAGES
    assert found.violations == {}, "axe-core, WCAG 2.0/2.1 A and AA:\n" + report(found.violations)
    assert found.sideways == {}, "pages that scroll sideways"
    assert found.cut_off == {}


def test_at_200_percent_zoom_on_a_phone_nothing_is_cut_off_or_scrolls_sideways(site):
    # A 375 px phone at 200 % zoom lays pages out in 188 CSS pixels, drawn at twice the density.
    found = audit(site, "phone-zoom200", axe=False, full_page=False,  # the whole of each page is checked below
                  viewport={"width": 188, "height": 400}, device_scale_factor=2)
    assert set(found.pages) == EXPECTED_PAGES
    assert found.sideways == {}, "pages that scroll sideways (scrollWidth, clientWidth)"
    assert found.cut_off == {}, "content cut off or outside the screen"


def test_the_dark_palette_is_dark_and_keeps_the_focus_ring_visible(site):
    context = site.context(axe=False, color_scheme="dark")
    page = context.new_page()
    try:
        page.goto(site.prefilled_link())
        page.goto(f"{site.base}/intake/section/consent")
        colours = page.evaluate("""() => {
          const body = getComputedStyle(document.body);
          return {background: body.backgroundColor, text: body.color, scheme: body.colorScheme};
        }""")
        assert colours == {"background": "rgb(18, 20, 23)", "text": "rgb(230, 232, 235)", "scheme": "dark"}
        page.keyboard.press("Tab")
        ring = page.evaluate("getComputedStyle(document.activeElement.closest('.option')).outlineColor")
        assert ring == "rgb(255, 221, 0)"  # yellow: a black ring would vanish on the dark page
    finally:
        context.close()


PALETTE_PAIRS = [("--text", "--bg"), ("--muted", "--bg"), ("--brand", "--bg"), ("--error", "--bg"), ("--calm", "--bg"),
                 ("--text", "--surface"), ("--line", "--surface"), ("--on-brand", "--brand"), ("--on-calm", "--calm"),
                 ("--error", "--error-tint"), ("--text", "--brand-tint"), ("--text", "--calm-tint")]


def contrast(first: str, second: str) -> float:
    """WCAG 2.1 contrast ratio of two CSS colours as the browser computed them ("rgb(r, g, b)")."""
    def luminance(colour: str) -> float:
        channels = [int(c) / 255 for c in re.findall(r"\d+", colour)[:3]]
        r, g, b = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def level(ratio: float) -> float:
    """The highest WCAG threshold a ratio meets: 7 (AAA text), 4.5 (AA text), 3 (large text, controls) or 0."""
    return next((t for t in (7, 4.5, 3) if ratio >= t), 0)


def test_the_dark_palette_keeps_every_pair_of_colours_at_the_contrast_level_of_the_light_one(site):
    ratios = {}
    for scheme in ("light", "dark"):
        context = site.context(axe=False, color_scheme=scheme)
        page = context.new_page()
        try:
            page.goto(f"{site.base}/intake")  # any patient page: the palette is the body's
            names = sorted({name for pair in PALETTE_PAIRS for name in pair})
            colours = page.evaluate("""(names) => {
              const probe = document.createElement('span');
              document.body.appendChild(probe);
              const out = {};
              for (const name of names) { probe.style.color = `var(${name})`; out[name] = getComputedStyle(probe).color; }
              probe.remove();
              return out;
            }""", names)
        finally:
            context.close()
        ratios[scheme] = {pair: contrast(colours[pair[0]], colours[pair[1]]) for pair in PALETTE_PAIRS}
    assert len({tuple(sorted(r.values())) for r in ratios.values()}) == 2  # two palettes really were read
    weaker = {f"{a} on {b}": (round(ratios['light'][a, b], 1), round(ratios['dark'][a, b], 1))
              for a, b in PALETTE_PAIRS if level(ratios["dark"][a, b]) < level(ratios["light"][a, b])}
    assert weaker == {}, "pairs whose contrast (light, dark) drops a WCAG level in dark mode"
    assert all(level(r) >= 4.5 for pair, r in ratios["dark"].items() if pair[0] != "--line")


def test_high_contrast_mode_keeps_focus_selection_and_errors_visible(site):
    context = site.context(axe=False, forced_colors="active")
    page = context.new_page()
    try:
        page.goto(site.prefilled_link())
        page.goto(f"{site.base}/intake/section/consent")
        assert page.evaluate("matchMedia('(forced-colors: active)').matches")
        page.screenshot(path=str(ARTIFACTS / "forced-colors-consent.png"), full_page=True)
        # A chosen option is marked by more than its colour: a thicker border than the others.
        borders = page.evaluate("""() => [...document.querySelectorAll('#item-consent_given .option')].map(o =>
            [o.querySelector('input').checked, parseFloat(getComputedStyle(o).borderTopWidth)])""")
        chosen = [width for checked, width in borders if checked]
        others = [width for checked, width in borders if not checked]
        assert chosen and others and min(chosen) >= max(others) + 1, borders

        # Every focus stop draws an outline (shadows are not drawn in this mode).
        stops = []
        for _ in range(12):
            page.keyboard.press("Tab")
            stop = page.evaluate(f"({FOCUS_STOP})(document.activeElement)")
            if stop:
                stops.append(stop)
        assert {"radio", "button", "a"} <= {stop["kind"] for stop in stops}, stops
        assert [stop for stop in stops if not stop["outline"]] == []

        page.goto(f"{site.base}/intake/section/about_you")
        page.fill("#q-weight_kg", "400")
        submit(page)
        page.screenshot(path=str(ARTIFACTS / "forced-colors-about_you-errors.png"), full_page=True)
        # The error says so in words and with a bordered "!" mark, not only in red.
        error = page.evaluate("""() => {
            const message = document.querySelector('#q-weight_kg-Error');
            const mark = getComputedStyle(message, '::before');
            return {text: message.innerText, mark: mark.content, border: mark.borderTopStyle,
                    summary: document.querySelector('.error-summary__title').innerText};
        }""")
        assert error["mark"].startswith('"!"') and error["border"] == "solid", error
        assert "Error:" in page.locator("#q-weight_kg-Error").text_content()
        assert error["summary"] == "Please check this answer"

        page.goto(f"{site.base}/intake/section/phq9")
        page.screenshot(path=str(ARTIFACTS / "forced-colors-phq9.png"), full_page=True)
    finally:
        context.close()


def test_reduced_motion_turns_off_every_transition(site):
    moving = {}
    for preference in ("no-preference", "reduce"):
        context = site.context(axe=False, reduced_motion=preference)
        page = context.new_page()
        page.goto(site.prefilled_link())
        page.goto(f"{site.base}/intake/section/consent")
        moving[preference] = page.evaluate(MOVING)
        context.close()
    assert "smooth scrolling" in moving["no-preference"] and len(moving["no-preference"]) > 2
    assert moving["reduce"] == []


def test_the_review_page_prints_the_answers_black_on_white_without_its_controls(site):
    from pypdf import PdfReader

    context = site.context(axe=False, viewport={"width": 1280, "height": 900}, color_scheme="dark")
    page = context.new_page()
    try:
        page.goto(site.prefilled_link())
        page.goto(f"{site.base}/intake/review")
        assert page.locator("[data-print-action] button").is_visible()  # shown by the script
        page.emulate_media(media="print")
        for selector in ("form.send-form", ".review-list__change a", "[data-print-action]", ".skip-link"):
            assert not page.locator(selector).first.is_visible(), selector
        looks = page.evaluate("""() => {
          const body = getComputedStyle(document.body);
          const row = getComputedStyle(document.querySelector('.review-list__row'));
          return {text: body.color, background: body.backgroundColor, rows: row.breakInside};
        }""")
        assert looks == {"text": "rgb(0, 0, 0)", "background": "rgb(255, 255, 255)", "rows": "avoid"}
        questions = page.locator(".review-list__question").all_inner_texts()
        assert len(questions) > 60

        pdf = page.pdf(format="Letter", print_background=True)
        (ARTIFACTS / "review-print.pdf").write_bytes(pdf)
        text = " ".join(" ".join(unicodedata.normalize("NFKC", p.extract_text()).split())  # "ﬀ" -> "ff"
                        for p in PdfReader(io.BytesIO(pdf)).pages)
        for question in questions:
            assert " ".join(question.split())[:40] in text, question
        for answer in ("July 31, 1980", "168 cm", "High blood pressure", "sertraline 100 mg once a day"):
            assert answer in text
        for control in ("Send my answers", "Change your answer", "Print or save a copy", "Skip to content"):
            assert control not in text
        if shutil.which("pdftoppm"):
            subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "2", str(ARTIFACTS / "review-print.pdf"),
                            str(ARTIFACTS / "review-print")], check=True)
    finally:
        context.close()
