"""The patient flow through the Flask test client, as a browser without JavaScript: every page, branching,
progress, review, submit, read-only afterwards, resume, and the crisis-support page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from intake_helpers import (GOOD_ANSWERS, GOOD_PAGES, complete_intake, complete_section, error_summary,
                            form_controls, hidden_items, hidden_value, invite, load_intake, location, open_link,
                            page, post_section, publish, set_answers, visible_items)
from screening.db import db
from screening.models import Submission

SECTION_IDS = [section_id for section_id, _ in GOOD_PAGES]


@pytest.fixture(autouse=True)
def no_pdf_on_submit(app):
    """The clinician PDF is not what these tests are about; it costs half a second per submission."""
    app.config["REPORT_RENDER_ON_SUBMIT"] = False


@pytest.fixture
def started(app, client):
    """A new intake opened in ``client``: (intake id, token)."""
    intake_id, token = invite(app)
    assert location(open_link(client, token)) == "/intake"
    return intake_id, token


def submissions(app) -> list[Submission]:
    with app.app_context():
        rows = db.session.scalars(select(Submission)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def test_every_page_in_order_with_progress_then_review_submit_and_thank_you(app, client, started):
    intake_id, _ = started
    assert location(client.get("/intake")) == "/intake/section/consent"
    for number, (section_id, answers) in enumerate(GOOD_PAGES, 1):
        shown = client.get(f"/intake/section/{section_id}")
        text = page(shown)
        assert shown.status_code == 200
        assert f"Section {number} of 12" in text
        assert f'<progress class="progress__bar" max="12" value="{number}"' in text
        assert ('value="back"' in text) == (number > 1)  # no Back on the first page
        response = complete_section(client, section_id, answers)
        following = SECTION_IDS[number] if number < len(SECTION_IDS) else None
        assert location(response) == (f"/intake/section/{following}" if following else "/intake/review")

    assert load_intake(app, intake_id).answers == GOOD_ANSWERS

    review = page(client.get("/intake/review"))
    for expected in ("July 31, 1980", "168 cm", "68.5 kg", "Female", "18 months", "More than half the days",
                     "Very difficult", "High blood pressure", "sertraline 100 mg once a day", "128 mmHg",
                     "January 15, 2025"):
        assert expected in review
    assert review.count(">Change<") == len([k for k in GOOD_ANSWERS])  # one per visible item, all answered
    assert 'href="/intake/section/vitals?from=review#item-bp_diastolic"' in review

    response = client.post("/intake/review", data={"csrf_token": hidden_value(review, "csrf_token")})
    assert location(response) == "/intake/done"
    done = page(client.get("/intake/done"))
    assert "Thank you" in done and "Your answers have been sent to Test Clinic" in done

    [submission] = submissions(app)
    assert submission.intake_id == intake_id
    assert submission.answers == GOOD_ANSWERS
    result = submission.result
    assert result["question_set"]["id"] == "ketamine-intake" and result["question_set"]["version"] == 1
    assert result["rule_set"]["id"] == "ketamine-safety" and result["rule_set"]["version"] == 1
    # Worked out by hand: PHQ-9 = 8 x 2 + 0 = 16 (moderately severe), GAD-7 = 7, AUDIT-C = 1 (negative).
    assert result["scores"]["phq9"]["value"] == 16
    assert result["scores"]["phq9"]["band"] == "moderately severe"
    assert result["scores"]["gad7"]["value"] == 7
    assert result["scores"]["auditc"]["band"] == "negative"
    assert result["flags"] == []  # nothing in these answers calls for a flag
    assert load_intake(app, intake_id).state == "submitted"


def test_after_submit_the_intake_is_read_only(app, client, started):
    intake_id, token = started
    complete_intake(client)
    before = load_intake(app, intake_id).answers
    for url in ("/intake", "/intake/section/consent", "/intake/review", "/intake/support"):
        assert location(client.get(url)) == "/intake/done", url
    controls = form_controls(page(client.get("/intake/done")))
    response = client.post("/intake/section/consent", data={**controls, "consent_given": "no", "_action": "next"})
    assert location(response) == "/intake/done"
    assert load_intake(app, intake_id).answers == before

    again = open_link(app.test_client(), token)
    text = page(again)
    assert again.status_code == 200 and "already been sent" in text
    assert "1980" not in text and "sertraline" not in text  # never data


def test_double_submit_creates_one_submission(app, client, started):
    complete_intake(client, submit=False)
    review = page(client.get("/intake/review"))
    token = hidden_value(review, "csrf_token")
    first = client.post("/intake/review", data={"csrf_token": token})
    second = client.post("/intake/review", data={"csrf_token": token})
    assert location(first) == location(second) == "/intake/done"
    assert len(submissions(app)) == 1


def test_branching_is_applied_on_the_server(app, client, started):
    intake_id, _ = started
    complete_section(client, "consent", GOOD_PAGES[0][1])
    complete_section(client, "about_you", GOOD_PAGES[1][1])
    text = page(client.get("/intake/section/depression_history"))
    follow_ups = ["dep_episode_months", "ad_trials", "ect_history", "tms_history", "prior_ketamine_treatment",
                  "psych_hospitalizations"]
    assert hidden_items(text) == follow_ups
    assert 'name="ad_trials" disabled' not in text and "disabled" in text  # hidden controls are disabled

    # Answering yes without script: the page comes back once with the follow-up questions added.
    response = post_section(client, "depression_history", {"dep_diagnosed": "yes"})
    text = page(response)
    assert response.status_code == 200
    assert "We added 6 questions to this page because of your answers" in text
    assert hidden_items(text) == [] and "ad_trials" in visible_items(text)
    assert error_summary(text) == []  # new questions are not errors
    assert load_intake(app, intake_id).answers["dep_diagnosed"] is True  # saved meanwhile

    response = post_section(client, "depression_history", {"dep_diagnosed": "yes", "ad_trials": "1"},
                            controls=form_controls(text))
    assert location(response) == "/intake/section/phq9"

    # Changing the answer hides the follow-ups again; the stale answer stays in the draft, unlisted.
    # (Without script the filled-in follow-up is still on the page and posted as it was.)
    response = post_section(client, "depression_history", {"dep_diagnosed": "no", "ad_trials": "1"})
    assert location(response) == "/intake/section/phq9"
    assert load_intake(app, intake_id).answers["ad_trials"] == 1
    assert set(follow_ups) <= set(hidden_items(page(client.get("/intake/section/depression_history"))))
    for section_id, answers in GOOD_PAGES[3:]:
        complete_section(client, section_id, answers)
    review = page(client.get("/intake/review"))
    assert "antidepressant medicines" not in review  # the hidden item is not listed
    complete_intake(client, pages=[])
    [submission] = submissions(app)
    assert "ad_trials" in submission.result["ignored"]
    assert not any(f["rule"] == "trd-definition" for f in submission.result["flags"])


def test_phq9_follow_up_shows_only_when_the_score_is_at_least_one(app, client, started):
    for section_id, answers in GOOD_PAGES[:3]:
        complete_section(client, section_id, answers)
    zeros = {f"phq9_{n}": "0" for n in range(1, 10)}
    assert location(post_section(client, "phq9", zeros)) == "/intake/section/gad7"
    assert "phq9_difficulty" in hidden_items(page(client.get("/intake/section/phq9")))
    response = post_section(client, "phq9", {**zeros, "phq9_3": "1"})
    assert "We added a question to this page" in page(response)


TINY_SET = """
id: tiny
title: Tiny set
sections:
  - id: start
    title: Start
    items:
      - {id: agree, type: yes_no, text: Do you agree?, required: true}
      - {id: drinks, type: yes_no, text: Do you drink?}
  - id: drinking
    title: Drinking
    items:
      - {id: how_much, type: integer, text: How many a week?, min: 0, max: 100, unit: drinks,
         show_if: {answer: drinks, eq: true}}
  - id: extra
    title: Extra
    show_if: {answer: agree, eq: true}
    items:
      - {id: note, type: text, text: Anything else?}
  - id: last
    title: Last
    items:
      - {id: done_now, type: yes_no, text: All done?, required: true}
