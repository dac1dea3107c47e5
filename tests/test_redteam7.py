"""Red team 7: the speed work of issue 20 under attack (the helper process that parses ahead,
the hook's stored whole-tree result, the remembered code digest, the fast schema paths).

The attacker has commit access: they choose file names, blobs and how many there are, and what
sits in the working tree where `audit`, `status` and the hook run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import AGENTPOLICY, GitRepo, agent_yaml

# -- 1. the helper process ----------------------------------------------------------------------


def _commit(number: int, message: str, files: str) -> str:
    """One `git fast-import` commit on main, a minute after the one before."""
    return (
        f"commit refs/heads/main\ncommitter Dev <dev@example.com> {1_600_000_000 + 60 * number} +0000\n"
        f"data {len(message)}\n{message}\n{files}"
    )


def _fast_import(repo: GitRepo, stream: list[str]) -> None:
    """Write the commits with `git fast-import` and check main out."""
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=repo.path,
        env=repo.env,
        input="".join(stream),
        text=True,
        check=True,
    )
    repo.git("checkout", "-q", "-f", "main")


def _wide_tree(repo: GitRepo, count: int = 2100) -> None:
    """Enough agent files for one batch to go to the helper process (``MIN_BATCH``: 2,000)."""
    repo.write(".agentpolicy.yaml", "require_signatures: false\n")
    for number in range(count):
        repo.write(f"agents/a{number:04d}.yaml", agent_yaml(name=f"a{number:04d}"))


def test_attack_a_module_in_the_work_tree_is_not_run_by_the_helper_process(
    repo: GitRepo, tmp_path: Path
) -> None:
    """The helper's interpreter starts with `python -c`, which puts the current folder first on
    its import path: a `multiprocessing.py` committed at the root ran as the auditor (and could
    hand back forged parse results, or do anything else)."""
    _wide_tree(repo)
    ran = tmp_path / "ran"
    for module in ("multiprocessing", "socket", "struct", "selectors", "signal", "resource_tracker"):
        repo.write(f"{module}.py", f"open({str(ran)!r}, 'a').write({module!r} + '\\n')\n")
    repo.commit("a wide commit with modules at the root")
    for command in (["status"], ["audit", "--format", "json"]):
        done = subprocess.run(
            [AGENTPOLICY, *command], cwd=repo.path, env=repo.env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode in (0, 1), done.stderr
        assert not ran.exists(), ran.read_text()


def _long_history(repo: GitRepo, commits: int = 1010) -> None:
    """More first-parent commits than ``FOLLOW_AFTER`` (1,000), made by git fast-import."""
    stream = ["reset refs/heads/main\n"]
    for number in range(commits):
        agent = f"name: a{number % 7}\nowner: o{number}\n"
        files = f"M 100644 inline agents/a{number % 7}.yaml\ndata {len(agent)}\n{agent}\n"
        if number == 0:
            config = "require_signatures: false\n"
            files += f"M 100644 inline .agentpolicy.yaml\ndata {len(config)}\n{config}\n"
        message = f"change {number}"
        stream.append(_commit(number, message, files))
    _fast_import(repo, stream)


_COUNT_HELPER_ANSWERS = """
from agentpolicy.cache import parsed_ahead
from agentpolicy.app.audit import AuditRequest, run_audit

parsed_ahead.WAIT_FOR_HELPER = 30.0
original, answered = parsed_ahead.ParsedAhead.take, []

def take(self, blob):
    answer = original(self, blob)
    answered.append(answer is not None)
    return answer

