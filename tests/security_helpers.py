"""Helpers for the measured security properties (tests/test_security_*.py; no tests here).

* ``record_measure``: each measuring test prints one ``MEASURE name key=value ...`` line, stores it as a
  pytest user property (``record_property``), lists it in a "security measurements" section at the end of
  the run, and writes it to ``test-artifacts/security/measures.json`` (the figures SECURITY.md cites).
* ``markup_problems``: executable or fetching markup in an HTML page (scripts, event handlers,
  ``javascript:`` and off-site URLs, frames, SVG, ``<style>`` with ``url()`` ...).
* ``CanaryServer``: an HTTP server on 127.0.0.1 that counts every connection it accepts.
* ``HttpClient``: a small cookie-keeping HTTP client (standard library only) for real servers.
* ``AppServer``: the app served by a real WSGI server in a child process (gunicorn with the project's
  ``gunicorn.conf.py`` when installed, else werkzeug's threaded server), on a temporary instance folder,
  killable with SIGKILL.
* ``http_intake``: one patient through the whole intake over HTTP (optionally riding out a killed server).
* ``prepare_instance`` / ``stored_intakes``: an instance folder with invitations; what its SQLite file holds.
* ``browser_form``: the fields a browser would submit from a page's form.
* ``db_snapshot``: every row of every table of a SQLite file, for "nothing changed" checks.
* ``publish_admin_texts``: every text of the default question and rule sets replaced, and published.
"""

from __future__ import annotations

import datetime
import html
import http.client
import json
import os
import re
import signal
import socket
import socketserver
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
MEASURES_FILE = ROOT / "test-artifacts" / "security" / "measures.json"


# -- figures -----------------------------------------------------------------------------------------

