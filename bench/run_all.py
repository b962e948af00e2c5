"""Run every benchmark of issue 8 and write their figures into bench/RESULTS.md.

Run: python bench/run_all.py [--only pages,pdf,...] [--no-postgres] [--wait-quiet 300]
     (about 4-5 minutes; the first run also builds the 100,000-submission databases, 2-3 minutes more)

Each benchmark runs in its own interpreter, one after the other, and prints as it goes. The figures
replace the part of bench/RESULTS.md between the "results:begin" and "results:end" markers (only
after a full run, not with --only); the hand-written analysis around it (profiles, explanations) is kept.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

RESULTS = harness.BENCH / "RESULTS.md"
BEGIN, END = "<!-- results:begin (written by bench/run_all.py) -->", "<!-- results:end -->"
BENCHMARKS = {  # name: (script, extra arguments)
    "evaluation": ("bench_evaluation.py", []),
    "pages": ("bench_pages.py", []),
    "pdf": ("bench_pdf.py", []),
    "worklist": ("bench_worklist.py", []),
    "startup": ("bench_startup.py", []),
}


def run(name: str, extra: list[str], out_dir: Path) -> dict | None:
    script, args = BENCHMARKS[name]
    target = out_dir / f"{name}.json"
    command = [sys.executable, str(harness.BENCH / script), *args, *extra, "--json", str(target)]
    print(f"\n$ python bench/{script} {' '.join(args + extra)}", flush=True)
    started = time.perf_counter()
    code = subprocess.call(command, cwd=out_dir)
    if code != 0 or not target.exists():
        print(f"!! {script} failed (exit code {code})")
        return None
    data = json.loads(target.read_text())
    data.setdefault("seconds", time.perf_counter() - started)
    return data


def share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def ms(value: float) -> str:
    return f"{value:.1f} ms" if value >= 10 else f"{value:.2f} ms"


def section_evaluation(d: dict) -> list[str]:
    lines = ["### 3. Evaluation (`python bench/bench_evaluation.py`)", "",
             "| set | load + validate | evaluate, full answers | evaluate, no answers | target evaluate <= 1 ms |",
             "|---|---|---|---|---|"]
    for row in d["rows"]:
        lines.append(f"| {row['label']}: {row['items']} items, {row['rules']} rules | {ms(row['load_ms'])} | "
                     f"{row['evaluate_ms']:.3f} ms | {row['evaluate_empty_ms']:.3f} ms | "
                     f"{row['evaluate_ms'] / 1:.2f} of budget: {harness.verdict(row['evaluate_ms'], 1.0)} |")
    return lines


def section_pages(d: dict) -> list[str]:
    s = d["settings"]
    lines = ["### 1. Patient page throughput (`python bench/bench_pages.py`)", "",
             f"gunicorn {s['workers']} sync workers per server, wrk 1 thread / {s['connections']} connections, "
             f"{s['duration']} s per run, {s['rounds']} rounds alternating servers; {s['patients']} patients. "
             "Medians of the rounds; ratio = median of the per-round app/floor ratios.", "",
             "| page | floor req/s | floor p50 / p95 | app req/s | app p50 / p95 | app / floor | target >= 50% |",
             "|---|---|---|---|---|---|---|"]
    for row in d["rows"]:
        f, a = row["floor"], row["app"]
        lines.append(f"| {row['page']} | {f['rps']:.0f} | {ms(f['p50_ms'])} / {ms(f['p95_ms'])} | {a['rps']:.0f} | "
                     f"{ms(a['p50_ms'])} / {ms(a['p95_ms'])} | {row['ratio']:.1%} | {row['verdict']} |")
    lines += ["", f"Bad responses or socket errors: {d['bad']}; tracebacks in the app's log: {d['tracebacks']}; "
                  f"saves verified in the database: {d['verified']}."]
    return lines


def section_pdf(d: dict) -> list[str]:
    lines = ["### 2. PDF (`python bench/bench_pdf.py`)", "",
             f"Pages of the nine DEMO summaries: {sorted(d['pages'].values())}. First render in a process "
             f"(imports WeasyPrint): {d['cold_s']:.2f} s.", "",
             f"| warm render ({d['repeat']} runs) | pages | median wall | median CPU | per page | target <= 0.5 s |",
             "|---|---|---|---|---|---|"]
    for row in d["renders"]:
        lines.append(f"| {row['label']} | {row['pages']} | {row['wall_s']:.3f} s | {row['cpu_s']:.3f} s | "
                     f"{row['wall_s'] / row['pages']:.3f} s | {row['wall_s'] / 0.5:.2f} of budget: {row['verdict']} |")
    dl = d["download"]
    lines += ["", "| download of the stored PDF (through gunicorn, signed in) | p50 | p95 | GET /health p50, same run "
                  "| download / health | target <= 20 ms |", "|---|---|---|---|---|---|",
              f"| {dl['bytes'] // 1024} KiB, {dl['n']} requests | {ms(dl['p50_ms'])} | {ms(dl['p95_ms'])} | "
              f"{ms(dl['health_p50_ms'])} | {dl['ratio_to_health']:.1f}x | {dl['p50_ms'] / 20:.2f} of budget: "
              f"{dl['verdict']} |"]
    if "submit" in d:
        sub = d["submit"]
        lines += ["", f"Submitting an intake (in-process `submit_intake`, {sub['n']} each): median "
                      f"{sub['without_pdf_s'] * 1000:.0f} ms without the PDF; "
                      f"{sub['in_request_s'] * 1000:.0f} ms in the patient's \"Send\" request (the default: the PDF "
                      f"is rendered after the response is sent); {sub['with_pdf_s'] * 1000:.0f} ms outside a request, "
                      f"where it is rendered at once."]
    return lines


def section_worklist(d: dict) -> list[str]:
    names = [n for n in ("SQLite", "PostgreSQL") if d["rows"] and n in d["rows"][0]]
    sizes = "; ".join(f"{n}: {i['size_mb']} MB" for n, i in d["databases"].items())
    lines = [f"### 4. Work list with {d['n']:,} submissions (`python bench/bench_worklist.py`)", "",
             f"{d['rounds']} rounds x {d['per_round']} requests per page and database, one at a time, signed in, "
             f"through gunicorn. Database sizes: {sizes}. {d.get('postgres_version', '')}", "",
             "| page | " + " | ".join(f"{n} p50 / p95 (rows)" for n in names) + " | PostgreSQL / SQLite p50 "
             "| target p95 <= 100 ms |", "|---|" + "---|" * len(names) + "---|---|"]
    for row in d["rows"]:
        cells = [f"{ms(row[n]['p50_ms'])} / {ms(row[n]['p95_ms'])} ({row[n]['rows']})" for n in names]
        verdicts = ", ".join(f"{n}: {row[n]['verdict']}" for n in names)
        ratio = f"{row['pg_over_sqlite_p50']:.2f}" if "pg_over_sqlite_p50" in row else "-"
        lines.append(f"| {row['page']} | " + " | ".join(cells) + f" | {ratio} | {verdicts} |")
    if d.get("postgres_error"):
        lines += ["", "PostgreSQL not measured: the app could not create its schema:", "", "```",
                  d["postgres_error"], "```"]
    return lines


def section_startup(d: dict) -> list[str]:
    lines = ["### 5. Start-up (`python bench/bench_startup.py`)", "",
             f"gunicorn from spawn to the first 200 on GET /, {d['repeat']} starts each: with the settings of "
             "benchmark 1 (2 sync workers, each loading the app), and with the project's gunicorn.conf.py "
             "(`preload_app`: loaded once, before the workers fork) and the same bind and workers.", "",
             "| case | median | min - max | CPU to first page (median) | / floor | target <= 1.5 s |",
             "|---|---|---|---|---|---|",
             f"| floor (bare Flask app) | {d['floor_s']:.2f} s | "
             f"{min(d['floor_all']):.2f} - {max(d['floor_all']):.2f} s "
             f"| {d.get('floor_cpu_s', float('nan')):.2f} s | 1.0x | |"]
    for row in d["rows"]:
        lines.append(f"| app, {row['case']} | {row['median_s']:.2f} s | {row['min_s']:.2f} - {row['max_s']:.2f} s | "
                     f"{row.get('cpu_s', float('nan')):.2f} s | {row['ratio_to_floor']:.1f}x | "
                     f"{row['median_s'] / 1.5:.2f} of budget: {row['verdict']} |")
    p = d["probe"]
    lines += ["", f"In one interpreter: `import screening` {p['import_s']:.2f} s, "
                  f"`create_app()` {p['create_app_s']:.2f} s"
                  + (f", CPU from interpreter start to app ready {p['cpu_s']:.2f} s" if "cpu_s" in p else "") +
              f". WeasyPrint imported by create_app(): {p['weasyprint_after_create_app']}; by the first pages: "
              f"{p['weasyprint_after_first_pages']}; importing it alone costs {d['weasyprint_import_s']:.2f} s.",
              "Slowest package imports under create_app() (each with what it imports in turn, so they overlap): " +
              ", ".join(f"`{n}` {v:.2f} s" for n, v in d["imports"]) + "."]
    for row in d["rows"]:
        for text in sorted(set(row.get("exceptions", []))):
            lines.append(f"- app, {row['case']}: logged {row['exceptions'].count(text)}x while starting: `{text}`")
        if row.get("shutdowns"):
            lines.append(f"- app, {row['case']}: gunicorn shut itself down (\"Worker failed to boot\") after "
                         f"{row['shutdowns']} of {d['repeat']} starts"
                         + (f", {row['failed']} of them before serving any page" if row.get("failed") else ""))
    return lines


SECTIONS = {"pages": section_pages, "pdf": section_pdf, "evaluation": section_evaluation,
            "worklist": section_worklist, "startup": section_startup}


def render(results: dict, machine: dict, total: float, waited: float) -> str:
    lines = [BEGIN, "", f"**Measured** {harness.describe_machine(machine)}.", "",
             "| benchmark | took | CPU used by other processes: just before it / during it |", "|---|---|---|"]
    lines += [f"| {name} | {results[name]['seconds']:.0f} s | "
              f"{results[name].get('machine', {}).get('busy_before', '-')} / {share(results[name].get('neighbours'))} |"
              for name in BENCHMARKS if results.get(name)]
    lines += [f"| all (run_all.py) | {total - waited:.0f} s" + (f" (+ {waited:.0f} s waiting for a quieter machine)"
                                                               if waited else "") + " | |", ""]
    for name in ("pages", "pdf", "evaluation", "worklist", "startup"):
        if results.get(name):
            lines += SECTIONS[name](results[name]) + [""]
        elif name in results:
            lines += [f"### {name}: FAILED (see the console output)", ""]
    lines.append(END)
    return "\n".join(lines)


def write_results(block: str) -> None:
    if RESULTS.exists():
        text = RESULTS.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            tail = rest.split(END, 1)[1]
            RESULTS.write_text(head + block + tail)
            return
        RESULTS.write_text(text.rstrip() + "\n\n" + block + "\n")
        return
    RESULTS.write_text("# Benchmark results (issue 8)\n\n" + block + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated: " + ",".join(BENCHMARKS) + " (RESULTS.md is then not written)")
    parser.add_argument("--no-postgres", action="store_true", help="work list on SQLite only")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="before each benchmark, wait up to this long for the CPU to be < 25%% busy")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        sys.exit(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    machine = harness.machine()
    began = time.perf_counter()
    results: dict = {}
    waited = 0.0
    with tempfile.TemporaryDirectory(prefix="screening-bench-all-") as tmp:
        for name in chosen:
            if args.wait_quiet:
                start = time.perf_counter()
                harness.wait_until_quiet(args.wait_quiet)
                waited += time.perf_counter() - start
            extra = ["--no-postgres"] if name == "worklist" and args.no_postgres else []
            results[name] = run(name, extra, Path(tmp))
    total = time.perf_counter() - began
    if args.only:  # RESULTS.md always holds one complete run
        print(f"\n{RESULTS} not changed: only a full run writes it ({total:.0f} s in all).")
        return
    write_results(render(results, machine, total, waited))
    print(f"\nWrote {RESULTS} ({total:.0f} s in all).")


if __name__ == "__main__":
    main()
