"""Opening the inventory database: a SQLite file (stdlib) or a PostgreSQL server (psycopg 3).

Both are driven through one small façade: SQL is written once with ``?``
placeholders and the few type names that differ are filled in per dialect
(`Dialect`). Every transaction is explicit (both connections run in autocommit
mode), and every driver error becomes an `InventoryDatabaseError` with a fix,
so a bad database is exit status 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from agentpolicy.errors import AgentPolicyError

DEFAULT_DATABASE = "agentpolicy-inventory.sqlite"
POSTGRESQL_INSTALL = "pip install 'git-agentpolicy[postgresql]'"
_SQLITE_HEADER = b"SQLite format 3\x00"
_LOCK_ID = 0x61676E74  # "agnt": the advisory lock every inventory run on a PostgreSQL database takes


class InventoryDatabaseError(AgentPolicyError):
    """The inventory database cannot be opened, read or written as asked."""


@dataclass(frozen=True)
class Dialect:
    name: str
    types: dict[str, str]
    list_tables: str

    def sql(self, statement: str) -> str:
        filled = statement.format(**self.types)
        return filled.replace("?", "%s") if self.name == "postgresql" else filled


SQLITE = Dialect(
    "sqlite",
    {"id": "INTEGER PRIMARY KEY", "ref": "INTEGER", "bytes": "BLOB", "bool": "INTEGER"},
    "SELECT name FROM sqlite_master WHERE type = 'table'",
)
POSTGRESQL = Dialect(
    "postgresql",
    {
        "id": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "ref": "BIGINT",
        "bytes": "BYTEA",
        "bool": "BOOLEAN",
    },
    "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()",
)


class Database:
    """One connection, its dialect, and what to call it in messages (never with a password)."""

    def __init__(self, connection: Any, dialect: Dialect, shown: str, errors: tuple[type[Exception], ...]):
        self.connection = connection
        self.dialect = dialect
        self.shown = shown
        self.errors = errors

    def execute(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(self.dialect.sql(statement), tuple(params))
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            cursor.close()

    def execute_many(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            cursor = self.connection.cursor()
            try:
                cursor.executemany(self.dialect.sql(statement), rows)
            finally:
                cursor.close()

    def tables(self) -> set[str]:
        return {str(row[0]) for row in self.execute(self.dialect.list_tables)}

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One writer at a time: the run's writes become visible together, or not at all."""
        self._begin()
        try:
            yield
        except BaseException:
            with contextlib.suppress(*self.errors):
                self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def _begin(self) -> None:
        busy = InventoryDatabaseError(
            f"another inventory run is writing to {self.shown}",
            "wait for it to finish, then run this again",
        )
        if self.dialect is SQLITE:
            try:
                self.connection.execute("BEGIN IMMEDIATE")
            except self.errors as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise busy from exc
                raise
            return
        self.connection.execute("BEGIN")
        if not self.execute("SELECT pg_try_advisory_xact_lock(?)", (_LOCK_ID,))[0][0]:
            self.connection.execute("ROLLBACK")
            raise busy

    def close(self) -> None:
        with contextlib.suppress(*self.errors):
            self.connection.close()

    @contextlib.contextmanager
    def failures_explained(self) -> Iterator[None]:
        """A driver error (damaged file, lost connection, full disk) as an error with a fix."""
        try:
            yield
        except self.errors as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InventoryDatabaseError(
                f"the inventory database {self.shown} failed: {first}",
                "check that it is an agentpolicy inventory database and that it is reachable; "
                "a damaged SQLite file can be moved away and rebuilt by the next run",
            ) from exc


def open_database(url: str | None) -> Database:
    """The database ``url`` names: a PostgreSQL URL, ``sqlite:///PATH``, or a file path."""
    url = url or DEFAULT_DATABASE
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if scheme in ("postgresql", "postgres"):
        return _open_postgresql(url)
    if scheme == "sqlite":
        return _open_sqlite(
            url.split(":///", 1)[1] if ":///" in url else ""
        )  # sqlite:///relative, sqlite:////abs
    if scheme:
        raise InventoryDatabaseError(
            f"unsupported database URL scheme {scheme!r}",
            "use a file path (SQLite) or postgresql://USER@HOST/DATABASE",
        )
    return _open_sqlite(url)


def _open_sqlite(path: str) -> Database:
    import sqlite3

    path = path or DEFAULT_DATABASE
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        missing = "is not a folder" if os.path.lexists(folder) else "does not exist"
        raise InventoryDatabaseError(
            f"cannot create the SQLite database {path}: the folder {folder} {missing}",
            f"make it first (mkdir -p {folder}), or pass another file with --db",
        )
    if os.path.isdir(path):
        raise InventoryDatabaseError(f"{path} is a folder, not a database file", "pass a file name with --db")
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
    except FileNotFoundError:
        header = b""
    except OSError as exc:
        raise InventoryDatabaseError(
            f"cannot read {path}: {exc.strerror}", "check the file's permissions"
        ) from exc
    if header and header != _SQLITE_HEADER:
        raise InventoryDatabaseError(
            f"{path} is not a SQLite database; it was left untouched",
            "pass another file with --db (a new one is created), or move this one away",
        )
    try:
        connection = sqlite3.connect(path, timeout=5.0, isolation_level=None)
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("PRAGMA journal_mode = WAL")  # readers keep the last state during a run
        connection.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.Error as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise InventoryDatabaseError(
                f"another process is using {path} (an inventory run, or a tool with it open for writing)",
                "wait for it to finish, then run this again",
            ) from exc
        raise InventoryDatabaseError(
            f"cannot open the SQLite database {path}: {exc}",
            "check that the file is an agentpolicy inventory database and that the folder is writable",
        ) from exc
    return Database(connection, SQLITE, path, (sqlite3.Error,))


def _open_postgresql(url: str) -> Database:
    try:
        import psycopg
    except ImportError:
        raise InventoryDatabaseError(
            "a PostgreSQL database needs the psycopg package, which is not installed",
            f"install it with: {POSTGRESQL_INSTALL}",
        ) from None
    shown = redacted(url)
    try:
        connection = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise InventoryDatabaseError(
            f"cannot connect to {shown}: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}",
            "check the URL, that the server runs and that this user may connect",
        ) from exc
    return Database(connection, POSTGRESQL, shown, (psycopg.Error,))


def redacted(url: str) -> str:
    """``url`` with its password replaced by ``***``: it goes into messages and logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        login, _, host = parts.netloc.rpartition("@")
        return urlunsplit(parts._replace(netloc=f"{login.partition(':')[0]}:***@{host}"))
    except ValueError:
        return "the PostgreSQL URL given with --db"
