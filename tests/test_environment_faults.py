"""Exit 2 for the environment (issue 15): a fault of the machine is a message and exit 2, never
"internal error ... this is a bug" (exit 3), and where the work can still be done it is done.

Each row of the table is a real fault: a full disk behind stdout (/dev/full), a closed stdout,
a reader that closes the pipe, a file-size limit (`ulimit -f`), a tiny full TMPDIR (a real
tmpfs where the machine lets us mount one), and a C locale with non-UTF-8 output.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import AGENTPOLICY, GitRepo, Key, agent_yaml, guarded_repo


@pytest.fixture()
def project(repo: GitRepo, keys: dict[str, Key]) -> GitRepo:
    guarded_repo(repo, keys)
    repo.write("agents/zażółć.yaml", agent_yaml(name="unicode-named"))
    repo.commit("an agent with a non-ASCII file name")
    return repo


def shell(repo: GitRepo, script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a shell line with `ap` standing for the real agentpolicy, in the project."""
    full = dict(repo.env, AP=AGENTPOLICY, **env)
    return subprocess.run(
        ["bash", "-c", script], cwd=repo.path, env=full, capture_output=True, text=True, timeout=120
    )


def no_bug_report(done: subprocess.CompletedProcess[str]) -> None:
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert "Exception ignored" not in done.stderr, done.stderr


def stray_files(repo: GitRepo) -> list[str]:
    listed = repo.git("status", "--porcelain", "--untracked-files=all")
    return [line for line in listed.splitlines() if ".agentpolicy-" in line or ".tmp" in line]


@pytest.mark.parametrize("command", ["check", "audit", "status", "rules"])
def test_stdout_on_a_full_disk_is_exit_2_naming_standard_output(command: str, project: GitRepo) -> None:
    done = shell(project, f'"$AP" {command} > /dev/full')
    no_bug_report(done)
    assert done.returncode == 2, done.stderr
    assert "standard output" in done.stderr and "No space left on device" in done.stderr, done.stderr


@pytest.mark.parametrize("command", ["check", "check --staged", "audit --strict"])
def test_a_closed_stdout_still_gives_the_verdict(command: str, project: GitRepo) -> None:
    expected = shell(project, f'"$AP" {command} > /dev/null').returncode
    done = shell(project, f'"$AP" {command} >&-')
    no_bug_report(done)
    assert done.returncode == expected


def test_a_reader_that_stops_early_ends_the_run_quietly(project: GitRepo) -> None:
    for _ in range(3):
        done = shell(project, 'set -o pipefail; "$AP" rules | head -c 10 >/dev/null; echo "${PIPESTATUS[0]}"')
        no_bug_report(done)
        assert done.stderr == "", done.stderr
        assert done.stdout.strip() in ("0", "2"), done.stdout


def test_a_file_size_limit_is_exit_2_and_leaves_no_temporary_file(project: GitRepo) -> None:
    done = shell(project, 'ulimit -f 1; "$AP" audit --format html --output audit.html')
    no_bug_report(done)
    assert done.returncode == 2, done.stderr
    assert "audit.html" in done.stderr and "File too large" in done.stderr
    assert not (project.path / "audit.html").exists()
    assert stray_files(project) == []


@contextlib.contextmanager
def tiny_tmpfs(where: Path) -> Iterator[Path]:
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()}); ulimit rows still run")
    try:
        with contextlib.suppress(OSError):
            (where / "filler").write_bytes(b"x" * (1 << 20))
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)


def test_a_full_tmpdir_is_exit_2_naming_tmpdir(
    project: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    project.write(
        "agents/billing-cycle.yaml", project.read("agents/billing-cycle.yaml").replace("1.4.0 ", "1.4.1 ")
    )
    with tiny_tmpfs(tmp_path / "tiny") as tiny:
        done = shell(
            project,
            f'"$AP" approve billing-cycle --reviewer "Rev <{keys["rev"].email}>" --key "{keys["rev"].private}"',
            TMPDIR=str(tiny),
        )
    no_bug_report(done)
    assert done.returncode in (0, 2), done.stderr
    if done.returncode == 2:
        assert "TMPDIR" in done.stderr and "No space left on device" in done.stderr, done.stderr
    assert stray_files(project) == [] or done.returncode == 0


def test_a_c_locale_without_utf8_mode_still_checks_non_ascii_names(project: GitRepo) -> None:
    for script in (
        '"$AP" check',
        '"$AP" check agents/zażółć.yaml',
        '"$AP" status',
        '"$AP" audit --format csv',
    ):
        done = shell(project, script, LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONIOENCODING="")
        no_bug_report(done)
        assert done.returncode in (0, 1), f"{script}: {done.stderr}"
