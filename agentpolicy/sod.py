"""Separation of duties: who counts as an author of a change, per mode."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentpolicy.gitrepo import Identity, Repo


class UserAuthors:
    """Staged and working-tree modes: the person about to commit is the author."""

    def __init__(self, identity: Identity | None) -> None:
        self.emails = {identity.email} if identity else set()

    def __call__(self, paths: set[str]) -> set[str]:
        return set(self.emails)


class RangeAuthors:
    """Range mode: whoever authored or committed a commit in the range that touched the file."""

    def __init__(self, repo: Repo, base: str | None, head: str) -> None:
        self.repo, self.base, self.head = repo, base, head
        self._touches: list[tuple[set[str], set[str]]] | None = None

    def _commits(self) -> list[tuple[set[str], set[str]]]:
        if self._touches is None:
            self._touches = [
                ({commit.author.email, commit.committer.email}, self.repo.changed_paths(commit))
                for commit in self.repo.commits_between(self.base, self.head)
            ]
        return self._touches

    def __call__(self, paths: set[str]) -> set[str]:
        emails: set[str] = set()
        for people, touched in self._commits():
            if paths & touched:
                emails |= people
        return emails
