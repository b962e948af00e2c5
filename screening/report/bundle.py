"""Where the report's bundled assets live, and the one way a name maps to one of them.

Kept free of WeasyPrint so the web app can serve the same stylesheet without importing it.
"""

from __future__ import annotations

import re
from pathlib import Path

ASSET_DIR = (Path(__file__).parent / "assets").resolve()
SCHEME = "screening-asset:"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,80}(\.[A-Za-z0-9]{1,8})?$")
CONTENT_TYPES = {".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png", ".woff2": "font/woff2",
                 ".woff": "font/woff", ".ttf": "font/ttf", ".otf": "font/otf"}


def asset_file(name: str) -> Path | None:
    """The bundled file called ``name`` (a plain file name, no folders), or None."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        return None
    path = (ASSET_DIR / name).resolve()
    if path.parent != ASSET_DIR or not path.is_file():
        return None
    return path


def asset_path(url: str) -> Path | None:
    """The bundled file a ``screening-asset:NAME`` URL names, or None if it is not one."""
    if not isinstance(url, str) or not url.startswith(SCHEME):
        return None
    return asset_file(url[len(SCHEME):])
