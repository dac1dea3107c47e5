"""A hole in the object store is a damaged repository (exit 2, `git fsck`), never a bug (exit 3).

pygit2 says "missing object" with a bare KeyError, which used to reach the user as an
internal error from `audit` and `status`; the git package now raises GitError at its
boundary (git/objects.py) for every object it reads.
"""

from __future__ import annotations

import pytest

from tests.helpers import EXPANDED_BILLING, GitRepo, Key, guarded_repo

COMMANDS = (("check",), ("check", "--staged"), ("audit", "--format", "json"), ("status", "--format", "json"))


@pytest.mark.parametrize(
    "lost",
    [
        "HEAD:agents/billing-cycle.yaml",  # an agent's content
        "HEAD:.agentpolicy/allowed_signers",  # the trust root
        "HEAD:agents",  # a watched folder
        "HEAD^{tree}",  # the whole tree
    ],
)
def test_a_missing_object_is_a_damaged_repository_with_the_fsck_fix(
    repo: GitRepo, keys: dict[str, Key], lost: str
) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.git("add", "-A")
    object_id = repo.git("rev-parse", lost).strip()
    (repo.path / ".git" / "objects" / object_id[:2] / object_id[2:]).unlink()
    for args in COMMANDS:
        done = repo.ap(*args)
        assert done.code == 2, (args, done.text)
        assert "agentpolicy: error: the repository is damaged: " in done.err, (args, done.err)
        assert "fix: run `git fsck` in it and restore the missing objects" in done.err, (args, done.err)
        assert "internal error" not in done.err and "Traceback" not in done.err
