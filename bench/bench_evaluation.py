"""Benchmark: load+validate and evaluate a 150-item question set with 60 rules, and the default content.

Run: python bench/bench_evaluation.py   (prints medians; targets: evaluate < 1 ms, load < 150 ms; about 10 s)

``--json PATH`` also writes the figures for bench/run_all.py.
"""

from __future__ import annotations

import datetime
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import answers, question_set, rule_set  # noqa: E402

from screening.content import default_question_set_path, default_rule_set_path  # noqa: E402
from screening.evaluation import evaluate  # noqa: E402
from screening.questions import parse_question_set  # noqa: E402
from screening.rules import parse_rule_set  # noqa: E402

DAY = datetime.date(2026, 6, 1)


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def measure(label: str, qs_text: str, rs_text: str, patient: dict) -> dict:
    load = median_ms(lambda: parse_rule_set(rs_text, parse_question_set(qs_text)), 30)
    qs = parse_question_set(qs_text)
    rs = parse_rule_set(rs_text, qs)
    evaluate(qs, rs, patient, DAY)
    ev = median_ms(lambda: evaluate(qs, rs, patient, DAY), 2000)
    empty = median_ms(lambda: evaluate(qs, rs, {}, DAY), 2000)
    print(f"{label}: {len(qs.items)} items, {len(rs.rules)} rules")
    print(f"  load + validate (question set and rule set): median {load:7.2f} ms   (target < 150 ms: "
          f"{load / 150:.2f} of budget)")
    print(f"  evaluate, full answers:                      median {ev:7.3f} ms   (target < 1 ms: "
          f"{ev / 1:.2f} of budget)")
    print(f"  evaluate, no answers:                        median {empty:7.3f} ms")
    return {"label": label, "items": len(qs.items), "rules": len(rs.rules), "load_ms": load, "evaluate_ms": ev,
            "evaluate_empty_ms": empty}


def main() -> None:
    print(f"python {platform.python_version()} on {platform.machine()}, {datetime.date.today()}")
    machine = {}
    if "--json" in sys.argv:  # for run_all.py: how busy the machine was (bench/harness.py)
        import harness

        machine = harness.machine()
    began = time.perf_counter()
    synthetic = measure("synthetic", question_set(), rule_set(), answers())
    default_answers = {f"phq9_{n}": 2 for n in range(1, 10)} | {f"gad7_{n}": 1 for n in range(1, 8)} | {
        "consent_given": True, "date_of_birth": "1980-04-02", "sex_at_birth": "female", "height_cm": 165,
        "weight_kg": 70, "dep_diagnosed": True, "ad_trials": 3, "asq_1": False, "asq_2": False, "asq_3": False,
        "asq_4": True, "asq_5": False, "auditc_1": 2, "auditc_2": 1, "auditc_3": 1,
        "medical_conditions": ["hypertension"], "medications": ["ssri"], "bp_systolic": 150, "bp_diastolic": 95}
    default = measure("default (ketamine-intake + ketamine-safety)", default_question_set_path.read_text(),
                      default_rule_set_path.read_text(), default_answers)
    if "--json" in sys.argv:
        import json

        Path(sys.argv[sys.argv.index("--json") + 1]).write_text(json.dumps(
            {"seconds": time.perf_counter() - began, "rows": [synthetic, default], "machine": machine}, indent=2))


if __name__ == "__main__":
    main()
