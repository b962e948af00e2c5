"""Benchmark: the cost of a rate-limited request with the database store vs Flask-Limiter's memory store.

Run: python bench/bench_rate_limit.py [--postgres postgresql+psycopg://USER:PASSWORD@HOST:PORT]

Times, in one process with the test client, an unknown patient link (``/i/<token>``: the patient-link
limit is read before the view and counted after its 404, i.e. one read and one upsert) and a bare
``incr`` of each store; prints medians and the database/memory ratio. SQLite always (WAL, on a
temporary instance folder); PostgreSQL too with ``--postgres`` (a throwaway database on that server).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import harness  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from screening import create_app  # noqa: E402
from screening.db import db  # noqa: E402
from screening.security import limiter  # noqa: E402

REQUESTS = 600
INCRS = 2000


def median_ms(fn, repeat: int) -> float:
    def once() -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    return harness.median([once() for _ in range(repeat)]) * 1000


def measure(instance: str, storage: str | None) -> tuple[float, float]:
    config = {"INSTANCE_PATH": instance, "SECRET_KEY": "bench", "RATELIMIT_STORAGE_URI": storage,
              "PATIENT_LINK_LIMIT_PER_ADDRESS": "1000000 per hour"}
    app = create_app(config)
    client = app.test_client()
    tokens = iter(range(10**9))

    def limited_request() -> None:
        response = client.get(f"/i/unknown-{next(tokens)}")
        assert response.status_code == 404, response.status_code

    with app.app_context():
        for _ in range(50):
            limited_request()
        request = median_ms(limited_request, REQUESTS)
        incr = median_ms(lambda: limiter.storage.incr("bench-key", 3600), INCRS)
        db.engine.dispose()
    return request, incr


def report(label: str, instance: str) -> None:
    memory_request, memory_incr = measure(instance, "memory://")
    database_request, database_incr = measure(instance, None)
    print(f"{label}:")
    print(f"  limited request (404 link): memory {memory_request:6.3f} ms, database {database_request:6.3f} ms, "
          f"ratio {database_request / memory_request:4.2f}, +{database_request - memory_request:5.3f} ms")
    print(f"  store incr alone:           memory {memory_incr:6.3f} ms, database {database_incr:6.3f} ms, "
          f"ratio {database_incr / memory_incr:5.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", help="a PostgreSQL server URL (a database is made and dropped)")
    args = parser.parse_args()
    harness.banner("rate-limited requests: the database store vs memory")
    with tempfile.TemporaryDirectory() as instance:
        report("SQLite", instance)
    if args.postgres:
        server_url = args.postgres.rstrip("/")
        name = f"screening_bench_{uuid.uuid4().hex[:12]}"
        server = create_engine(f"{server_url}/postgres", isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            with tempfile.TemporaryDirectory() as instance:
                os.environ["SCREENING_DATABASE_URL"] = f"{server_url}/{name}"
                report("PostgreSQL", instance)
        finally:
            with server.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            server.dispose()
    harness.neighbours_share()


if __name__ == "__main__":
    main()