class _MeasureReport:
    """A plugin registered on first use: lists every MEASURE line at the end of the run."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def pytest_terminal_summary(self, terminalreporter) -> None:  # pragma: no cover - output only
        if self.lines:
            terminalreporter.section("security measurements")
            for line in self.lines:
                terminalreporter.write_line(line)


_write_lock = threading.Lock()


def record_measure(request, name: str, **figures) -> str:
    """Report one measured property: printed, kept as a user property, summarised, written to JSON."""
    line = "MEASURE " + name + " " + " ".join(f"{key}={value}" for key, value in figures.items())
    print(line)
    request.node.user_properties.append(("measure", line))
    plugin = request.config.pluginmanager.get_plugin("screening-security-measures")
    if plugin is None:
        plugin = _MeasureReport()
        request.config.pluginmanager.register(plugin, "screening-security-measures")
    plugin.lines.append(line)
    with _write_lock:
        MEASURES_FILE.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = json.loads(MEASURES_FILE.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        data[name] = {"figures": {k: v for k, v in figures.items()}, "test": request.node.nodeid,
                      "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
        MEASURES_FILE.write_text(json.dumps(data, indent=2, sort_keys=True, default=str), encoding="utf-8")
    return line


# -- executable markup -------------------------------------------------------------------------------

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "background", "cite", "longdesc",
                  "lowsrc", "dynsrc", "ping", "manifest", "codebase", "archive", "profile", "usemap", "icon",
                  "xlink:href", "srcset", "imagesrcset"}
FORBIDDEN_TAGS = {"iframe", "frame", "frameset", "object", "embed", "applet", "base", "svg", "math", "template",
                  "portal", "img", "image", "video", "audio", "source", "track", "picture", "bgsound", "isindex",
                  "xml", "xss", "keygen", "marquee", "noscript", "noembed", "noframes", "plaintext", "xmp",
                  "listing", "param", "use", "animate", "set", "foreignobject", "import"}
ALLOWED_META = {"charset", "name", "content"}
PAGE_RULE = re.compile(r"^\s*@page\s*\{\s*size:\s*[A-Za-z0-9]+;\s*\}\s*$")
LOCAL_URL = re.compile(r"^(?:/(?!/)|#|\?|$)")


def _scheme(value: str) -> str | None:
    """The scheme a browser would see in a URL attribute (control characters and spaces are ignored)."""
    cleaned = re.sub(r"[\x00-\x20\x7f]+", "", html.unescape(value)).lower()
    match = re.match(r"^([a-z][a-z0-9+.\-]*):", cleaned)
    return match.group(1) if match else None


def _url_ok(value: str, pdf: bool) -> bool:
    scheme = _scheme(value)
    if scheme is None:
        cleaned = value.strip()
        return bool(LOCAL_URL.match(cleaned)) and not cleaned.startswith("//") and "\\" not in cleaned
    return scheme == "tel" or (pdf and scheme == "screening-asset")


class _Scanner(HTMLParser):
    def __init__(self, pdf: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.pdf = pdf
        self.problems: list[str] = []
        self._in: list[str] = []
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self._check(tag, attrs)
        if tag in ("script", "style"):
            self._in.append(tag)
            self._text = []

    def handle_startendtag(self, tag, attrs):
        self._check(tag, attrs)

    def handle_endtag(self, tag):
        if self._in and tag == self._in[-1]:
            self._in.pop()
            content = "".join(self._text)
            if tag == "script" and content.strip():
                self.problems.append("inline <script> content")
            if tag == "style" and not (self.pdf and PAGE_RULE.match(content)):
                self.problems.append(f"<style> element: {content[:60]!r}")

    def handle_data(self, data):
        if self._in:
            self._text.append(data)

    def handle_comment(self, data):
        if "[if" in data.lower() or "<" in data:
            self.problems.append(f"comment holding markup: {data[:60]!r}")

    def handle_decl(self, decl):
        if decl.lower() != "doctype html":
            self.problems.append(f"declaration <!{decl[:40]}>")

    def handle_pi(self, data):
        self.problems.append(f"processing instruction <?{data[:40]}>")

    def unknown_decl(self, data):
        self.problems.append(f"unknown declaration {data[:40]!r}")

    def _check(self, tag: str, attrs) -> None:
        names = {name for name, _ in attrs}
        values = {name: value or "" for name, value in attrs}
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}> element")
        if tag == "script" and not (values.get("src", "").startswith("/static/") and _url_ok(values["src"], False)):
            self.problems.append(f"<script> not from /static/: {values.get('src')!r}")
        if tag == "meta" and not names <= ALLOWED_META:
            self.problems.append(f"<meta> with {sorted(names - ALLOWED_META)}")
        if tag == "link":
            href = values.get("href", "")
            if values.get("rel") not in ("stylesheet", "icon") or not (_url_ok(href, self.pdf) and (
                    href.startswith(("/static/", "/report-assets/")) or (self.pdf and href.startswith("screening-asset:")))):
                self.problems.append(f"<link> {values.get('rel')!r} {href[:60]!r}")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append(f"event handler {name}= on <{tag}>")
            elif name in ("style",) and re.search(r"url\s*\(|expression\s*\(|@import|javascript:|behavior\s*:",
                                                  html.unescape(value), re.I):
                self.problems.append(f"style attribute fetching or running code on <{tag}>")
            elif name in ("srcdoc", "xmlns", "xlink:href", "is"):
                self.problems.append(f"{name}= on <{tag}>")
            elif name in URL_ATTRIBUTES and not _url_ok(value, self.pdf):
                self.problems.append(f"{name}={value[:60]!r} on <{tag}>")


def markup_problems(page: str, pdf: bool = False) -> list[str]:
    """Executable or fetching markup in ``page``; [] for a clean page.

    ``pdf``: the PDF's HTML, which may link ``screening-asset:`` files and hold one ``@page`` style rule.
    """
    scanner = _Scanner(pdf)
    scanner.feed(page)
    scanner.close()
    return scanner.problems


SPECIAL = re.compile(r"[<>\"']")


def unescaped(payload: str, page: str) -> bool:
    """True if a payload with ``<``, ``>`` or a quote appears verbatim (not escaped) in a page. (``&`` alone
    proves nothing: ``&lt;b&gt;`` verbatim is how ``<b>`` is correctly escaped.)"""
    return bool(SPECIAL.search(payload)) and payload in page


# -- a canary web server --------------------------------------------------------------------------------

class CanaryServer:
    """HTTP on 127.0.0.1 (random port) that counts every connection and request; there should be none."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                owner.requests.append(self.path)
                body = b"body::before{content:'CANARY-FETCHED'}"
                self.send_response(200)
                self.send_header("Content-Type", "text/css")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_HEAD = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
            daemon_threads = True
            allow_reuse_address = True

            def verify_request(self, request, client_address):
                owner.connections += 1
                return True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def hits(self) -> int:
        return self.connections

    def __enter__(self) -> "CanaryServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- a small HTTP client ------------------------------------------------------------------------------

