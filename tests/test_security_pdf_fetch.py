"""Measured property 3 (issue 7): the PDF renderer fetches nothing outside the package's report assets.

Payloads that would load something -- ``<img>``, ``srcset``, ``<link>`` (stylesheet, icon, attachment),
CSS ``url()``, ``@import``, ``@font-face``, inline SVG ``<image>``/``<use>``, ``<object>``/``<embed>``/
``<iframe>``, ``<base>``, ``data:`` documents that themselves point elsewhere, and ``file:`` URLs (system
files and a canary file of our own) -- point at a canary HTTP server on 127.0.0.1 (random port) that counts
every connection. They are put in the answers, the patient's name and reference, and in admin-written
question and rule text (published), and the PDFs are rendered two ways:

* by the app itself (``GET .../summary.pdf``), with its fetcher class replaced by a recording subclass;
* from the PDF's HTML with every entity unescaped, so that the markup is live (as if escaping had failed),
  through the same recording fetcher.

Also recorded: every file Python opens while rendering (an audit hook), so a ``file:`` read that went
around the fetcher would show. The figures: fetches outside the assets (0), connections to the canary (0),
reads of the canary file (0); and, for the live markup, how many URLs the fetcher refused.
"""

from __future__ import annotations

import html
import io
import sys
import threading

import pytest
from pypdf import PdfReader

from intake_helpers import GOOD_ANSWERS
from screening.db import db
from screening.models import Submission
from screening.report import fetcher as fetcher_module
from screening.report.fetcher import AssetFetcher
from security_helpers import CanaryServer, publish_admin_texts, record_measure
from test_clinician_support import case_answers, make_submission, make_user, sign_in

FILE_CANARY = "ZZFILECANARY-5151"


class RecordingFetcher(AssetFetcher):
    """The app's fetcher, with every URL it is asked for and every one it served recorded."""

    asked: list[str] = []
    served_outside: list[str] = []

    def fetch(self, url, headers=None):
        RecordingFetcher.asked.append(str(url))
        response = super().fetch(url, headers)
        if not str(url).startswith("screening-asset:"):
            RecordingFetcher.served_outside.append(str(url))
        return response


class FileReads:
    """Python-level opens of files under the given folders while ``active``. One audit hook serves every
    instance (``sys.addaudithook`` cannot be undone; it returns at once unless a render is being watched)."""

    _watching: list["FileReads"] = []
    _installed = False

    def __init__(self, *folders: str) -> None:
        self.folders = folders
        self.paths: list[str] = []
        self._lock = threading.Lock()
        if not FileReads._installed:
            sys.addaudithook(FileReads._hook)
            FileReads._installed = True

    @property
    def active(self) -> bool:
        return self in FileReads._watching

    @active.setter
    def active(self, on: bool) -> None:
        if on and self not in FileReads._watching:
            FileReads._watching.append(self)
        elif not on and self in FileReads._watching:
            FileReads._watching.remove(self)

    @staticmethod
    def _hook(event, args):
        if not FileReads._watching or event != "open" or not args or not isinstance(args[0], (str, bytes)):
            return
        path = args[0].decode(errors="replace") if isinstance(args[0], bytes) else args[0]
        for watcher in list(FileReads._watching):
            if path.startswith(watcher.folders):
                with watcher._lock:
                    watcher.paths.append(path)


def fetching_payloads(base: str, canary_file: str) -> list[str]:
    file_url = f"file://{canary_file}"
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
           f'<image href="{base}/svg-image.png" width="9" height="9"/>'
           f'<image xlink:href="{base}/svg-xlink.png" width="9" height="9"/><use href="{base}/sprite.svg#a"/></svg>')
    return [
        f'<img src="{base}/img.png">', f'<img srcset="{base}/srcset.png 1x">', f'<img src="{base}/pic.svg">',
        f'<link rel="stylesheet" href="{base}/style.css">', f'<link rel="icon" href="{base}/icon.png">',
        f'<link rel="attachment" href="{base}/attach.bin">', f'<a rel="attachment" href="{base}/a.bin">x</a>',
        f'<style>@import url("{base}/import.css");</style>', f'<style>@import "{base}/import2.css";</style>',
        f'<style>@font-face {{ font-family: z; src: url("{base}/font.woff2"); }} body {{ font-family: z; }}</style>',
        f'<div style="background-image: url({base}/bg.png)">bg</div>',
        f'<div style="list-style-image: url({base}/bullet.png); content: url({base}/content.png)">x</div>',
        f'<style>body {{ background: url("{base}/body.png") }}</style>', svg,
        f'<object data="{base}/object.svg"></object>', f'<embed src="{base}/embed.svg">',
        f'<iframe src="{base}/frame.html"></iframe>', f'<base href="{base}/"><img src="relative.png">',
        f'<video poster="{base}/poster.png"></video>', f'<table background="{base}/table.png"><tr><td>t</td></tr></table>',
        f'<input type="image" src="{base}/input.png">', f'<img src="//127.0.0.1:{base.rsplit(":", 1)[1]}/proto-relative.png">',
        f'<img src="{base.replace("127.0.0.1", "localhost")}/localhost.png">',
        f'<img src="data:image/svg+xml,<svg xmlns=%22http://www.w3.org/2000/svg%22><image href=%22{base}/nested.png%22/></svg>">',
        f'<link rel="stylesheet" href="data:text/css,@import url({base}/data-import.css);">',
        f'<link rel="stylesheet" href="{file_url}">', f'<img src="{file_url}">',
        f'<style>@import url("{file_url}");</style>', '<img src="file:///etc/passwd">',
        '<link rel="attachment" href="file:///etc/hostname">', '<img src="file://localhost/etc/passwd">',
        f'<div style="background: url(\'{file_url}\')">f</div>', '<img src="ftp://127.0.0.1/x.png">',
    ]