parsed_ahead.ParsedAhead.take = take
result = run_audit(AuditRequest(start="."))
print(sum(answered), len(result.events))
"""


def test_a_hook_s_relative_git_dir_does_not_send_the_helper_to_another_folder(repo: GitRepo) -> None:
    """Hooks may run with GIT_DIR=.git; the helper that walks a long history ahead is started
    from another folder (above), so it must open the repository it is given, not $GIT_DIR."""
    _long_history(repo)
    env = {**repo.env, "GIT_DIR": ".git", "GIT_WORK_TREE": "."}
    done = subprocess.run(
        [sys.executable, "-P", "-c", _COUNT_HELPER_ANSWERS],
        cwd=repo.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    answered, events = map(int, done.stdout.split())
    assert events == 1010
    assert answered >= 5, done.stderr  # the commits after the first 1,000 came from the helper
    assert not done.stderr


def _huge_commits(repo: GitRepo, commits: int, agents: int) -> None:
    """``commits`` commits that each add or change every one of ``agents`` agent files."""
    padding = "description: " + "x" * 600 + "\n"
    stream = ["reset refs/heads/main\n"]
    for number in range(commits):
        files = ""
        if number == 0:
            config = "require_signatures: false\n"
            files += f"M 100644 inline .agentpolicy.yaml\ndata {len(config)}\n{config}\n"
        for agent in range(agents):
            text = f"name: a{agent}\nowner: o{number}\n{padding}"
            files += f"M 100644 inline agents/a{agent}.yaml\ndata {len(text)}\n{text}\n"
        message = f"all agents, round {number}"
        stream.append(_commit(number, message, files))
    _fast_import(repo, stream)


def test_attack_two_huge_commits_in_a_row_do_not_hang_the_audit(repo: GitRepo) -> None:
    """Each huge commit sends its blobs to the helper; the helper, held back by results the
    audit had no use for, stopped reading, and the audit waited to send the second batch: a hang."""
    _huge_commits(repo, commits=3, agents=8000)
    done = subprocess.run(
        [AGENTPOLICY, "audit", "--format", "json"],
        cwd=repo.path,
        env=repo.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert '"commits_walked": 3' in done.stdout


# -- 2. the hook's stored whole-tree result -----------------------------------------------------


def _hook_json(repo: GitRepo, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    done = repo.ap("check", "--staged", "--format", "json", env=env)
    assert done.code in (0, 1, 2), done.text
    assert "Traceback" not in done.err and "internal error" not in done.err, done.err
    return done.code, json.loads(done.out) if done.code != 2 else {"error": done.err}


def _warm_equals_cold(repo: GitRepo) -> tuple[int, dict[str, Any]]:
    """The hook's report with the tree rows left by earlier runs, and from no cache at all."""
    warm = _hook_json(repo)
    shutil.rmtree(repo.path / ".git" / "agentpolicy", ignore_errors=True)
    cold = _hook_json(repo)
    assert warm == cold
    return cold


def _base(repo: GitRepo) -> None:
    repo.write(".agentpolicy.yaml", "require_signatures: false\nallow_self_approval: true\n")
    for index in range(4):
        repo.write(f"agents/a{index}.yaml", agent_yaml(name=f"a{index}"))
    repo.write("agents/sub/deep.yaml", agent_yaml(name="deep"))
    repo.commit("agents")
    repo.write("notes.txt", "warm the cache\n")
    repo.stage()
    _hook_json(repo)  # stores HEAD's tree row


def _exec_bit(repo: GitRepo) -> None:
    (repo.path / "agents" / "a0.yaml").chmod(0o755)


def _symlink_swap(repo: GitRepo) -> None:
    (repo.path / "agents" / "a1.yaml").unlink()
    os.symlink("a2.yaml", repo.path / "agents" / "a1.yaml")


def _link_with_the_blob_of_a_file(repo: GitRepo) -> None:
    """A symbolic link whose target text is byte for byte an agent file: the same blob id."""
    (repo.path / "agents" / "a1.yaml").unlink()
    os.symlink(agent_yaml(name="a1"), repo.path / "agents" / "a1.yaml")


def _rename(repo: GitRepo) -> None:
    (repo.path / "agents" / "a2.yaml").rename(repo.path / "agents" / "sub" / "moved.yaml")


def _folder_becomes_file(repo: GitRepo) -> None:
    shutil.rmtree(repo.path / "agents" / "sub")
    repo.write("agents/sub", agent_yaml(name="deep"))


def _file_becomes_folder(repo: GitRepo) -> None:
    (repo.path / "agents" / "a3.yaml").unlink()
    repo.write("agents/a3.yaml/inner.yaml", agent_yaml(name="a3"))


def _same_blob_twice(repo: GitRepo) -> None:
    repo.write("agents/copy.yaml", agent_yaml(name="a0"))


def _widened_globs(repo: GitRepo) -> None:
    repo.write("more/x.yaml", agent_yaml(name="x", stage="launched"))
    repo.write(
        ".agentpolicy.yaml",
        "require_signatures: false\nallow_self_approval: true\nagents: ['agents/**/*.yaml', 'more/*.yaml']\n",
    )


def _submodule(repo: GitRepo) -> None:
    blob = repo.git("rev-parse", "HEAD").strip()
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{blob},agents/vendored")


def _intent_to_add(repo: GitRepo) -> None:
    repo.write("agents/later.yaml", agent_yaml(name="later"))
    repo.git("add", "-N", "agents/later.yaml")


STAGED_CHANGES = [
    _exec_bit,
    _symlink_swap,
    _link_with_the_blob_of_a_file,
    _rename,
    _folder_becomes_file,
    _file_becomes_folder,
    _same_blob_twice,
    _widened_globs,
    _submodule,
    _intent_to_add,
]


