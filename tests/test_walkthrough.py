"""Walkthroughs by a newcomer and by a platform team: what they hit when they follow the docs.

A new user on a fresh machine (no ~/.ssh, no signing key) runs what `init` prints; a team adds a
reviewer the way the README says; a command run outside a repository tells them what to do; the
inventory's database, shared by a busy neighbour or named in a folder that is not there, says so;
`.ci/run` installs the interpreter pieces a fresh Debian/Ubuntu lacks; the Action's SARIF file is
found where the docs' upload step looks for it, also with `path`.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers import AGENTPOLICY, BILLING, GitRepo, Key, approve, clean_env, guarded_repo, run
from tests.inventory_support import inventory

ROOT = Path(__file__).resolve().parent.parent


def fresh_machine_home(tmp_path: Path) -> Path:
    """A HOME as a new laptop has it: a global git identity, no ~/.ssh at all."""
    home = tmp_path / "newcomer"
    home.mkdir()
    env = clean_env(home)
    run(["git", "config", "--global", "user.name", "New User"], home, env, check=True)
    run(["git", "config", "--global", "user.email", "new@example.com"], home, env, check=True)
    return home


def next_steps(output: str) -> list[str]:
    """The command lines `init` prints under "Next steps:" (comments and blank lines left out)."""
    lines = output.split("Next steps:", 1)[1].splitlines()
    commands = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    return [re.sub(r"\s+#.*$", "", line) for line in commands]


def test_on_a_machine_without_ssh_folder_the_printed_first_signer_steps_work_and_approve_signs(
    tmp_path: Path,
) -> None:
    home = fresh_machine_home(tmp_path)
    project = GitRepo(tmp_path / "project", home)
    project.git("config", "--unset", "user.name")  # the identity is the global one, as on a laptop
    project.git("config", "--unset", "user.email")
    done = project.ap("init")
    assert done.code == 0, done.text
    steps = next_steps(done.out)
    own = [step for step in steps if step.startswith(("mkdir", "ssh-keygen", "git config", "echo"))]
    assert any("ssh-keygen" in step for step in own), done.out
    for step in own[: own.index(next(s for s in own if s.startswith("echo"))) + 1]:
        # an empty passphrase, twice, typed at ssh-keygen's prompt
        shown = run(["sh", "-c", step], project.path, project.env, stdin="\n\n")
        assert shown.code == 0, f"{step!r} failed on a fresh machine:\n{shown.text}"
    assert (home / ".ssh" / "id_ed25519.pub").is_file()
    assert oct((home / ".ssh").stat().st_mode & 0o777) == "0o700"
    project.commit("Guard agents with agentpolicy")
    assert project.ap("new", "invoice-triage").code == 0
    signed = project.ap("approve", "invoice-triage")
    assert signed.code == 0 and "signed" in signed.out, signed.text


def test_a_reviewer_added_later_lands_with_the_trusted_signers_approval_in_the_same_commit(
    tmp_path: Path, home: Path, keys: dict[str, Key]
) -> None:
    """README: the new reviewer appends their line; a trusted signer approves that change with
    `approve --trust-root` before it is committed; the commit holds both."""
    project = guarded_repo(GitRepo(tmp_path / "project", home), keys, "rev")
    with open(project.path / ".agentpolicy/allowed_signers", "a", encoding="utf-8") as signers:
        signers.write(keys["rev2"].signer_line() + "\n")
    project.stage()
    refused = project.ap("check", "--staged")
    assert refused.code == 1 and "AP220" in refused.out, refused.text
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "before it is committed" in readme.split("To add a reviewer later", 1)[1].split("\n", 1)[0]
    assert approve(project, keys["rev"], "--trust-root").code == 0
    project.stage()
    passed = project.ap("check", "--staged")
    assert passed.code == 0, passed.text


@pytest.mark.parametrize("command", [["status"], ["audit"], ["approve", "x"], ["new", "x"]])
def test_outside_a_repository_the_fix_is_to_go_into_one(
    tmp_path: Path, home: Path, command: list[str]
) -> None:
    done = run([AGENTPOLICY, *command], tmp_path, clean_env(home))
    assert done.code == 2, done.text
    fix = done.err.split("fix:", 1)[1]
    assert "cd into" in fix and "git init" in fix, done.err


@pytest.fixture
def one_repo(tmp_path: Path, home: Path, keys: dict[str, Key]) -> Path:
    return guarded_repo(GitRepo(tmp_path / "alpha", home), keys).path


def test_an_inventory_database_locked_by_another_process_says_so(
    tmp_path: Path, home: Path, one_repo: Path
) -> None:
    """A brand-new database file that another process holds (before the first run made it WAL)."""
    database = tmp_path / "busy.sqlite"
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("CREATE TABLE other (x)")
    try:
        done = inventory(tmp_path, home, str(one_repo), "--db", str(database))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert done.code == 2, done.text
    assert f"another process is using {database}" in done.err, done.err
    assert "wait for it to finish" in done.err


def test_two_inventory_runs_at_once_never_interleave_and_both_end_with_a_documented_code(
    tmp_path: Path, home: Path, one_repo: Path
) -> None:
    database = str(tmp_path / "shared.sqlite")
    codes: list[int] = []

    def one_run() -> None:
        codes.append(inventory(tmp_path, home, str(one_repo), "--db", database, "--jobs", "1").code)

    runs = [threading.Thread(target=one_run) for _ in range(3)]
    for thread in runs:
        thread.start()
        time.sleep(0.05)
    for thread in runs:
        thread.join()
    assert sorted(set(codes)) in ([0], [0, 2]), codes
    rows = sqlite3.connect(database).execute("SELECT COUNT(*) FROM repositories").fetchone()
    assert rows == (1,)


def test_an_inventory_database_in_a_missing_folder_names_the_folder(
    tmp_path: Path, home: Path, one_repo: Path
) -> None:
    database = tmp_path / "not-there" / "inventory.sqlite"
    done = inventory(tmp_path, home, str(one_repo), "--db", str(database))
    assert done.code == 2, done.text
    assert f"the folder {database.parent} does not exist" in done.err, done.err
    assert "mkdir -p" in done.err


def _shims(tmp_path: Path, *, python: str | None, chromium: str = "chromium") -> dict[str, str]:
    """A PATH holding only git, the ssh tools, `chromium` under the given name, and a python3 that
    is "ok", lacks ensurepip ("no-venv", Debian without python3-venv), is "old", or is absent (None)."""
    shims = tmp_path / "shims"
    shims.mkdir()
    for tool in ("git", "ssh-keygen", "ssh-agent", "sort", "tail", "ls", "cat", "grep"):
        found = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True, text=True)
        if found.stdout.strip():
            (shims / tool).symlink_to(found.stdout.strip())
    (shims / chromium).write_text("#!/bin/sh\nexit 0\n")
    (shims / chromium).chmod(0o755)
    if python is not None:
        fails = {"ok": "", "no-venv": "*ensurepip*", "old": "*version_info*"}[python]
        script = (
            f'#!/bin/sh\ncase "$*" in\n  {fails}) exit 1 ;;\nesac\nexit 0\n'
            if fails
            else "#!/bin/sh\nexit 0\n"
        )
        (shims / "python3").write_text(script)
        (shims / "python3").chmod(0o755)
    return {"PATH": str(shims)}


@pytest.mark.parametrize(
    ("python", "chromium", "expected"),
    [
        ("ok", "chromium", ""),
        ("ok", "chromium-browser", ""),
        ("no-venv", "chromium", "python3-venv"),
        (None, "chromium", "python3 python3-venv"),
    ],
)
def test_ci_run_installs_what_a_fresh_debian_lacks(
    tmp_path: Path, python: str | None, chromium: str, expected: str
) -> None:
    env = _shims(tmp_path, python=python, chromium=chromium)
    bash = subprocess.run(["sh", "-c", "command -v bash"], capture_output=True, text=True).stdout.strip()
    done = subprocess.run(
        [bash, "-c", ". .ci/packages.sh && needed_packages"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == expected.split(), done.stdout


def test_ci_run_stops_on_a_python_older_than_the_package_needs_with_the_fix(tmp_path: Path) -> None:
    env = _shims(tmp_path, python="old")
    bash = subprocess.run(["sh", "-c", "command -v bash"], capture_output=True, text=True).stdout.strip()
    done = subprocess.run(
        [bash, "-c", ". .ci/packages.sh && require_python"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "Python 3.11 or newer" in done.stderr, done.stderr


def _github_steps(markdown: str) -> list[list[dict[str, object]]]:
    blocks = re.findall(r"^```yaml\n(.*?)^```", markdown, re.S | re.M)
    found = []
    for block in blocks:
        document = yaml.safe_load(block)
        if isinstance(document, dict) and "jobs" in document:
            found += [job.get("steps", []) for job in document["jobs"].values()]
    return found


def test_the_docs_upload_the_sarif_file_where_the_action_writes_it_also_with_path() -> None:
    """The Action runs in `path`, so `sarif:` is relative to it; the upload step reads from the
    workspace. Every docs workflow that uploads must name the same file."""
    ci = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    pairs = []
    for steps in _github_steps(ci):
        ours = [s for s in steps if str(s.get("uses", "")).startswith("agentpolicy/agentpolicy@")]
        uploads = [s for s in steps if "upload-sarif" in str(s.get("uses", ""))]
        for step, upload in zip(ours, uploads, strict=False):
            inputs = step.get("with") or {}
            assert isinstance(inputs, dict)
            written = os.path.normpath(os.path.join(str(inputs.get("path", ".")), str(inputs["sarif"])))
            read = upload["with"]["sarif_file"]  # type: ignore[index]
            pairs.append((written, read))
    assert any(written != "agentpolicy.sarif" for written, _ in pairs), "no example with a path"
    assert all(written == read for written, read in pairs), pairs
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert "relative to `path`" in action["inputs"]["sarif"]["description"]


def test_repeat_approvals_by_one_reviewer_show_that_reviewer_once(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """Two entries signed by the same person are one approver on the board, not two."""
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", BILLING.replace("version: 1.4.0 ", "version: 1.4.1 "))
    assert approve(repo, keys["rev"]).code == 0
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("billing 1.4.1, approved twice by the same reviewer")
    board = json.loads(repo.ap("status", "--format", "json").out)["agents"]
    assert [row["approvers"] for row in board] == [["Rev <rev@example.com>"]]
