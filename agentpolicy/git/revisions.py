"""Turning a revision a user or a CI wrote into one commit id, or refusing it with a fix.

The base of a check is its trust root, so a name must mean exactly one thing: a full
id that is not in the repository, a full ref name that does not exist, or a short name
several refs answer to (a pushed tag `origin/main` shadowing the remote-tracking
branch) stops here instead of being resolved the way libgit2 would silently pick.
Kept apart from the façade (``repo.Repo`` delegates to it) because this is the one
place where a hostile name meets git's search rules.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

from agentpolicy.errors import GitError

FETCH_FULL_HISTORY = (
    "fetch full history: git fetch --unshallow (GitHub Actions: actions/checkout with fetch-depth: 0)"
)
# git's own search order for a short name (`git help revisions`); the first, the
# name exactly as written, is handled apart: it is never ambiguous.
_DWIM_RULES = ("refs/{}", "refs/tags/{}", "refs/heads/{}", "refs/remotes/{}", "refs/remotes/{}/HEAD")
_FULL_ID = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_ABBREVIATED_ID = re.compile(r"(?P<hex>[0-9a-fA-F]{4,63})")
_DESCRIBED_ID = re.compile(r".*-g(?P<hex>[0-9a-fA-F]{7,63})")  # `git describe` abbreviates to 7 or more
# A ref name cannot contain these, so the name ends where the first one starts.
_SUFFIX_START = re.compile(r"[~^:]|@\{|\.\.")


def split_revision(revision: str) -> tuple[str, str]:
    """``origin/main~2`` -> (``origin/main``, ``~2``): the ref part and what navigates from it."""
    found = _SUFFIX_START.search(revision)
    if found is None:
        return revision, ""
    return revision[: found.start()], revision[found.start() :]


def dwim_candidates(name: str) -> list[str]:
    """Every full ref name a short ``name`` can stand for, in git's order."""
    return [rule.format(name) for rule in _DWIM_RULES]


class RevisionResolver:
    """Revision names and refs of one pygit2 repository (``git``), answered fail-closed."""

    def __init__(self, git: Any) -> None:
        import pygit2

        self.git = git
        self._pygit2 = pygit2
        self._lookup_errors = (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError)

    def resolve(self, revision: str) -> str:
        """A commit id for ``revision``; fail closed with a fix when it is unknown or ambiguous."""
        name, suffix = split_revision(revision)
        if name and _FULL_ID.fullmatch(name) and self._object(name) is None:
            self._unknown(revision)  # libgit2 would fall back to a ref of that name
        if name.startswith("refs/") and not self.ref_exists(name):
            self._unknown(revision)  # a full name is never looked up as refs/tags/refs/...
        if name and not _FULL_ID.fullmatch(name):
            self._refuse_ambiguity(revision, "HEAD" if name == "@" else name, suffix)
        try:
            obj = self.git.revparse_single(revision)
            commit = obj.peel(self._pygit2.Commit)
        except self._lookup_errors:
            self._unknown(revision)
        return str(commit.id)

    def ref_exists(self, full_name: str) -> bool:
        try:
            return self.git.references.get(full_name) is not None
        except self._lookup_errors:
            return False

    def ref_commit(self, full_name: str) -> str | None:
        """The commit the ref named exactly ``full_name`` points to (no search), or None."""
        try:
            ref = self.git.references.get(full_name)
            if ref is None:
                return None
            return str(ref.peel(self._pygit2.Commit).id)
        except self._lookup_errors:
            return None

    def ref_name(self, full_name: str) -> str | None:
        """The ref that ``full_name`` ends at after following symbolic refs, or None."""
        try:
            ref = self.git.references.get(full_name)
            return None if ref is None else str(ref.resolve().name)
        except self._lookup_errors:
            return None

    def _unknown(self, revision: str) -> NoReturn:
        hint = "check the name (git branch -a), or fetch it (git fetch origin)"
        remote_branch = re.fullmatch(r"refs/remotes/([^/]+)/(.+)", split_revision(revision)[0])
        if remote_branch:
            hint = f"fetch it: git fetch {remote_branch[1]} {remote_branch[2]}"
        if self.git.is_shallow:
            hint = f"this clone is shallow: {FETCH_FULL_HISTORY}"
        raise GitError(f"unknown revision {revision!r}", hint) from None

    def _refuse_ambiguity(self, revision: str, name: str, suffix: str) -> None:
        """Refuse a short name that several refs (or a ref and an abbreviated id) answer to.

        git and libgit2 silently take the first match of their search order
        (so a pushed tag `origin/main` beats refs/remotes/origin/main, and a
        branch `1a2b3c4` beats the commit 1a2b3c4...). A name that exists
        exactly as written (HEAD, refs/heads/x) means that ref and nothing else:
        spelling it in full is the fix offered here.
        """
        if self.ref_exists(name):
            return
        found = [
            (full + suffix, self._ref_label(full)) for full in dwim_candidates(name) if self.ref_exists(full)
        ]
        if not found:
            return
        abbreviated = self._abbreviated_commit(name, suffix)
        if abbreviated is not None:
            found.append(abbreviated)
        if len(found) < 2:
            return
        listed = ", ".join(f"{spelling} ({label})" for spelling, label in found)
        spellings = " or ".join(spelling for spelling, _ in found)
        raise GitError(
            f"revision {revision!r} is ambiguous: it could mean {listed}",
            f"spell the one you mean in full: {spellings}; a tag or branch that shadows another "
            "may be an attack: remove the one you did not make",
        )

    def _abbreviated_commit(self, name: str, suffix: str) -> tuple[str, str] | None:
        """(spelling, label) of the commit ``name`` abbreviates, also as `git describe` output."""
        match = _ABBREVIATED_ID.fullmatch(name) or _DESCRIBED_ID.fullmatch(name)
        if match is None:
            return None
        prefix = match["hex"]
        try:
            found = self.git[prefix]
        except KeyError:
            return None
        except ValueError:  # several objects share the prefix
            return (
                f"the whole id of the commit{suffix}",
                f"any of the objects whose id starts with {prefix}",
            )
        try:
            commit = found.peel(self._pygit2.Commit)
        except (ValueError, self._pygit2.GitError, self._pygit2.InvalidSpecError):
            return None  # a blob or tree is no revision anyone means
        return (f"{found.id}{suffix}", f"the commit whose id starts with {prefix}: {str(commit.id)[:12]}")

    def _ref_label(self, full_name: str) -> str:
        commit = self.ref_commit(full_name)
        return f"commit {commit[:12]}" if commit else "not a commit"

    def _object(self, object_id: str) -> Any:
        try:
            return self.git.get(object_id)
        except ValueError:
            return None
