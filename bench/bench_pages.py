"""Benchmark 1: patient page throughput through gunicorn on 127.0.0.1, next to the floor of the stack.

Run: python bench/bench_pages.py [--duration 5] [--rounds 3] [--connections 4] [--workers 2] [--profile]
     (about 80 s; --profile: about 20 s)

Two servers run side by side with the same gunicorn settings (sync workers, one per core):
the real app (``screening:create_app()``, SQLite in a temporary instance folder) and the floor
(``bench/floor_app.py``: a bare Flask app rendering a trivial template; its POST parses the form and
answers 303). wrk drives GET and POST of the PHQ-9 intake page (/intake/section/phq9), ten questions:

* GET: a patient's page view (session cookie of an open intake; the form is built from the stored answers).
* POST: a real page save -- the session cookie and the CSRF token of that session, a changed answer
  on every save (phq9_1 alternates 2 and 3, so every request writes the intake row), answered by
  303 to the next section. Every response is checked (status and Location); any other answer is
  counted as bad and reported.

Requests rotate over 32 patients, each with its own session. Each round runs each (server, method)
for ``--duration`` seconds, alternating which server goes first; medians over the rounds and the
median of the per-round ratios (app / floor) are printed. Target: the intake page at >= 50% of the
floor's throughput.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

PAGE = "/intake/section/phq9"
NEXT = "/intake/section/gad7"
PATIENTS = 32
TARGET_RATIO = 0.5

# The pages before the PHQ-9, stored as the patient's draft (the JSON encoding of the answers).
EARLIER_ANSWERS = {
    "consent_given": True, "escort_available": True,
    "date_of_birth": "1980-07-31", "sex_at_birth": "female", "height_cm": 168, "weight_kg": 68.5,
    "dep_diagnosed": True, "dep_episode_months": 18, "ad_trials": 3, "ect_history": False, "tms_history": False,
    "prior_ketamine_treatment": False, "psych_hospitalizations": 0, "bipolar_diagnosis": False,
    "mania_history": False, "psychosis_history": False, "psychosis_family": False,
}
EARLIER_SECTIONS = ["consent", "about_you", "depression_history"]
# The PHQ-9 page as a browser posts it; phq9_1 alternates so that every save changes the draft.
PHQ9_FORM = {**{f"phq9_{n}": "2" for n in range(1, 9)}, "phq9_9": "0", "phq9_difficulty": "very"}


def prepare_intakes(instance: Path, n: int) -> list[str]:
    """n open intakes with the first three pages done (written directly; only the PHQ-9 page is measured)."""
    from screening.db import db
    from screening.invitations import create_invitation
    from screening.models import utcnow

    app = harness.make_app(instance)
    tokens = []
    with app.app_context():
        for i in range(n):
            intake, token = create_invitation(f"BENCH patient {i}", None, f"BENCH-{i:03d}")
            intake.answers = dict(EARLIER_ANSWERS)
            intake.completed_sections = list(EARLIER_SECTIONS)
            intake.state, intake.started_at, intake.updated_at = "in_progress", utcnow(), utcnow()
            tokens.append(token)
        db.session.commit()
    harness.dispose(app)
    return tokens


def open_patient(port: int, token: str) -> tuple[str, list[str]]:
    """Open the link, save the PHQ-9 page once like a browser, and return (cookie, [body A, body B])."""
    browser = harness.Browser(port)
    opened = browser.get(f"/i/{token}")
    assert opened.status == 303, (opened.status, opened.text[:300])
    for _attempt in range(3):
        page = browser.get(PAGE)
        assert page.status == 200, (page.status, page.location)
        controls = {k: v for k, v in harness.hidden_inputs(page.text).items() if k in
                    ("csrf_token", "_shown", "_ref", "_return")}
        saved = browser.post(PAGE, [*controls.items(), *PHQ9_FORM.items(), ("_action", "next")])
        if saved.status == 303:
            assert saved.location.endswith(NEXT), saved.location
            break
        # "We added a question to this page": post again with what the page shows now (as a browser would).
        assert saved.status == 200 and "because of your answers" in saved.text, (saved.status, saved.text[:500])
    else:
        raise RuntimeError("the PHQ-9 page was not saved in three attempts")
    page = browser.get(PAGE)  # the controls as the saved page shows them (every item visible)
    controls = {k: v for k, v in harness.hidden_inputs(page.text).items() if k in
                ("csrf_token", "_shown", "_ref", "_return")}
    bodies = [urlencode({**controls, **PHQ9_FORM, "phq9_1": value, "_action": "next"}) for value in ("2", "3")]
    return browser.cookie_header(), bodies


def check_bodies(port: int, cookie: str, bodies: list[str]) -> None:
    """The exact requests wrk will send are valid saves (303 to the next section)."""
    import http.client

    for body in bodies:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", PAGE, body=body, headers={"Cookie": cookie,
                                                       "Content-Type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        response.read()
        location = response.getheader("Location", "")
        conn.close()
        if response.status != 303 or not location.endswith(NEXT):
            raise RuntimeError(f"prepared POST is not a valid save: {response.status} {location}")


def run_wrk(port: int, method: str, requests_file: Path, duration: float, connections: int,
            want_status: int, want_location: str | None) -> dict:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
               "-s", str(harness.BENCH / "wrk_pages.lua"), f"http://127.0.0.1:{port}", "--",
               method, PAGE, str(requests_file), str(want_status)]
    if want_location:
        command.append(want_location)
    out = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    line = next((text for text in out.stdout.splitlines() if text.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out.stdout}\n{out.stderr}")
    data = json.loads(line[len("WRKJSON "):])
    data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the four runs per server (default 3)")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections (default 4)")
    parser.add_argument("--workers", type=int, default=harness.WORKERS,
                        help=f"gunicorn sync workers per server (default {harness.WORKERS}, one per core)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file (run_all.py)")
    parser.add_argument("--profile", action="store_true",
                        help="instead: CPU per request in this process (app and floor), and a cProfile of each")
    args = parser.parse_args()
    logging.getLogger("screening").setLevel(logging.ERROR)
    if args.profile:
        return profile()
    harness.require_wrk()
    m = harness.banner("Benchmark 1: patient page throughput (gunicorn + wrk, 127.0.0.1)")
    began = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="screening-bench-pages-") as tmp:
        tmp_path = Path(tmp)
        instance = tmp_path / "instance"
        tokens = prepare_intakes(instance, PATIENTS)
        env = harness.app_env(instance)
        with harness.servers(("app", harness.APP_SPEC, env, tmp_path),
                             ("floor", harness.FLOOR_SPEC, env, tmp_path), workers=args.workers) as (app, floor):
            lines = []
            for token in tokens:
                cookie, bodies = open_patient(app.port, token)
                check_bodies(app.port, cookie, bodies)
                lines.append((cookie, bodies))
            # All patients' first variant, then all second variants: each patient's saves alternate.
            requests_file = tmp_path / "requests.tsv"
            requests_file.write_text("".join(f"{cookie}\t{bodies[v]}\n" for v in (0, 1) for cookie, bodies in lines))

            plan = {
                ("floor", "GET"): (floor, 200, None), ("floor", "POST"): (floor, 303, "/intake/section/next"),
                ("app", "GET"): (app, 200, None), ("app", "POST"): (app, 303, NEXT),
            }
            print(f"   gunicorn: {args.workers} sync workers each; wrk: 1 thread, {args.connections} connections, "
                  f"{args.duration:g} s per run, {args.rounds} rounds; {PATIENTS} patients")
            for (_name, method), (server, status, location) in plan.items():  # warm up
                run_wrk(server.port, method, requests_file, 2, args.connections, status, location)
            results: dict[tuple[str, str], list[dict]] = {key: [] for key in plan}
            for r in range(args.rounds):
                order = ("floor", "app") if r % 2 == 0 else ("app", "floor")
                for method in ("GET", "POST"):
                    for name in order:
                        server, status, location = plan[(name, method)]
                        res = run_wrk(server.port, method, requests_file, args.duration, args.connections,
                                      status, location)
                        results[(name, method)].append(res)
                        print(f"   round {r + 1} {name:5} {method:4} {res['rps']:8.1f} req/s  "
                              f"p50 {res['p50_us'] / 1000:6.2f} ms  p95 {res['p95_us'] / 1000:6.2f} ms"
                              + (f"  BAD {res['bad']} (status {res['bad_status']})" if res["bad"] else ""))
            app_log_errors = app.log_tail(10_000).count("Traceback")
        final = verify_saves(instance)

    rows = []
    for method in ("GET", "POST"):
        floor_runs, app_runs = results[("floor", method)], results[("app", method)]
        ratios = [a["rps"] / f["rps"] for a, f in zip(app_runs, floor_runs, strict=True)]
        row = {"page": f"{method} {PAGE}", "method": method,
               "floor": summarize(floor_runs), "app": summarize(app_runs),
               "ratio": harness.median(ratios), "ratios": ratios}
        row["verdict"] = harness.verdict(row["ratio"], TARGET_RATIO, higher_is_better=True)
        rows.append(row)
    seconds = time.perf_counter() - began
    print()
    print(f"   {'':26} {'floor req/s':>11} {'p50':>7} {'p95':>7} | {'app req/s':>9} {'p50':>7} {'p95':>7} | "
          f"{'app/floor':>9}  target >= {TARGET_RATIO:.0%}")
    for row in rows:
        f, a = row["floor"], row["app"]
        print(f"   {row['page']:26} {f['rps']:11.1f} {f['p50_ms']:7.2f} {f['p95_ms']:7.2f} | {a['rps']:9.1f} "
              f"{a['p50_ms']:7.2f} {a['p95_ms']:7.2f} | {row['ratio']:9.1%}  {row['verdict']}")
    print(f"   (medians of {args.rounds} rounds; latencies in ms; ratio = median of the per-round ratios)")
    bad = sum(r["bad"] + sum(r["errors"].values()) for runs in results.values() for r in runs)
    print(f"   bad responses or socket errors: {bad}; tracebacks in the app's log: {app_log_errors}; "
          f"saves verified in the database: {final}")
    print(f"   took {seconds:.0f} s")
    neighbours = harness.neighbours_share()
    harness.write_json(args.json, {
        "machine": m, "seconds": seconds, "neighbours": neighbours, "rows": rows, "bad": bad,
        "tracebacks": app_log_errors,
        "verified": final, "settings": {"workers": args.workers, "connections": args.connections,
                                        "duration": args.duration, "rounds": args.rounds, "patients": PATIENTS}})


def summarize(runs: list[dict]) -> dict:
    return {"rps": harness.median([r["rps"] for r in runs]),
            "p50_ms": harness.median([r["p50_us"] for r in runs]) / 1000,
            "p95_ms": harness.median([r["p95_us"] for r in runs]) / 1000,
            "requests": sum(r["requests"] for r in runs), "bad": sum(r["bad"] for r in runs)}


def verify_saves(instance: Path) -> str:
    """Every benchmark patient's draft holds a PHQ-9 saved by the POSTs, and the page is marked complete."""
    from sqlalchemy import select

    from screening.db import db
    from screening.models import Intake

    app = harness.make_app(instance)
    with app.app_context():
        intakes = db.session.scalars(select(Intake).where(Intake.clinic_ref.like("BENCH-%"))).all()
        ok = sum(1 for i in intakes if i.answers.get("phq9_1") in (2, 3) and i.answers.get("phq9_difficulty") == "very"
                 and "phq9" in (i.completed_sections or []))
    harness.dispose(app)
    return f"{ok}/{len(intakes)} patients"


