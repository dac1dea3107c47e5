"""Every example that `--help` shows runs as written (issue 14: documentation that runs).

The examples are read from the real `--help` output, never copied here: a line of
a help text that starts with `agentpolicy ` or `git ` is a command (what follows
two or more spaces is its description), and an option's "e.g. -o ..." is run as
that command's options. Each command's examples run in order, in a fresh
repository where they make sense: a guarded repository with an `origin`, on a
topic branch that carries an approved change, with the reviewer's SSH key as
git's signing key. Every example must succeed and leave what it promises.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.helpers import AGENTPOLICY, BILLING, GitRepo, Key, approve, guarded_repo, run

COMMANDS = [
    "",
    "check",
    "approve",
    "schema",
    "rules",
    "test",
    "audit",
    "status",
    "demo",
    "init",
    "new",
    "evidence",
]
SLOW = {"demo"}  # runs a whole story of its own; covered by its own tests
# commands whose examples need a scenario of their own, and the test that runs them
ELSEWHERE = {
    "export": "tests/test_runtime_help_examples.py",
    "conformance": "tests/test_runtime_help_examples.py",
    "inventory": "tests/test_inventory_docs.py",
}


def help_text(command: str, cwd: Path, env: dict[str, str]) -> str:
    args = [AGENTPOLICY, *([command] if command else []), "--help"]
    done = run(args, cwd, env)
    assert done.code == 0, done.text
    return done.out


def examples(text: str, command: str) -> list[str]:
    """The command lines a help text shows, in order."""
    found: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("agentpolicy ", "git ")) or stripped == "agentpolicy":
            found.append(re.split(r"\s{2,}", stripped)[0])
    options = text.split("Options:", 1)[-1]
    for match in re.finditer(r"e\.g\.\s+((?:-o\s+\S+\s*)+)", " ".join(options.split())):
        found.append(f"agentpolicy {command} {match.group(1).strip().rstrip('.')}")
    return found


def scenario(path: Path, home: Path, keys: dict[str, Key]) -> GitRepo:
    """A guarded repo with an origin, on a topic branch whose change is approved and committed."""
    repo = guarded_repo(GitRepo(path / "work", home), keys)
    subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(path / "origin.git")], check=True)
    repo.git("remote", "add", "origin", str(path / "origin.git"))
    repo.git("fetch", "-q", "origin")
    repo.git("checkout", "-q", "-b", "topic")
    repo.write("agents/billing-cycle.yaml", BILLING.replace("version: 1.4.0 ", "version: 1.4.1 "))
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("billing 1.4.1")
    # from here on, the reviewer's machine: their name, their key as git's signing key
    repo.git("config", "user.name", "Rev Two")
    repo.git("config", "user.email", keys["rev2"].email)
    repo.git("config", "gpg.format", "ssh")
    repo.git("config", "user.signingkey", str(keys["rev2"].private))
    return repo


def example_env(repo: GitRepo, tmp_path: Path) -> dict[str, str]:
    """The repository's environment, plus what a person or a CI runner would supply."""
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"base": {"ref": "main"}, "head": {"ref": "topic"}}}))
    env = dict(repo.env)
    env.update(
        # `git commit` opens an editor: the person types a message
        GIT_EDITOR="printf 'record the review\\n' >",
        # `check --ci` is meant for a pull-request job on GitHub Actions
        GITHUB_ACTIONS="true",
        GITHUB_EVENT_NAME="pull_request",
        GITHUB_EVENT_PATH=str(event),
        GITHUB_BASE_REF="main",
        GITHUB_HEAD_REF="topic",
        GITHUB_REF="refs/pull/1/merge",
        GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
        PATH=f"{Path(AGENTPOLICY).parent}:{env['PATH']}",
    )
    return env


def test_every_help_text_is_read_for_examples(tmp_path: Path, home: Path, keys: dict[str, Key]) -> None:
    """The commands whose help shows examples; a command without any is named here, not skipped silently."""
    repo = GitRepo(tmp_path / "r", home)
    with_examples = {c for c in COMMANDS if examples(help_text(c, repo.path, repo.env), c)}
    assert {"", "check", "approve", "schema", "audit"} <= with_examples
    listing = help_text("", repo.path, repo.env).split("Commands:", 1)[1]
    names = {line.split()[0] for line in listing.splitlines() if line.strip()}
    unrun = names - set(COMMANDS) - set(ELSEWHERE)
    assert not unrun, f"commands whose --help examples no test runs: {unrun}"


@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in SLOW], ids=lambda c: c or "main")
def test_help_examples_run_as_written(command: str, tmp_path: Path, home: Path, keys: dict[str, Key]) -> None:
    repo = scenario(tmp_path, home, keys)
    env = example_env(repo, tmp_path)
    lines = examples(help_text(command, repo.path, env), command)
    for line in lines:
        done = run(["bash", "-c", line], repo.path, env)
        assert done.code == 0, f"`{line}` from `agentpolicy {command} --help` failed:\n{done.text}"
    joined = "\n".join(lines)
    for written in re.findall(r"(?:--output|>|=)\s*([\w.-]+\.(?:html|json|sarif|xml|csv))", joined):
        target = repo.path / written
        assert target.is_file() and target.stat().st_size > 0, f"{written} promised by {command} --help"
    if "git commit" in joined:
        shown = repo.git("show", "--name-only", "--format=%s", "HEAD")
        assert shown.startswith("record the review") and "reviews/billing-cycle/1.4.1/" in shown
    if command == "approve":  # the entry the example wrote is a valid second approval
        done = repo.ap("check", "--format", "json", "--base", "origin/main")
        assert done.code == 0, done.text
        change = json.loads(done.out)["changes"][0]
        assert change["approved"] and len(change["approved_by"]) == 2, change
