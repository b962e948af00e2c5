"""Shared pieces of the benchmarks: gunicorn servers on 127.0.0.1, a small cookie-keeping HTTP client,
percentiles, the machine description and the ``--json`` result file that ``run_all.py`` collects.

Nothing here touches ``./instance``: every server runs from a temporary instance folder
(``SCREENING_INSTANCE_PATH``), and the current directory of every server is that temporary folder.
"""

from __future__ import annotations

import datetime
import html
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
WORKERS = 2  # gunicorn sync workers: one per core on the 2-core benchmark machine
CACHE = Path(os.environ.get("SCREENING_BENCH_CACHE", "/tmp/screening-bench-cache"))


# -- numbers -----------------------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0..100) with linear interpolation between the closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return percentile(values, 50)


def verdict(value: float, target: float, higher_is_better: bool = False) -> str:
    met = value >= target if higher_is_better else value <= target
    return "met" if met else "MISSED"


# -- the machine -------------------------------------------------------------------------------------

def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    return ((out.stdout or out.stderr).strip().splitlines() or ["?"])[0]


def machine() -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal")))
    except (OSError, StopIteration, ValueError):
        mem_kb = 0
    import sqlite3

    try:
        from importlib.metadata import version
        gunicorn_version = version("gunicorn")
    except Exception:  # noqa: BLE001
        gunicorn_version = "not installed"
    distro = "?"
    try:
        distro = next(line.split("=", 1)[1].strip('"') for line in Path("/etc/os-release").read_text().splitlines()
                      if line.startswith("PRETTY_NAME="))
    except (OSError, StopIteration):
        pass
    return {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "os": distro, "kernel": platform.release(), "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version, "gunicorn": gunicorn_version, "wrk": _first_line(["wrk", "--version"]),
        "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "busy_before": f"{cpu_busy(1):.0%}",
    }


def cpu_busy(seconds: float = 1.0) -> float:
    """The fraction of all cores busy over ``seconds`` (from /proc/stat): how much else is running."""
    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return idle, sum(fields)
    try:
        idle0, total0 = sample()
        time.sleep(seconds)
        idle1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return float("nan")
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


class Neighbours:
    """How much of the machine's CPU other processes used while a benchmark ran: all CPU time used
    (from /proc/stat, including time stolen by the hypervisor) minus this process's and its waited-for
    children's (the servers, wrk). A PostgreSQL server started by pg.py is not a child: it counts here."""

    def __init__(self) -> None:
        self.start = self._read()

    @staticmethod
    def _read() -> tuple[float, float, float]:
        import resource

        tick = os.sysconf("SC_CLK_TCK")
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        busy = sum(fields[i] for i in (0, 1, 2, 5, 6, 7))  # user nice system irq softirq steal
        own = sum(getattr(resource.getrusage(who), attr) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                  for attr in ("ru_utime", "ru_stime"))
        return busy / tick, sum(fields) / tick, own

    def share(self) -> float:
        busy0, total0, own0 = self.start
        busy1, total1, own1 = self._read()
        return max(0.0, (busy1 - busy0) - (own1 - own0)) / max(1e-9, total1 - total0)


_neighbours: Neighbours | None = None


def neighbours_share() -> float:
    """The share of the CPU other processes used since ``banner`` (printed at the end of a benchmark)."""
    share = _neighbours.share() if _neighbours is not None else float("nan")
    print(f"   other processes used {share:.0%} of the machine's CPU during this benchmark")
    return share


def wait_until_quiet(limit: float, most: float = 0.25) -> float:
    """Wait (up to ``limit`` seconds) until less than ``most`` of the CPU is busy; the last reading."""
    deadline = time.monotonic() + limit
    busy = cpu_busy(2)
    while busy > most and time.monotonic() < deadline:
        print(f"   waiting for a quieter machine: {busy:.0%} of the CPU busy", flush=True)
        busy = cpu_busy(5)
    return busy


def describe_machine(m: dict[str, Any]) -> str:
    return (f"{m['date']} · {m['cpu']} · {m['cores']} cores · {m['memory_gb']} GB · {m['os']} · "
            f"Python {m['python']} · SQLite {m['sqlite']} · gunicorn {m['gunicorn']} · "
            f"load average before: {m['load_before']}, CPU busy before: {m['busy_before']}")


# -- results for run_all.py --------------------------------------------------------------------------

def json_arg(argv: list[str] | None = None) -> Path | None:
    """The ``--json PATH`` argument of a benchmark script (where run_all.py wants the figures)."""
    argv = sys.argv[1:] if argv is None else argv
    if "--json" in argv:
        return Path(argv[argv.index("--json") + 1])
    return None


def write_json(path: Path | None, data: dict[str, Any]) -> None:
    if path is not None:
        path.write_text(json.dumps(data, indent=2, default=str))


# -- servers -----------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_env(instance: Path, database_url: str | None = None, **config: Any) -> dict[str, str]:
    """The environment of a server process: the temporary instance folder, and SCREENING_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCREENING_")}
    env["SCREENING_INSTANCE_PATH"] = str(instance)
    if database_url:
        env["SCREENING_DATABASE_URL"] = database_url
    for key, value in config.items():
        env[f"SCREENING_{key}"] = json.dumps(value) if not isinstance(value, str) else value
    # Compiled bytecode as an installed wheel has it, kept outside the source tree (this sandbox sets
    # PYTHONDONTWRITEBYTECODE, which would make every start compile the app's modules again).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(CACHE / "pycache")
    return env


PRODUCTION_CONFIG = ROOT / "gunicorn.conf.py"


def gunicorn_command(app_spec: str, port: int, workers: int = WORKERS, config: Path | None = None) -> list[str]:
    """The one set of gunicorn settings every benchmark uses (the app and the floor alike). With
    ``config`` (the project's gunicorn.conf.py), its settings apply except the ones given here."""
    command = [PYTHON, "-m", "gunicorn"]
    if config is not None:
        command += ["-c", str(config), "--access-logfile", "/dev/null"]
    return command + ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", "sync",
                      "--log-level", "warning", "--pythonpath", str(BENCH), app_spec]


