"""The README's Quick start, run as written: every command line of its shell blocks, in a fresh
repository, by a throwaway author and (where the README says a reviewer acts) a throwaway reviewer.

The test reads README.md; it copies nothing from it. Conventions it relies on, which the README keeps:
- a block that starts with `cd your-repo` is a story, run line by line in a new repository; any other
  block may only install (`pip install git-agentpolicy ...`) or run `agentpolicy demo` (not run here);
- a comment-only line starting `# your reviewer` hands the keyboard to the reviewer, `# you` back;
- a line's trailing comment states its outcome: `exit N` (else 0) and each "quoted" text in its output.
Each person has a HOME with an ed25519 key at ~/.ssh/id_ed25519 and a global git identity that signs
with it; nothing touches the network (proxies point at a dead port, git may only use file://).
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.helpers import Run, clean_env, make_key, run

ROOT = Path(__file__).resolve().parent.parent
BIN = str(Path(sys.executable).parent)


@dataclass(frozen=True)
class Step:
    actor: str  # "author" or "reviewer"
    command: str
    exit_code: int
    expected: tuple[str, ...]
    line: int  # in README.md, for the failure message


def section(markdown: str, title: str) -> tuple[str, int]:
    start = markdown.index(f"\n## {title}") + 1
    end = markdown.find("\n## ", start)
    return markdown[start : end if end > 0 else len(markdown)], markdown[:start].count("\n") + 1


def shell_blocks(markdown: str, title: str) -> list[tuple[int, list[str]]]:
    """The ```sh blocks of one README section: the README line of each block's first line, and its lines."""
    text, first_line = section(markdown, title)
    blocks = []
    for found in re.finditer(r"^```sh\n(.*?)^```", text, re.S | re.M):
        line = first_line + text[: found.start(1)].count("\n")
        blocks.append((line, found.group(1).splitlines()))
    return blocks


def split_comment(line: str) -> tuple[str, str]:
    """A command and its trailing comment: the first `#` that shell would read as one."""
    for match in re.finditer(r"\s#", line):
        head = line[: match.start()]
        try:
            shlex.split(head)
        except ValueError:
            continue  # inside quotes
        return head.rstrip(), line[match.start() + 1 :].strip()
    return line.rstrip(), ""


def story(lines: list[str], first_line: int) -> list[Step]:
    steps, actor = [], "author"
    for number, raw in enumerate(lines, first_line):
        text = raw.strip()
        if not text:
            continue
        if text.startswith("#"):
            if re.match(r"#\s*your reviewer\b", text):
                actor = "reviewer"
            elif re.match(r"#\s*you\b", text):
                actor = "author"
            continue
        command, comment = split_comment(text)
        code = re.search(r"\bexit (\d+)", comment)
        steps.append(
            Step(
                actor,
                command,
                int(code.group(1)) if code else 0,
                tuple(re.findall(r'"([^"]+)"', comment)),
                number,
            )
        )
    return steps


def quickstart() -> tuple[list[tuple[int, list[str]]], list[tuple[int, list[str]]]]:
    """(setup blocks, story blocks) of the README's Quick start."""
    blocks = shell_blocks((ROOT / "README.md").read_text(encoding="utf-8"), "Quick start")
    stories = [b for b in blocks if b[1] and b[1][0].strip() == "cd your-repo"]
    return [b for b in blocks if b not in stories], stories


def person(tmp_path: Path, name: str) -> dict[str, str]:
    """A HOME with ~/.ssh/id_ed25519 and a git identity that signs with it; PATH has this installation."""
    home = tmp_path / name
    key = make_key(home / ".ssh", f"{name}@example.com")
    key.private.rename(home / ".ssh" / "id_ed25519")
    key.public.rename(home / ".ssh" / "id_ed25519.pub")
    env = clean_env(
        home,
        PATH=BIN + os.pathsep + os.environ.get("PATH", ""),
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"),
        http_proxy="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
        GIT_ALLOW_PROTOCOL="file",
    )
    for key_name, value in (
        ("user.name", name.capitalize()),
        ("user.email", f"{name}@example.com"),
        ("gpg.format", "ssh"),
        ("user.signingkey", "~/.ssh/id_ed25519.pub"),
        ("init.defaultBranch", "main"),
    ):
        run(["git", "config", "--global", key_name, value], home, env, check=True)
    return env


