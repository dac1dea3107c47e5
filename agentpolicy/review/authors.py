"""Separation of duties: who counts as an author of a change, per mode."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentpolicy.git.repo import Repo

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
    """Range mode: whoever authored or committed a commit in the range that touched the file,
    and whoever brought its final content into the range from outside it.

    A file's final content can arrive without any commit in the range writing it: a merge with
    (or a commit on top of) an older commit of the target branch takes that old content back.
    Whoever made the commit that first holds the final content, taken from a parent outside the
    range other than the base, authored it.
    """

    def __init__(self, repo: Repo, base: str | None, head: str) -> None:
        self.repo, self.base, self.head = repo, base, head
        self._commits: list[Any] | None = None
        self._in_range: set[str] = set()
        self._touches: list[tuple[set[str], set[str]]] = []

    def _range(self) -> list[Any]:
        if self._commits is None:
            self._commits = self.repo.commits_between(self.base, self.head)
            self._in_range = {str(commit.id) for commit in self._commits}
            self._touches = [
                (
                    {commit.author.email, commit.committer.email},
                    self.repo.changed_paths(commit, self._in_range),
                )
                for commit in self._commits
            ]
        return self._commits

    def __call__(self, paths: set[str]) -> set[str]:
        commits = self._range()
        emails: set[str] = set()
        for people, touched in self._touches:
            if paths & touched:
                emails |= people
        if commits:
            head = self.repo.repo[self.head]
            for path in paths:
                emails |= self._importers(commits, path, self.repo.blob_at(head, path))
        return emails

    def _importers(self, commits: list[Any], path: str, final: str | None) -> set[str]:
        people: set[str] = set()
        for commit in commits:
            if self.repo.blob_at(commit, path) != final:
                continue
            inside = [p for p in commit.parents if str(p.id) in self._in_range]
            if any(self.repo.blob_at(parent, path) == final for parent in inside):
                continue  # an earlier commit of the range holds it already
            outside = [
                p for p in commit.parents if str(p.id) not in self._in_range and str(p.id) != self.base
            ]
            if any(self.repo.blob_at(parent, path) == final for parent in outside):
                people |= {commit.author.email, commit.committer.email}
        return people
