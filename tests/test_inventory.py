"""`agentpolicy inventory`: the right rows from repositories with their own configurations, incremental
runs, broken repositories, a killed run, and SQLite and PostgreSQL giving the same rows."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests import inventory_support
from tests.helpers import (
    AGENTPOLICY,
    GitRepo,
    Key,
    agent_yaml,
    approve,
    clean_env,
    guarded_repo,
    write_signers,
)
from tests.inventory_support import comparable, dump, inventory, inventory_json

database_url = inventory_support.database_url  # the fixtures: SQLite, and PostgreSQL when a server is given
postgres_url = inventory_support.postgres_url

PILOT = """\
apiVersion: agentpolicy/v1
kind: Agent
name: triage
version: 0.3.0
stage: pilot
owner:
  name: Tomasz Triage
  email: tomasz@example.com
autonomy:
  autonomous:
    - action: label-ticket
  requires_confirmation: []
undo:
  rollback: Remove the labels.
change_control:
  approvals_required: 1
"""


def build_fleet(tmp_path: Path, home: Path, keys: dict[str, Key]) -> dict[str, Path]:
    """Three repositories, three configurations, three approval states."""
    # alpha: the defaults; billing approved by a reviewer, pdf-extraction committed without a review
    alpha = guarded_repo(GitRepo(tmp_path / "alpha", home), keys)
    alpha.write("agents/pdf-extraction.yaml", agent_yaml())
    alpha.commit("pdf-extraction, never reviewed")
    # beta: its own layout (bots/, approvals/); an approved pilot that has no monitoring yet
    beta = GitRepo(tmp_path / "beta", home)
    write_signers(beta, keys["rev"].signer_line())
    beta.write(".agentpolicy.yaml", "agents: ['bots/*.yaml']\nreviews: approvals\n")
    beta.commit("agentpolicy set up (a configuration applies once it has landed)")
    beta.write("bots/triage.yaml", PILOT)
    assert approve(beta, keys["rev"], "triage").code == 0
    beta.commit("triage pilot")
    # gamma: a bare repository of a solo maintainer; 1.0.0 self-approved, then 1.1.0 with no review
    work = GitRepo(tmp_path / "gamma-work", home)
    write_signers(work, keys["dev"].signer_line())
    work.write(".agentpolicy.yaml", "allow_self_approval: true\n")
    work.write("agents/claims.yaml", agent_yaml("claims", owner="Carla Claims", email="carla@example.com"))
    assert approve(work, keys["dev"], "claims").code == 0
    work.commit("claims 1.0.0")
    work.write(
        "agents/claims.yaml", agent_yaml("claims", "1.1.0", owner="Carla Claims", email="carla@example.com")
    )
    work.commit("claims 1.1.0, never reviewed")
    subprocess.run(["git", "clone", "-q", "--bare", str(work.path), str(tmp_path / "gamma.git")], check=True)
    return {"alpha": alpha.path, "beta": beta.path, "gamma": tmp_path / "gamma.git"}


def existing(path: Path, home: Path) -> GitRepo:
    """A GitRepo for a repository that is already there (a clone): no `git init`."""
    repo = GitRepo.__new__(GitRepo)
    repo.path, repo.home, repo.env = path, home, clean_env(home)
    repo.env = repo.as_author("Dev Author <dev@example.com>")
    return repo


def rows(document: dict) -> dict[tuple[str, str], dict]:
    return {(Path(a["repository"]).name, a["name"]): a for a in document["agents"]}


def test_three_repositories_with_their_own_configurations_give_the_right_rows(
    tmp_path: Path, home: Path, keys: dict[str, Key], database_url: str
) -> None:
    fleet = build_fleet(tmp_path, home, keys)
    code, document, err = inventory_json(tmp_path, home, *map(str, fleet.values()), "--db", database_url)
    assert code == 0, err
    found = rows(document)
    assert set(found) == {
        ("alpha", "billing-cycle"),
        ("alpha", "pdf-extraction"),
        ("beta", "triage"),
        ("gamma.git", "claims"),
    }
    billing = found[("alpha", "billing-cycle")]
    assert (billing["approved"], billing["approvers"], billing["unapproved_changes"]) == (
        True,
        ["Rev <rev@example.com>"],
        0,
    )
    assert (billing["owner_name"], billing["owner_email"]) == ("Anna Nowak", "anna.nowak@example.com")
    pdf = found[("alpha", "pdf-extraction")]
    assert (pdf["approved"], pdf["approvals"], pdf["unapproved_changes"]) == (False, 0, 1)
    triage = found[("beta", "triage")]
    assert (triage["path"], triage["stage"], triage["approved"]) == ("bots/triage.yaml", "pilot", True)
    assert triage["open_gaps"] == ["monitoring"]
    claims = found[("gamma.git", "claims")]
    assert (claims["version"], claims["approved"], claims["unapproved_changes"]) == ("1.1.0", False, 1)
    assert all(agent["review_due"] is None for agent in document["agents"])
    assert document["summary"] == {
        "repositories": 3,
        "read": 3,
        "unchanged": 0,
        "failed": 0,
        "agents": 4,
        "not_approved": 2,
    }
    assert "3 repositories: 3 read, 0 unchanged (skipped), 0 failed" in err


def test_each_row_is_what_status_says_inside_that_repository(
    tmp_path: Path, home: Path, keys: dict[str, Key]
) -> None:
    """One judge: the inventory's approval is `status`'s, repository by repository."""
    fleet = build_fleet(tmp_path, home, keys)
    _, document, _ = inventory_json(tmp_path, home, *map(str, fleet.values()))
    found = rows(document)
    for name, path in fleet.items():
        status = subprocess.run(
            [AGENTPOLICY, "status", "--format", "json"],
            cwd=path,
            env=clean_env(home),
            capture_output=True,
            text=True,
        )
        assert status.returncode == 0, status.stderr
        for agent in json.loads(status.stdout)["agents"]:
            row = found[(path.name, agent["name"])]
            assert (row["approved"], row["approvers"], row["open_gaps"], row["stage"], row["version"]) == (
                agent["approved"],
                agent["approvers"],
                agent["gaps"],
                agent["stage"],
                agent["version"],
            ), name


def test_an_unchanged_repository_is_skipped_and_a_changed_one_read_again(
    tmp_path: Path, home: Path, keys: dict[str, Key], database_url: str
) -> None:
    fleet = build_fleet(tmp_path, home, keys)
    args = [*map(str, fleet.values()), "--db", database_url]
    inventory_json(tmp_path, home, *args)
    code, document, err = inventory_json(tmp_path, home, *args)
    assert (code, document["summary"]["read"], document["summary"]["unchanged"]) == (0, 0, 3)
    assert "0 read, 3 unchanged (skipped)" in err
    assert len(document["agents"]) == 4  # skipped repositories still list their agents
    beta = existing(fleet["beta"], home)
    beta.write("bots/triage.yaml", PILOT.replace("0.3.0", "0.4.0"))
    beta.commit("triage 0.4.0, not reviewed yet")
    code, document, err = inventory_json(tmp_path, home, *args)
    assert (document["summary"]["read"], document["summary"]["unchanged"]) == (1, 2), err
    triage = rows(document)[("beta", "triage")]
    assert (triage["version"], triage["approved"], triage["unapproved_changes"]) == ("0.4.0", False, 1)


def test_a_broken_repository_is_reported_and_the_others_are_recorded(
    tmp_path: Path, home: Path, keys: dict[str, Key], database_url: str
) -> None:
    fleet = build_fleet(tmp_path, home, keys)
    plain = tmp_path / "plain-folder"
    plain.mkdir()
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{fleet['alpha']}", str(shallow)],
        check=True,
        env=clean_env(home),
    )
    corrupt = tmp_path / "corrupt.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(fleet["alpha"]), str(corrupt)], check=True)
    for folder in (corrupt / "objects").iterdir():  # every loose object and pack gone: nothing readable
        if folder.name not in ("info",):
            subprocess.run(["rm", "-rf", str(folder)], check=True)
    holed = tmp_path / "holed"  # one agent's content is gone from the object store
    subprocess.run(["git", "clone", "-q", str(fleet["alpha"]), str(holed)], check=True, env=clean_env(home))
    blob = existing(holed, home).git("rev-parse", "HEAD:agents/billing-cycle.yaml").strip()
    (holed / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    inside = fleet["alpha"] / "agents"
    targets = [fleet["alpha"], plain, shallow, corrupt, holed, inside, tmp_path / "missing", fleet["beta"]]
    code, document, err = inventory_json(tmp_path, home, *map(str, targets), "--db", database_url)
    assert code == 1, err
    status = {Path(r["path"]).name: (r["status"], r["error"] or "") for r in document["repositories"]}
    assert status["alpha"] == ("ok", "") and status["beta"] == ("ok", "")
    assert status["plain-folder"][0] == "failed" and "not a git repository" in status["plain-folder"][1]
    assert status["shallow"][0] == "failed" and "shallow" in status["shallow"][1]
    assert "git fetch --unshallow" in status["shallow"][1]
    assert status["corrupt.git"][0] == "failed" and "the repository is damaged" in status["corrupt.git"][1]
    assert "git fsck" in status["corrupt.git"][1]
    assert status["holed"] == (
        "failed",
        f"the repository is damaged: object {blob} is missing "
        "(fix: run `git fsck` in it and restore the missing objects)",
    )
    assert status["agents"][0] == "failed" and "a folder inside" in status["agents"][1]
    assert status["missing"] == ("failed", "no such folder")
    assert {a["name"] for a in document["agents"]} == {"billing-cycle", "pdf-extraction", "triage"}
    assert "6 failed" in err and f"failed: {shallow}: this clone is shallow" in err


def _read_until(master: int, wanted: str, process: subprocess.Popen[bytes], limit: float = 120.0) -> str:
    seen = b""
    deadline = time.monotonic() + limit
    while wanted.encode() not in seen:
        assert process.poll() is None, f"the run ended before {wanted!r}: {seen[-500:]!r}"
        assert time.monotonic() < deadline, seen[-500:]
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            seen += os.read(master, 4096)
    return seen.decode(errors="replace")


def test_a_killed_run_leaves_the_last_complete_state(
    tmp_path: Path, home: Path, keys: dict[str, Key], database_url: str
) -> None:
    source = guarded_repo(GitRepo(tmp_path / "source", home), keys)
    clones = []
    for number in range(16):
        clone = tmp_path / f"clone-{number:02d}"
        subprocess.run(["git", "clone", "-q", str(source.path), str(clone)], check=True, env=clean_env(home))
        clones.append(clone)
    listing = tmp_path / "repositories.txt"
    listing.write_text("".join(f"{clone}\n" for clone in clones))
    first = inventory(tmp_path, home, "--from", str(listing), "--db", database_url, "--format", "json")
    assert first.code == 0, first.text
    complete = dump(database_url)
    for clone in clones:  # every repository changed: the next run must read them all again
        subprocess.run(
            ["git", "-C", str(clone), "commit", "-q", "--allow-empty", "--no-verify", "-m", "later"],
            check=True,
            env=source.as_author("Dev Author <dev@example.com>"),
        )
        subprocess.run(
            ["git", "-C", str(clone), "update-ref", "refs/remotes/origin/main", "HEAD"], check=True
        )
    master, terminal = pty.openpty()
    process = subprocess.Popen(
        [
            AGENTPOLICY,
            "inventory",
            "--from",
            str(listing),
            "--db",
            database_url,
            "--jobs",
            "1",
            "--format",
            "json",
        ],
        cwd=tmp_path,
        env=clean_env(home),
        stdout=subprocess.DEVNULL,
        stderr=terminal,
        start_new_session=True,
    )
    os.close(terminal)
    try:
        _read_until(master, "4/16 repositories read", process)  # recorded in the run's open transaction
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        os.close(master)
    assert process.returncode == -signal.SIGKILL
    assert dump(database_url) == complete
    code, document, err = inventory_json(tmp_path, home, "--from", str(listing), "--db", database_url)
    assert (code, document["summary"]["read"]) == (0, 16), err
    heads = {r["head_commit"] for r in document["repositories"]}
    assert heads and not heads & {r[4] for r in complete["repositories"]}  # the new commits, all of them


def test_sqlite_and_postgresql_give_the_same_rows(
    tmp_path: Path, home: Path, keys: dict[str, Key], postgres_url: str
) -> None:
    fleet = build_fleet(tmp_path, home, keys)
    broken = tmp_path / "not-a-repository"
    broken.mkdir()
    targets = [*map(str, fleet.values()), str(broken)]
    _, lite, _ = inventory_json(tmp_path, home, *targets, "--db", str(tmp_path / "inventory.sqlite"))
    _, postgres, _ = inventory_json(tmp_path, home, *targets, "--db", postgres_url)
    assert comparable(lite) == comparable(postgres)
    assert lite["summary"] == postgres["summary"]

    def stable(url: str) -> dict[str, list[tuple]]:
        tables = dump(url)
        return {
            "repositories": sorted(
                tuple(bytes(c) if isinstance(c, memoryview) else c for c in r[1:8])
                for r in tables["repositories"]
            ),
            "agents": sorted(
                tuple(bool(c) if i == 7 else c for i, c in enumerate(r[1:])) for r in tables["agents"]
            ),
            "changes": sorted(
                tuple(bool(c) if i in (7, 10) else c for i, c in enumerate(r[1:])) for r in tables["changes"]
            ),
        }

    assert stable(str(tmp_path / "inventory.sqlite")) == stable(postgres_url)


@pytest.mark.parametrize("rev", ["HEAD", None])
def test_a_clone_is_read_at_origins_default_branch_unless_rev_says(
    tmp_path: Path, home: Path, keys: dict[str, Key], rev: str | None
) -> None:
    origin = guarded_repo(GitRepo(tmp_path / "origin", home), keys)
    subprocess.run(
        ["git", "clone", "-q", str(origin.path), str(tmp_path / "clone")], check=True, env=origin.env
    )
    clone = existing(tmp_path / "clone", home)
    clone.write("agents/pdf-extraction.yaml", agent_yaml())
    clone.commit("local work, not pushed")
    _, document, _ = inventory_json(tmp_path, home, str(clone.path), *(["--rev", rev] if rev else []))
    names = {agent["name"] for agent in document["agents"]}
    if rev is None:
        assert names == {"billing-cycle"} and document["repositories"][0]["rev"] == "refs/remotes/origin/main"
    else:
        assert names == {"billing-cycle", "pdf-extraction"}


def _drain(master: int) -> str:
    """What is left to read from a terminal whose writer has exited."""
    seen = b""
    while select.select([master], [], [], 1.0)[0]:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        seen += chunk
    return seen.decode(errors="replace")


def _descendants(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        for task in os.listdir(f"/proc/{current}/task"):
            with open(f"/proc/{current}/task/{task}/children") as children:
                for child in map(int, children.read().split()):
                    found.append(child)
                    pending.append(child)
    return found


def _workers(pid: int) -> list[int]:
    """The worker processes of a run: the children of its fork server."""
    for child in _descendants(pid):
        with open(f"/proc/{child}/cmdline", "rb") as cmdline:
            if b"forkserver" in cmdline.read():
                return [grandchild for grandchild in _descendants(child)]
    return []


def test_a_worker_killed_mid_run_costs_nothing_but_time(
    tmp_path: Path, home: Path, keys: dict[str, Key]
) -> None:
    """The out-of-memory killer takes a worker: the repositories it had are read again, alone."""
    source = guarded_repo(GitRepo(tmp_path / "source", home), keys)
    listing = tmp_path / "repositories.txt"
    with listing.open("w") as handle:
        for number in range(12):
            clone = tmp_path / f"clone-{number:02d}"
            subprocess.run(
                ["git", "clone", "-q", str(source.path), str(clone)], check=True, env=clean_env(home)
            )
            handle.write(f"{clone}\n")
    master, terminal = pty.openpty()
    process = subprocess.Popen(
        [AGENTPOLICY, "inventory", "--from", str(listing), "--jobs", "2", "--format", "json"],
        cwd=tmp_path,
        env=clean_env(home),
        stdout=subprocess.PIPE,
        stderr=terminal,
        start_new_session=True,
    )
    os.close(terminal)
    try:
        _read_until(master, "2/12 repositories read", process)
        victims = _workers(process.pid)
        assert victims, "no worker process found"
        os.kill(victims[0], signal.SIGKILL)
        out, _ = process.communicate(timeout=240)
        said = _drain(master)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        os.close(master)
    assert process.returncode == 0, said
    assert "a worker process stopped unexpectedly" in said and "read again, one at a time" in said
    document = json.loads(out)
    assert document["summary"]["read"] == 12 and document["summary"]["failed"] == 0
    assert len(document["agents"]) == 12