def profile(n: int = 300) -> None:
    """Where a request's time goes, without gunicorn or wrk: the Flask test client in this process."""
    import cProfile
    import io
    import pstats

    import floor_app

    print("== Benchmark 1, profile: the PHQ-9 page in this process (Flask test client), CPU time per request")
    with tempfile.TemporaryDirectory(prefix="screening-bench-pages-profile-") as tmp:
        instance = Path(tmp) / "instance"
        token = prepare_intakes(instance, 1)[0]
        app = harness.make_app(instance)
        client = app.test_client()
        assert client.get(f"/i/{token}").status_code == 303

        def controls() -> dict:
            page = client.get(PAGE).get_data(as_text=True)
            return {k: v for k, v in harness.hidden_inputs(page).items() if k in ("csrf_token", "_shown", "_ref",
                                                                                   "_return")}
        for _ in range(2):  # the first save may add a question to the page; then every item shows
            client.post(PAGE, data={**controls(), **PHQ9_FORM, "_action": "next"})
        ctl = controls()
        bodies = [{**ctl, **PHQ9_FORM, "phq9_1": v, "_action": "next"} for v in ("2", "3")]
        floor = floor_app.app.test_client()
        calls = {
            "app GET": lambda i: client.get(PAGE),
            "app POST": lambda i: client.post(PAGE, data=bodies[i % 2]),
            "floor GET": lambda i: floor.get(PAGE),
            "floor POST": lambda i: floor.post(PAGE, data=bodies[i % 2]),
        }
        expected = {"app GET": 200, "app POST": 303, "floor GET": 200, "floor POST": 303}
        for name, call in calls.items():
            for i in range(30):
                assert call(i).status_code == expected[name], name
        # App and floor alternate in blocks of 25 requests (long enough to keep each one's caches warm),
        # so a neighbour's burst of load hits both alike.
        samples: dict[str, list[float]] = {name: [] for name in calls}
        for method in ("GET", "POST"):
            for block in range(0, n, 25):
                for name in (f"app {method}", f"floor {method}"):
                    for i in range(block, min(block + 25, n)):
                        start = time.process_time()
                        calls[name](i)
                        samples[name].append((time.process_time() - start) * 1000)
        cpu = {name: harness.median(values) for name, values in samples.items()}
        for method in ("GET", "POST"):
            print(f"   {method}: app {cpu['app ' + method]:.2f} ms CPU, floor {cpu['floor ' + method]:.2f} ms CPU "
                  f"per request (app/floor = {cpu['app ' + method] / cpu['floor ' + method]:.1f}x)")
        # Counts that the neighbours' load cannot change: SQL statements and Python function calls.
        from sqlalchemy import event

        from screening.db import db

        statements: list[str] = []
        with app.app_context():
            engine = db.engine
        listener = lambda conn, cursor, sql, *rest: statements.append(sql)  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        for name in ("app GET", "app POST", "floor GET", "floor POST"):
            statements.clear()
            profiler = cProfile.Profile()
            profiler.enable()
            for i in range(n):
                calls[name](i)
            profiler.disable()
            stats = pstats.Stats(profiler, stream=io.StringIO())
            sql = f", SQL statements {len(statements) / n:.1f}" if name.startswith("app") else ""
            print(f"   {name}: Python function calls per request {stats.total_calls / n:,.0f}{sql}")
            if name.startswith("floor"):
                continue
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(r"screening/|templating.py.*render_template|session.py.*commit"
                                                       r"|flask_wtf|sessions.py|scoping.py.*scalar", 30)
            print(f"\n   --- cProfile, {n} x {name} (cumulative; the app's functions and the big library calls)")
            print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()))
        harness.dispose(app)


if __name__ == "__main__":
    main()