APP_SPEC = "screening:create_app()"
FLOOR_SPEC = "floor_app:app"


class Server:
    """A gunicorn process on 127.0.0.1 (stopped with SIGTERM, then SIGKILL, by ``stop``)."""

    def __init__(self, app_spec: str, env: dict[str, str], cwd: Path, name: str, workers: int = WORKERS,
                 ready_path: str = "/", config: Path | None = None):
        self.name, self.port = name, free_port()
        self.log_path = cwd / f"{name}-gunicorn.log"
        self.command = gunicorn_command(app_spec, self.port, workers, config)
        self._log = open(self.log_path, "wb")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(self.command, env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self.ready_after = wait_for(self, ready_path)
        except BaseException:
            self.stop()
            raise
        self.cpu_at_ready = self.cpu_seconds()

    def cpu_seconds(self) -> tuple[float, list[float]]:
        """CPU seconds (user + system) used so far by the gunicorn master and by each of its workers."""
        def cpu(stat: str) -> tuple[int, float]:
            fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, ..., utime, stime
            return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        master, workers = 0.0, []
        for path in Path("/proc").glob("[0-9]*/stat"):
            try:
                ppid, seconds = cpu(path.read_text())
            except (OSError, ValueError, IndexError):
                continue
            if path.parent.name == str(self.process.pid):
                master = seconds
            elif ppid == self.process.pid:
                workers.append(seconds)
        return master, workers

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def wait_for(server: Server, path: str, timeout: float = 60.0) -> float:
    """Poll until ``path`` answers 200; the seconds since the process was started."""
    deadline = server.started + timeout
    while time.perf_counter() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name}: gunicorn exited ({server.process.returncode}):\n{server.log_tail()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            conn.request("GET", path)
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return time.perf_counter() - server.started
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"{server.name}: no 200 on {path} within {timeout:.0f} s:\n{server.log_tail()}")


@contextmanager
def servers(*specs: tuple[str, str, dict[str, str], Path], workers: int = WORKERS) -> Iterator[list[Server]]:
    """Start (name, app spec, env, cwd) servers one after another; stop them all on the way out."""
    started: list[Server] = []
    try:
        for name, spec, env, cwd in specs:
            started.append(Server(spec, env, cwd, name, workers=workers))
        yield started
    finally:
        for server in started:
            server.stop()


# -- a small HTTP client -----------------------------------------------------------------------------

class Response:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes, seconds: float):
        self.status, self.headers, self.body, self.seconds = status, headers, body, seconds

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")


class Browser:
    """Keeps cookies like a browser (one site); never follows redirects. A new connection per request,
    as gunicorn's sync workers close every connection anyway."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(self, method: str, path: str, data: dict | list | None = None) -> Response:
        headers = {}
        body = None
        if self.cookies:
            headers["Cookie"] = self.cookie_header()
        if data is not None:
            body = urlencode(data, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        start = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request(method, path, body=body, headers=headers)
        raw = conn.getresponse()
        payload = raw.read()
        seconds = time.perf_counter() - start
        conn.close()
        for value in raw.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(value)
            for name, morsel in jar.items():
                expired = morsel["max-age"] == "0" or "1970" in (morsel["expires"] or "")
                if expired or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Response(raw.status, raw.headers, payload, seconds)

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, data: dict | list) -> Response:
        return self.request("POST", path, data)


def hidden_inputs(page: str) -> dict[str, str]:
    """name -> value of every hidden input of a page."""
    found = {}
    for tag in re.findall(r"<input\b[^>]*>", page):
        if 'type="hidden"' not in tag:
            continue
        name = re.search(r'\bname="([^"]*)"', tag)
        value = re.search(r'\bvalue="([^"]*)"', tag)
        if name:
            found[html.unescape(name.group(1))] = html.unescape(value.group(1)) if value else ""
    return found


def sign_in(browser: Browser, email: str, password: str) -> None:
    page = browser.get("/sign-in")
    token = hidden_inputs(page.text).get("csrf_token")
    response = browser.post("/sign-in", {"csrf_token": token, "email": email, "password": password})
    if response.status not in (302, 303):
        raise RuntimeError(f"sign-in failed ({response.status})")


# -- apps in this process (set-up only) ------------------------------------------------------------

def make_app(instance: Path, database_url: str | None = None, **config: Any):
    """The real app on the benchmark's instance folder, for setting up data before a server starts."""
    from screening import create_app

    overrides = {"INSTANCE_PATH": str(instance), **config}
    if database_url:
        overrides["DATABASE_URL"] = database_url
    return create_app(overrides)


def dispose(app) -> None:
    from screening.db import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    return path


def banner(title: str) -> dict[str, Any]:
    global _neighbours
    m = machine()
    print(f"== {title}")
    print(f"   {describe_machine(m)}")
    _neighbours = Neighbours()
    return m
