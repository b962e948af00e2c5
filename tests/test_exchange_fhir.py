"""FHIR R4: a question-set version as a Questionnaire (validated against the fhir.resources R4B models),
round-tripped through import, a submission as a Bundle, and the admin download and import pages."""

from __future__ import annotations

import copy
import datetime
import io
import json

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from screening import publishing
from screening.content import default_question_set_path, default_rule_set_path
from screening.evaluation import evaluate
from screening.exchange.fhir_base import Urls
from screening.exchange.fhir_questionnaire import (ImportRefused, document_yaml, export_questionnaire,
                                                   import_questionnaire, question_set_document)
from screening.exchange.fhir_submission import submission_bundle
from screening.exchange.records import SubmissionRecord
from screening.questions import load_question_set, parse_question_set
from screening.questions.schema import QuestionSetDoc
from screening.rules import load_rule_set
from test_admin_support import admin_client, audit_events, plain  # noqa: F401
from test_clinician_support import (case_answers, clinician, clinician_client, csrf_from, make_submission,  # noqa: F401
                                    staff_app)

URLS = Urls("https://clinic.example")
DEFAULT_TEXT = default_question_set_path.read_text(encoding="utf-8")


def exported(version: int = 4) -> dict:
    return export_questionnaire(DEFAULT_TEXT, version, URLS, datetime.datetime(2026, 3, 1, 9, 30))


def items_of(resource: dict) -> dict[str, dict]:
    found = {}

    def walk(items):
        for item in items:
            found[item["linkId"]] = item
            walk(item.get("item") or [])
    walk(resource["item"])
    return found


def canonical(doc: dict) -> dict:
    """A question-set document as the loader reads it, with defaults dropped (what "equivalent" compares)."""
    return QuestionSetDoc.model_validate(doc).model_dump(exclude_defaults=True)


# -- the Questionnaire -------------------------------------------------------------------------

