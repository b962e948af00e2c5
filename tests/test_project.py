"""The project as a new user meets it: the README's commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent


def readme_commands() -> list[str]:
    return [line.strip() for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("    python3 -m venv")]


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = next(c for c in readme_commands() if "pytest" in c)
    assert test_command in ci.splitlines()


def test_readme_install_command_starts_the_service():
    install = next(c for c in readme_commands() if "pytest" not in c)
    assert re.search(r"flask --app screening run", install)


def test_the_domain_core_does_not_import_flask():
    core = [ROOT / "screening" / "evaluation.py", ROOT / "screening" / "yaml_source.py",
            *(ROOT / "screening" / "questions").glob("*.py"), *(ROOT / "screening" / "rules").glob("*.py"),
            *(ROOT / "screening" / "exchange").glob("*.py")]
    offenders = [str(p.relative_to(ROOT)) for p in core if re.search(r"^\s*(from|import) flask", p.read_text(), re.M)]
    assert offenders == []