@pytest.mark.parametrize("change", STAGED_CHANGES, ids=lambda change: change.__name__.strip("_"))
def test_attack_a_staged_change_reads_the_same_from_the_tree_row_as_from_no_cache(
    repo: GitRepo, change: Any
) -> None:
    _base(repo)
    change(repo)
    if change is not _intent_to_add and change is not _submodule:
        repo.stage()
    _warm_equals_cold(repo)
    repo.git("commit", "-q", "--no-verify", "-m", "landed past the hook")
    repo.write("notes.txt", "next\n")
    repo.stage()
    _warm_equals_cold(repo)  # HEAD's row derived from the previous one through a tree diff


def test_a_tree_row_survives_branch_switches_and_reverts(repo: GitRepo) -> None:
    """HEAD moves back and forth between trees with rows (kept: the newest four) and without."""
    _base(repo)
    start = repo.git("rev-parse", "HEAD").strip()
    repo.git("checkout", "-q", "-b", "side")
    for number in range(6):
        repo.write(f"agents/s{number}.yaml", agent_yaml(name=f"s{number}", stage="launched" * (number % 2)))
        repo.commit(f"side {number}")
        repo.write("notes.txt", f"{number}\n")
        repo.stage()
        _warm_equals_cold(repo)
    for target in ("main", "side", start, "side~3", "main"):
        repo.git("checkout", "-q", "-f", target)
        (repo.path / "agents" / "a0.yaml").unlink()
        repo.stage()
        _warm_equals_cold(repo)
        repo.git("reset", "-q", "--hard")


# -- 3. the code digest remembered in the user's cache folder -----------------------------------


def _plant(record: Path, form: str) -> None:
    record.unlink()
    if form == "fifo":
        os.mkfifo(record)
    elif form == "folder":
        (record / "inside").mkdir(parents=True)
    elif form == "garbage":
        record.write_bytes(b"\xff\x00{not json")
    elif form == "huge":
        record.write_text('{"fingerprint": "' + "0" * 5_000_000 + '"}')
    elif form == "poisoned":  # the right shape, another build's digest
        record.write_text(json.dumps({"fingerprint": "x", "digest": "0" * 64}))


@pytest.mark.parametrize("form", ["fifo", "folder", "garbage", "huge", "poisoned"])
def test_attack_a_damaged_code_digest_record_neither_hangs_nor_changes_the_hook(
    repo: GitRepo, tmp_path: Path, form: str
) -> None:
    """The hook remembers the digest of agentpolicy's code in the user's cache folder; a FIFO
    left there hung every hook (reading it waits for a writer)."""
    _base(repo)
    repo.write("agents/a0.yaml", agent_yaml(name="a0", version="2.0.0"))
    repo.stage()
    env = {**repo.env, "XDG_CACHE_HOME": str(tmp_path / "user-cache")}

    def hook() -> tuple[int, str]:
        shutil.rmtree(repo.path / ".git" / "agentpolicy", ignore_errors=True)
        done = subprocess.run(
            [AGENTPOLICY, "check", "--staged", "--format", "json"],
            cwd=repo.path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.returncode, done.stdout

    expected = hook()
    assert expected[0] == 1
    records = list((tmp_path / "user-cache" / "agentpolicy").glob("code-digest-*.json"))
    assert len(records) == 1
    _plant(records[0], form)
    assert hook() == expected
    assert hook() == expected


def test_a_plain_git_commit_uses_the_stored_tree_row_and_still_refuses(repo: GitRepo) -> None:
    """git runs the hook with GIT_INDEX_FILE naming the repository's own index (`.git/index`):
    that is the index, not a temporary one, so the tree row serves the real hook too, and the
    refusal of an unreviewed change stands."""
    import sqlite3

    _base(repo)
    shutil.rmtree(repo.path / ".git" / "agentpolicy")
    hook = repo.path / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\nexec {AGENTPOLICY} check --staged\n")
    hook.chmod(0o755)
    repo.write("agents/a0.yaml", agent_yaml(name="a0", version="2.0.0"))
    repo.stage()
    refused = subprocess.run(["git", "commit", "-q", "-m", "unreviewed"], cwd=repo.path, env=repo.env)
    assert refused.returncode == 1
    database = next((repo.path / ".git" / "agentpolicy").glob("derived-v*.sqlite3"))
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT count(*) FROM trees").fetchone() == (1,)
    connection.close()
    refused = subprocess.run(["git", "commit", "-q", "-m", "unreviewed"], cwd=repo.path, env=repo.env)
    assert refused.returncode == 1  # warm
    repo.git("reset", "-q", "--hard")
    repo.write("notes.txt", "harmless\n")
    repo.stage()
    assert (
        subprocess.run(["git", "commit", "-q", "-m", "harmless"], cwd=repo.path, env=repo.env).returncode == 0
    )
