"""Caches that heal (issue 15): any damage to the derived cache costs time, never a verdict.

The cache in `.git/agentpolicy/` is a SQLite file: random damage (flipped bytes
anywhere, a truncated file, garbage, wrong column types, a dropped table, an
unreadable file) must leave every verdict exactly as it is without a cache, with
no exit 3 and no traceback, and the next run repairs it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.helpers import BILLING, GitRepo, Key, agent_yaml, approve, guarded_repo

ITERATIONS = int(os.environ.get("AGENTPOLICY_CACHE_FUZZ", "8"))


def cache_file(repo: GitRepo) -> Path:
    found = sorted((repo.path / ".git" / "agentpolicy").glob("derived-v*.sqlite3"))
    assert found, "no derived cache was written"
    return found[-1]


def verdicts(repo: GitRepo) -> dict[str, object]:
    """What a user sees from each command that reads the cache (JSON, minus the timing-free notes)."""
    seen: dict[str, object] = {}
    for name, args in {
        "check": ["check", "--format", "json"],
        "staged": ["check", "--staged", "--format", "json"],
        "audit": ["audit", "--format", "json"],
        "status": ["status", "--format", "json"],
    }.items():
        done = repo.ap(*args)
        assert done.code in (0, 1), f"{args}: exit {done.code}\n{done.text}"
        assert "Traceback" not in done.err, done.err
        report = json.loads(done.out)
        if isinstance(report, dict):
            report.pop("notes", None)
        seen[name] = (done.code, report)
    return seen


@pytest.fixture()
def history(repo: GitRepo, keys: dict[str, Key]) -> GitRepo:
    guarded_repo(repo, keys)
    for index in range(4):
        repo.write(f"agents/helper-{index}.yaml", agent_yaml(name=f"helper-{index}"))
        assert approve(repo, keys["rev"], f"helper-{index}").code == 0
        repo.commit(f"helper {index}")
    repo.write("agents/broken.yaml", agent_yaml(name="broken").replace("owner:", "owner: [a, b]\nx:"))
    repo.commit("an unapproved, broken agent")
    repo.write("agents/billing-cycle.yaml", BILLING.replace("version: 1.4.0 ", "version: 1.4.1 "))
    repo.stage()
    return repo


def expected_without_cache(repo: GitRepo) -> dict[str, object]:
    shutil.rmtree(repo.path / ".git" / "agentpolicy", ignore_errors=True)
    first = verdicts(repo)
    assert verdicts(repo) == first, "a warm cache changed a verdict"
    return first


def test_random_byte_damage_to_the_cache_never_changes_a_verdict(history: GitRepo) -> None:
    expected = expected_without_cache(history)
    pristine = cache_file(history).read_bytes()
    chance = random.Random(20261126)
    for _ in range(ITERATIONS):
        damaged = bytearray(pristine)
        for _flip in range(chance.choice([1, 4, 64])):
            spot = chance.randrange(len(damaged))
            damaged[spot] ^= 1 << chance.randrange(8)
        cache_file(history).write_bytes(bytes(damaged))
        assert verdicts(history) == expected


@pytest.mark.parametrize(
    "damage",
    ["truncated", "garbage", "empty", "wrong-types", "bad-utf8", "dropped-tables", "a-folder", "unreadable"],
)
def test_a_damaged_cache_is_discarded_and_rebuilt(damage: str, history: GitRepo) -> None:
    expected = expected_without_cache(history)
    path = cache_file(history)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 3])
    elif damage == "garbage":
        path.write_bytes(os.urandom(8192))
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage in ("wrong-types", "bad-utf8", "dropped-tables"):
        with sqlite3.connect(path) as db:
            tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                if damage == "dropped-tables":
                    db.execute(f"DROP TABLE {table}")
                    continue
                columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
                for column in columns[2:]:
                    value = "CAST(x'fffe0041' AS TEXT)" if damage == "bad-utf8" else "42"
                    db.execute(f"UPDATE {table} SET {column} = {value}")
    elif damage == "a-folder":
        path.unlink()
        path.mkdir()
    elif damage == "unreadable":
        path.chmod(0)
    assert verdicts(history) == expected
    if damage != "a-folder":
        path.chmod(0o644)
        assert verdicts(history) == expected
