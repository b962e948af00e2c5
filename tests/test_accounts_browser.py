"""The account screens in a real headless Chromium, at 375 px and 1280 px: an admin sets up two-factor (the QR
code must load under the CSP), invites a colleague, and signs in again with a code. axe-core must find no
violations and no page may scroll sideways. Screenshots go to test-artifacts/accounts/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from accounts_helpers import code_at, fixed_clock
from test_clinician_browser import ARTIFACTS as STAFF_ARTIFACTS
from test_clinician_browser import CHROMIUM, LAUNCH_ARGS, axe_script, live_server  # noqa: F401
from test_clinician_support import PASSWORD, make_user, staff_app  # noqa: F401

pytestmark = pytest.mark.browser
ARTIFACTS = STAFF_ARTIFACTS.parent / "accounts"
WIDTHS = (375, 1280)


@pytest.mark.skipif(shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_two_factor_and_account_screens_in_a_browser(staff_app, live_server, monkeypatch):
    from playwright.sync_api import sync_playwright

    clock = fixed_clock(monkeypatch)
    make_user(staff_app, "boss@example.org", role="admin")
    make_user(staff_app, "clin@example.org")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_init_script(path=str(axe_script()))
            page = context.new_page()
            problems = []
            page.on("console", lambda m: problems.append(m.text) if "Refused" in m.text else None)  # the CSP
            page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)

            def check(name: str) -> None:
                for width in WIDTHS:
                    page.set_viewport_size({"width": width, "height": 800})
                    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
                    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
                    assert overflow <= 0, f"{name} scrolls sideways at {width} px ({overflow}px)"
                violations = page.evaluate("async () => (await axe.run()).violations")
                assert violations == [], [(v["id"], v["nodes"][0]["html"]) for v in violations]

            page.goto(live_server + "/sign-in")
            page.fill("#email", "boss@example.org")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(live_server + "/staff/")
            page.click("a.who")
            page.click("text=Set up two-factor sign-in")
            page.click("text=Show the QR code")
            qr = page.locator("img.qr")
            assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # drawn by the app, allowed by the CSP
            check("enrolment")
            secret = page.inner_text("#secret").replace(" ", "")
            page.fill("#code", code_at(secret, clock.now))
            page.keyboard.press("Enter")
            page.locator("ol.codes").wait_for()
            assert page.locator("ol.codes li").count() == 10
            page.click("text=I have kept them: continue")

            page.click("nav >> text=Accounts")
            check("account-list")
            page.click("text=Invite a colleague")
            page.fill("#email", "new@example.org")
            page.select_option("#role", "admin")
            page.click("text=Create the invitation")
            page.locator("#link").wait_for()
            assert "/invite/" in page.input_value("#link")
            check("invitation-link")

            page.click("text=Sign out")
            clock.now += 30
            page.fill("#email", "boss@example.org")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(live_server + "/sign-in/code")
            check("second-factor")
            page.fill("#code", code_at(secret, clock.now))
            page.keyboard.press("Enter")
            page.wait_for_url(live_server + "/staff/")
            assert problems == []
        finally:
            browser.close()
