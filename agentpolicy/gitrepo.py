"""Opening the repository and answering questions about revisions (pygit2).

Hooks run with GIT_DIR, GIT_WORK_TREE and GIT_INDEX_FILE set (``git commit -a``
or ``git commit PATH`` stage into a temporary index); libgit2 does not read
those variables, so they are honoured here explicitly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from agentpolicy.errors import GitError
from agentpolicy.filenames import path_key
from agentpolicy.gitsnapshots import IndexSnapshot, TreeSnapshot, WorkTreeSnapshot
from agentpolicy.snapshot import EmptySnapshot, Snapshot

FETCH_FULL_HISTORY = (
    "fetch full history: git fetch --unshallow (GitHub Actions: actions/checkout with fetch-depth: 0)"
)


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


class Repo:
    """A thin, typed façade over one pygit2 repository."""

    def __init__(self, start: str = ".") -> None:
        import pygit2

        self._pygit2 = pygit2
        git_dir = os.environ.get("GIT_DIR")
        try:
            if git_dir:
                self.repo: Any = pygit2.Repository(os.path.abspath(git_dir))
            else:
                found = pygit2.discover_repository(os.path.abspath(start))
                if found is None:
                    raise GitError(
                        f"not inside a git repository: {os.path.abspath(start)}",
                        "run this inside a git work tree, or pass agent files: agentpolicy check PATH...",
                    )
                self.repo = pygit2.Repository(found)
        except pygit2.GitError as exc:
            raise GitError(f"cannot open the git repository: {exc}", "check that .git is intact") from exc
        work_tree = os.environ.get("GIT_WORK_TREE")
        self.workdir: str | None = os.path.abspath(work_tree) if work_tree else self.repo.workdir

    # -- snapshots ----------------------------------------------------------
    def require_workdir(self) -> str:
        if not self.workdir:
            raise GitError(
                "this is a bare repository; this command needs a work tree",
                "run it in a clone with a work tree, or use --base/--head to compare revisions",
            )
        return self.workdir

    @property
    def has_head(self) -> bool:
        return not self.repo.head_is_unborn

    def head_snapshot(self) -> Snapshot:
        if not self.has_head:
            return EmptySnapshot()
        return TreeSnapshot(self.repo, self.repo.head.peel(self._pygit2.Commit).tree, "HEAD")

    def revision_snapshot(self, commit_id: str, label: str) -> Snapshot:
        return TreeSnapshot(self.repo, self.repo[commit_id].tree, label)

    def index_snapshot(self, head: Snapshot | None = None) -> Snapshot:
        """The index; ``head`` (HEAD's snapshot, if the caller has one) is shared, not re-read."""
        self.require_workdir()
        index_file = os.environ.get("GIT_INDEX_FILE")
        if index_file:
            index = self._pygit2.Index(os.path.abspath(index_file))
        else:
            index = self.repo.index
            index.read(False)
        if index.conflicts is not None:
            paths = sorted({side.path for conflict in index.conflicts for side in conflict if side})
            raise GitError(
                f"the index has unresolved conflicts ({', '.join(paths[:5])})",
                "finish the merge first: resolve the conflicts and `git add` the files",
            )
        snapshot = IndexSnapshot(self.repo, index)
        if self.has_head and not index_file:
            # A temporary index (GIT_INDEX_FILE) has no repository to diff with: walk it whole.
            base = head if head is not None else self.head_snapshot()
            assert isinstance(base, TreeSnapshot)
            snapshot.on_top_of(base)
        return snapshot

    def worktree_snapshot(self) -> Snapshot:
        return WorkTreeSnapshot(self.repo, self.require_workdir())

    # -- revisions ----------------------------------------------------------
    def resolve(self, revision: str) -> str:
        """A commit id for ``revision``; fail closed with a fix when it cannot be found."""
        try:
            obj = self.repo.revparse_single(revision)
            commit = obj.peel(self._pygit2.Commit)
        except (KeyError, ValueError, self._pygit2.GitError, self._pygit2.InvalidSpecError):
            hint = "check the name (git branch -a), or fetch it (git fetch origin)"
            if self.repo.is_shallow:
                hint = f"this clone is shallow: {FETCH_FULL_HISTORY}"
            raise GitError(f"unknown revision {revision!r}", hint) from None
        return str(commit.id)

    def merge_base(self, base: str, head: str) -> str:
        found = self.repo.merge_base(base, head)
        if found is None:
            if self.repo.is_shallow:
                raise GitError(
                    "this clone is shallow and lacks the merge base of the compared revisions",
                    FETCH_FULL_HISTORY,
                )
            raise GitError(
                "the compared revisions share no history (no merge base)",
                "compare revisions of the same branch line",
            )
        return str(found)

    def commits_between(self, base: str | None, head: str) -> list[Any]:
        """Commits reachable from head but not from base (the pull request's own commits)."""
        walker = self.repo.walk(head, self._pygit2.enums.SortMode.TOPOLOGICAL)
        if base is not None:
            walker.hide(base)
        return list(walker)

    def changed_paths(self, commit: Any) -> set[str]:
        """Paths a commit itself changed, keyed like snapshots key files (raw names); for a
        merge, those that differ from every parent.

        A merge only *authors* what it resolves: a file identical to one parent
        was written by that parent's commits, not by whoever merged.
        """
        if not commit.parents:
            return {path_key(delta.new_file.raw_path) for delta in commit.tree.diff_to_tree(swap=True).deltas}
        per_parent = []
        for parent in commit.parents:
            diff = parent.tree.diff_to_tree(commit.tree)
            sides = [side for delta in diff.deltas for side in (delta.old_file, delta.new_file)]
            per_parent.append({path_key(side.raw_path) for side in sides})
        return set.intersection(*per_parent)

    def identity(self) -> Identity | None:
        config = self.repo.config
        try:
            return Identity(str(config["user.name"]), str(config["user.email"]))
        except KeyError:
            return None

    def config_value(self, key: str) -> str | None:
        try:
            return str(self.repo.config[key])
        except KeyError:
            return None
