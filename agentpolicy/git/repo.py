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
from agentpolicy.files.filenames import path_bytes, path_key
from agentpolicy.files.snapshot import EmptySnapshot, Snapshot
from agentpolicy.git.objects import get_object, reading
from agentpolicy.git.revisions import FETCH_FULL_HISTORY, RevisionResolver
from agentpolicy.git.snapshots import IndexSnapshot, TreeSnapshot, WorkTreeSnapshot

__all__ = ["FETCH_FULL_HISTORY", "Identity", "Repo"]


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


PACK_WINDOW = 256 * 1024
PACK_MAPPED_LIMIT = 1024 * 1024


def open_git_dir(git_dir: str) -> Any:
    """The pygit2 repository at a git directory already found by `Repo` (a helper process
    reading the same objects), with the same pack settings."""
    import pygit2

    pygit2.settings.mwindow_size = PACK_WINDOW
    pygit2.settings.mwindow_mapped_limit = PACK_MAPPED_LIMIT
    return pygit2.Repository(git_dir)


class Repo:
    """A thin, typed façade over one pygit2 repository."""

    def __init__(self, start: str = ".") -> None:
        import pygit2

        self._pygit2 = pygit2
        # libgit2 maps pack files in windows of up to 1 GiB and keeps them mapped (up to 8 GiB):
        # every page a history walk touches stays resident, so the audit's memory grew with the
        # pack. Small windows under a small limit are unmapped as a walk moves on (measured: no
        # slower). Set before the repository opens its packs; the options are process-wide.
        pygit2.settings.mwindow_size = PACK_WINDOW
        pygit2.settings.mwindow_mapped_limit = PACK_MAPPED_LIMIT
        git_dir = os.environ.get("GIT_DIR")
        try:
            if git_dir:
                self.repo: Any = pygit2.Repository(os.path.abspath(git_dir))
            else:
                found = pygit2.discover_repository(os.path.abspath(start))
                if found is None:
                    raise GitError(
                        f"not inside a git repository: {os.path.abspath(start)}",
                        "cd into the repository's work tree (or make one with git init); "
                        "only `agentpolicy check PATH...` reads agent files outside a repository",
                    )
                self.repo = pygit2.Repository(found)
        except pygit2.GitError as exc:
            hint = _open_hint(str(exc), git_dir, start)
            raise GitError(f"cannot open the git repository: {exc}", hint) from exc
        self._revisions = RevisionResolver(self.repo)
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
    def is_shallow(self) -> bool:
        return bool(self.repo.is_shallow)

    @property
    def has_head(self) -> bool:
        return not self.repo.head_is_unborn

    def head_snapshot(self) -> Snapshot:
        if not self.has_head:
            return EmptySnapshot()
        with reading():
            return TreeSnapshot(self.repo, self.repo.head.peel(self._pygit2.Commit).tree, "HEAD")

    def revision_snapshot(self, commit_id: str, label: str) -> Snapshot:
        with reading():
            return TreeSnapshot(self.repo, get_object(self.repo, commit_id).tree, label)

    def index_snapshot(self, head: Snapshot | None = None) -> Snapshot:
        """The index; ``head`` (HEAD's snapshot, if the caller has one) is shared, not re-read."""
        self.require_workdir()
        index_file = os.environ.get("GIT_INDEX_FILE")
        if index_file and _same_file(index_file, os.path.join(self.repo.path, "index")):
            index_file = None  # a plain `git commit` names the repository's own index
        if index_file:
            index = self._pygit2.Index(os.path.abspath(index_file))
        else:
            index = self.repo.index
            index.read(False)
        if index.conflicts is not None:
            paths = sorted({side.path for conflict in index.conflicts for side in conflict if side})
            raise GitError(
                f"merge conflict in {', '.join(paths[:5])}: resolve it (the index has unresolved conflicts)",
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

    # -- revisions (git/revisions.py) ----------------------------------------
    def resolve(self, revision: str) -> str:
        """A commit id for ``revision``; fail closed with a fix when it is unknown or ambiguous."""
        return self._revisions.resolve(revision)

    def ref_commit(self, full_name: str) -> str | None:
        """The commit the ref named exactly ``full_name`` points to (no search), or None."""
        return self._revisions.ref_commit(full_name)

    def ref_name(self, full_name: str) -> str | None:
        """The ref that ``full_name`` ends at after following symbolic refs, or None."""
        return self._revisions.ref_name(full_name)

    def ref_names(self, prefix: str) -> list[str]:
        return sorted(name for name in self.repo.references if name.startswith(prefix))

    def tracking_ref(self, remote: str, remote_ref: str) -> str | None:
        """The remote-tracking ref that ``remote``'s fetch refspecs map ``remote_ref`` to, if any."""
        found = self._remote(remote)
        if found is None:
            return None
        for index in range(len(found.fetch_refspecs)):
            refspec = found.get_refspec(index)
            if refspec.src_matches(remote_ref):
                return str(refspec.transform(remote_ref))
        return None

    def is_remote(self, name: str) -> bool:
        return self._remote(name) is not None

    def _remote(self, name: str) -> Any:
        try:
            return self.repo.remotes[name]
        except (KeyError, ValueError, self._pygit2.GitError, self._pygit2.InvalidSpecError):
            return None

    def has_merge_base(self, base: str, head: str) -> bool:
        with reading():
            return self.repo.merge_base(base, head) is not None

    def merge_base(self, base: str, head: str) -> str:
        with reading():
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
        with reading():
            walker = self.repo.walk(head, self._pygit2.enums.SortMode.TOPOLOGICAL)
            if base is not None:
                walker.hide(base)
            return list(walker)

    def blob_at(self, commit: Any, key: str) -> str | None:
        """The blob id at a raw-name path key in a commit's tree, or None."""
        with reading():
            tree = commit.tree
        try:
            entry = tree[key]  # the usual, UTF-8 name
        except (KeyError, ValueError, UnicodeError):
            entry = self._walk_to(tree, path_bytes(key).split(b"/"))
        return str(entry.id) if entry is not None and entry.type_str == "blob" else None

    def _walk_to(self, tree: Any, parts: list[bytes]) -> Any:
        node: Any = tree
        for index, part in enumerate(parts):
            found = next((entry for entry in node if entry.raw_name == part), None)
            if found is None or (index < len(parts) - 1 and found.type_str != "tree"):
                return None
            node = get_object(self.repo, found.id) if index < len(parts) - 1 else found
        return node

    def changed_paths(self, commit: Any, in_range: set[str] | None = None) -> set[str]:
        """Paths a commit itself changed, keyed like snapshots key files (raw names); for a
        merge, those that differ from every parent in the range.

        A merge only *authors* what it resolves: a file identical to a parent in the range
        was written by that parent's commits, not by whoever merged. A file identical to a
        parent outside the range (an old commit of the target branch) was written by no one
        the check counts, so the merge authors it: content brought back from the past is new.
        """
        with reading():
            return self._changed_paths(commit, in_range)

    def _changed_paths(self, commit: Any, in_range: set[str] | None) -> set[str]:
        if not commit.parents:
            return {path_key(delta.new_file.raw_path) for delta in commit.tree.diff_to_tree(swap=True).deltas}
        parents = list(commit.parents)
        if in_range is not None and len(parents) > 1:
            parents = [parent for parent in parents if str(parent.id) in in_range] or parents[:1]
        per_parent = []
        for parent in parents:
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


def _open_hint(message: str, git_dir: str | None, start: str) -> str:
    """git's own fix for a repository owned by someone else; otherwise, check the git directory."""
    if "not owned by current user" not in message:
        return "check that .git is intact"
    import shlex

    import pygit2

    found = os.path.abspath(git_dir) if git_dir else pygit2.discover_repository(os.path.abspath(start))
    folder = (found or os.path.abspath(start)).rstrip("/")
    if folder.endswith("/.git"):
        folder = folder[: -len("/.git")]
    return (
        "the repository belongs to another user (git's safe.directory protection); if you trust it, "
        f"run: git config --global --add safe.directory {shlex.quote(folder)}"
    )


def _same_file(one: str, other: str) -> bool:
    try:
        return os.path.samefile(one, other)
    except (OSError, ValueError):
        return False
