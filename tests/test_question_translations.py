"""A question set's ``translations:`` block: checked at load time with file:line, and language views that
fall back to the set's own text one text at a time. No Flask here: this is the core."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from screening.questions import load_question_set, parse_question_set
from test_question_validation import marked_line, problems_of

DEFAULT_SET = Path(__file__).resolve().parent.parent / "screening" / "questions" / "ketamine-intake.yaml"

SET = """\
id: t
title: Clinic intake
description: About your visit.
sections:
  - id: s1
    title: About you
    intro: Some questions.
    items:
      - id: smoker
        type: yes_no
        text: Do you smoke?
        help: Any tobacco.
      - id: height
        type: decimal
        text: How tall are you?
        unit: cm
      - id: drinks
        type: single_choice
        text: How often do you drink?
        choices:
          - {value: never, label: Never, help: Not at all.}
          - {value: daily, label: Every day}
  - id: s2
    title: Mood
    items:
      - {id: mood_1, type: scale, text: Feeling down, choices: [{value: 0, label: No}, {value: 1, label: Yes}]}
checks:
  - id: tall
    fails_if: {answer: height, gt: 240}
    message: Please check your height.
    items: [height]
instruments:
  - {id: mood, title: Mood scale, licence: Free, citation: Someone 2020, items: [mood_1]}
