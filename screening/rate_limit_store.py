"""Rate-limit counters in the app's own database, so every app process counts the same attempts.

A ``limits`` storage backend (the library under Flask-Limiter) for its fixed-window strategy,
registered for ``screening-database://``: the default ``RATELIMIT_STORAGE_URI``. It keeps no engine
of its own: each call uses the engine of the app handling the request (SQLite or PostgreSQL), in a
short transaction apart from the request's session, so a request that rolls back keeps its count.

One hit is one statement, an upsert that also starts a new window when the stored one has
expired, so concurrent hits from several processes are never lost (SQLite's write lock,
PostgreSQL's row lock). Expired rows are deleted now and then by the process that notices.
"""

from __future__ import annotations

import hashlib
import time
from contextlib import contextmanager
from typing import Iterator

from limits.errors import StorageError
from limits.storage import Storage
from sqlalchemy import Double, Integer, bindparam, case, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.dml import Insert

from .db import db
from .models import RateLimitCounter

SCHEME = "screening-database"
URI = f"{SCHEME}://"
CLEANUP_SECONDS = 300  # at most this often, a process deletes the rows whose window has ended
KEY_LENGTH = RateLimitCounter.key.type.length

counters = RateLimitCounter.__table__
# A count is not a record: PostgreSQL need not wait for the disk to confirm it (a crash of the database
# server may forget the last moments' counts, never corrupt them), which makes a hit several times cheaper.
NO_COMMIT_WAIT = text("SET LOCAL synchronous_commit TO OFF")


def upsert_for(insert) -> Insert:
    """Add ``amount`` to a counter, or start it again (at ``amount``, ending at ``expires_at``) when its
    window ended before ``now``; returns the new count."""
    amount = bindparam("amount", type_=Integer)
    statement = insert(counters).values(key=bindparam("key"), count=amount, expires_at=bindparam("expires_at"))
    expired = counters.c.expires_at <= bindparam("now", type_=Double)
    return statement.on_conflict_do_update(index_elements=[counters.c.key], set_={
        "count": case((expired, amount), else_=counters.c.count + amount),
        "expires_at": case((expired, statement.excluded.expires_at), else_=counters.c.expires_at),
    }).returning(counters.c.count)


UPSERT = {"postgresql": upsert_for(postgresql.insert), "sqlite": upsert_for(sqlite.insert)}
COUNT = select(counters.c.count, counters.c.expires_at).where(
    counters.c.key == bindparam("key"), counters.c.expires_at > bindparam("now", type_=Double))
DELETE_EXPIRED = delete(counters).where(counters.c.expires_at <= bindparam("now", type_=Double))


class DatabaseStorage(Storage):
    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.next_cleanup = 0.0

    @property
    def base_exceptions(self) -> type[Exception]:
        return StorageError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with connection() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(NO_COMMIT_WAIT)
            count = conn.execute(UPSERT[conn.dialect.name], {
                "key": stored_key(key), "amount": amount, "expires_at": now + expiry, "now": now}).scalar_one()
            if now >= self.next_cleanup:
                self.next_cleanup = now + CLEANUP_SECONDS
                conn.execute(DELETE_EXPIRED, {"now": now})
        return count

    def get(self, key: str) -> int:
        return self.current(key)[0]

    def get_expiry(self, key: str) -> float:
        return self.current(key)[1]

    def current(self, key: str) -> tuple[int, float]:
        """The count of the key's window and when it ends; (0, now) when it has ended or never began."""
        now = time.time()
        with connection() as conn:
            row = conn.execute(COUNT, {"key": stored_key(key), "now": now}).first()
        return (row.count, row.expires_at) if row else (0, now)

    def check(self) -> bool:
        try:
            with connection() as conn:
                conn.execute(select(1))
        except StorageError:
            return False
        return True

    def reset(self) -> int | None:
        with connection() as conn:
            return conn.execute(delete(counters)).rowcount

    def clear(self, key: str) -> None:
        with connection() as conn:
            conn.execute(delete(counters).where(counters.c.key == stored_key(key)))


def stored_key(key: str) -> str:
    """Keys hold a typed e-mail address or a client address; one that is too long is stored hashed."""
    if len(key) <= KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


@contextmanager
def connection() -> Iterator[Connection]:
    """A transaction on the current app's database. Its failure is a ``StorageError`` naming only the
    error's type: a database error's text can hold the key, i.e. a client address or a typed e-mail."""
    try:
        with db.engine.begin() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise StorageError(f"rate-limit database unavailable ({type(exc).__name__})") from None