def test_the_default_set_exports_as_a_valid_questionnaire_with_sections_types_and_scores():
    resource = exported()
    model = Questionnaire.model_validate(resource)
    assert model.version == "4" and model.url == "https://clinic.example/fhir/Questionnaire/ketamine-intake"
    assert resource["identifier"] == [{"system": "https://clinic.example/fhir/question-set", "value": "ketamine-intake"}]
    qs = load_question_set(default_question_set_path)
    assert [group["linkId"] for group in resource["item"]] == [s.id for s in qs.sections]
    assert all(group["type"] == "group" for group in resource["item"])
    items = items_of(resource)
    expected = {"yes_no": "boolean", "scale": "choice", "single_choice": "choice", "multi_choice": "choice",
                "integer": "integer", "decimal": "decimal", "text": "text", "date": "date"}
    for item in qs.items.values():
        assert items[item.id]["type"] == expected[item.type], item.id
        assert items[item.id].get("required", False) == item.required, item.id
        assert items[item.id].get("repeats", False) == (item.type == "multi_choice"), item.id
    phq9_1 = items["phq9_1"]
    scores = [(o["valueCoding"]["code"], o["valueCoding"]["display"], o["extension"][0]["valueDecimal"])
              for o in phq9_1["answerOption"]]
    assert scores == [(str(c.value), c.label, c.value) for c in qs.items["phq9_1"].choices]
    assert phq9_1["answerOption"][0]["extension"][0]["url"] == "http://hl7.org/fhir/StructureDefinition/ordinalValue"
    help_item = items["sex_at_birth.help"]
    assert help_item["type"] == "display" and help_item["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "help"


def test_simple_show_if_becomes_enable_when_and_the_rest_travels_in_an_extension():
    items = items_of(exported())
    assert items["ad_trials"]["enableWhen"] == [{"question": "dep_diagnosed", "operator": "=", "answerBoolean": True}]
    assert "enableBehavior" not in items["ad_trials"]
    asq5 = items["asq_5"]
    assert asq5["enableBehavior"] == "any" and [e["question"] for e in asq5["enableWhen"]] == [
        "asq_1", "asq_2", "asq_3", "asq_4"]
    benzo = items["benzodiazepine_daily"]["enableWhen"][0]
    assert benzo["operator"] == "=" and benzo["answerCoding"]["code"] == "benzodiazepine"
    # A score condition has no enableWhen form: the item carries it in the project's own extension.
    difficulty = items["phq9_difficulty"]
    assert "enableWhen" not in difficulty
    own = [e for e in difficulty["extension"] if e["url"].endswith("/StructureDefinition/screening-item")]
    assert json.loads(own[0]["valueString"])["show_if"] == {"score": "phq9", "gte": 1}


def test_export_then_import_gives_an_equivalent_question_set():
    resource = json.loads(json.dumps(exported()))  # through JSON, as a file would
    doc = import_questionnaire(resource)
    assert canonical(doc) == canonical(question_set_document(DEFAULT_TEXT))
    original = load_question_set(default_question_set_path)
    again = parse_question_set(document_yaml(doc), "imported")
    assert again.content_hash != "" and list(again.items) == list(original.items)
    assert list(again.scores) == list(original.scores)
    # Same answers, same scores: the imported set is the same instrument.
    rules = load_rule_set(default_rule_set_path, original)
    answers = case_answers("07-several-review-flags.json")
    as_of = datetime.date(2026, 6, 1)
    assert (evaluate(again, load_rule_set(default_rule_set_path, again), answers, as_of).to_json()["scores"]
            == evaluate(original, rules, answers, as_of).to_json()["scores"])


TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"


def translations_on(element: dict, key: str) -> dict[str, str]:
    """{lang: content} of the core translation extensions on ``element._<key>``."""
    found = {}
    for extension in (element.get("_" + key) or {}).get("extension") or []:
        assert extension["url"] == TRANSLATION
        parts = {part["url"]: part for part in extension["extension"]}
        found[parts["lang"]["valueCode"]] = parts["content"]["valueString"]
    return found


def translation(language: str, content: str) -> dict:
    return {"extension": [{"url": TRANSLATION, "extension": [{"url": "lang", "valueCode": language},
                                                             {"url": "content", "valueString": content}]}]}


def test_spanish_texts_travel_as_fhir_translation_extensions_on_the_validated_questionnaire():
    resource = exported()
    model = Questionnaire.model_validate(resource)
    assert resource["language"] == "en" and model.language == "en"
    spanish = question_set_document(DEFAULT_TEXT)["translations"]["es"]
    assert translations_on(resource, "title") == {"es": spanish["title"]}
    # The model read the primitive's extension, not just let it through.
    text_ext = model.item[0].item[1].text__ext.extension[0]
    assert text_ext.url == TRANSLATION and [e.url for e in text_ext.extension] == ["lang", "content"]
    items = items_of(resource)
    assert translations_on(items["consent"], "text") == {"es": "Antes de empezar"}
    assert translations_on(items["consent.intro"], "text") == {"es": spanish["sections"]["consent"]["intro"]}
    assert translations_on(items["sex_at_birth"], "text") == {"es": spanish["items"]["sex_at_birth"]["text"]}
    assert translations_on(items["sex_at_birth.help"], "text") == {"es": spanish["items"]["sex_at_birth"]["help"]}
    labels = {o["valueCoding"]["code"]: translations_on(o["valueCoding"], "display")
              for o in items["sex_at_birth"]["answerOption"]}
    assert labels["female"] == {"es": "Femenino"} and labels["prefer_not_to_say"] == {"es": "Prefiero no decirlo"}
    assert translations_on(items["phq9_1"]["answerOption"][0]["valueCoding"], "display") == {"es": "Ningún día"}
    unit = next(e for e in items["dep_episode_months"]["extension"] if e["url"].endswith("questionnaire-unit"))
    assert translations_on(unit["valueCoding"], "display") == {"es": "meses"}
    # What FHIR has no element for rides in the set's own extension.
    own = json.loads(next(e["valueString"] for e in resource["extension"]
                          if e["url"].endswith("/StructureDefinition/screening-question-set")))
    rest = own["translations"]["es"]
    assert rest["instruments"]["phq9"]["source"].startswith("PHQ-9, Spanish for the USA")
    assert rest["checks"]["bp-order"]["message"].startswith("El número de abajo")
    assert rest["items"]["medical_conditions"]["none_label"] == "Ninguno de estos"
    assert "text" not in rest["items"]["medical_conditions"]


def test_another_tools_translations_import_and_load_with_a_regional_tag_read_as_its_language():
    resource = {"resourceType": "Questionnaire", "status": "active", "language": "en-US", "title": "Mood",
                "_title": translation("es-MX", "Ánimo"), "item": [
                    {"linkId": "mood", "type": "group", "text": "Mood", "_text": translation("es", "Ánimo"), "item": [
                        {"linkId": "sad", "type": "boolean", "text": "Sad?", "_text": {"extension": [
                            *translation("es-MX", "¿Triste? (MX)")["extension"],
                            *translation("es", "¿Triste?")["extension"],
                            *translation("en-GB", "Sad?")["extension"]]}},
                        {"linkId": "when", "type": "choice", "text": "When?", "answerOption": [
                            {"valueString": "today", "_valueString": translation("es", "hoy")},
                            {"valueCoding": {"code": "week", "display": "This week",
                                             "_display": translation("es", "esta semana")}}]}]}]}
    Questionnaire.model_validate(resource)
    doc = import_questionnaire(resource)
    assert doc["translations"] == {"es": {"title": "Ánimo", "sections": {"mood": {"title": "Ánimo"}},
                                          "items": {"sad": {"text": "¿Triste?"},
                                                    "when": {"choices": {"today": "hoy", "week": "esta semana"}}}}}
    spanish = parse_question_set(document_yaml(doc), "imported").translations["es"]
    assert spanish.items["sad"].text == "¿Triste?" and spanish.items["when"].choices["week"] == ("esta semana", None)


def test_a_plain_fhir_questionnaire_without_our_extensions_imports():
    resource = {"resourceType": "Questionnaire", "status": "active", "title": "Mood check", "name": "MoodCheck",
                "item": [
                    {"linkId": "/44250-9", "type": "choice", "text": "Little interest or pleasure?", "required": True,
                     "answerOption": [
                         {"valueCoding": {"code": "LA6568-5", "display": "Not at all"},
                          "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue",
                                         "valueDecimal": 0}]},
                         {"valueCoding": {"code": "LA6569-3", "display": "Several days"},
                          "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue",
                                         "valueDecimal": 1}]}]},
                    {"linkId": "why", "type": "string", "text": "Why?",
                     "enableWhen": [{"question": "/44250-9", "operator": "=",
                                     "answerCoding": {"code": "LA6569-3"}}]}]}
    doc = import_questionnaire(resource)
    assert doc["id"] == "moodcheck"
    section = doc["sections"][0]
    assert [i["id"] for i in section["items"]] == ["q_44250-9", "why"]
    assert section["items"][0]["type"] == "scale" and section["items"][0]["choices"][1] == {"value": 1, "label": "Several days"}
    assert section["items"][1]["show_if"] == {"answer": "q_44250-9", "eq": 1}
    parse_question_set(document_yaml(doc), "imported")


