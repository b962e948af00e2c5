"""Benchmark 5: start-up -- from starting gunicorn to the first page served.

Run: python bench/bench_startup.py [--repeat 5]   (about 95 s)

Each repetition starts, one after the other, with the gunicorn settings of benchmark 1:

* the floor (bench/floor_app.py), for the cost of Python + gunicorn + Flask alone;
* the app on an instance folder whose database exists (a restart: the usual case);
* the app on an empty instance folder (first start: schema, default content, setup link);
* both again with the project's gunicorn.conf.py (if present: production settings, ``preload_app``,
  so the app is loaded once in the master before the workers fork), with the same bind and workers.

The clock starts just before the gunicorn process is spawned and stops when GET / has returned 200
(polled every 5 ms); the CPU seconds the gunicorn master and the worker that served it had used by then
are read from /proc (on a busy machine the wall-clock time stretches, the CPU time much less). Medians
of the repetitions, and the app / floor ratio, are printed; so are
exceptions logged while the workers boot, and starts after which gunicorn shut itself down. Then, in
fresh interpreters: whether WeasyPrint is imported by create_app() or by serving the first pages
(it must not be: it is imported when a PDF is rendered), what importing it costs, and the slowest
imports of create_app(). Target: <= 1.5 s to the first served page.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

TARGET_S = 1.5

PROBE = r"""
import json, sys, time, logging
logging.disable(logging.WARNING)
t0 = time.perf_counter()
from screening import create_app
t1 = time.perf_counter()
app = create_app()
t2 = time.perf_counter()
after_create = "weasyprint" in sys.modules
cpu = time.process_time()  # CPU seconds since the interpreter started: start-up work without waiting
client = app.test_client()
client.get("/"); client.get("/sign-in"); client.get("/health")
print(json.dumps({"import_s": t1 - t0, "create_app_s": t2 - t1, "cpu_s": cpu,
                  "weasyprint_after_create_app": after_create,
                  "weasyprint_after_first_pages": "weasyprint" in sys.modules}))
