"""The admin story in a real headless Chromium on a laptop and a tablet: change a question's wording and a
rule's threshold with the forms, preview, publish. Screenshots go to test-artifacts/admin/; axe-core must
find no violations (laptop) and no page may scroll sideways. Uses Debian's /usr/bin/chromium."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from test_admin_support import QS_PAGE, RS_PAGE
from test_clinician_browser import ARTIFACTS as STAFF_ARTIFACTS
from test_clinician_browser import CHROMIUM, LAUNCH_ARGS, VIEWPORTS, axe_script, live_server  # noqa: F401
from test_clinician_support import PASSWORD, case_answers, make_submission, make_user, staff_app  # noqa: F401

pytestmark = pytest.mark.browser
ARTIFACTS = STAFF_ARTIFACTS.parent / "admin"


@pytest.mark.skipif(shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_admin_changes_wording_and_threshold_previews_and_publishes(staff_app, live_server):
    from playwright.sync_api import sync_playwright

    make_user(staff_app, "boss@example.org", role="admin")
    make_submission(staff_app, case_answers("06-urgent-bp-crisis.json"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORTS["laptop"])
            context.add_init_script(path=str(axe_script()))
            page = context.new_page()
            page.goto(live_server + "/admin/")
            page.fill("#email", "boss@example.org")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(live_server + "/admin/")

            # The wording of a question.
            page.click("text=ketamine-intake")
            page.click("text=Little interest or pleasure in doing things")
            page.fill("#text", "Little interest or pleasure in things you enjoy")
            page.click("text=Save to the draft")
            assert "Saved to the draft" in page.inner_text(".flashes")
            # The preview shows it on the patient's page, with the patient's script (live show/hide).
            page.goto(live_server + f"{QS_PAGE}/preview?section=phq9")
            assert page.locator("#item-phq9_1 legend").inner_text().startswith("Little interest or pleasure in things you enjoy")
            page.goto(live_server + f"{QS_PAGE}/preview?section=depression_history")
            assert page.locator("#item-dep_episode_months").is_hidden()
            page.check("#q-dep_diagnosed")
            page.locator("#item-dep_episode_months").wait_for(state="visible")
            page.goto(live_server + QS_PAGE)
            page.click("text=Publish the draft")
            page.wait_for_url(live_server + f"{QS_PAGE}/versions")
            assert "Published question set 'ketamine-intake' version 2" in page.inner_text(".flashes")

            # The threshold of a rule: refused until an example row agrees (added with the script's button).
            page.goto(live_server + f"{RS_PAGE}/rules/bp-crisis-range")
            page.fill("input[name='th-any.0.gte']", "185")
            page.click("text=Save to the draft")
            assert "expected to fire but it did not fire" in page.inner_text("#examples")
            page.fill("textarea[name='examples-0-answers']", "bp_systolic: 185, bp_diastolic: 95")
            page.fill("textarea[name='examples-1-answers']", "bp_systolic: 184, bp_diastolic: 95")
            page.click("text=Add an example row")
            page.fill("textarea[name='examples-10-answers']", "bp_systolic: 250")
            page.select_option("select[name='examples-10-fires']", "yes")
            page.click("text=Save to the draft")
            assert "every rule example passes" in page.inner_text(".flashes")
            page.goto(live_server + f"{RS_PAGE}/try")
            page.check("input[name=submission]")
            page.click("text=Try the rules")
            assert "lamotrigine" in page.inner_text("table.try")
            page.goto(live_server + RS_PAGE)
            page.click("text=Publish the draft")
            page.wait_for_url(live_server + f"{RS_PAGE}/versions")

            for label, viewport in VIEWPORTS.items():
                page.set_viewport_size(viewport)
                for name, path in [("home", "/admin/"), ("question-set", QS_PAGE), ("question", f"{QS_PAGE}/items/phq9_1"),
                                   ("rule", f"{RS_PAGE}/rules/bp-crisis-range"), ("yaml", f"{RS_PAGE}/yaml"),
                                   ("history", f"{QS_PAGE}/versions"), ("diff", f"{QS_PAGE}/diff?a=1&b=2"),
                                   ("try", f"{RS_PAGE}/try"), ("preview", f"{QS_PAGE}/preview"),
                                   ("integrations", "/admin/api-tokens")]:
                    page.goto(live_server + path)
                    page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
                    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
                    assert overflow <= 0, f"{name} scrolls sideways on a {label} ({overflow}px)"
                    if label == "laptop":
                        violations = page.evaluate("async () => (await axe.run()).violations")
                        assert violations == [], (name, [(v["id"], v["nodes"][0]["html"]) for v in violations])
            context.close()
        finally:
            browser.close()