def test_the_quick_start_has_a_team_story_and_a_solo_story_and_installs_our_package() -> None:
    setup, stories = quickstart()
    assert len(stories) == 2
    team, solo = (story(lines, line) for line, lines in stories)
    assert {step.actor for step in team} == {"author", "reviewer"}
    assert any("init --solo" in step.command for step in solo)
    assert {step.actor for step in solo} == {"author"}
    setup_lines = [text.strip() for _line, lines in setup for text in lines if text.strip()]
    installs = [line for line in setup_lines if "pip install" in line]
    assert installs and all("git-agentpolicy" in line.split("#")[0] for line in installs)
    others = [line for line in setup_lines if line not in installs and not line.startswith("#")]
    assert all(line.startswith("agentpolicy demo") for line in others), others


@pytest.mark.parametrize("history", ["new repository", "repository with history"])
@pytest.mark.parametrize("which", ["team", "solo"])
def test_the_quick_start_runs_as_written(tmp_path: Path, which: str, history: str) -> None:
    _setup, stories = quickstart()
    first_line, lines = stories[0 if which == "team" else 1]
    env = {"author": person(tmp_path, "dev"), "reviewer": person(tmp_path, "rita")}
    work = tmp_path / "work"
    repo = work / "your-repo"
    repo.mkdir(parents=True)
    run(["git", "init", "-q"], repo, env["author"], check=True)
    if history == "repository with history":
        (repo / "README.md").write_text("An existing project.\n")
        run(["git", "add", "-A"], repo, env["author"], check=True)
        run(["git", "commit", "-q", "-m", "Existing work"], repo, env["author"], check=True)
    cwd = work
    for step in story(lines, first_line):
        where = f"README.md:{step.line}: {step.command}"
        if step.command.startswith("cd "):
            cwd = cwd / step.command[3:].strip()
            continue
        done: Run = run(["bash", "-c", step.command], cwd, env[step.actor])
        assert done.code == step.exit_code, f"{where}\nexit {done.code}\n{done.text}"
        for text in step.expected:
            assert text in done.text, f"{where}\nexpected {text!r} in:\n{done.text}"
        assert "Traceback" not in done.text, f"{where}\n{done.text}"
    # Where the story ends: a guarded repository whose agent landed with a signed approval that counts.
    author = env["author"]
    tracked = run(["git", "ls-files"], repo, author, check=True).out.split()
    assert "agents/invoice-triage.yaml" in tracked
    assert any(path.startswith("reviews/invoice-triage/") for path in tracked)
    assert run(["git", "status", "--porcelain"], repo, author, check=True).out == ""
    audited = run(["agentpolicy", "audit", "--strict", "--format", "json"], repo, author)
    assert audited.code == 0, audited.text
    assert '"unapproved": 0' in audited.out
    reviewer = "rita@example.com" if which == "team" else "dev@example.com"
    assert reviewer in audited.out
    for hook in ("pre-commit", "pre-merge-commit", "pre-push"):
        assert (repo / ".git" / "hooks" / hook).exists(), hook


def test_the_readme_pre_commit_block_is_what_init_writes(tmp_path: Path) -> None:
    from agentpolicy.app.precommit_config import NEW_CONFIG

    text, _line = section((ROOT / "README.md").read_text(encoding="utf-8"), "pre-commit")
    blocks = [yaml.safe_load(b) for b in re.findall(r"^```yaml\n(.*?)^```", text, re.S | re.M)]
    assert yaml.safe_load(NEW_CONFIG) in blocks
    pinned = [b for b in blocks if isinstance(b, list)]
    assert pinned and pinned[0][0]["repo"] == "https://github.com/agentpolicy/agentpolicy"
    assert [hook["id"] for hook in pinned[0][0]["hooks"]] == ["agentpolicy", "agentpolicy-push"]