@pytest.mark.parametrize("change, message", [
    (lambda q: q.update(resourceType="Patient"), "expected a FHIR Questionnaire"),
    (lambda q: q.pop("status"), "'status' is required"),
    (lambda q: q["item"][0]["item"][1].update(type="attachment"), "item 'consent_given'"),
    (lambda q: q["item"][0]["item"][1].update(type="time"), "type 'time' is not supported"),
    (lambda q: q["item"][0]["item"].append({"linkId": "sub", "type": "group", "text": "Nested",
                                            "item": [{"linkId": "x", "type": "boolean", "text": "X"}]}),
     "item 'sub': a group inside a group is not supported"),
    (lambda q: q["item"][2]["item"][0].update(enableWhen=[{"question": "nowhere", "operator": "=",
                                                           "answerBoolean": True}]),
     "enableWhen refers to 'nowhere'"),
    (lambda q: q["item"][0]["item"][1].pop("text"), "item 'consent_given': a question needs its text"),
    (lambda q: q["item"][0]["item"][1].update(text="Agree?\x00"),
     "Questionnaire.item[0].item[1].text: remove the special (invisible) characters"),
    (lambda q: q["item"][0]["item"][1].update(text="x" * 5000),
     "item 'consent_given': text: String should have at most 4000 characters"),
    (lambda q: q["item"][0]["item"][1].update(_text=translation("fr", "Acceptez-vous ?")),
     "item 'consent_given' has a translation into 'fr', a language this service has no patient pages for "
     "(it knows: Spanish (es))"),
    (lambda q: q.update(language="es"), "Questionnaire.language is 'es': a question set's own texts are in English"),
    (lambda q: q["item"][0]["item"][1].update(_text={"extension": [
        {"url": TRANSLATION, "extension": [{"url": "lang", "valueCode": "es"}]}]}),
     "item 'consent_given': a translation needs its 'lang' (a language code) and its 'content'"),
])
def test_a_questionnaire_that_cannot_be_imported_is_refused_naming_what_is_wrong(change, message):
    resource = copy.deepcopy(exported())
    change(resource)
    with pytest.raises(ImportRefused) as refused:
        import_questionnaire(resource)
    assert message in str(refused.value)


