"""The project as a new user meets it: the README's commands are the ones CI runs."""

from __future__ import annotations

import re
import subprocess
import sys
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
    """Imported in a fresh interpreter where Flask cannot be imported at all, so an indirect import fails too."""
    core = ["screening.evaluation", "screening.yaml_source",
            *(f"screening.questions.{p.stem}" for p in (ROOT / "screening" / "questions").glob("*.py")),
            *(f"screening.rules.{p.stem}" for p in (ROOT / "screening" / "rules").glob("*.py")),
            *(f"screening.exchange.{p.stem}" for p in (ROOT / "screening" / "exchange").glob("*.py"))]
    core = [name.removesuffix(".__init__") for name in core]
    script = ("import sys\n"
              "for name in ('flask', 'flask_babel', 'flask_sqlalchemy', 'flask_wtf', 'flask_login', 'werkzeug'):\n"
              "    sys.modules[name] = None\n"
              "import importlib\n"
              f"for module in {core!r}:\n"
              "    importlib.import_module(module)\n"
              "print(sorted(m for m in sys.modules if m.startswith('screening')))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "screening.rules.conditions" in done.stdout and "screening.evaluation" in done.stdout

