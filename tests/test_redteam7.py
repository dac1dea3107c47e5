"""Red team 7: the speed work of issue 20 under attack (the helper process that parses ahead,
the hook's stored whole-tree result, the remembered code digest, the fast schema paths).

The attacker has commit access: they choose file names, blobs and how many there are, and what
sits in the working tree where `audit`, `status` and the hook run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import AGENTPOLICY, GitRepo, agent_yaml

# -- 1. the helper process ----------------------------------------------------------------------


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
        stream.append(
            f"commit refs/heads/main\ncommitter Dev <dev@example.com> {1_600_000_000 + 60 * number} +0000\n"
            f"data {len(message)}\n{message}\n{files}"
        )
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=repo.path,
        env=repo.env,
        input="".join(stream),
        text=True,
        check=True,
    )
    repo.git("checkout", "-q", "-f", "main")


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
        stream.append(
            f"commit refs/heads/main\ncommitter Dev <dev@example.com> {1_600_000_000 + 60 * number} +0000\n"
            f"data {len(message)}\n{message}\n{files}"
        )
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=repo.path,
        env=repo.env,
        input="".join(stream),
        text=True,
        check=True,
    )
    repo.git("checkout", "-q", "-f", "main")


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