@pytest.fixture
def reads(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pdf-file-canary")
    canary = folder / "canary.css"
    canary.write_text(f"body::before {{ content: '{FILE_CANARY}'; }}", encoding="utf-8")
    return FileReads(str(folder), "/etc/"), str(canary)


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() or "" for page in reader.pages) + repr(reader.attachments)


def test_pdf_renderer_fetches_nothing_outside_its_assets(app, request, reads, monkeypatch):
    from weasyprint import HTML

    from screening.report.pdf import summary_document
    from screening.report.summary import summary_for_submission

    file_reads, canary_file = reads
    app.config.update(PASSWORD_HASH_METHOD="scrypt:1024:8:1", REPORT_RENDER_ON_SUBMIT=False)
    make_user(app, "clin@example.org", "clinician")
    make_user(app, "admin@example.org", "admin")
    RecordingFetcher.asked, RecordingFetcher.served_outside = [], []
    monkeypatch.setattr(fetcher_module, "AssetFetcher", RecordingFetcher)  # what render_pdf instantiates
    documents, texts, refused_live, escaped_asked = 0, [], 0, []
    with CanaryServer() as canary:
        payloads = fetching_payloads(canary.base, canary_file)
        # In the answers (two submissions: a text answer holds 2,000 characters) and the name and reference.
        half = len(payloads) // 2
        submissions = [make_submission(app, {**GOOD_ANSWERS, "medications_other": "\n".join(chunk)[:2000]},
                                       name=chunk[0][:200], ref=chunk[1][:100])
                       for chunk in (payloads[:half], payloads[half:])]
        # In every admin-written text, published; a submission on the new versions with many flags.
        publish_admin_texts(app, payloads, "admin@example.org")
        submissions.append(make_submission(app, {**case_answers("07-several-review-flags.json"),
                                                 "medications_other": payloads[0]}, name="Admin Text"))
        staff = app.test_client()
        assert sign_in(staff, "clin@example.org").status_code == 302
        file_reads.active = True
        try:
            for n, sid in enumerate(submissions):
                # The app renders and stores the PDF itself (through the recording fetcher class).
                before = len(RecordingFetcher.asked)
                response = staff.get(f"/staff/submissions/{sid}/summary.pdf")
                assert response.status_code == 200 and response.mimetype == "application/pdf", sid
                escaped_asked += [u for u in RecordingFetcher.asked[before:] if not u.startswith("screening-asset:")]
                documents += 1
                if n < 2:  # as if escaping had failed: the same HTML with every entity turned back into markup
                    with app.test_request_context():
                        live = html.unescape(summary_document(summary_for_submission(db.session.get(Submission, sid))))
                    fetcher = RecordingFetcher()
                    texts.append(pdf_text(HTML(string=live, base_url=None, url_fetcher=fetcher).write_pdf()))
                    refused_live += len(fetcher.refused)
                    documents += 1
        finally:
            file_reads.active = False
        hits = canary.hits
    outside = RecordingFetcher.served_outside
    canary_read = [p for p in file_reads.paths if p == canary_file] + (
        [FILE_CANARY] if any(FILE_CANARY in t for t in texts) else [])
    system_read = [p for p in file_reads.paths if p.startswith("/etc/")] + (
        ["root:x:0:0"] if any("root:x:0:0" in t for t in texts) else [])
    record_measure(request, "pdf_fetches", payloads=len(payloads), documents=documents,
                   fetched_outside_assets=len(outside), canary_connections=hits,
                   canary_file_reads=len(canary_read), system_file_reads=len(system_read),
                   asked_outside_assets_escaped=len(escaped_asked), refused_in_live_markup=refused_live)
    assert outside == [] and hits == 0 and canary_read == [] and system_read == []
    assert escaped_asked == []  # escaped, the payloads are text: the renderer asks for nothing but assets
    assert refused_live >= 20  # live, it asks for (nearly) every one of them, and each is refused


def test_the_canary_and_the_file_hook_would_notice_a_fetch(reads):
    """The instruments are not blind: WeasyPrint's own fetcher, given the same markup, is seen doing it."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    file_reads, canary_file = reads
    with CanaryServer() as canary:
        markup = (f'<img src="{canary.base}/seen.png"><link rel="stylesheet" href="file://{canary_file}">'
                  f'<p>x</p>')
        file_reads.active = True
        try:
            data = HTML(string=markup, base_url=None, url_fetcher=URLFetcher()).write_pdf()
        finally:
            file_reads.active = False
        hits = canary.hits
    assert hits >= 1 and canary_file in file_reads.paths and FILE_CANARY in pdf_text(data)
