"""Red team 7: the speed work of issue 20 under attack (the helper process that parses ahead,
the hook's stored whole-tree result, the remembered code digest, the fast schema paths).

The attacker has commit access: they choose file names, blobs and how many there are, and what
sits in the working tree where `audit`, `status` and the hook run.
"""

from __future__ import annotations

import subprocess
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
