"""docs/inventory.md and `inventory --help` run as written: their commands, their SQL queries on
both databases, and the schema they document is the schema the database has."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests import inventory_support
from tests.helpers import AGENTPOLICY, GitRepo, Key, agent_yaml, clean_env, guarded_repo, run
from tests.test_help_examples import examples, help_text

database_url = inventory_support.database_url  # the fixtures: SQLite, and PostgreSQL when a server is given
postgres_url = inventory_support.postgres_url

DOC = Path(__file__).resolve().parent.parent / "docs" / "inventory.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def doc_commands() -> list[str]:
    return [line for block in blocks("sh") for line in block.splitlines() if line.startswith("agentpolicy ")]


def fleet(tmp_path: Path, home: Path, keys: dict[str, Key]) -> Path:
    """The folder the examples run in: two services and the list of them."""
    folder = tmp_path / "platform"
    guarded_repo(GitRepo(folder / "services" / "billing", home), keys)
    claims = guarded_repo(GitRepo(folder / "services" / "claims", home), keys)
    claims.write("agents/claims.yaml", agent_yaml("claims", owner="Carla Claims", email="carla@example.com"))
    claims.commit("claims, in production without a review")
    (folder / "repositories.txt").write_text("# our services\nservices/billing\nservices/claims\n")
    return folder


def run_examples(lines: list[str], folder: Path, home: Path, url: str) -> None:
    env = clean_env(home, DATABASE_URL=url, PATH=f"{Path(AGENTPOLICY).parent}:{clean_env(home)['PATH']}")
    for line in lines:
        done = run(["bash", "-c", line], folder, env)
        assert done.code == 0, f"`{line}` failed:\n{done.text}"
    for written in ("agents.csv", "inventory.html"):
        assert (folder / written).stat().st_size > 0, written


def test_the_docs_commands_run_as_written(
    tmp_path: Path, home: Path, keys: dict[str, Key], database_url: str
) -> None:
    lines = doc_commands()
    assert len(lines) == 4
    run_examples(lines, fleet(tmp_path, home, keys), home, database_url)
    assert "'git-agentpolicy[postgresql]'" in DOC.read_text(encoding="utf-8")


def test_the_help_examples_are_the_docs_examples_and_run(
    tmp_path: Path, home: Path, keys: dict[str, Key]
) -> None:
    folder = fleet(tmp_path, home, keys)
    lines = examples(help_text("inventory", folder, clean_env(home)), "inventory")
    assert lines == doc_commands()
    run_examples(lines, folder, home, str(tmp_path / "examples.sqlite"))


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    if url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(url) as connection:
            return [tuple(row) for row in connection.execute(sql)]
    connection = sqlite3.connect(url)
    try:
        return [tuple(row) for row in connection.execute(sql)]
    finally:
        connection.close()


def test_the_docs_queries_answer_on_both_databases(
    tmp_path: Path, home: Path, keys: dict[str, Key], database_url: str
) -> None:
    folder = fleet(tmp_path, home, keys)
    done = run(
        [AGENTPOLICY, "inventory", "--from", "repositories.txt", "--db", database_url],
        folder,
        clean_env(home),
    )
    assert done.code == 0, done.text
    production, unapproved, owners, failed = (query(database_url, sql) for sql in blocks("sql"))
    assert [(Path(path).name, name, email) for path, name, email in production] == [
        ("claims", "claims", "carla@example.com")
    ]
    assert [(Path(row[0]).name, row[1], row[2]) for row in unapproved] == [("claims", "claims", "created")]
    assert owners == [("anna.nowak@example.com", 2), ("carla@example.com", 1)]
    assert failed == []


def documented_schema() -> dict[str, set[str]]:
    text = DOC.read_text(encoding="utf-8").split("### Schema", 1)[1].split("### Versions", 1)[0]
    tables: dict[str, set[str]] = {}
    for name, table in re.findall(r"^`(\w+)`: .*?\n\n(\| column .*?)\n\n", text, re.S | re.M):
        tables[name] = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
    return tables


def test_the_documented_schema_is_the_schema(
    tmp_path: Path, home: Path, keys: dict[str, Key], database_url: str
) -> None:
    folder = fleet(tmp_path, home, keys)
    assert (
        run(
            [AGENTPOLICY, "inventory", "services/billing", "--db", database_url], folder, clean_env(home)
        ).code
        == 0
    )
    documented = documented_schema()
    assert set(documented) == {"repositories", "agents", "changes"}
    for table, columns in documented.items():
        if database_url.startswith("postgresql://"):
            sql = (
                "SELECT column_name FROM information_schema.columns "
                f"WHERE table_schema = current_schema() AND table_name = '{table}'"
            )
        else:
            sql = f"SELECT name FROM pragma_table_info('{table}')"
        assert {row[0] for row in query(database_url, sql)} == columns, table
    assert "### Schema (version 2)" in DOC.read_text(encoding="utf-8")
    from agentpolicy.inventory.migrations import LATEST

    assert LATEST == 2


@pytest.mark.parametrize("line", ["pip install 'git-agentpolicy[postgresql]'"])
def test_the_install_line_names_the_extra_that_exists(line: str) -> None:
    import tomllib

    extras = tomllib.loads((DOC.parent.parent / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert any(requirement.startswith("psycopg") for requirement in extras["postgresql"])
    assert line in DOC.read_text(encoding="utf-8")
