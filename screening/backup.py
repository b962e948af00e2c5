"""Online backups of the embedded SQLite database (PostgreSQL installations use pg_dump)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .db import db


class BackupError(RuntimeError):
    pass


def backup_sqlite(target: Path) -> int:
    """Copy the live database with SQLite's backup API (a consistent snapshot), then check the copy."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database:
        raise BackupError("backup copies the embedded SQLite database; for PostgreSQL use pg_dump")
    if target.exists():
        raise BackupError(f"{target} already exists; choose a new file name")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent} is not a folder")
    source = sqlite3.connect(url.database)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        status = copy.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        copy.close()
        source.close()
    if status != "ok":
        target.unlink(missing_ok=True)
        raise BackupError(f"the copy failed its integrity check ({status}); nothing was kept")
    target.chmod(0o600)
    return target.stat().st_size
