"""No stray files, no lost approvals under concurrency (issue 15).

- The same reviewer approving twice at the same moment gets two distinct entries:
  the name is chosen and created atomically, and a collision takes the next name.
- Temporary files are made inside the git directory, so a run killed at any moment
  leaves nothing for `git add -A` to pick up; the next writer removes stale ones.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

from tests.helpers import AGENTPOLICY, BILLING, GitRepo, Key, guarded_repo


def approve_command(key: Key) -> list[str]:
    return [
        AGENTPOLICY,
        "approve",
        "billing-cycle",
        "--reviewer",
        f"Rev <{key.email}>",
        "--key",
        str(key.private),
    ]


def worktree_strays(repo: GitRepo) -> list[str]:
    listed = repo.git("status", "--porcelain", "--untracked-files=all", "--ignored")
    return [line for line in listed.splitlines() if ".tmp" in line or ".agentpolicy-" in line]


def test_the_same_reviewer_approving_four_times_at_once_gets_four_entries(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", BILLING.replace("version: 1.4.0 ", "version: 1.4.1 "))
    for _round in range(3):
        runs = [
            subprocess.Popen(
                approve_command(keys["rev"]),
                cwd=repo.path,
                env=repo.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        results = [(run.wait(timeout=120), run.stderr.read() if run.stderr else "") for run in runs]
        for run in runs:
            for stream in (run.stdout, run.stderr):
                if stream:
                    stream.close()
        assert [code for code, _ in results] == [0, 0, 0, 0], results
    entries = sorted((repo.path / "reviews" / "billing-cycle" / "1.4.1").glob("*.yaml"))
    assert len(entries) == 12, entries
    assert len({entry.read_bytes() for entry in entries}) >= 1
    assert repo.ap("check").code == 0
    assert worktree_strays(repo) == []


def test_a_run_killed_at_any_moment_leaves_nothing_for_git_add(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", BILLING.replace("version: 1.4.0 ", "version: 1.4.1 "))
    chance = random.Random(15)
    for _ in range(25):
        run = subprocess.Popen(
            approve_command(keys["rev"]),
            cwd=repo.path,
            env=repo.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(chance.uniform(0.05, 0.4))
        run.send_signal(signal.SIGKILL)
        run.wait()
        assert worktree_strays(repo) == []
    repo.git("add", "-A")
    staged = repo.git("diff", "--cached", "--name-only")
    assert ".tmp" not in staged and ".agentpolicy-" not in staged, staged


def test_the_next_writer_removes_stale_temporary_files(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    scratch = repo.path / ".git" / "agentpolicy" / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    stale, fresh = (
        scratch / ".agentpolicy-0123456789abcdef.tmp",
        scratch / ".agentpolicy-fedcba9876543210.tmp",
    )
    for path in (stale, fresh):
        path.write_bytes(b"half an entry")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    repo.write("agents/billing-cycle.yaml", BILLING.replace("version: 1.4.0 ", "version: 1.4.1 "))
    done = subprocess.run(
        approve_command(keys["rev"]), cwd=repo.path, env=repo.env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert not stale.exists() and fresh.exists()  # a fresh one may belong to a run still going


def test_reports_are_not_written_through_the_working_tree(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    guarded_repo(repo, keys)
    done = subprocess.run(
        ["bash", "-c", f'ulimit -f 2; "{AGENTPOLICY}" audit --format html --output audit.html'],
        cwd=repo.path,
        env=repo.env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done.stderr
    assert worktree_strays(repo) == []
