"""Plain language: every text of the default question set that we wrote ourselves reads at US grade 8 or below.

The measure is the Flesch-Kincaid grade level (textstat). It is the formula US health-literacy guidance
(CMS, NIH, AMA) asks patient materials to meet, and it gives a US school grade directly. The others do
not fit texts this short: SMOG is normed on 30-sentence samples; Dale-Chall counts every medicine name as
an unfamiliar word; Coleman-Liau and ARI count letters, which long drug names inflate most of all.

Instrument wording (PHQ-9, GAD-7, ASQ, AUDIT-C, PC-PTSD-5) is exempt: it is the published, validated
wording and must not be changed. Which items those are comes from the question set's `instruments`,
and a section whose items all belong to instruments carries that instrument's published instructions.
"""

from __future__ import annotations

import textstat

from screening.content import shipped_files
from screening.questions import QuestionSet, load_question_set

MAX_GRADE = 8.0


def grade(text: str) -> float:
    return textstat.flesch_kincaid_grade(" ".join(text.split()))


def default_set() -> QuestionSet:
    question_paths, _ = shipped_files()
    (path,) = [p for p in question_paths if p.stem == "ketamine-intake"]
    return load_question_set(path)


def patient_texts(qs: QuestionSet) -> dict[str, str]:
    """What a patient reads that is not instrument wording, by a name that says where it is."""
    instrument_items = {item_id for instrument in qs.instruments for item_id in instrument.items}
    texts: dict[str, str] = {}
    if qs.description:
        texts["description"] = qs.description
    for section in qs.sections:
        own = [item for item in section.items if item.id not in instrument_items]
        if section.intro and own:
            texts[f"section {section.id}: intro"] = section.intro
        for item in own:
            texts[item.id] = item.text
            if item.help:
                texts[f"{item.id}: help"] = item.help
            for choice in item.choices:
                if choice.help:
                    texts[f"{item.id}: help of choice {choice.value}"] = choice.help
    for check in qs.checks:
        texts[f"check {check.id}: message"] = check.message
    return texts


def test_every_own_text_of_the_default_set_reads_at_grade_8_or_below():
    qs = default_set()
    texts = patient_texts(qs)
    assert len(texts) > 60  # items, helps, choice helps, intros, the description, check messages
    too_hard = {name: round(grade(text), 1) for name, text in texts.items() if grade(text) > MAX_GRADE}
    assert too_hard == {}, "above US grade 8 (Flesch-Kincaid):\n" + "\n".join(
        f"  {name}: grade {value}: {texts[name]}" for name, value in too_hard.items())


def test_instrument_items_are_left_out_and_everything_else_is_measured():
    qs = default_set()
    texts = patient_texts(qs)
    instrument_items = {item_id for instrument in qs.instruments for item_id in instrument.items}
    assert {"phq9_1", "gad7_7", "asq_5", "auditc_2", "pcptsd_3", "phq9_difficulty"} <= instrument_items
    assert not instrument_items & set(texts)
    assert {item.id for item in qs.items.values()} - instrument_items <= set(texts)
    assert "section consent: intro" in texts and "section phq9: intro" not in texts


def test_the_measure_tells_dense_clinical_prose_from_plain_prose():
    dense = ("Have you ever experienced a distinct period of abnormally and persistently elevated, expansive, "
             "or irritable mood, accompanied by a markedly decreased requirement for sleep, that was "
             "observable by others?")
    plain = "Have you ever had a few days in a row when you felt very high and hardly slept? Did others see it?"
    assert grade(dense) > 14
    assert grade(plain) <= MAX_GRADE
