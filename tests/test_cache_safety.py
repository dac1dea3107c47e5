"""Issue 13, attack 16: nothing read from the git directory's derived cache ever runs, and cached
verdicts are keyed by the code that produced them, so a planted cache changes no verdict."""

from __future__ import annotations

import hashlib
import json
import marshal
import sqlite3
import sys
from pathlib import Path

import fastjsonschema
import yaml

from agentpolicy import __version__
from agentpolicy.cache.derived import code_digest, policy_key
from agentpolicy.cache.derived import seal as _seal
from agentpolicy.model.digest import agent_digest, governed_content
from agentpolicy.model.schemas import schema, schema_text
from agentpolicy.rules.declarative import builtin_declarative_rules
from tests.helpers import BILLING, EXPANDED_BILLING, GitRepo, Key, agent_yaml, guarded_repo

_PAYLOAD = """
open({marker!r}, "w").write("ran")
def validate(data, custom_formats={{}}, name_prefix=None):
    return data
"""


def _old_validator_key(schema_value: object) -> str:
    """Where the old code looked for a compiled validator (what an attacker would compute)."""
    draft7 = dict(schema_value) if isinstance(schema_value, dict) else schema_value
    if isinstance(draft7, dict):
        draft7["$schema"] = "http://json-schema.org/draft-07/schema#"
        draft7.pop("$id", None)
    text = f"{sys.version}|{fastjsonschema.VERSION}|{json.dumps(draft7, sort_keys=True)}"
    return hashlib.sha256(text.encode()).hexdigest()


def _plant_validators(repo: GitRepo, marker: Path) -> int:
    folder = repo.path / ".git" / "agentpolicy" / "validators"
    folder.mkdir(parents=True, exist_ok=True)
    code = marshal.dumps(compile(_PAYLOAD.format(marker=str(marker)), "<planted>", "exec"))
    schemas = [schema(name) for name in ("agent", "config", "review", "rule", "pack")]
    for rule in builtin_declarative_rules():
        schemas += [rule.when, rule.require]
    for value in schemas:
        (folder / f"{_old_validator_key(value)}.marshal").write_bytes(code)
    (folder / f"{'0' * 64}.marshal").write_bytes(b"\xe3garbage that would crash marshal")
    return len(schemas)


def test_attack_planted_marshal_validator_never_runs_and_changes_no_verdict(
    repo: GitRepo, tmp_path: Path
) -> None:
    marker = tmp_path / "planted-code-ran"
    repo.write("agents/x.yaml", agent_yaml(name="x", stage="launched"))  # not a stage: AP100
    repo.stage()
    assert _plant_validators(repo, marker) > 5
    done = repo.ap("check", "--staged")
    assert not marker.exists(), "code from .git/agentpolicy/validators was executed"
    assert done.code == 1, done.text
    assert "AP100" in done.text and "stage" in done.text
    again = repo.ap("check", "agents/x.yaml")
    assert not marker.exists()
    assert again.code == 1 and "AP100" in again.text


def test_no_compiled_code_is_written_to_the_git_directory(repo: GitRepo) -> None:
    repo.write("agents/x.yaml", agent_yaml(name="x"))
    repo.stage()
    assert repo.ap("check", "--staged").code in (0, 1)  # a new agent needs a review: AP2xx
    cache = repo.path / ".git" / "agentpolicy"
    written = [p.name for p in cache.rglob("*") if p.is_file()] if cache.exists() else []
    assert not [name for name in written if not name.endswith(".sqlite3")], written


def _old_policy_key() -> str:
    """The per-file cache key the old code used: tool version, schema, teams, rules; no code."""
    material = json.dumps(
        {
            "tool": __version__,
            "schema": schema_text("agent"),
            "teams": [],
            "rules": [
                [
                    r.info.id,
                    r.info.severity,
                    r.info.message,
                    r.info.hint,
                    r.when,
                    r.require,
                    r.severity_by_stage,
                    list(r.at),
                ]
                for r in builtin_declarative_rules()
            ],
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def test_attack_cache_rows_written_by_other_code_do_not_change_verdicts(repo: GitRepo) -> None:
    """Rows under keys that other code (another build of the same version) would use claim a
    broken agent is clean; the check still reports it."""
    repo.write("agents/x.yaml", agent_yaml(name="x", stage="launched"))
    repo.commit("broken agent, pushed past the hook")
    blob = repo.git("rev-parse", "HEAD:agents/x.yaml").strip()
    repo.write("notes.txt", "unrelated\n")
    repo.stage()
    database = repo.path / ".git" / "agentpolicy" / "derived-v4.sqlite3"
    database.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(database) as connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS results (policy TEXT, blob TEXT, name TEXT, findings TEXT, "
            "mentions TEXT, seal TEXT, PRIMARY KEY (policy, blob)) WITHOUT ROWID"
        )
        for key in (_old_policy_key(), hashlib.sha256(__version__.encode()).hexdigest(), __version__):
            connection.execute(  # sealed as the real code seals rows: only the key keeps them out
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, NULL, '0', ?)",
                (key, blob, "x", _seal(key, blob, "x", None, "0")),
            )
    connection.close()
    done = repo.ap("check", "--staged")  # the hook takes unchanged files' verdicts from the cache
    assert done.code == 1 and "AP100" in done.text, done.text


def test_attack_audit_cache_planted_under_the_version_key_does_not_hide_a_change(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.commit("expand autonomy", author="Eve Sneaky <eve@example.com>")
    expanded_blob = repo.git("rev-parse", "HEAD:agents/billing-cycle.yaml").strip()
    approved = yaml.safe_load(BILLING)
    database = repo.path / ".git" / "agentpolicy" / "derived-v4.sqlite3"
    database.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(database) as connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS agents (tool TEXT, blob TEXT, name TEXT, digest TEXT, "
            "governed TEXT, seal TEXT, PRIMARY KEY (tool, blob)) WITHOUT ROWID"
        )
        # The expanded file's blob, claimed to hold the approved content (sealed like a real row).
        row = (
            f"{__version__}/digest-v1",
            expanded_blob,
            "billing-cycle",
            agent_digest(approved),
            json.dumps(governed_content(approved), sort_keys=True),
        )
        connection.execute("INSERT OR REPLACE INTO agents VALUES (?, ?, ?, ?, ?, ?)", (*row, _seal(*row)))
    connection.close()
    done = repo.ap("audit", "--format", "json")
    assert done.code == 0, done.text
    report = json.loads(done.out)
    assert [(e["event"], e["approved"]) for e in report["events"]][-1] == ("autonomy-expanded", False)


def test_cached_verdicts_are_keyed_by_the_code_not_only_the_version() -> None:
    digest = code_digest()
    assert len(digest) == 64 and digest == code_digest()
    assert __version__ not in digest

    class _Config:
        teams: tuple[str, ...] = ()
        pack_rules: tuple[object, ...] = ()

    assert policy_key(_Config()) != _old_policy_key()