"""
WEASYPRINT_IMPORT = "import time; t = time.perf_counter(); import weasyprint; print(time.perf_counter() - t)"


def start_once(name: str, spec: str, env: dict, cwd: Path, config: Path | None = None
               ) -> tuple[float | None, float | None, list[str], bool]:
    """Seconds to the first 200 on GET /; CPU seconds spent on it (the master and the busiest worker,
    the one that has booted); the exceptions the server logged while starting; and whether gunicorn
    was still running a second later (it shuts down when a worker fails to boot). A server that never
    served the page gives (None, None, its exceptions, False)."""
    try:
        server = harness.Server(spec, env, cwd, name, config=config)
    except RuntimeError:
        log = (cwd / f"{name}-gunicorn.log").read_text(errors="replace")
        return None, None, logged_exceptions(log) or ["gunicorn exited before serving a page"], False
    try:
        master, workers = server.cpu_at_ready
        cpu = master + max(workers, default=0.0)
        time.sleep(1.0)  # let every worker finish booting: their errors count
        errors = logged_exceptions(server.log_tail(10_000))
        if errors:  # a worker failed: gunicorn notices within a second or two and may shut down
            try:
                server.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
        survived = server.process.poll() is None
        return server.ready_after, cpu, errors, survived
    finally:
        server.stop()


def logged_exceptions(log: str) -> list[str]:
    """The exception that ended each logged traceback ("sqlalchemy.exc.IntegrityError: ..."); of a
    chain ("The above exception was the direct cause..."), only the last one."""
    found: list[str] = []
    inside = after_exception = False
    for line in log.splitlines():
        if line.startswith("Traceback"):
            inside, after_exception = True, False
        elif line.startswith(("The above exception", "During handling")):
            if found:
                found.pop()  # superseded by the next exception of the chain
            after_exception = False
        elif inside and line and not line.startswith((" ", "\t")):
            found.append(line[:200])
            inside, after_exception = False, True
        elif after_exception and line.startswith("(") and not line.startswith("(Background"):
            if line not in found[-1]:  # SQLAlchemy may put the driver's message on the next line
                found[-1] = (found[-1] + " " + line)[:300]
            after_exception = False
    return found


def slowest_imports(env: dict, cwd: Path, top: int = 10) -> list[tuple[str, float]]:
    """The packages that take longest to import under create_app(): each top-level package's first
    import, with what it imports in turn (python -X importtime, cumulative)."""
    out = subprocess.run([harness.PYTHON, "-X", "importtime", "-c",
                          "import logging; logging.disable(logging.WARNING)\n"
                          "from screening import create_app; create_app()"],
                         env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    found: dict[str, float] = {}
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self_us, cumulative_us, name = line[len("import time:"):].split("|")
        name = name.strip()
        if "." in name or name.startswith("_") or name == "screening":
            continue
        found[name] = max(found.get(name, 0.0), int(cumulative_us) / 1e6)
    return sorted(found.items(), key=lambda item: -item[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures to this file (run_all.py)")
    args = parser.parse_args()
    logging.getLogger("screening").setLevel(logging.ERROR)
    m = harness.banner("Benchmark 5: start-up, process start to first served page (gunicorn, GET /)")
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="screening-bench-startup-") as tmp:
        tmp_path = Path(tmp)
        existing = tmp_path / "existing-instance"
        harness.dispose(harness.make_app(existing))  # database, schema and default content exist
        cases = [("floor", harness.FLOOR_SPEC, existing, None), ("restart", harness.APP_SPEC, existing, None),
                 ("first start", harness.APP_SPEC, None, None)]
        if harness.PRODUCTION_CONFIG.exists():  # preload_app: the app is loaded once, before the workers fork
            cases += [("restart, gunicorn.conf.py", harness.APP_SPEC, existing, harness.PRODUCTION_CONFIG),
                      ("first start, gunicorn.conf.py", harness.APP_SPEC, None, harness.PRODUCTION_CONFIG)]
        times: dict[str, list[float]] = {name: [] for name, *_ in cases}
        cpus: dict[str, list[float]] = {name: [] for name in times}
        exceptions: dict[str, list[str]] = {name: [] for name in times}
        shutdowns = {name: 0 for name in times}
        failed = {name: 0 for name in times}  # never served a page
        # Not timed: compile the bytecode of the app and the floor once (an installed wheel has it).
        start_once("warm-floor", harness.FLOOR_SPEC, harness.app_env(existing), tmp_path)
        start_once("warm-app", harness.APP_SPEC, harness.app_env(existing), tmp_path)
        for i in range(args.repeat):
            line = []
            for n, (name, spec, instance, config) in enumerate(cases):
                fresh = tmp_path / f"fresh-instance-{i}-{n}"
                env = harness.app_env(instance or fresh)
                slug = "".join(c if c.isalnum() else "-" for c in name)
                seconds, cpu, errors, survived = start_once(slug, spec, env, tmp_path, config)
                shutil.rmtree(fresh, ignore_errors=True)
                if seconds is None:
                    failed[name] += 1
                    line.append(f"{name} NEVER SERVED A PAGE")
                else:
                    times[name].append(seconds)
                    cpus[name].append(cpu)
                    line.append(f"{name} {seconds:.2f} s ({cpu:.2f} s CPU)")
                exceptions[name] += errors
                shutdowns[name] += not survived
            print(f"   repetition {i + 1}: " + ", ".join(line))
        probes = [json.loads(subprocess.run([harness.PYTHON, "-c", PROBE], env=harness.app_env(existing),
                                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                                            check=True).stdout.strip().splitlines()[-1]) for _ in range(3)]
        probe = {key: harness.median([p[key] for p in probes]) if isinstance(probes[0][key], float)
                 else any(p[key] for p in probes) for key in probes[0]}
        weasy_s = float(subprocess.run([harness.PYTHON, "-c", WEASYPRINT_IMPORT], capture_output=True, text=True,
                                       timeout=120, check=True).stdout.strip())
        imports = slowest_imports(harness.app_env(existing), tmp_path)

    floor = harness.median(times["floor"])
    floor_cpu = harness.median(cpus["floor"])
    rows = []
    for name in list(times)[1:]:
        if not times[name]:
            rows.append({"case": name, "median_s": float("nan"), "min_s": float("nan"), "max_s": float("nan"),
                         "cpu_s": float("nan"), "failed": failed[name], "ratio_to_floor": float("nan"),
                         "verdict": "MISSED", "exceptions": exceptions[name], "shutdowns": shutdowns[name]})
            continue
        value = harness.median(times[name])
        rows.append({"case": name, "median_s": value, "min_s": min(times[name]), "max_s": max(times[name]),
                     "cpu_s": harness.median(cpus[name]), "failed": failed[name],
                     "ratio_to_floor": value / floor, "verdict": harness.verdict(value, TARGET_S),
                     "exceptions": exceptions[name], "shutdowns": shutdowns[name]})
    seconds = time.perf_counter() - began
    print()
    print(f"   floor (bare Flask app):           median {floor:.2f} s, {floor_cpu:.2f} s CPU")
    for row in rows:
        print(f"   app, {row['case']:29} median {row['median_s']:.2f} s (min {row['min_s']:.2f}, max "
              f"{row['max_s']:.2f}), {row['cpu_s']:.2f} s CPU; {row['ratio_to_floor']:.1f}x the floor; "
              f"{row['median_s'] / TARGET_S:.2f} of the 1.5 s budget  {row['verdict']}")
        for text in sorted(set(row["exceptions"])):
            print(f"      logged {row['exceptions'].count(text)}x while starting: {text}")
        if row["shutdowns"]:
            print(f"      gunicorn shut down (\"Worker failed to boot\") after {row['shutdowns']} of "
                  f"{args.repeat} starts" + (f", {row['failed']} of them before serving any page (not in the "
                                             f"times)" if row["failed"] else ""))
    print(f"   in one interpreter (median of 3): import screening {probe['import_s']:.2f} s, create_app() "
          f"{probe['create_app_s']:.2f} s, CPU from interpreter start to app ready {probe['cpu_s']:.2f} s;"
          f" WeasyPrint imported after create_app(): {probe['weasyprint_after_create_app']}, after the first "
          f"pages: {probe['weasyprint_after_first_pages']}; importing WeasyPrint alone: {weasy_s:.2f} s")
    print("   slowest package imports under create_app() (each with what it imports): " +
          ", ".join(f"{name} {value:.2f} s" for name, value in imports))
    print(f"   took {seconds:.0f} s")
    neighbours = harness.neighbours_share()
    harness.write_json(args.json, {"machine": m, "seconds": seconds, "neighbours": neighbours, "floor_s": floor,
                                   "floor_all": times["floor"],
                                   "floor_cpu_s": floor_cpu,
                                   "rows": rows, "all": times, "probe": probe, "weasyprint_import_s": weasy_s,
                                   "imports": imports, "repeat": args.repeat})


if __name__ == "__main__":
    main()
