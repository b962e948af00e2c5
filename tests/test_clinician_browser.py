"""Staff pages in a real headless Chromium on a laptop and a tablet: sign in, work list, summary, sign out.

Screenshots go to test-artifacts/clinician/ (to look at); axe-core must find no violations (checked once,
on the laptop) and no page may scroll sideways. Never runs `playwright install`: it uses Debian's /usr/bin/chromium.
"""

from __future__ import annotations

import datetime
import importlib.util
import shutil
import threading
from pathlib import Path

import pytest

from test_clinician_support import PASSWORD, case_answers, make_submission, make_user, staff_app  # noqa: F401

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "clinician"
VIEWPORTS = {"laptop": {"width": 1366, "height": 900}, "tablet": {"width": 820, "height": 1180}}


def axe_script() -> Path:
    spec = importlib.util.find_spec("axe_playwright_python")
    assert spec is not None and spec.submodule_search_locations, "axe-playwright-python is a test dependency"
    return Path(list(spec.submodule_search_locations)[0]) / "axe.min.js"


def draft_with_urgent_answer(app, name: str, ref: str) -> None:
    """An intake in progress whose saved (unsent) answers raise an urgent flag."""
    from screening.db import db
    from screening.draft_flags import note_draft_flags
    from screening.invitations import create_invitation

    with app.app_context():
        intake, _ = create_invitation(name, None, ref)
        intake.state = "in_progress"
        intake.answers = {"asq_1": True, "asq_2": False, "asq_3": False, "asq_4": False, "asq_5": True}
        note_draft_flags(intake)
        db.session.commit()


@pytest.fixture
def live_server(staff_app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, staff_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.skipif(shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_staff_pages_on_laptop_and_tablet(staff_app, live_server):
    from playwright.sync_api import sync_playwright

    make_user(staff_app)
    now = datetime.datetime.utcnow()
    ids = {name: make_submission(staff_app, case_answers(case), name=name, ref=ref,
                                 submitted_at=now - datetime.timedelta(hours=hours))
           for name, case, ref, hours in [("Vera Vascular", "02-exclude-vascular.json", "MRN-1001", 3),
                                          ("Uri Urgent", "05-urgent-asq-acute.json", "MRN-1002", 1),
                                          ("Rhea Review", "07-several-review-flags.json", "MRN-1003", 2),
                                          ("Cal Clear", "01-suitable-candidate.json", "MRN-1004", 5)]}
    draft_with_urgent_answer(staff_app, "Ida Inprogress", "MRN-1005")  # the work list's alert, axe-checked too
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    axe = axe_script()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            for label, viewport in VIEWPORTS.items():
                context = browser.new_context(viewport=viewport)
                context.add_init_script(path=str(axe))  # before the page's own scripts; the CSP allows no inline tag
                page = context.new_page()
                page.goto(live_server + "/staff/")
                assert page.url.startswith(live_server + "/sign-in")
                page.fill("#email", "clin@example.org")
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(live_server + "/staff/")
                names = page.locator("td.patient a").all_inner_texts()
                assert names == ["Vera Vascular", "Uri Urgent", "Rhea Review", "Cal Clear"]
                assert "Ida Inprogress" in page.get_by_role("alert").inner_text()
                for name, path in [("worklist", "/staff/"), ("summary", f"/staff/submissions/{ids['Rhea Review']}"),
                                   ("invitations", "/staff/invitations")]:
                    page.goto(live_server + path)
                    page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
                    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
                    assert overflow <= 0, f"{name} scrolls sideways on a {label} ({overflow}px)"
                    if label != "laptop":
                        continue  # the same markup: axe once is enough
                    violations = page.evaluate("async () => (await axe.run()).violations")
                    assert violations == [], [(v["id"], v["nodes"][0]["html"]) for v in violations]
                page.goto(live_server + f"/staff/submissions/{ids['Rhea Review']}")
                assert page.locator("h1.patient-identity").inner_text().startswith("Rhea Review")
                page.click("text=Sign out")
                page.wait_for_url(live_server + "/sign-in")
                page.goto(live_server + f"/staff/submissions/{ids['Rhea Review']}")
                assert page.url.startswith(live_server + "/sign-in")
                context.close()
        finally:
            browser.close()
