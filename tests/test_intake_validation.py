"""Server-side validation of a section: error summary linking to each field, messages beside fields,
values kept, valid answers saved meanwhile, cross-field checks, and each item type's widget."""

from __future__ import annotations

import datetime
import re

import pytest

from intake_helpers import (GOOD_ANSWERS, GOOD_PAGES, complete_section, error_summary, invite, load_intake,
                            location, open_link, page, post_section, set_answers)


@pytest.fixture
def intake_id(app, client):
    intake_id, token = invite(app)
    open_link(client, token)
    complete_section(client, "consent", GOOD_PAGES[0][1])
    return intake_id


def answered_before(app, intake_id, section_id):
    """Store the good answers of every page before ``section_id`` (as if the patient had got this far)."""
    keys = set()
    for sid, answers in GOOD_PAGES:
        if sid == section_id:
            break
        keys |= set(answers)
    set_answers(app, intake_id, {k: v for k, v in GOOD_ANSWERS.items() if k in keys})


def field_block(text: str, item_id: str) -> str:
    match = re.search(r'<div class="question[^"]*" id="item-%s".*?(?=<div class="question|<p class="visually-hidden")'
                      % item_id, text, re.S)
    assert match, item_id
    return match.group(0)


def test_errors_are_summarised_shown_beside_fields_and_values_are_kept(app, client, intake_id):
    future = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()
    response = post_section(client, "about_you", {"date_of_birth": future, "sex_at_birth": "male",
                                                  "height_cm": "tall", "weight_kg": "400"})
    text = page(response)
    assert response.status_code == 200
    assert text.count('<title>Error: ') == 1
    summary = error_summary(text)
    assert summary == ["What is your date of birth? This date cannot be in the future.",
                       "How tall are you, in centimeters? Enter a number.",
                       "How much do you weigh, in kilograms? Enter a number from 25 to 350."]
    # each summary entry links to its field, and the field says the same beside it
    for item_id in ("date_of_birth", "height_cm", "weight_kg"):
        assert f'href="#q-{item_id}"' in text
        block = field_block(text, item_id)
        assert 'class="question question--error"' in block
        assert f'id="q-{item_id}-Error"' in block
        assert re.search(r'aria-describedby="[^"]*q-%s-Error' % item_id, block)
        assert 'aria-invalid="true"' in block
    assert 'value="tall"' in field_block(text, "height_cm")
    assert 'value="400"' in field_block(text, "weight_kg")
    assert f'value="{future}"' in field_block(text, "date_of_birth")
    assert re.search(r'value="male" checked', field_block(text, "sex_at_birth"))
    assert 'data-error-summary' in text and 'role="alert"' in text and 'tabindex="-1"' in text
    # the valid answer on the page is saved already; the wrong ones are not
    answers = load_intake(app, intake_id).answers
    assert answers["sex_at_birth"] == "male"
    assert "height_cm" not in answers and "date_of_birth" not in answers


def test_date_of_birth_more_than_120_years_ago_is_an_error(app, client, intake_id):
    response = post_section(client, "about_you", {"date_of_birth": "1890-01-01"})
    assert error_summary(page(response)) == [
        "What is your date of birth? This date is more than 120 years ago; please check the year."]


def test_a_date_typed_by_hand_in_us_order_is_understood(app, client, intake_id):
    response = post_section(client, "about_you", {"date_of_birth": "7/31/1980"})
    assert location(response) == "/intake/section/depression_history"
    assert load_intake(app, intake_id).answers["date_of_birth"] == "1980-07-31"
    response = post_section(client, "about_you", {"date_of_birth": "31/31/1980"})
    assert error_summary(page(response))[0].endswith("Enter a real date, for example 07/31/1980.")


def test_required_answers_are_asked_for_on_next(app, client, intake_id):
    complete_section(client, "about_you", GOOD_PAGES[1][1])
    complete_section(client, "depression_history", {})
    response = post_section(client, "phq9", {"phq9_1": "0"})
    summary = error_summary(page(response))
    assert len(summary) == 8  # phq9_2 .. phq9_9; a 0 is an answer
    assert all(s.endswith("Please choose an answer.") for s in summary)
    assert load_intake(app, intake_id).answers["phq9_1"] == 0


def test_diastolic_must_be_below_systolic(app, client, intake_id):
    answered_before(app, intake_id, "vitals")
    response = post_section(client, "vitals", {"bp_systolic": "120", "bp_diastolic": "120"})
    text = page(response)
    assert response.status_code == 200
    [problem] = error_summary(text)
    assert problem.endswith("The bottom number must be lower than the top number. Please check the reading, "
                            "for example 120/80.")
    assert 'href="#q-bp_diastolic"' in text
    assert "field-error" in field_block(text, "bp_diastolic") and "field-error" not in field_block(text, "bp_systolic")
    response = post_section(client, "vitals", {"bp_systolic": "120", "bp_diastolic": "80"})
    assert response.status_code == 303


