"""Commands that write do so atomically and never overwrite; the others never write at all."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.helpers import AGENTPOLICY, EXPANDED_BILLING, GitRepo, Key, approve, guarded_repo, run

PRLIMIT = shutil.which("prlimit")


CACHE = ".git/agentpolicy/"  # the derived-data cache: the one documented exception


def tree_state(root: Path) -> dict[str, str]:
    """Every file under root (the .git folder included, the cache excepted) with its content hash."""
    state = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if path.is_file() and not path.is_symlink() and not relative.startswith(CACHE):
            state[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def test_check_status_and_audit_never_write(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.git("add", "agents")
    before = tree_state(repo.path)
    for args in (
        ("check",),
        ("check", "--staged"),
        ("check", "--base", "HEAD"),
        ("status", "--format", "json"),
        ("audit", "--format", "json"),
        ("check", "--format", "sarif"),
        ("rules",),
        ("schema",),
    ):
        done = repo.ap(*args)
        assert done.code in (0, 1), (args, done.text)
    assert tree_state(repo.path) == before


@pytest.mark.skipif(PRLIMIT is None, reason="prlimit (util-linux) is not installed")
def test_a_full_disk_leaves_no_partial_entry(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    before = tree_state(repo.path / "reviews")
    name = "Rev <rev@example.com>"
    done = run(
        [
            PRLIMIT or "",
            "--fsize=300",
            "--",
            AGENTPOLICY,
            "approve",
            "billing-cycle",
            "--reviewer",
            name,
            "--key",
            str(keys["rev"].private),
        ],
        repo.path,
        repo.env,
    )
    assert done.code == 2, done.text
    assert "cannot write" in done.err and "free space" in done.err
    assert tree_state(repo.path / "reviews") == before  # no partial entry, no temporary file


def test_approve_never_overwrites_an_existing_entry(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    first = approve(repo, keys["rev"])
    second = approve(repo, keys["rev"])
    assert first.code == second.code == 0
    paths = sorted((repo.path / "reviews" / "billing-cycle" / "1.5.0").glob("*.yaml"))
    assert len(paths) == 2  # the second got a name of its own, even within the same second


def test_a_blocked_reviews_folder_is_a_clear_error(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    (repo.path / "reviews" / "billing-cycle" / "1.5.0").write_text("a file where the folder should be")
    done = approve(repo, keys["rev"])
    assert done.code == 2
    assert "cannot write in" in done.err and "reviews/billing-cycle/1.5.0" in done.err
    assert (
        repo.path / "reviews" / "billing-cycle" / "1.5.0"
    ).read_text() == "a file where the folder should be"


@pytest.mark.skipif(PRLIMIT is None, reason="prlimit (util-linux) is not installed")
def test_init_and_new_on_a_full_disk_leave_nothing_half_written(repo: GitRepo) -> None:
    before = tree_state(repo.path)
    done = run([PRLIMIT or "", "--fsize=100", "--", AGENTPOLICY, "init"], repo.path, repo.env)
    assert done.code == 2, done.text
    after = tree_state(repo.path)
    created = set(after) - set(before)
    for path in created:  # whatever was written before the disk filled up is complete
        assert not Path(path).name.startswith(".agentpolicy-"), path
    done = run([PRLIMIT or "", "--fsize=100", "--", AGENTPOLICY, "new", "helper"], repo.path, repo.env)
    assert done.code == 2
    assert not (repo.path / "agents" / "helper.yaml").exists()


def _billing_broken() -> str:
    from tests.helpers import BILLING

    return BILLING.replace("      alert: pagerduty:billing-oncall\n", "")


def test_a_corrupt_cache_never_changes_a_verdict(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/broken.yaml", _billing_broken().replace("name: billing-cycle", "name: broken"))
    repo.commit("broken agent", verify=False)
    repo.write("notes.txt", "x\n")
    first = repo.ap("check", "--staged")
    assert first.code == 1 and "agents/broken.yaml" in first.out
    cache = next((repo.path / ".git" / "agentpolicy").glob("*.sqlite3"))
    cache.write_bytes(b"garbage" * 100)  # corrupt the whole database
    again = repo.ap("check", "--staged")
    assert again.code == 1 and again.out == first.out


def test_a_tampered_cache_row_is_ignored_or_harmless(repo: GitRepo, keys: dict[str, Key]) -> None:
    import sqlite3

    guarded_repo(repo, keys)
    repo.write("agents/broken.yaml", _billing_broken().replace("name: billing-cycle", "name: broken"))
    repo.commit("broken agent", verify=False)
    first = repo.ap("check", "--staged")
    cache = next((repo.path / ".git" / "agentpolicy").glob("*.sqlite3"))
    with sqlite3.connect(cache) as db:
        db.execute("UPDATE results SET findings = 'not json'")
    again = repo.ap("check", "--staged")
    assert (again.code, again.out) == (first.code, first.out)


def test_the_cache_is_keyed_by_policy_so_a_new_rule_is_applied(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    assert repo.ap("check").code == 0  # fills the cache with a clean result for billing-cycle
    repo.write(".agentpolicy.yaml", "teams: [anna.nowak@example.com]\n")
    repo.commit("teams", verify=False)  # the config lands: the cached verdict no longer applies
    done = repo.ap("check")
    assert done.code == 1 and "listed as a team" in done.out


def test_concurrent_checks_share_the_cache_safely(repo: GitRepo, keys: dict[str, Key]) -> None:
    import subprocess

    guarded_repo(repo, keys)
    repo.write("agents/broken.yaml", _billing_broken().replace("name: billing-cycle", "name: broken"))
    repo.commit("broken agent", verify=False)
    runs = [
        subprocess.Popen(
            [AGENTPOLICY, "check"], cwd=repo.path, env=repo.env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    outputs = []
    for process in runs:
        out, _ = process.communicate()
        outputs.append((process.returncode, out))
    assert all(code == 1 for code, _ in outputs)
    assert len({out for _, out in outputs}) == 1
