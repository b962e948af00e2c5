"""The patient pages' message catalogs: complete, consistent, compiled, and shipped in the package."""

from __future__ import annotations

import io
import tomllib
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = ROOT / "screening" / "translations"
LANGUAGES = sorted(p.name for p in CATALOGS.iterdir() if (p / "LC_MESSAGES" / "messages.po").is_file())


def catalog(language: str):
    with open(CATALOGS / language / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=language)


def extracted_messages() -> set[str]:
    """Every message of the patient pages, extracted now the way babel.cfg says."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = {**DEFAULT_KEYWORDS, "_l": None}
    found = set()
    for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map, options_map, keywords=keywords):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def messages(compiled) -> dict:
    return {str(m.id): str(m.string) for m in compiled if m.id}


def test_spanish_is_shipped():
    assert "es" in LANGUAGES


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_of_the_patient_pages_is_translated(language):
    translated = {(m.id[0] if isinstance(m.id, tuple) else m.id): m.string for m in catalog(language) if m.id}
    extracted = extracted_messages()
    assert len(extracted) > 80  # the extraction itself worked
    missing = sorted(m for m in extracted if not translated.get(m) or
                     (isinstance(translated[m], tuple) and not all(translated[m])))
    assert missing == [], "run the catalog update in README, 'Languages', and translate these"
    assert sorted(set(translated) - extracted) == [], "messages no page uses any more"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_every_placeholder(language):
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog(language).check()]
    assert problems == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalog_is_up_to_date_with_its_source(language):
    compiled = io.BytesIO()
    write_mo(compiled, catalog(language))
    with open(CATALOGS / language / "LC_MESSAGES" / "messages.mo", "rb") as f:
        shipped = read_mo(f)
    expected = read_mo(io.BytesIO(compiled.getvalue()))
    assert messages(shipped) == messages(expected), "run: pybabel compile -d screening/translations"


def test_the_package_data_ships_the_compiled_catalogs():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["screening"]
    shipped = {p for pattern in globs for p in (ROOT / "screening").glob(pattern)}
    for language in LANGUAGES:
        assert CATALOGS / language / "LC_MESSAGES" / "messages.mo" in shipped