"""
TINY_RULES = """
id: tiny-rules
title: Tiny rules
applies_to: tiny
rules:
  - id: heavy
    severity: review
    when: {answer: how_much, gte: 15}
    message: Heavy drinking.
    source: Test
    examples:
      - {answers: {drinks: true, how_much: 20}, fires: true}
      - {answers: {drinks: true, how_much: 2}, fires: false}
"""


def test_a_section_whose_items_are_all_hidden_is_skipped_and_not_counted(app, client):
    publish(app, TINY_SET, TINY_RULES)
    intake_id, token = invite(app, question_set_id="tiny")
    open_link(client, token)
    first = page(client.get("/intake/section/start"))
    assert "Section 1 of 2" in first  # "drinking" (no drinks yet) and "extra" (not agreed yet) are hidden
    response = post_section(client, "start", {"agree": "no", "drinks": "no"})
    assert location(response) == "/intake/section/last"
    assert location(client.get("/intake/section/drinking")) == "/intake"  # a hidden page does not open
    assert "Section 2 of 2" in page(client.get("/intake/section/last"))

    response = post_section(client, "start", {"agree": "yes", "drinks": "yes"})
    assert location(response) == "/intake/section/drinking"
    assert "Section 2 of 4" in page(client.get("/intake/section/drinking"))
    assert location(post_section(client, "drinking", {"how_much": "20"})) == "/intake/section/extra"
    assert location(post_section(client, "extra", {})) == "/intake/section/last"
    assert location(post_section(client, "last", {"done_now": "yes"})) == "/intake/review"
    complete_intake(client, pages=[])
    [submission] = submissions(app)
    assert submission.result["question_set"]["id"] == "tiny"
    assert [f["rule"] for f in submission.result["flags"]] == ["heavy"]


def test_the_intake_stays_pinned_to_the_versions_it_started_with(app, client, started):
    intake_id, _ = started
    complete_section(client, "consent", GOOD_PAGES[0][1])
    with app.app_context():
        from screening.models import QuestionSetVersion, RuleSetVersion
        qs_row = db.session.scalar(select(QuestionSetVersion))
        rs_row = db.session.scalar(select(RuleSetVersion))
        new_questions = qs_row.yaml_text.replace("title: About you", "title: All about you")
        new_rules = rs_row.yaml_text
    assert new_questions != qs_row.yaml_text
    # a new version of both sets (the rule set text gains a comment so its hash differs)
    publish(app, new_questions, new_rules + "\n# version 2\n")
    assert "<h1>About you</h1>" in page(client.get("/intake/section/about_you"))
    complete_intake(client, pages=GOOD_PAGES[1:])
    [submission] = submissions(app)
    assert submission.result["question_set"]["version"] == 1
    assert submission.result["rule_set"]["version"] == 1

    other = app.test_client()
    _, token = invite(app)
    open_link(other, token)
    complete_section(other, "consent", GOOD_PAGES[0][1])
    assert "<h1>All about you</h1>" in page(other.get("/intake/section/about_you"))


def test_resume_after_a_new_session_goes_to_the_first_unanswered_page(app, client, started):
    intake_id, token = started
    for section_id, answers in GOOD_PAGES[:3]:
        complete_section(client, section_id, answers)
    # half of the PHQ-9, then the browser is closed: the answers given are kept, the page is where to resume
    post_section(client, "phq9", {"phq9_1": "1", "phq9_2": "2"})
    fresh = app.test_client()
    assert location(fresh.get("/intake/section/phq9")) == ""  # no session: no page
    assert "open the link your clinic sent you" in page(fresh.get("/intake/section/phq9"))
    assert location(open_link(fresh, token)) == "/intake"
    assert location(fresh.get("/intake")) == "/intake/section/phq9"
    text = page(fresh.get("/intake/section/phq9"))
    assert re.search(r'name="phq9_2" value="2" checked', text)

    # pages left with Next count as done, even when their optional questions were skipped
    for section_id, answers in GOOD_PAGES[3:7]:
        complete_section(fresh, section_id, answers)
    newer = app.test_client()
    open_link(newer, token)
    assert location(newer.get("/intake")) == "/intake/section/alcohol"
    # a page further on cannot be opened past a page that still needs answers
    set_answers(app, intake_id, {k: v for k, v in load_intake(app, intake_id).answers.items() if k != "gad7_3"})
    assert location(newer.get("/intake/section/drug_use")) == "/intake"
    assert location(newer.get("/intake")) == "/intake/section/gad7"


def test_resume_skips_an_optional_page_left_empty_but_not_one_never_reached(app, client, started):
    for section_id, answers in GOOD_PAGES[:7]:
        complete_section(client, section_id, answers)
    complete_section(client, "alcohol", {})  # every question there is optional: Next with nothing chosen
    again = app.test_client()
    open_link(again, started[1])
    assert location(again.get("/intake")) == "/intake/section/drug_use"


def test_back_saves_the_page_without_asking_for_required_answers(app, client, started):
    intake_id, _ = started
    for section_id, answers in GOOD_PAGES[:3]:
        complete_section(client, section_id, answers)
    response = post_section(client, "phq9", {"phq9_1": "3"}, action="back")
    assert location(response) == "/intake/section/depression_history"
    assert load_intake(app, intake_id).answers["phq9_1"] == 3


def test_consent_must_be_given_to_go_on_and_the_note_is_kind(app, client, started):
    intake_id, _ = started
    response = post_section(client, "consent", {"consent_given": "no"})
    text = page(response)
    assert response.status_code == 200
    assert "Thank you for letting us know" in text and "555-0100" in text
    assert error_summary(text) == [] and "field-error" not in text
    assert location(client.get("/intake/section/about_you")) == "/intake"
    assert location(client.get("/intake")) == "/intake/section/consent"
    assert location(client.get("/intake/review")) == "/intake/section/consent"
    response = post_section(client, "consent", {"consent_given": "yes"})
    assert location(response) == "/intake/section/about_you"


def test_review_change_link_comes_back_to_the_review(app, client, started):
    intake_id, _ = started
    complete_intake(client, submit=False)
    text = page(client.get("/intake/section/vitals?from=review"))
    assert 'name="_return" type="hidden" value="review"' in text
    assert "Save and go back to the review" in text
    response = post_section(client, "vitals", {"bp_systolic": "130", "bp_diastolic": "85"},
                            controls=form_controls(text))
    assert location(response) == "/intake/review"
    assert load_intake(app, intake_id).answers["bp_systolic"] == 130
    assert "bp_measured_on" not in load_intake(app, intake_id).answers  # cleared field, cleared answer


def test_review_sends_the_patient_to_a_page_that_still_needs_answers(app, client, started):
    intake_id, _ = started
    complete_intake(client, submit=False)
    set_answers(app, intake_id, {k: v for k, v in GOOD_ANSWERS.items() if k != "asq_2"})
    review = client.get("/intake/review")
    assert location(review) == "/intake/section/suicide_risk"
    text = page(client.get("/intake/section/suicide_risk"))
    [problem] = error_summary(text)
    assert problem.startswith("In the past few weeks, have you felt that you or your family would")
    assert problem.endswith("…: Please choose an answer.")
    response = client.post("/intake/review", data={"csrf_token": hidden_value(text, "csrf_token")})
    assert location(response) == "/intake/section/suicide_risk"
    assert submissions(app) == []


# -- the crisis-support page ------------------------------------------------------------------------------
def answer_up_to(client, section_id):
    for sid, answers in GOOD_PAGES:
        if sid == section_id:
            return
        complete_section(client, sid, answers)


def test_support_page_follows_a_positive_asq_and_then_the_patient_goes_on(app, client, started):
    answer_up_to(client, "suicide_risk")
    answers = {"asq_1": "yes", "asq_2": "no", "asq_3": "no", "asq_4": "no"}
    response = post_section(client, "suicide_risk", answers)
    assert response.status_code == 200 and "We added a question" in page(response)  # asq_5 now shows
    response = post_section(client, "suicide_risk", {**answers, "asq_5": "no"}, controls=form_controls(page(response)))
    assert location(response) == "/intake/support"
    text = page(client.get("/intake/support"))
    assert 'href="tel:988"' in text and 'href="sms:988"' in text and 'href="tel:911"' in text
    assert 'href="tel:5550100"' in text and "Test Clinic" in text
    assert "Please call or text 988 now" not in text
    assert 'href="/intake/section/trauma"' in text
    assert location(client.get("/intake/section/trauma")) == ""  # continue
    assert location(client.get("/intake/support")) == "/intake"  # shown once per saved page


def test_support_page_says_to_call_now_when_asq_5_is_yes(app, client, started):
    answer_up_to(client, "suicide_risk")
    answers = {"asq_1": "no", "asq_2": "no", "asq_3": "yes", "asq_4": "no", "asq_5": "yes"}
    response = complete_section(client, "suicide_risk", answers)
    assert location(response) == "/intake/support"
    text = page(client.get("/intake/support"))
    assert "Please call or text 988 now, or call 911." in text


def test_support_page_follows_phq9_item_9_and_not_other_pages(app, client, started):
    answer_up_to(client, "phq9")
    answers = {**{f"phq9_{n}": "0" for n in range(1, 9)}, "phq9_9": "1", "phq9_difficulty": "somewhat"}
    assert location(complete_section(client, "phq9", answers)) == "/intake/support"
    assert 'href="/intake/section/gad7"' in page(client.get("/intake/support"))
    # the next pages go on as usual although phq9_9 is still 1
    assert location(complete_section(client, "gad7", GOOD_PAGES[4][1])) == "/intake/section/suicide_risk"


def test_patients_are_never_told_about_flags(app, client, started):
    pages = [(sid, dict(answers)) for sid, answers in GOOD_PAGES]
    pages[10][1]["medications"] = ["maoi"]  # a flag: interacting-medication
    pages[9][1]["medical_conditions"] = ["aneurysm"]  # an "exclude" flag
    texts = []
    for section_id, answers in pages:
        complete_section(client, section_id, answers)
    texts.append(page(client.get("/intake/review")))
    complete_intake(client, pages=[])
    texts.append(page(client.get("/intake/done")))
    [submission] = submissions(app)
    assert {f["rule"] for f in submission.result["flags"]} >= {"vascular-contraindication", "interacting-medication"}
    for text in texts:
        lowered = text.lower()
        for word in ("flag", "exclu", "eligib", "contraindicat", "severity", "urgent"):
            assert word not in lowered


def test_urls_never_hold_answers(app, client, started):
    visited = complete_intake(client)
    for url in visited:
        assert re.fullmatch(r"/intake(/section/[a-z0-9_-]+|/review|/done|/support)?", url), url
    with app.app_context():
        assert db.session.scalar(select(func.count(Submission.id))) == 1


def test_support_triggers_come_from_config_and_skip_ids_the_set_does_not_have(app, client, started):
    app.config["INTAKE_SUPPORT_TRIGGERS"] = [
        ["support", {"answer": "escort_available", "eq": False}],
        ["urgent", {"answer": "no_such_item", "eq": True}],  # not in this set: skipped, no crash
    ]
    response = post_section(client, "consent", {"consent_given": "yes", "escort_available": "no"})
    assert location(response) == "/intake/support"
    assert 'href="/intake/section/about_you"' in page(client.get("/intake/support"))
    answer_up_to(client, "suicide_risk")
    answers = {"asq_1": "no", "asq_2": "no", "asq_3": "no", "asq_4": "yes", "asq_5": "yes"}
    assert location(complete_section(client, "suicide_risk", answers)) == "/intake/section/trauma"
