"""What every FHIR resource made here shares: stable URLs, resource ids, and validation.

Validation uses the R4B models of ``fhir.resources``: it is the only FHIR 4.x release line of the
package that runs on pydantic 2 (its R4 4.0.1 models need pydantic 1), and R4B differs from R4 only
in modules this project does not use (medication definitions, evidence, subscriptions), so a
Questionnaire, QuestionnaireResponse, Observation, RiskAssessment, Patient or Bundle that validates
here is R4 content.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

FHIR_VERSION = "4.0.1"
EXT_ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
EXT_MIN = "http://hl7.org/fhir/StructureDefinition/minValue"
EXT_MAX = "http://hl7.org/fhir/StructureDefinition/maxValue"
EXT_UNIT = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
EXT_ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"
EXT_TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
# The project's own extensions (their URLs start with the clinic's address; import matches the name).
OWN_SET_EXTENSION = "screening-question-set"
OWN_ITEM_EXTENSION = "screening-item"


class FhirInvalid(ValueError):
    """A resource that does not validate against the FHIR models; the message says where and why."""


@dataclass(frozen=True)
class Urls:
    """Canonical URLs and identifier systems, all under the clinic's BASE_URL."""

    base: str

    def __post_init__(self):
        object.__setattr__(self, "base", self.base.rstrip("/"))

    def questionnaire(self, set_id: str) -> str:
        return f"{self.base}/fhir/Questionnaire/{set_id}"

    @property
    def question_set_system(self) -> str:
        return f"{self.base}/fhir/question-set"

    @property
    def submission_system(self) -> str:
        return f"{self.base}/fhir/submission"

    @property
    def clinic_ref_system(self) -> str:
        return f"{self.base}/fhir/clinic-ref"

    def answer_system(self, set_id: str, item_id: str) -> str:
        return f"{self.base}/fhir/CodeSystem/{set_id}/{item_id}"

    def code_system(self, name: str) -> str:
        return f"{self.base}/fhir/CodeSystem/{name}"

    def extension(self, name: str) -> str:
        return f"{self.base}/fhir/StructureDefinition/{name}"

    def urn(self, kind: str, key: Any) -> str:
        """A stable ``urn:uuid:`` for a resource: the same submission always gets the same ids."""
        return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.base}/fhir/{kind}/{key}"))


def resource_id(text: str) -> str:
    """FHIR ids allow letters, digits, '-' and '.', at most 64."""
    return re.sub(r"[^A-Za-z0-9.-]", "-", text)[:64]


def validate(resource: dict) -> dict:
    """Check a resource (a dict) against its FHIR model; return it unchanged, or raise FhirInvalid."""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    try:
        model = get_fhir_model_class(kind) if isinstance(kind, str) else None
    except ValueError:
        model = None
    if model is None:
        raise FhirInvalid(f"'{kind}' is not a FHIR resource type" if kind else "resourceType is missing")
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        raise FhirInvalid("; ".join(describe(kind, error) for error in exc.errors(include_url=False)[:10])) from None
    return resource


def describe(kind: str, error: dict) -> str:
    path = kind
    for step in error.get("loc", ()):
        path += f"[{step}]" if isinstance(step, int) else f".{step}"
    message = error.get("msg", "invalid")
    if error.get("type") == "extra_forbidden":
        message = "not an element of this resource"
    elif error.get("type") == "missing":
        message = "required"
    return f"{path}: {message}"


def own_extension(urls: Urls, name: str, value: str) -> dict:
    return {"url": urls.extension(name), "valueString": value}


def translation_extension(language: str, content: str) -> dict:
    """The core ``translation`` extension, for the ``_<element>`` of a string: one language's text."""
    return {"url": EXT_TRANSLATION, "extension": [{"url": "lang", "valueCode": language},
                                                  {"url": "content", "valueString": content}]}


def is_own_extension(extension: dict, name: str) -> bool:
    url = extension.get("url", "")
    return isinstance(url, str) and url.rstrip("/").endswith("/StructureDefinition/" + name)