@dataclass
class HttpResponse:
    status_code: int
    headers: dict[str, str]
    text: str

    @property
    def location(self) -> str:
        target = self.headers.get("location", "")
        parts = urlsplit(target)
        return (parts.path + (f"?{parts.query}" if parts.query else "")) if parts.netloc else target


class HttpClient:
    """One browser: keeps cookies, one connection per request, never follows redirects, never retries."""

    def __init__(self, base: str, timeout: float = 60.0) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self._lock = threading.Lock()

    def request(self, method: str, path: str, data=None) -> HttpResponse:
        headers = {"Connection": "close"}
        body = None
        if data is not None:
            body = urlencode(data, doseq=True).encode("utf-8")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        with self._lock:
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            content = response.read()
            for header in response.msg.get_all("Set-Cookie") or []:
                self._store_cookie(header)
            return HttpResponse(response.status, {k.lower(): v for k, v in response.getheaders()},
                                content.decode("utf-8", "replace"))
        finally:
            conn.close()

    def _store_cookie(self, header: str) -> None:
        cookie = SimpleCookie()
        cookie.load(header)
        with self._lock:
            for name, morsel in cookie.items():
                expired = morsel["max-age"] == "0" or (morsel["expires"] and "1970" in morsel["expires"])
                if expired or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def get(self, path: str) -> HttpResponse:
        return self.request("GET", path)

    def post(self, path: str, data) -> HttpResponse:
        return self.request("POST", path, data)


# -- the app in a real WSGI server ---------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_setting(name: str) -> bool:
    try:
        from gunicorn.config import KNOWN_SETTINGS
    except ImportError:
        return False
    return any(setting.name == name for setting in KNOWN_SETTINGS)


def gunicorn_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("gunicorn") is not None


WERKZEUG_SERVER = """
import logging, sys
if sys.argv[2:] == ["debug"]:
    logging.basicConfig(level=logging.DEBUG)
from werkzeug.serving import make_server
from screening import create_app
server = make_server("127.0.0.1", int(sys.argv[1]), create_app(), threaded=True)
print("serving", flush=True)
server.serve_forever()
"""

# gunicorn with every logger at DEBUG (the root logger too, so the app's, werkzeug's and WeasyPrint's
# records are written), and its access and error logs, all to the server's output.
GUNICORN_DEBUG_LOGGING = {
    "version": 1, "disable_existing_loggers": False,
    "root": {"level": "DEBUG", "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"level": "DEBUG", "handlers": ["console"], "propagate": False, "qualname": "gunicorn.error"},
        "gunicorn.access": {"level": "DEBUG", "handlers": ["console"], "propagate": False,
                            "qualname": "gunicorn.access"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "generic", "stream": "ext://sys.stdout"}},
    "formatters": {"generic": {"format": "%(asctime)s [%(process)d] [%(name)s] [%(levelname)s] %(message)s"}},
}
PRODUCTION_GUNICORN_CONFIG = ROOT / "gunicorn.conf.py"


