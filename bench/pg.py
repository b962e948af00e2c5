"""A throwaway PostgreSQL cluster for the benchmarks: its own data folder, 127.0.0.1 only, a free port.

The data folder can be kept between runs (the 100,000-submission database is built once, see
bench_worklist.py). Run as root, the server runs as the ``postgres`` user (PostgreSQL refuses root);
connections are trusted, which is why it listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import harness


def pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else None


class Cluster:
    def __init__(self, data: Path):
        self.data = data
        self.bin = pg_bin()
        self.port = 0
        self.socket_dir = data.parent / f"{data.name}-socket"
        self.as_postgres = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=300)

    def _own(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self.as_postgres:
            shutil.chown(path, "postgres", "postgres")

    def start(self) -> None:
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install -y postgresql)")
        if not (self.data / "PG_VERSION").exists():
            if self.data.exists():
                shutil.rmtree(self.data)
            self._own(self.data.parent)
            self._own(self.data)
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                      "--locale=C.UTF-8")
        self._own(self.socket_dir)
        self.port = harness.free_port()
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"), "-o", options, "-w",
                  "-t", "60", "start")

    def stop(self) -> None:
        if self.port:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)
            self.port = 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def version(self) -> str:
        return self._run("postgres", "--version").stdout.strip()


def admin_execute(url: str, *statements: str) -> None:
    """Run statements outside a transaction (CREATE/DROP DATABASE) with psycopg."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def admin_rows(url: str, query: str, *params) -> list[tuple]:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def admin_scalar(url: str, query: str, *params):
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()
        return row[0] if row else None


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin_scalar(url, "select 1")
            return
        except Exception:  # noqa: BLE001
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
