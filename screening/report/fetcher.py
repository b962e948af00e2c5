"""The PDF renderer's only way to load anything: bundled report assets, nothing else.

Templates refer to assets as ``screening-asset:NAME`` (e.g. ``screening-asset:report.css``).
Every other URL -- ``file:``, ``http(s):``, ``data:``, ``ftp:``, relative paths -- is refused
before anything is opened, so nothing is read from the disk or the network, no redirect can be
followed and no attachment can be embedded. Refusals are logged without the URL (it may hold
text a patient typed).
"""

from __future__ import annotations

import logging

from weasyprint.urls import URLFetcher, URLFetcherResponse, URLFetchingError

from .bundle import CONTENT_TYPES, SCHEME, asset_path  # noqa: F401

log = logging.getLogger(__name__)


class RefusedURL(URLFetchingError):
    """A URL the report renderer will not fetch."""


class AssetFetcher(URLFetcher):
    """Serves ``screening-asset:NAME`` from ``screening/report/assets/`` and refuses everything else."""

    def __init__(self) -> None:
        # No protocols for the parent class to open, and no redirects: fetch() never calls it anyway.
        super().__init__(allowed_protocols=(), allow_redirects=False, timeout=1)
        self.served: list[str] = []
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        path = asset_path(url) if isinstance(url, str) else None
        if path is None:
            self.refused.append(url if isinstance(url, str) else repr(url))
            scheme = url.split(":", 1)[0][:20] if isinstance(url, str) and ":" in url else "relative"
            log.warning("The report renderer refused to fetch a URL (scheme %r).", scheme)
            raise RefusedURL("only bundled report assets may be loaded")
        self.served.append(url)
        content_type = CONTENT_TYPES.get(path.suffix, "application/octet-stream")
        headers = {"Content-Type": content_type + ("; charset=utf-8" if content_type == "text/css" else "")}
        return URLFetcherResponse(url, path.read_bytes(), headers)

    def open(self, url, data=None, timeout=None):  # never let urllib open anything
        return self.fetch(url.full_url if hasattr(url, "full_url") else url)

    def __call__(self, url):
        return self.fetch(url)

