"""Streaming walk of a branch's history for the audit (pygit2).

Only what changed is read: a commit whose watched subtrees (agents, reviews,
config) have the same tree ids as its parent's is passed over without a diff,
and each blob is handed out once per id so callers can cache what they parse.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from agentpolicy.files.filenames import SubmoduleError, path_key
from agentpolicy.git.objects import blob_data, damaged, get_object, reading
from agentpolicy.git.repo import Repo

_GITLINK_MODE = 0o160000
HISTORY_OBJECT_CACHE = 0


@dataclass(frozen=True)
class FileDelta:
    """A file gone (``old_path``), come (``new_path``, ``new_id``) or changed (both paths)."""

    old_path: str | None
    new_path: str | None
    new_id: str | None


@dataclass
class CommitStep:
    """One walked commit and what it changed under the watched folders."""

    id: str
    date: dt.datetime  # the author date, as shown in reports
    author: str
    deltas: list[FileDelta] = field(default_factory=list)
    committed: dt.datetime | None = None  # the committer date (the judge's clock starts from it)
    people: frozenset[str] = frozenset()  # author and committer e-mails (separation of duties)
    merge: bool = False
    cut: bool = False  # a shallow clone's boundary: its parents are not in the repository
    side: bool = False  # not on the first-parent line (only walked with --all-parents)
    parent_id: str | None = None


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


_EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


def _when(timestamp: int) -> dt.datetime:
    """A commit time as a datetime; git accepts dates Python cannot hold, which are clamped."""
    try:
        return dt.datetime.fromtimestamp(timestamp, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return _LATEST if timestamp > 0 else _EARLIEST


def _person(signature: Any) -> str:
    name = _decode(getattr(signature, "raw_name", None) or signature.name)
    email = _decode(getattr(signature, "raw_email", None) or signature.email)
    return f"{name} <{email}>"


class History:
    def __init__(self, repo: Repo, folders: list[str]) -> None:
        import pygit2

        self.repo = repo
        self.git = repo.repo
        # "" is the whole tree: a glob with no folder of its own can match anywhere.
        stripped = {folder.strip("/") for folder in folders}
        self.folders = [""] if "" in stripped else sorted(stripped)
        self._pygit2 = pygit2
        pygit2.settings.cache_object_limit(pygit2.enums.ObjectType.TREE, 4096)
        # libgit2 keeps every commit and small tree it reads (up to 256 MB): a walk of the whole
        # history would grow with it. The walk reads each object once and keeps what it needs.
        pygit2.settings.cache_max_size(HISTORY_OBJECT_CACHE)
        self.shallow = self._shallow_ids()
        # The commit walked last, its watched subtrees' ids and the objects read at those ids:
        # on a first-parent walk it is the next commit's parent, so nothing is read twice.
        self._last: tuple[str, tuple[str | None, ...]] | None = None
        self._objects: dict[str, Any] = {}

    def _shallow_ids(self) -> set[str]:
        path = os.path.join(self.git.path, "shallow")
        try:
            with open(path, encoding="ascii") as handle:
                return {line.strip() for line in handle if line.strip()}
        except FileNotFoundError:
            return set()

    def commits(self, head: str, hide: str | None, first_parent: bool) -> Iterator[Any]:
        sort = self._pygit2.enums.SortMode
        walker = self.git.walk(head, sort.TOPOLOGICAL | sort.REVERSE)
        if first_parent:
            walker.simplify_first_parent()
        if hide:
            walker.hide(hide)
        yield from walker

    def _entry_id(self, tree: Any, path: str) -> str | None:
        if not path:
            return str(tree.id)
        try:
            return str(tree[path].id)
        except KeyError:
            return None

    def _fingerprint(self, tree: Any) -> tuple[str | None, ...]:
        return tuple(self._entry_id(tree, folder) for folder in self.folders)

    def steps(self, head: str, hide: str | None = None, first_parent: bool = True) -> Iterator[CommitStep]:
        try:
            mainline = None if first_parent else self._first_parent_ids(head, hide)
            for commit in self.commits(head, hide, first_parent):
                step = self._step(commit)
                step.side = mainline is not None and step.id not in mainline
                yield step
        except self._pygit2.GitError as exc:
            raise damaged(f"cannot read its history: {exc}") from exc

    def _first_parent_ids(self, head: str, hide: str | None) -> set[str]:
        return {str(commit.id) for commit in self.commits(head, hide, first_parent=True)}

    def files_at(self, commit_id: str) -> dict[str, str]:
        with reading():
            return dict(self.files(get_object(self.git, commit_id).tree))

    def _step(self, commit: Any) -> CommitStep:
        step = CommitStep(
            id=str(commit.id),
            date=_when(commit.author.time),
            author=_person(commit.author),
            committed=_when(commit.committer.time),
            people=frozenset({_decode(commit.author.email), _decode(commit.committer.email)}),
            merge=len(commit.parent_ids) > 1,
        )
        commit_id = str(commit.id)
        if commit_id in self.shallow:
            step.cut = True
        fingerprint = self._fingerprint(commit.tree)
        first = str(commit.parent_ids[0]) if commit.parent_ids else None
        if first is not None and self._last is not None and self._last[0] == first:
            step.parent_id, before = first, self._last[1]  # the commit walked last: it is there
        else:
            try:
                parent = commit.parents[0] if commit.parent_ids else None
            except (KeyError, self._pygit2.GitError):
                parent, step.cut = None, True
            if parent is None:
                step.deltas = [FileDelta(None, path, blob) for path, blob in self.files(commit.tree)]
                self._remember(commit_id, fingerprint, {})
                return step
            step.parent_id, before, self._objects = str(parent.id), self._fingerprint(parent.tree), {}
        read: dict[str, Any] = {}
        for folder, old, new in zip(self.folders, before, fingerprint, strict=True):
            if old != new:
                step.deltas.extend(self._folder_deltas(folder, old, new, read))
            elif new is not None and new in self._objects:
                read[new] = self._objects[new]
        self._remember(commit_id, fingerprint, read)
        return step

    def _remember(self, commit_id: str, fingerprint: tuple[str | None, ...], read: dict[str, Any]) -> None:
        self._last, self._objects = (commit_id, fingerprint), read

    def _folder_deltas(
        self, folder: str, old: str | None, new: str | None, read: dict[str, Any]
    ) -> Iterator[FileDelta]:
        """What changed under one watched folder (or file): only that subtree is diffed.
        No rename detection: the replay follows agents by name, so a move is a delete and an add.
        Paths are raw-name keys (``filenames.path_key``); a submodule met on the way fails closed."""
        prefix = f"{folder}/" if folder else ""
        old_obj = self._objects.get(old) if old is not None else None
        old_obj = old_obj if old_obj is not None else self._object(folder, old)
        new_obj = self._object(folder, new)
        if new is not None:
            read[new] = new_obj
        old_tree = old_obj if old_obj is not None and old_obj.type_str == "tree" else None
        new_tree = new_obj if new_obj is not None and new_obj.type_str == "tree" else None
        if old_tree is None or new_tree is None:  # a file, or a folder that appeared or went
            for obj, side in ((old_obj, "old"), (new_obj, "new")):
                if obj is None:
                    continue
                files = [(folder, str(obj.id))] if obj.type_str == "blob" else list(self._walk(obj, prefix))
                for path, blob in files:
                    yield FileDelta(path, None, None) if side == "old" else FileDelta(None, path, blob)
            return
        for delta in old_tree.diff_to_tree(new_tree).deltas:
            for side in (delta.old_file, delta.new_file):
                if side.mode == _GITLINK_MODE:
                    raise SubmoduleError.in_history(f"{prefix}{path_key(side.raw_path)}", folder or ".")
            zero = delta.old_file.id.raw == b"\0" * 20
            gone = delta.new_file.id.raw == b"\0" * 20
            yield FileDelta(
                None if zero else f"{prefix}{path_key(delta.old_file.raw_path)}",
                None if gone else f"{prefix}{path_key(delta.new_file.raw_path)}",
                None if gone else str(delta.new_file.id),
            )

    def _object(self, folder: str, object_id: str | None) -> Any:
        """The tree or blob at a watched path; a submodule's commit (usually not even in this
        repository) is refused rather than read as nothing."""
        if object_id is None:
            return None
        found = self.git.get(object_id)
        if found is None or found.type_str == "commit":
            raise SubmoduleError.in_history(folder, folder)
        return found

    def files(self, tree: Any) -> Iterator[tuple[str, str]]:
        for folder in self.folders:
            if not folder:
                yield from self._walk(tree, "")
                continue
            try:
                entry = tree[folder]
            except KeyError:
                self._refuse_submodule_above(tree, folder)
                continue
            if entry.type_str == "tree":
                yield from self._walk(get_object(self.git, entry.id), folder + "/")
            elif entry.type_str == "blob":
                yield folder, str(entry.id)
            elif entry.filemode == _GITLINK_MODE:
                raise SubmoduleError.in_history(folder, folder)

    def _refuse_submodule_above(self, tree: Any, folder: str) -> None:
        """A watched folder missing because a submodule holds it is not an empty folder."""
        walked = ""
        for part in folder.split("/")[:-1]:
            walked += part
            try:
                entry = tree[walked]
            except KeyError:
                return
            if entry.filemode == _GITLINK_MODE:
                raise SubmoduleError.in_history(walked, folder)
            walked += "/"

    def _walk(self, tree: Any, prefix: str) -> Iterator[tuple[str, str]]:
        for entry in tree:
            path = prefix + path_key(entry.raw_name)
            if entry.filemode == _GITLINK_MODE:
                raise SubmoduleError.in_history(path, prefix.rstrip("/"))
            if entry.type_str == "tree":
                yield from self._walk(get_object(self.git, entry.id), path + "/")
            elif entry.type_str == "blob":
                yield path, str(entry.id)

    def blob(self, blob_id: str) -> bytes:
        return blob_data(self.git, blob_id)
