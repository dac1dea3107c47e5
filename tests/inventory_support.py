"""Shared by the inventory tests: a database per test (SQLite, or PostgreSQL when a server is given),
a run of the real command, and a dump of every stored row to compare states with."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.helpers import AGENTPOLICY, Run, clean_env, run

POSTGRES_ENV = "AGENTPOLICY_TEST_POSTGRES_URL"
NO_SERVER = f"no PostgreSQL server for the inventory tests: set {POSTGRES_ENV} (.ci/run starts one)"
TIMESTAMPS = {"scanned_at", "checked_at"}


def postgres_server() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database on the test server, dropped afterwards."""
    server = postgres_server()
    if server is None:
        pytest.skip(NO_SERVER)
    import psycopg  # a server was given: a missing driver is a failure, not a skip

    name = f"inventory_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test against SQLite and against PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "inventory.sqlite")
    url: str = request.getfixturevalue("postgres_url")
    return url


def inventory(cwd: Path, home: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    return run([AGENTPOLICY, "inventory", *args], cwd, env or clean_env(home))


def inventory_json(cwd: Path, home: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    done = inventory(cwd, home, "--format", "json", *args)
    assert done.code in (0, 1), done.text
    return done.code, json.loads(done.out), done.err


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the three tables, in a stable order, ids as they are: equal dumps, equal states."""
    queries = {
        "repositories": "SELECT * FROM repositories ORDER BY id",
        "agents": "SELECT * FROM agents ORDER BY repository_id, path",
        "changes": "SELECT * FROM changes ORDER BY repository_id, seq",
    }
    if url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(url) as connection:
            return {table: [tuple(row) for row in connection.execute(sql)] for table, sql in queries.items()}
    connection = sqlite3.connect(url)
    try:
        return {table: [tuple(row) for row in connection.execute(sql)] for table, sql in queries.items()}
    finally:
        connection.close()


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """An inventory JSON document without what differs between two databases or two runs."""
    return {
        "repositories": [
            {k: v for k, v in row.items() if k not in TIMESTAMPS} for row in document["repositories"]
        ],
        "agents": document["agents"],
    }
