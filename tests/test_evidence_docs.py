"""docs/evidence.md runs as written: its shell blocks in order, its configuration line as a config."""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers import AGENTPOLICY, EXPANDED_BILLING, GitRepo, Key, approve, guarded_repo, run

DOC = (Path(__file__).parent.parent / "docs" / "evidence.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.S)


def test_the_shell_blocks_run_as_written(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("expand")
    env = dict(repo.env, PATH=f"{Path(AGENTPOLICY).parent}:{repo.env['PATH']}")
    found = blocks("sh")
    assert len(found) == 2
    first = run(["bash", "-ec", found[0]], repo.path, env)
    assert first.code == 0 and "verified: every file matches manifest.json" in first.out, first.text
    by_hand = run(["bash", "-ec", found[1]], repo.path, env)
    assert by_hand.code == 0, by_hand.text
    assert 'Good "agentpolicy-review" signature for rev@example.com' in by_hand.text
    assert '"decision":"approve"' in by_hand.out


def test_the_break_glass_line_is_a_valid_configuration(repo: GitRepo, keys: dict[str, Key]) -> None:
    (line,) = blocks("yaml")
    guarded_repo(repo, keys, config=line)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    key = keys["dev"]
    done = repo.ap(
        "approve", "billing-cycle", "--reviewer", f"Dev <{key.email}>", "--key", str(key.private),
        "--break-glass", "--reason", "INC-4711: invoices stuck",
    )  # fmt: skip
    assert done.code == 0, done.text
    assert repo.ap("check").code == 0