"""


def with_translations(block: str) -> str:
    return SET + "translations:\n" + textwrap.indent(textwrap.dedent(block), "  ")


BAD = {
    "unknown language code": ("""\
        xx:   # <-
          title: Whatever
        """, "unknown language code 'xx' (known: es)"),
    "the set's own language": ("""\
        en:   # <-
          title: Clinic intake
        """, "'en' is the language of the set's own texts"),
    "unknown question id": ("""\
        es:
          items:
            smokes: {text: ¿Fuma?}   # <-
        """, "unknown question id 'smokes'"),
    "unknown section id": ("""\
        es:
          sections:
            s9: {title: Nada}   # <-
        """, "unknown section id 's9'"),
    "a choice value the item does not have": ("""\
        es:
          items:
            drinks:
              choices:
                never: Nunca
                weekly: Cada semana   # <-
        """, "'weekly' is not a choice value of 'drinks' (its values: never, daily)"),
    "help the item does not have": ("""\
        es:
          items:
            height:
              text: ¿Cuánto mide?
              help: En centímetros.   # <-
        """, "'height' has no help to translate"),
    "choices on a question without choices": ("""\
        es:
          items:
            smoker:
              choices: {yes: Sí}   # <-
        """, "'smoker' has no choices to translate"),
    "help of a choice that has none": ("""\
        es:
          items:
            drinks:
              choices:
                daily: {label: A diario, help: Cada día.}   # <-
        """, "choice 'daily' of 'drinks' has no help to translate"),
    "an intro the section does not have": ("""\
        es:
          sections:
            s2: {title: Ánimo, intro: Unas preguntas.}   # <-
        """, "section 's2' has no intro to translate"),
    "an instrument translated without a published source": ("""\
        es:
          items:
            mood_1: {text: Sentirse triste}   # <-
        """, "'mood_1' belongs to instrument 'mood': use its published translation word for word"),
    "an instrument that does not exist": ("""\
        es:
          instruments:
            moods: {source: Somewhere}   # <-
        """, "unknown instrument id 'moods'"),
    "an instrument without its source": ("""\
        es:
          instruments:
            mood: {}   # <-
        """, "missing required key 'source'"),
    "an unknown check": ("""\
        es:
          checks:
            short: {message: Revise.}   # <-
        """, "unknown check id 'short'"),
    "a key an item translation cannot have": ("""\
        es:
          items:
            smoker: {text: ¿Fuma?, required: true}   # <-
        """, "unknown key 'required'"),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_translation_is_reported_on_its_line(case):
    block, reason = BAD[case]
    text = with_translations(block)
    found = problems_of(text)
    expected = f"bad.yaml:{marked_line(text)}: "
    assert any(p.startswith(expected) and reason in p for p in found), found


def test_every_problem_of_a_translation_block_is_reported_at_once():
    text = with_translations("""\
        es:
          items:
            smokes: {text: ¿Fuma?}
            height: {help: En centímetros.}
        """)
    assert len(problems_of(text)) == 2


GOOD = with_translations("""\
    es:
      title: Cuestionario de la clínica
      instruments:
        mood: {source: "The publisher's Spanish version, page 2"}
      sections:
        s1: {intro: Algunas preguntas.}
      items:
        smoker: {text: ¿Fuma?}
        drinks:
          text: ¿Con qué frecuencia bebe?
          choices:
            never: {label: Nunca}
        mood_1: {text: Sentirse triste, choices: {0: "No", 1: Sí}}
      checks:
        tall: {message: "Por favor, revise su estatura."}
    """)


def test_a_language_view_falls_back_to_the_sets_own_text_one_text_at_a_time():
    qs = parse_question_set(GOOD, "good.yaml")
    es = qs.in_language("es")
    assert es.language == "es" and es.title == "Cuestionario de la clínica"
    assert es.description == "About your visit."  # not translated: the set's own
    s1 = es.sections[0]
    assert (s1.title, s1.intro) == ("About you", "Algunas preguntas.")
    assert es.items["smoker"].text == "¿Fuma?"
    assert es.items["smoker"].help == "Any tobacco."
    assert es.items["height"].text == "How tall are you?" and es.items["height"].unit == "cm"
    never, daily = es.items["drinks"].choices
    assert (never.value, never.label, never.help) == ("never", "Nunca", "Not at all.")
    assert (daily.value, daily.label) == ("daily", "Every day")
    assert [c.label for c in es.items["mood_1"].choices] == ["No", "Sí"]
    assert es.checks[0].message == "Por favor, revise su estatura."
    assert s1.items[0] is es.items["smoker"]  # sections and the item map hold the same translated items
    assert es.source_language_items == frozenset({"height"})  # no text of its own: marked as English
    assert es.source_language_intros == frozenset()  # s1's intro is translated; s2 has none


def test_a_view_changes_only_texts_never_ids_answers_or_scores():
    import datetime

    qs = parse_question_set(GOOD, "good.yaml")
    es = qs.in_language("es")
    assert es.content_hash == qs.content_hash and list(es.items) == list(qs.items)
    answers = {"smoker": True, "height": 250, "drinks": "never", "mood_1": 1}
    day = datetime.date(2026, 1, 1)
    assert es.normalize_answers(answers, day) == qs.normalize_answers(answers, day)
    assert [c.id for c in es.failed_checks(es.resolve(answers, day))] == ["tall"]
    assert qs.items["smoker"].text == "Do you smoke?"  # the set itself is untouched


def test_views_are_made_once_and_lead_back_to_the_set():
    qs = parse_question_set(GOOD, "good.yaml")
    es = qs.in_language("es")
    assert qs.in_language("es") is es
    assert es.in_language("en") is qs and qs.in_language("en") is qs
    assert qs.in_language("fr") is qs  # not a language the service knows: the set's own texts


def test_a_known_language_without_a_translation_is_the_sets_own_texts_marked_as_such():
    qs = parse_question_set(SET, "plain.yaml")
    es = qs.in_language("es")
    assert es.items["smoker"].text == "Do you smoke?"
    assert es.source_language_items == frozenset(qs.items) and es.source_language_intros == {"s1"}


def test_an_instrument_without_a_published_translation_stays_in_the_sets_language():
    text = with_translations("""\
        es:
          sections:
            s2: {title: Ánimo}
          items:
            smoker: {text: ¿Fuma?}
        """)
    es = parse_question_set(text, "good.yaml").in_language("es")
    assert es.sections[1].title == "Ánimo"  # the clinic's own section title is translated
    assert es.source_language_intros == frozenset({"s1"})
    assert es.items["mood_1"].text == "Feeling down"
    assert es.source_language_items == frozenset({"height", "drinks", "mood_1"})


def test_the_default_set_in_spanish_uses_the_published_phq9_and_keeps_the_other_instruments_in_english():
    qs = load_question_set(DEFAULT_SET)
    es = qs.in_language("es")
    assert set(qs.translations["es"].sources) == {"phq9"}
    assert es.items["phq9_1"].text == "Poco interés o placer en hacer cosas"
    assert [c.label for c in es.items["phq9_9"].choices] == ["Ningún día", "Varios días",
                                                           "Más de la mitad de los días", "Casi todos los días"]
    for untranslated in ("gad7", "asq", "pcptsd5", "auditc"):
        instrument = next(i for i in qs.instruments if i.id == untranslated)
        for item_id in instrument.items:
            assert es.items[item_id] is qs.items[item_id]
            assert item_id in es.source_language_items
    # every question that is not part of an instrument has its Spanish text
    in_instruments = {ref for i in qs.instruments for ref in i.items}
    missing = [i for i in qs.items if i not in in_instruments and es.items[i].text == qs.items[i].text]
    assert missing == []
    assert all(s.title != qs.sections[n].title for n, s in enumerate(es.sections) if s.id != "alcohol")