# -- a submission ------------------------------------------------------------------------------

def record_for(case: str, ident: int = 7) -> tuple[SubmissionRecord, object]:
    qs = load_question_set(default_question_set_path)
    rules = load_rule_set(default_rule_set_path, qs)
    answers = case_answers(case)
    result = evaluate(qs, rules, answers, datetime.date(2026, 6, 1)).to_json()
    result["rule_set"]["version"] = 2
    record = SubmissionRecord(ident, datetime.datetime(2026, 6, 1, 14, 5, 9), answers, result, "ketamine-intake", 3,
                              "Pat Example", datetime.date(1980, 5, 17), "MRN-42", 11)
    return record, qs


def resources(bundle: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for entry in bundle["entry"]:
        out.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return out


def test_a_submission_is_a_valid_bundle_referencing_its_questionnaire_version():
    record, qs = record_for("07-several-review-flags.json")
    bundle = submission_bundle(record, qs, URLS)
    Bundle.model_validate(bundle)
    found = resources(bundle)
    response = found["QuestionnaireResponse"][0]
    QuestionnaireResponse.model_validate(response)
    assert response["questionnaire"] == "https://clinic.example/fhir/Questionnaire/ketamine-intake|3"
    assert response["status"] == "completed" and response["authored"] == "2026-06-01T14:05:09Z"
    answered = {item["linkId"]: item["answer"] for group in response["item"] for item in group["item"]}
    visible = record.visible_answers(qs)
    assert set(answered) == {k for k, v in visible.items() if v not in ((), "")}
    assert answered["phq9_1"] == [{"valueCoding": {
        "system": "https://clinic.example/fhir/CodeSystem/ketamine-intake/phq9_1",
        "code": str(visible["phq9_1"]), "display": qs.items["phq9_1"].choice_label(visible["phq9_1"])}}]
    patient = found["Patient"][0]
    assert patient["identifier"][0]["value"] == "MRN-42" and patient["birthDate"] == "1980-05-17"
    refs = {entry["fullUrl"] for entry in bundle["entry"]}
    assert response["subject"]["reference"] in refs
    assert bundle == submission_bundle(record, qs, URLS)  # stable ids: the same submission, the same Bundle


def test_the_response_is_in_the_language_the_patient_answered_in_with_the_sets_own_texts_alongside():
    record, qs = record_for("07-several-review-flags.json")
    english = resources(submission_bundle(record, qs, URLS))["QuestionnaireResponse"][0]
    assert english["language"] == "en" and "_text" not in json.dumps(english)
    spanish_record = SubmissionRecord(**{**record.__dict__, "language": "es"})
    bundle = submission_bundle(spanish_record, qs, URLS)
    Bundle.model_validate(bundle)
    response = resources(bundle)["QuestionnaireResponse"][0]
    model = QuestionnaireResponse.model_validate(response)
    assert response["language"] == model.language == "es"
    items = {item["linkId"]: item for group in response["item"] for item in group["item"]}
    spanish = qs.in_language("es")
    assert response["item"][0]["text"] == "Antes de empezar"
    assert translations_on(response["item"][0], "text") == {"en": "Before you start"}
    assert items["phq9_1"]["text"] == spanish.items["phq9_1"].text
    assert translations_on(items["phq9_1"], "text") == {"en": qs.items["phq9_1"].text}
    value = record.visible_answers(qs)["phq9_1"]
    coding = items["phq9_1"]["answer"][0]["valueCoding"]
    assert coding["code"] == str(value) and coding["display"] == spanish.items["phq9_1"].choice_label(value)
    assert translations_on(coding, "display") == {"en": qs.items["phq9_1"].choice_label(value)}
    # Same answers, same codes: only what a person reads changes.
    assert [i["linkId"] for g in english["item"] for i in g["item"]] == list(items)


def test_phq9_and_gad7_totals_are_loinc_observations_and_flags_one_risk_assessment():
    record, qs = record_for("07-several-review-flags.json")
    found = resources(submission_bundle(record, qs, URLS))
    codes = {o["code"]["coding"][0]["code"]: o for o in found["Observation"]}
    assert set(codes) == {"44261-6", "70274-6"}
    assert codes["44261-6"]["valueInteger"] == record.result["scores"]["phq9"]["value"]
    assert codes["70274-6"]["valueInteger"] == record.result["scores"]["gad7"]["value"]
    assert codes["44261-6"]["interpretation"][0]["text"] == record.result["scores"]["phq9"]["band"]
    assessment = found["RiskAssessment"][0]
    flags = record.result["flags"]
    assert flags, "the case raises flags"
    assert [p["outcome"]["coding"][0]["code"] for p in assessment["prediction"]] == [f["rule"] for f in flags]
    assert [p["qualitativeRisk"]["coding"][0]["code"] for p in assessment["prediction"]] == [f["severity"] for f in flags]
    assert assessment["method"]["coding"][0] == {"system": "https://clinic.example/fhir/CodeSystem/rule-set",
                                                 "code": "ketamine-safety", "version": "2"}


def test_no_observation_for_an_incomplete_score_and_a_note_when_no_rule_fired():
    record, qs = record_for("01-suitable-candidate.json")
    answers = dict(record.answers)
    answers.pop("gad7_1")
    incomplete = SubmissionRecord(**{**record.__dict__, "answers": answers,
                                     "result": {**record.result, "flags": [],
                                                "scores": {**record.result["scores"],
                                                           "gad7": {"value": None, "complete": False,
                                                                    "missing": ["gad7_1"]}}}})
    found = resources(submission_bundle(incomplete, qs, URLS))
    assert [o["code"]["coding"][0]["code"] for o in found["Observation"]] == ["44261-6"]
    assessment = found["RiskAssessment"][0]
    assert "prediction" not in assessment and "No rule" in assessment["note"][0]["text"]


# -- the admin pages ---------------------------------------------------------------------------

def test_an_admin_downloads_a_version_as_a_questionnaire_and_it_is_audited(staff_app, admin_client):
    response = admin_client.get("/admin/question-sets/ketamine-intake/versions/1/questionnaire.json")
    assert response.status_code == 200 and response.mimetype == "application/fhir+json"
    assert "ketamine-intake-v1-questionnaire.json" in response.headers["Content-Disposition"]
    resource = Questionnaire.model_validate_json(response.data)
    assert resource.version == "1" and resource.url.startswith(staff_app.config["BASE_URL"])
    assert [e[1:] for e in audit_events(staff_app, "export.")] == [
        ("export.fhir_questionnaire", "question_set:ketamine-intake", {"version": 1})]
    assert admin_client.get("/admin/question-sets/ketamine-intake/versions/9/questionnaire.json").status_code == 404
    history = admin_client.get("/admin/question-sets/ketamine-intake/versions").get_data(as_text=True)
    assert "/versions/1/questionnaire.json" in history and "/versions/1/submissions.zip" in history


def fhir_upload(client, content: bytes, name: str = "questionnaire.json"):
    return client.post("/admin/import", data={"csrf_token": csrf_from(client, "/admin/"),
                                              "file": (io.BytesIO(content), name)}, content_type="multipart/form-data")


def test_importing_a_questionnaire_makes_a_new_draft_set_and_a_bad_one_changes_nothing(staff_app, admin_client):
    body = json.dumps(exported(1)).encode()
    response = fhir_upload(admin_client, body)
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/question-sets/ketamine-intake-fhir")
    with staff_app.app_context():
        draft = publishing.get_draft("question_set", "ketamine-intake-fhir")
        assert draft is not None and publishing.get_draft("question_set", "ketamine-intake") is None
        imported = parse_question_set(draft.yaml_text, "draft")
    assert canonical({**question_set_document(draft.yaml_text), "id": "ketamine-intake"}) == canonical(
        question_set_document(DEFAULT_TEXT))
    assert imported.id == "ketamine-intake-fhir"
    assert audit_events(staff_app, "import")[0][1:3] == ("import", "question_set:ketamine-intake-fhir")

    broken = exported(1)
    broken["item"][1]["item"][0]["type"] = "attachment"
    for content, reason in [(b"{not json", "invalid JSON"), (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
                            (json.dumps(broken).encode(), "item 'date_of_birth': type 'attachment' is not supported"),
                            (json.dumps({"resourceType": "Questionnaire"}).encode(), "'status' is required")]:
        response = fhir_upload(admin_client, content)
        assert response.status_code == 400, reason
        assert "Not imported. Nothing was changed" in plain(response) and reason in plain(response)
    assert len(audit_events(staff_app, "import")) == 1


def test_an_imported_instrument_translation_without_its_published_source_is_refused(staff_app, admin_client):
    resource = exported(1)
    own = next(e for e in resource["extension"] if e["url"].endswith("/StructureDefinition/screening-question-set"))
    extras = json.loads(own["valueString"])
    del extras["translations"]["es"]["instruments"]
    own["valueString"] = json.dumps(extras)
    response = fhir_upload(admin_client, json.dumps(resource).encode())
    assert response.status_code == 400
    assert ("'phq9_1' belongs to instrument 'phq9': use its published translation word for word"
            in plain(response))
    assert audit_events(staff_app, "import") == []


def test_enable_when_operators_of_another_tool_become_conditions():
    def question(link_id, kind="boolean", **extra):
        return {"linkId": link_id, "type": kind, "text": link_id.title(), **extra}

    resource = {"resourceType": "Questionnaire", "status": "active", "title": "Visit", "item": [
        {"linkId": "g", "type": "group", "text": "Visit", "item": [
            question("smoker"), question("packs", "integer"),
            question("a", enableWhen=[{"question": "smoker", "operator": "!=", "answerBoolean": True}]),
            question("b", enableWhen=[{"question": "smoker", "operator": "exists", "answerBoolean": False}]),
            question("c", enableBehavior="all", enableWhen=[
                {"question": "smoker", "operator": "=", "answerBoolean": True},
                {"question": "packs", "operator": ">=", "answerInteger": 2}]),
            question("d", enableWhen=[{"question": "smoker", "operator": "=", "answerBoolean": True},
                                      {"question": "packs", "operator": "<", "answerInteger": 1}])]}]}
    with pytest.raises(ImportRefused) as refused:
        import_questionnaire(copy.deepcopy(resource))
    assert str(refused.value) == "item 'd': several enableWhen need enableBehavior 'any' or 'all'"
    resource["item"][0]["item"][-1]["enableBehavior"] = "any"
    doc = import_questionnaire(resource)
    parse_question_set(document_yaml(doc), "imported")
    conditions = {i["id"]: i.get("show_if") for i in doc["sections"][0]["items"]}
    assert conditions == {
        "smoker": None, "packs": None,
        "a": {"answer": "smoker", "ne": True},
        "b": {"not": {"answered": "smoker"}},
        "c": {"all": [{"answer": "smoker", "eq": True}, {"answer": "packs", "gte": 2}]},
        "d": {"any": [{"answer": "smoker", "eq": True}, {"answer": "packs", "lt": 1}]}}


def test_blank_text_and_an_empty_choice_list_are_left_out_of_the_response():
    record, qs = record_for("01-suitable-candidate.json")
    answers = dict(record.answers, medications=[], medications_other="")
    bundle = submission_bundle(SubmissionRecord(**{**record.__dict__, "answers": answers}), qs, URLS)
    response = resources(bundle)["QuestionnaireResponse"][0]
    linked = {item["linkId"] for group in response["item"] for item in group["item"]}
    assert "medications" not in linked and "medications_other" not in linked and "phq9_1" in linked
    assert all(item["answer"] for group in response["item"] for item in group["item"])


def test_every_patient_case_converts_to_a_valid_bundle():
    from test_clinician_support import CASES

    for path in sorted(CASES.glob("*.json")):
        record, qs = record_for(path.name)
        Bundle.model_validate(submission_bundle(record, qs, URLS))
