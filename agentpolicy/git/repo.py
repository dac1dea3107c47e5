"""Opening the repository and answering questions about revisions (pygit2).

Hooks run with GIT_DIR, GIT_WORK_TREE and GIT_INDEX_FILE set (``git commit -a``
or ``git commit PATH`` stage into a temporary index); libgit2 does not read
those variables, so they are honoured here explicitly.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, NoReturn

from agentpolicy.errors import GitError
from agentpolicy.files.filenames import path_bytes, path_key
from agentpolicy.files.snapshot import EmptySnapshot, Snapshot
from agentpolicy.git.snapshots import IndexSnapshot, TreeSnapshot, WorkTreeSnapshot

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
            hint = _open_hint(str(exc), git_dir, start)
            raise GitError(f"cannot open the git repository: {exc}", hint) from exc
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

    # -- revisions ----------------------------------------------------------
    def resolve(self, revision: str) -> str:
        """A commit id for ``revision``; fail closed with a fix when it is unknown or ambiguous.

        The base of a check is its trust root, so a name must mean one thing:
        see ``_refuse_ambiguity``.
        """
        name, suffix = split_revision(revision)
        if name and _FULL_ID.fullmatch(name) and self._object(name) is None:
            self._unknown(revision)  # libgit2 would fall back to a ref of that name
        if name.startswith("refs/") and not self._ref_exists(name):
            self._unknown(revision)  # a full name is never looked up as refs/tags/refs/...
        if name and not _FULL_ID.fullmatch(name):
            self._refuse_ambiguity(revision, "HEAD" if name == "@" else name, suffix)
        try:
            obj = self.repo.revparse_single(revision)
            commit = obj.peel(self._pygit2.Commit)
        except (KeyError, ValueError, self._pygit2.GitError, self._pygit2.InvalidSpecError):
            self._unknown(revision)
        return str(commit.id)

    def _unknown(self, revision: str) -> NoReturn:
        hint = "check the name (git branch -a), or fetch it (git fetch origin)"
        remote_branch = re.fullmatch(r"refs/remotes/([^/]+)/(.+)", split_revision(revision)[0])
        if remote_branch:
            hint = f"fetch it: git fetch {remote_branch[1]} {remote_branch[2]}"
        if self.repo.is_shallow:
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
        if self._ref_exists(name):
            return
        found = [
            (full + suffix, self._ref_label(full)) for full in dwim_candidates(name) if self._ref_exists(full)
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
            found = self.repo[prefix]
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

    def _ref_exists(self, full_name: str) -> bool:
        try:
            return self.repo.references.get(full_name) is not None
        except (KeyError, ValueError, self._pygit2.GitError, self._pygit2.InvalidSpecError):
            return False

    def _ref_label(self, full_name: str) -> str:
        commit = self.ref_commit(full_name)
        return f"commit {commit[:12]}" if commit else "not a commit"

    def _object(self, object_id: str) -> Any:
        try:
            return self.repo.get(object_id)
        except ValueError:
            return None

    def ref_commit(self, full_name: str) -> str | None:
        """The commit the ref named exactly ``full_name`` points to (no search), or None."""
        try:
            ref = self.repo.references.get(full_name)
            if ref is None:
                return None
            return str(ref.peel(self._pygit2.Commit).id)
        except (KeyError, ValueError, self._pygit2.GitError, self._pygit2.InvalidSpecError):
            return None

    def ref_name(self, full_name: str) -> str | None:
        """The ref that ``full_name`` ends at after following symbolic refs, or None."""
        try:
            ref = self.repo.references.get(full_name)
            return None if ref is None else str(ref.resolve().name)
        except (KeyError, ValueError, self._pygit2.GitError, self._pygit2.InvalidSpecError):
            return None

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
        return self.repo.merge_base(base, head) is not None

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

    def blob_at(self, commit: Any, key: str) -> str | None:
        """The blob id at a raw-name path key in a commit's tree, or None."""
        try:
            entry = commit.tree[key]  # the usual, UTF-8 name
        except (KeyError, ValueError, UnicodeError):
            entry = self._walk_to(commit.tree, path_bytes(key).split(b"/"))
        return str(entry.id) if entry is not None and entry.type_str == "blob" else None

    def _walk_to(self, tree: Any, parts: list[bytes]) -> Any:
        node: Any = tree
        for index, part in enumerate(parts):
            found = next((entry for entry in node if entry.raw_name == part), None)
            if found is None or (index < len(parts) - 1 and found.type_str != "tree"):
                return None
            node = self.repo[found.id] if index < len(parts) - 1 else found
        return node

    def changed_paths(self, commit: Any, in_range: set[str] | None = None) -> set[str]:
        """Paths a commit itself changed, keyed like snapshots key files (raw names); for a
        merge, those that differ from every parent in the range.

        A merge only *authors* what it resolves: a file identical to a parent in the range
        was written by that parent's commits, not by whoever merged. A file identical to a
        parent outside the range (an old commit of the target branch) was written by no one
        the check counts, so the merge authors it: content brought back from the past is new.
        """
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
