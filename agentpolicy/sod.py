"""Separation of duties: who counts as an author of a change, per mode."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentpolicy.gitrepo import Repo

_IDENT_EMAIL = re.compile(r"<([^<>]*)>")


def git_identities(repo: Repo) -> set[str]:
    """The author and committer e-mails git itself would record for the next commit.

    Why ask git: it merges GIT_AUTHOR_EMAIL / GIT_COMMITTER_EMAIL, `git -c
    user.email=...`, includeIf sections, EMAIL and the system defaults in an order
    no re-implementation keeps up with. Without a git binary, the same sources
    are read by hand in git's documented order.
    """
    git = shutil.which("git")
    emails: set[str] = set()
    if git:
        for variable in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
            done = subprocess.run(
                [git, "var", variable],
                cwd=repo.workdir or repo.repo.path,
                capture_output=True,
                timeout=30,
                check=False,
            )
            found = _IDENT_EMAIL.search(done.stdout.decode("utf-8", "replace"))
            if done.returncode == 0 and found:
                emails.add(found.group(1))
        if emails:
            return emails
    configured = repo.config_value("user.email")
    for role in ("AUTHOR", "COMMITTER"):
        email = os.environ.get(f"GIT_{role}_EMAIL") or configured or os.environ.get("EMAIL")
        if email:
            emails.add(email)
    return emails


class UserAuthors:
    """Staged and working-tree modes: the person about to commit is the author (and committer)."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self._emails: set[str] | None = None

    def __call__(self, paths: set[str]) -> set[str]:
        if self._emails is None:
            self._emails = git_identities(self.repo)
        return set(self._emails)


class RangeAuthors:
    """Range mode: whoever authored or committed a commit in the range that touched the file."""

    def __init__(self, repo: Repo, base: str | None, head: str) -> None:
        self.repo, self.base, self.head = repo, base, head
        self._touches: list[tuple[set[str], set[str]]] | None = None

    def _commits(self) -> list[tuple[set[str], set[str]]]:
        if self._touches is None:
            commits = self.repo.commits_between(self.base, self.head)
            in_range = {str(commit.id) for commit in commits}
            self._touches = [
                (
                    {commit.author.email, commit.committer.email},
                    self.repo.changed_paths(commit, in_range)
                    | self.repo.imported_paths(commit, in_range, self.base),
                )
                for commit in commits
            ]
        return self._touches

    def __call__(self, paths: set[str]) -> set[str]:
        emails: set[str] = set()
        for people, touched in self._commits():
            if paths & touched:
                emails |= people
        return emails