def test_numbers_are_checked_against_their_range(app, client, intake_id):
    answered_before(app, intake_id, "vitals")
    response = post_section(client, "vitals", {"bp_systolic": "12.5"})
    assert error_summary(page(response))[0].endswith("Enter a whole number.")
    response = post_section(client, "vitals", {"bp_systolic": "300"})
    assert error_summary(page(response))[0].endswith("Enter a whole number from 60 to 260.")
    response = post_section(client, "about_you", {**GOOD_PAGES[1][1], "weight_kg": "70,5"})
    assert response.status_code == 303
    assert load_intake(app, intake_id).answers["weight_kg"] == 70.5


@pytest.mark.parametrize("typed", ["9" * 400, "-" + "9" * 400, "9" * 5000, "1" + "0" * 16, "1e308", "1e309", "nan"])
def test_an_absurdly_large_number_is_an_error_not_a_crash(app, client, intake_id, typed):
    """Python's int() takes 400 digits; math and JSON on such a number used to fail with a 500."""
    answered_before(app, intake_id, "about_you")
    response = post_section(client, "about_you", {**GOOD_PAGES[1][1], "weight_kg": typed})
    assert response.status_code == 200
    assert any(p.endswith("Enter a number.") for p in error_summary(page(response))), error_summary(page(response))
    assert "weight_kg" not in load_intake(app, intake_id).answers


def test_none_of_these_is_an_answer_and_cannot_be_combined(app, client, intake_id):
    answered_before(app, intake_id, "medications")
    response = post_section(client, "medications", {"medications": ["__none__"]})
    assert response.status_code == 303
    assert load_intake(app, intake_id).answers["medications"] == []
    response = post_section(client, "medications", {"medications": ["__none__", "ssri"]})
    assert error_summary(page(response))[0].endswith(
        "Choose \u201cNone of these\u201d or the ones that apply, not both.")
    response = post_section(client, "medications", {"medications": ["lithium", "ssri"]})
    assert load_intake(app, intake_id).answers["medications"] == ["ssri", "lithium"]  # in the set's order
    response = post_section(client, "medications", {})
    assert "medications" not in load_intake(app, intake_id).answers  # nothing ticked: unanswered


def test_a_tampered_choice_is_an_error_not_a_crash(app, client, intake_id):
    response = post_section(client, "about_you", {"sex_at_birth": "robot", "date_of_birth": "1980-01-01"})
    assert response.status_code == 200
    assert error_summary(page(response))[0].endswith("Choose one of the options: female, male, intersex, "
                                                     "prefer_not_to_say.")


def test_widgets_match_the_item_types(app, client, intake_id):
    text = page(client.get("/intake/section/about_you"))
    dob = field_block(text, "date_of_birth")
    assert 'type="date"' in dob and '<label class="question__text" for="q-date_of_birth">' in dob
    assert "(required)" in dob and 'aria-required="true"' in dob
    today = datetime.date.today()
    assert f'max="{today.isoformat()}"' in dob
    height = field_block(text, "height_cm")
    assert 'type="text"' in height and 'inputmode="decimal"' in height  # a number keypad on phones
    assert '<span class="input-unit__unit" id="q-height_cm-Unit">cm</span>' in height
    assert 'aria-describedby="q-height_cm-Hint q-height_cm-Unit"' in height
    sex = field_block(text, "sex_at_birth")
    assert "<fieldset" in sex and "<legend" in sex and sex.count('type="radio"') == 4
    for n in range(4):
        option_id = "q-sex_at_birth" if n == 0 else f"q-sex_at_birth-O{n}"
        assert f'id="{option_id}"' in sex and f'<label class="option__label" for="{option_id}">' in sex

    complete_section(client, "about_you", GOOD_PAGES[1][1])
    for section_id, answers in GOOD_PAGES[2:10]:
        complete_section(client, section_id, answers)
    meds = page(client.get("/intake/section/medications"))
    block = field_block(meds, "medications")
    assert block.count('type="checkbox"') == 18  # 17 medicines and "None of these"
    assert 'value="__none__"' in block and "data-exclusive" in block
    assert "<textarea" in field_block(meds, "medications_other")
    assert 'maxlength="2000"' in field_block(meds, "medications_other")
    medical = page(client.get("/intake/section/medical"))
    # a choice's own help is tied to its box, with ids of its own
    assert re.search(r'id="q-medical_conditions" name="medical_conditions" value="aneurysm"[^>]*'
                     r'aria-describedby="q-medical_conditions-O0-Hint"', medical)
    assert re.search(r'id="q-medical_conditions-O1" name="medical_conditions" value="avm"[^>]*'
                     r'aria-describedby="q-medical_conditions-O1-Hint"', medical)
    assert '<p class="option__hint" id="q-medical_conditions-O1-Hint">' in medical
    ids = re.findall(r'\bid="([^"]+)"', medical)
    assert len(ids) == len(set(ids))  # no id used twice