class AppServer:
    """``create_app()`` served on 127.0.0.1 by a child process (its own process group, for SIGKILL)."""

    def __init__(self, instance: Path, env: dict[str, str] | None = None, workers: int = 2, threads: int = 8,
                 log_path: Path | None = None, use_gunicorn: bool | None = None, debug_logs: bool = False) -> None:
        self.instance = Path(instance)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workers, self.threads = workers, threads
        self.use_gunicorn = gunicorn_available() if use_gunicorn is None else use_gunicorn
        self.kind = "gunicorn" if self.use_gunicorn else "werkzeug"
        self.log_path = log_path or (self.instance / "server.log")
        self.debug_logs = debug_logs
        self.env = {**os.environ, "SCREENING_INSTANCE_PATH": str(self.instance), **(env or {})}
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), self.env.get("PYTHONPATH")]))
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def command(self) -> list[str]:
        if self.use_gunicorn:
            # The project's production settings (preloading, per-worker connections), on a free port.
            command = [sys.executable, "-m", "gunicorn"]
            if PRODUCTION_GUNICORN_CONFIG.is_file():
                command += ["--config", str(PRODUCTION_GUNICORN_CONFIG)]
            command += ["--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers), "--worker-class",
                        "gthread", "--threads", str(self.threads), "--timeout", "120", "--graceful-timeout", "2",
                        "--access-logfile", "-", "--error-logfile", "-"]
            if gunicorn_setting("control_socket_disable"):  # newer gunicorn: no control socket in ~/.gunicorn
                command.append("--no-control-socket")
            if self.debug_logs:
                config = self.instance / "debug-logging.json"
                config.write_text(json.dumps(GUNICORN_DEBUG_LOGGING), encoding="utf-8")
                command += ["--log-level", "debug", "--log-config-json", str(config)]
            return command + ["screening:create_app()"]
        return [sys.executable, "-c", WERKZEUG_SERVER, str(self.port)] + (["debug"] if self.debug_logs else [])

    def start(self, timeout: float = 30.0) -> None:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.command(), cwd=self.instance, env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log_text()
                last = log.rfind("Traceback")
                raise RuntimeError(f"the server exited ({self.process.returncode}): "
                                   f"{log[last:last + 4000] if last >= 0 else log[-2000:]}")
            try:
                if HttpClient(self.base, timeout=2).get("/health").status_code == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the server did not start: " + self.log_text()[-2000:])

    def kill(self) -> None:
        """SIGKILL the server and every process it started (a power cut, as far as the app can tell)."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)
        # gunicorn's workers were killed with it (same process group); once none holds the listening socket
        # (a killed process keeps no file, lock or socket), the port refuses connections.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) != 0:
                    break
            time.sleep(0.01)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            self.kill()
        self.process = None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> "AppServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# -- a patient over HTTP -------------------------------------------------------------------------------

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_of(text: str) -> str | None:
    match = CSRF_FIELD.search(text)
    return html.unescape(match.group(1)) if match else None


def patient_pages(n: int, base_pages) -> tuple[list[tuple[str, dict]], dict]:
    """The calm intake of ``intake_helpers.GOOD_PAGES`` with answers that differ per patient ``n``,
    and the answers as they should be stored."""
    from intake_helpers import GOOD_ANSWERS

    pages = [(section, dict(answers)) for section, answers in base_pages]
    changes = {"height_cm": str(150 + n % 50), "weight_kg": f"{50 + n % 40}.5",
               "medications_other": f"patient {n}: sertraline {n} mg"}
    stored = dict(GOOD_ANSWERS)
    stored.update(height_cm=150 + n % 50, weight_kg=50 + n % 40 + 0.5, medications_other=changes["medications_other"])
    for _, answers in pages:
        for key in list(answers):
            if key in changes:
                answers[key] = changes[key]
    return pages, stored


class Stalled(RuntimeError):
    """A patient made no progress for too long."""


def http_intake(client: HttpClient, token: str, pages, on_ack=None, resilient: bool = False,
                timeout: float = 120.0, double_submit: bool = False) -> int:
    """One patient through the whole intake over HTTP, like a browser: open the link, then on each page GET
    it (for its CSRF token and controls), POST the answers, follow the redirect; at the end send the review.

    ``on_ack(section_id, answers)`` is called for each page POST that got its success response (a redirect),
    and ``on_ack("review", {})`` when the review POST did. ``resilient``: connection errors (a server that
    was killed) are retried from ``/intake`` until ``timeout``. ``double_submit``: send the review twice at
    the same moment (a double click). Returns the number of connection errors met.
    """
    from intake_helpers import form_controls

    answers_of = dict(pages)
    deadline = time.monotonic() + timeout
    where, errors = f"/i/{token}", 0
    while True:
        if time.monotonic() > deadline:
            raise Stalled(f"no progress at {where} after {timeout:.0f} s ({errors} connection errors)")
        try:
            if where.startswith("/i/") or where == "/intake":
                response = client.get(where)
                if response.status_code in (302, 303):
                    where = response.location
                elif "already been sent" in response.text:
                    return errors
                else:  # no questionnaire open in this browser (yet): open the link
                    where = f"/i/{token}"
                    time.sleep(0.01)
            elif where == "/intake/done":
                response = client.get(where)
                if response.status_code == 200 and "Thank you" in response.text:
                    return errors
                where = response.location if response.status_code in (302, 303) else "/intake"
            elif where == "/intake/support":
                client.get(where)
                where = "/intake"
            elif where == "/intake/review":
                response = client.get(where)
                if response.status_code in (302, 303):
                    where = response.location
                    continue
                data = {"csrf_token": csrf_of(response.text) or ""}
                if double_submit:
                    results: list = []
                    threads = [threading.Thread(target=lambda: results.append(client.post(where, data)))
                               for _ in range(2)]
                    for thread in threads:
                        thread.start()
                    for thread in threads:
                        thread.join()
                    response = next((r for r in results if r.status_code in (302, 303)), results[0])
                else:
                    response = client.post(where, data)
                if response.status_code in (302, 303):
                    if on_ack:
                        on_ack("review", {})
                    where = response.location
                else:
                    where = "/intake"
            elif where.startswith("/intake/section/"):
                path = where.split("?")[0]
                section = path.rsplit("/", 1)[1]
                response = client.get(path)
                if response.status_code in (302, 303):
                    where = response.location
                    continue
                if response.status_code != 200 or 'name="_ref"' not in response.text:
                    where = "/intake"
                    continue
                controls = form_controls(response.text)
                answers = answers_of[section]
                # The page's script reports follow-up questions that appear while typing as shown.
                shown = " ".join(dict.fromkeys(controls["_shown"].split() + list(answers)))
                response = client.post(path, {**controls, **answers, "_shown": shown, "_action": "next"})
                if response.status_code == 303:
                    if on_ack:
                        on_ack(section, answers)
                    where = response.location
                elif not resilient:
                    raise AssertionError(f"{path}: {response.status_code} {response.text[:300]}")
                else:
                    where = "/intake"
            else:
                where = "/intake"
        except (OSError, http.client.HTTPException):
            errors += 1
            if not resilient:
                raise
            time.sleep(0.2)  # the server is down or restarting: try again shortly, as a person would
            where = "/intake"


# -- browser-like forms ------------------------------------------------------------------------------

class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._textarea: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag, attrs):
        values = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = {"action": values.get("action", ""), "fields": []}
            self.forms.append(self._form)
        elif self._form is not None and "disabled" not in values:
            name = values.get("name")
            if tag == "input" and name:
                kind = values.get("type", "text").lower()
                if kind in ("radio", "checkbox"):
                    if "checked" in values:
                        self._form["fields"].append((name, values.get("value", "on")))
                elif kind not in ("submit", "button", "image", "reset", "file"):
                    self._form["fields"].append((name, values.get("value", "")))
            elif tag == "textarea" and name:
                self._textarea = (name, [])

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1].append(data)

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea is not None and self._form is not None:
            text = "".join(self._textarea[1])
            self._form["fields"].append((self._textarea[0], text[1:] if text.startswith("\n") else text))
            self._textarea = None
        elif tag == "form":
            self._form = None


def browser_form(page: str, action_contains: str = "") -> list[tuple[str, str]]:
    """The (name, value) pairs a browser submits from the first form whose action contains the text."""
    parser = _FormParser()
    parser.feed(page)
    for form in parser.forms:
        if action_contains in form["action"]:
            return list(form["fields"])
    raise AssertionError(f"no form with action containing {action_contains!r}")


def form_values(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in fields:
        found.setdefault(name, []).append(value)
    return found


# -- the database --------------------------------------------------------------------------------------

def sqlite_path(app) -> str:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    assert uri.startswith("sqlite:///"), uri
    return uri[len("sqlite:///"):]


# Audit rows are written by design on failed sign-ins and page views, and the rate limits' attempt
# counters with every refused request; last_seen_at moves with activity.
SNAPSHOT_SKIP_TABLES = {"audit_event", "audit_head", "rate_limit_counter"}
SNAPSHOT_SKIP_COLUMNS = {"staff_session": {"last_seen_at"}}


def db_snapshot(path: str, skip_tables=SNAPSHOT_SKIP_TABLES, skip_columns=SNAPSHOT_SKIP_COLUMNS) -> dict:
    """Every row of every table (minus the audit log and activity stamps), read with its own connection."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        snapshot = {}
        tables = [row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        for table in tables:
            if table in skip_tables or table.startswith("sqlite_"):
                continue
            columns = [row[1] for row in con.execute(f'PRAGMA table_info("{table}")')
                       if row[1] not in skip_columns.get(table, set())]
            quoted = ", ".join(f'"{c}"' for c in columns)
            snapshot[table] = con.execute(f'SELECT {quoted} FROM "{table}" ORDER BY rowid').fetchall()
        return snapshot
    finally:
        con.close()


def snapshot_diff(before: dict, after: dict) -> list[str]:
    changed = []
    for table in sorted(set(before) | set(after)):
        if before.get(table) != after.get(table):
            changed.append(table)
    return changed


def integrity_check(path: str) -> str:
    con = sqlite3.connect(path, timeout=30)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


# -- admin-written text ----------------------------------------------------------------------------------

def publish_admin_texts(app, texts: list[str], admin_email: str) -> tuple[int, int]:
    """Replace every text of the default question set (section titles and introductions, question text and
    help, units, choice labels and help) and rule set (messages, sources) with ``texts`` in turn, and publish
    both as the admin would (``publishing.save_draft`` + ``publish_draft``). The YAML is edited the way
    ``screening.editing`` does, in one pass. Returns how many (question-set, rule-set) texts were replaced."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from sqlalchemy import select

    from screening import editing, publishing
    from screening.db import db
    from screening.models import User

    counter = iter(range(10 ** 9))

    def nxt() -> str:
        return texts[next(counter) % len(texts)]

    with app.app_context():
        admin = db.session.scalar(select(User).where(User.email == admin_email))
        data = editing.load(publishing.current_version("question_set", "ketamine-intake").yaml_text)
        qs_slots = 0
        for section in data["sections"]:
            section["title"], section["intro"] = nxt(), nxt()
            qs_slots += 2
            for item in section["items"]:
                item["text"], item["help"] = nxt(), nxt()
                qs_slots += 2
                if item.get("type") in ("integer", "decimal"):
                    item["unit"] = nxt()[:40]
                    qs_slots += 1
                if item.get("type") in ("single_choice", "multi_choice", "scale"):
                    choices = item["choices"]
                    if isinstance(choices, str):
                        choices = data["choice_sets"][choices]
                    seq = CommentedSeq()
                    for choice in choices:
                        seq.append(CommentedMap([("value", choice["value"]), ("label", nxt()), ("help", nxt())]))
                        qs_slots += 2
                    item["choices"] = seq
        publishing.save_draft("question_set", "ketamine-intake", editing.dump(data), admin.id)
        row, problems = publishing.publish_draft("question_set", "ketamine-intake", admin.id, admin.email)
        assert row is not None, problems[:5]
        rules = editing.load(publishing.current_version("rule_set", "ketamine-safety").yaml_text)
        for rule in rules["rules"]:
            rule["message"], rule["source"] = nxt(), nxt()
        publishing.save_draft("rule_set", "ketamine-safety", editing.dump(rules), admin.id)
        row, problems = publishing.publish_draft("rule_set", "ketamine-safety", admin.id, admin.email)
        assert row is not None, problems[:5]
        return qs_slots, 2 * len(rules["rules"])


def prepare_instance(instance: Path, invitations: int) -> list[tuple[int, str]]:
    """A fresh instance folder with the default content, its secret key file and ``invitations`` open
    invitations: [(intake id, link token)]. The app that made them is closed again."""
    from screening import create_app
    from screening.db import db
    from screening.invitations import create_invitation

    app = create_app({"INSTANCE_PATH": str(instance)})
    made = []
    with app.app_context():
        for n in range(invitations):
            intake, token = create_invitation(patient_name=f"Concurrent Patient {n}")
            made.append((intake.id, token))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return made


def stored_intakes(path: str, readonly: bool = True) -> dict[int, dict]:
    """Every intake's state, answers and submissions, read straight from the SQLite file. After a crash,
    read with ``readonly=False``: the first connection recovers the write-ahead log, as a restart would."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) if readonly else sqlite3.connect(path, timeout=30)
    try:
        found = {row[0]: {"state": row[1], "answers": json.loads(row[2] or "{}"), "submissions": []}
                 for row in con.execute("SELECT id, state, answers FROM intake")}
        for intake_id, answers in con.execute("SELECT intake_id, answers FROM submission"):
            found[intake_id]["submissions"].append(json.loads(answers))
        return found
    finally:
        con.close()


class CountingClient(HttpClient):
    """An HttpClient that counts requests and server errors (5xx) across every instance."""

    requests = 0
    server_errors: list[str] = []
    _count_lock = threading.Lock()

    def request(self, method, path, data=None):
        response = super().request(method, path, data)
        with CountingClient._count_lock:
            CountingClient.requests += 1
            if response.status_code >= 500:
                CountingClient.server_errors.append(f"{response.status_code} {method} {path}")
        return response
