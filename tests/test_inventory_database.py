"""The inventory database as hostile input: not a database, someone else's, newer, older, busy,
damaged, unreachable, or asked for without its driver. Every case is exit 2 with a fix, and
the database is left as it was."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from agentpolicy.inventory.database import open_database
from agentpolicy.inventory.migrations import LATEST, migrate
from tests import inventory_support
from tests.helpers import GitRepo, Key, guarded_repo
from tests.inventory_support import dump, inventory

database_url = inventory_support.database_url  # the fixtures: SQLite, and PostgreSQL when a server is given
postgres_url = inventory_support.postgres_url


@pytest.fixture
def one_repo(tmp_path: Path, home: Path, keys: dict[str, Key]) -> Path:
    return guarded_repo(GitRepo(tmp_path / "alpha", home), keys).path


def execute(url: str, statement: str, *params: object) -> None:
    if url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(statement.replace("?", "%s"), params)
        return
    connection = sqlite3.connect(url, isolation_level=None)
    try:
        connection.execute(statement, params)
    finally:
        connection.close()


def test_a_file_that_is_not_a_database_is_refused_and_left_untouched(
    tmp_path: Path, home: Path, one_repo: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"my notes, not a database\n" * 100)
    done = inventory(tmp_path, home, str(one_repo), "--db", str(notes), "--format", "json")
    assert done.code == 2, done.text
    assert "is not a SQLite database; it was left untouched" in done.err and "Traceback" not in done.err
    assert notes.read_bytes() == b"my notes, not a database\n" * 100
    assert json.loads(done.out)["error"]["message"].endswith("it was left untouched")  # still valid JSON
    assert json.loads(done.out)["agents"] == []


def test_a_damaged_sqlite_database_is_an_error_with_a_fix(tmp_path: Path, home: Path, one_repo: Path) -> None:
    database = tmp_path / "inventory.sqlite"
    assert inventory(tmp_path, home, str(one_repo), "--db", str(database)).code == 0
    data = bytearray(database.read_bytes())
    data[100:] = b"\xde\xad" * ((len(data) - 100) // 2)  # the header survives, every page is garbage
    database.write_bytes(bytes(data))
    done = inventory(tmp_path, home, str(one_repo), "--db", str(database))
    assert done.code == 2, done.text
    assert "inventory database" in done.err and "fix:" in done.err and "Traceback" not in done.err


def test_a_schema_from_a_newer_agentpolicy_is_refused_and_not_changed(
    tmp_path: Path, home: Path, one_repo: Path, database_url: str
) -> None:
    assert inventory(tmp_path, home, str(one_repo), "--db", database_url).code == 0
    execute(database_url, "INSERT INTO inventory_schema VALUES (?, ?, ?)", 99, "2031-01-01T00:00:00Z", "9.0")
    before = dump(database_url)
    done = inventory(tmp_path, home, str(one_repo), "--db", database_url)
    assert done.code == 2, done.text
    assert (
        f"has schema version 99, written by a newer agentpolicy; this one reads versions up to {LATEST}"
        in done.err
    )
    assert "pip install --upgrade git-agentpolicy" in done.err
    assert dump(database_url) == before


def test_an_older_schema_is_upgraded_in_place(
    tmp_path: Path, home: Path, one_repo: Path, database_url: str
) -> None:
    database = open_database(database_url)
    try:
        assert migrate(database, target=1) == (0, 1)  # a database as the first version left it
    finally:
        database.close()
    done = inventory(tmp_path, home, str(one_repo), "--db", database_url, "--format", "json")
    assert done.code == 0, done.text
    assert f"note: upgraded the database schema from version 1 to {LATEST}" in done.err
    assert json.loads(done.out)["agents"][0]["review_due"] is None  # the column version 2 added
    again = inventory(tmp_path, home, str(one_repo), "--db", database_url)
    assert again.code == 0 and "upgraded" not in again.err


def test_tables_of_the_same_names_that_are_not_ours_are_left_alone(
    tmp_path: Path, home: Path, one_repo: Path, database_url: str
) -> None:
    execute(database_url, "CREATE TABLE agents (name TEXT, budget INTEGER)")
    execute(database_url, "INSERT INTO agents VALUES ('bond', 7)")
    done = inventory(tmp_path, home, str(one_repo), "--db", database_url)
    assert done.code == 2, done.text
    assert "already has tables named agents that agentpolicy did not create; nothing was changed" in done.err


def test_a_run_waits_for_no_one_when_another_is_writing(
    tmp_path: Path, home: Path, one_repo: Path, database_url: str
) -> None:
    assert inventory(tmp_path, home, str(one_repo), "--db", database_url).code == 0
    if database_url.startswith("postgresql://"):
        import psycopg

        holder = psycopg.connect(database_url, autocommit=True)
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (0x61676E74,))
    else:
        holder = sqlite3.connect(database_url, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
    try:
        done = inventory(tmp_path, home, str(one_repo), "--db", database_url)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert done.code == 2, done.text
    assert "another inventory run is writing to" in done.err and "wait for it to finish" in done.err


def test_a_postgresql_url_without_psycopg_names_the_install_line(
    tmp_path: Path, home: Path, one_repo: Path
) -> None:
    shim = tmp_path / "no-psycopg"
    shim.mkdir()
    (shim / "psycopg.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'psycopg'\", name='psycopg')\n"
    )
    from tests.helpers import clean_env

    env = clean_env(home, PYTHONPATH=str(shim))
    done = inventory(
        tmp_path, home, str(one_repo), "--db", "postgresql://inventory@localhost/agents", env=env
    )
    assert done.code == 2, done.text
    assert "needs the psycopg package, which is not installed" in done.err
    assert "pip install 'git-agentpolicy[postgresql]'" in done.err


def test_an_unreachable_server_is_an_error_that_keeps_the_password_to_itself(
    tmp_path: Path, home: Path, one_repo: Path
) -> None:
    pytest.importorskip("psycopg")
    done = inventory(
        tmp_path, home, str(one_repo), "--db", "postgresql://inventory:s3cr3t@127.0.0.1:1/agents"
    )
    assert done.code == 2, done.text
    assert "cannot connect to postgresql://inventory:***@127.0.0.1:1/agents" in done.err
    assert "s3cr3t" not in done.text


def test_an_unknown_database_scheme_is_a_usage_error(tmp_path: Path, home: Path, one_repo: Path) -> None:
    done = inventory(tmp_path, home, str(one_repo), "--db", "mysql://root@localhost/agents")
    assert done.code == 2 and "unsupported database URL scheme 'mysql'" in done.err


def test_the_default_database_is_a_file_in_the_current_folder(
    tmp_path: Path, home: Path, one_repo: Path
) -> None:
    done = inventory(tmp_path, home, str(one_repo))
    assert done.code == 0, done.text
    assert (tmp_path / "agentpolicy-inventory.sqlite").is_file()
    assert "database agentpolicy-inventory.sqlite" in done.err


def test_rows_of_the_wrong_type_in_a_hand_edited_database_are_shown_as_text(
    tmp_path: Path, home: Path, one_repo: Path
) -> None:
    """SQLite stores any type in any column: what reads back is hostile input, never structure."""
    database = str(tmp_path / "inventory.sqlite")
    assert inventory(tmp_path, home, str(one_repo), "--db", database).code == 0
    execute(
        database,
        "UPDATE agents SET approvers = '{\"not\": \"a list\"}', approved = 'yes', approvals = 'many'",
    )
    execute(database, "UPDATE agents SET open_gaps = x'ff00', errors = 2.5, stage = 7")
    execute(
        database,
        "INSERT INTO repositories (path, path_bytes, rev, status, scanned_at, checked_at)"
        " VALUES ('/elsewhere', 'text, not bytes', 'HEAD', 'ok', '', '')",
    )
    done = inventory(tmp_path, home, str(one_repo), "--db", database, "--format", "json")
    assert done.code == 0, done.text
    agent = json.loads(done.out)["agents"][0]
    assert (agent["approved"], agent["approvals"], agent["errors"], agent["stage"]) == (False, 0, 0, "7")
    assert agent["approvers"] == ['{"not": "a list"}'] and agent["open_gaps"] == ["\\xff\x00"]
    assert "Traceback" not in done.err
