"""Snapshots of a repository: HEAD, any revision, the index, the working tree.

Every pygit2 call lives in this module and in ``history``; the rest of the code
speaks of snapshots (which files, what bytes) and never of trees or indexes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from agentpolicy.errors import GitError
from agentpolicy.globs import matches, static_prefix

_LINK_MODE = 0o120000
_TREE_MODE = 0o040000
_GITLINK_MODE = 0o160000


@dataclass(frozen=True)
class FileEntry:
    """A file in a snapshot: ``key`` identifies its content (a blob id where known)."""

    path: str
    key: str
    is_link: bool = False


def display_path(name: str | bytes) -> str:
    """A file name safe to print on one line: invalid UTF-8 and control characters escaped."""
    if isinstance(name, bytes):
        text = name.decode("utf-8", "backslashreplace")
    else:
        text = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class Snapshot:
    """A set of files at one point in time; subclasses differ only in where bytes live."""

    label = "snapshot"
    exists = True

    def files(self, patterns: Iterable[str]) -> dict[str, FileEntry]:
        prefixes = {static_prefix(pattern) for pattern in patterns}
        return {entry.path: entry for entry in self._walk(sorted(prefixes)) if matches(entry.path, patterns)}

    def files_under(self, folder: str) -> dict[str, FileEntry]:
        prefix = folder.strip("/") + "/" if folder.strip("/") else ""
        return {entry.path: entry for entry in self._walk([prefix])}

    def read(self, path: str) -> bytes | None:
        raise NotImplementedError

    def _walk(self, prefixes: list[str]) -> Iterator[FileEntry]:
        raise NotImplementedError


class EmptySnapshot(Snapshot):
    """The before side of a first commit."""

    label = "nothing (no commit yet)"
    exists = False

    def read(self, path: str) -> bytes | None:
        return None

    def _walk(self, prefixes: list[str]) -> Iterator[FileEntry]:
        return iter(())


class TreeSnapshot(Snapshot):
    def __init__(self, repo: Any, tree: Any, label: str) -> None:
        self.repo = repo
        self.tree = tree
        self.label = label
        self._ids: dict[str, Any] = {}  # walked path -> blob id, so escaped names still read
        self._walked: dict[tuple[str, ...], list[FileEntry]] = {}

    def _subtree(self, folder: str) -> Any:
        node = self.tree
        for part in folder.strip("/").split("/"):
            if not part:
                continue
            try:
                node = node[part]
            except KeyError:
                return None
            if node.filemode != _TREE_MODE:
                return None
            node = self.repo[node.id]
        return node

    def _walk(self, prefixes: list[str]) -> Iterator[FileEntry]:
        # A tree never changes: walked once per prefix list, however many sides ask for it.
        key = tuple(prefixes)
        if key not in self._walked:
            entries: list[FileEntry] = []
            for prefix in _outermost(prefixes):
                tree = self._subtree(prefix)
                if tree is not None:
                    entries.extend(self._walk_tree(tree, prefix))
            self._walked[key] = entries
        yield from self._walked[key]

    def _walk_tree(self, tree: Any, prefix: str) -> Iterator[FileEntry]:
        for entry in tree:
            path = prefix + display_path(entry.raw_name)
            if entry.filemode == _TREE_MODE:
                yield from self._walk_tree(self.repo[entry.id], path + "/")
            elif entry.filemode != _GITLINK_MODE:
                self._ids[path] = entry.id
                yield FileEntry(path, str(entry.id), entry.filemode == _LINK_MODE)

    def read(self, path: str) -> bytes | None:
        if path in self._ids:
            known: bytes = self.repo[self._ids[path]].data
            return known
        try:
            entry = self.tree[path]
        except KeyError:
            return None
        if entry.filemode in (_TREE_MODE, _GITLINK_MODE):
            return None
        data: bytes = self.repo[entry.id].data
        return data


class IndexSnapshot(Snapshot):
    label = "the index (staged)"

    def __init__(self, repo: Any, index: Any) -> None:
        self.repo = repo
        self.index = index
        self._ids: dict[str, Any] = {}
        self._all: list[tuple[str, Any, int]] | None = None
        self._base: TreeSnapshot | None = None
        self._changes: dict[str, tuple[Any, int] | None] = {}

    def _walk_overlay(self, prefixes: list[str]) -> Iterator[FileEntry]:
        assert self._base is not None
        roots = tuple(_outermost(prefixes))
        for entry in self._base._walk(prefixes):
            if entry.path not in self._changes:
                self._ids[entry.path] = self._base._ids.get(entry.path)
                yield entry
        for path, change in sorted(self._changes.items()):
            if change is not None and path.startswith(roots) and change[1] != _GITLINK_MODE:
                shown = display_path(path)
                self._ids[shown] = change[0]
                yield FileEntry(shown, str(change[0]), change[1] == _LINK_MODE)

    def _entries(self) -> list[tuple[str, Any, int]]:
        """(path, id, mode) of every index entry, read once: pygit2 builds each entry in Python."""
        if self._all is None:
            entries = []
            for entry in self.index:
                try:
                    path = entry.path
                except UnicodeDecodeError:
                    raise GitError(
                        "the index holds a file name that is not valid UTF-8, so agentpolicy cannot tell "
                        "whether it is an agent file",
                        "rename that file (git ls-files shows its name) and stage the rename",
                    ) from None
                entries.append((path, entry.id, entry.mode))
            self._all = entries
        return self._all

    def on_top_of(self, base: TreeSnapshot) -> None:
        """Describe the index as HEAD's tree plus the staged changes (a diff done in C), so a
        walk costs what HEAD's tree costs, and no Python object is built per index entry."""
        self._base = base
        self._changes = {}
        for delta in self.index.diff_to_tree(base.tree).deltas:
            old, new = delta.old_file, delta.new_file
            if old.path:
                self._changes.setdefault(old.path, None)
            if new.id.raw != b"\0" * 20:
                self._changes[new.path] = (new.id, new.mode)
            elif new.path:
                self._changes.setdefault(new.path, None)

    def _walk(self, prefixes: list[str]) -> Iterator[FileEntry]:
        if self._base is not None:
            yield from self._walk_overlay(prefixes)
            return
        roots = tuple(_outermost(prefixes))
        for path, blob_id, mode in self._entries():
            if path.startswith(roots) and mode != _GITLINK_MODE:
                shown = display_path(path)
                self._ids[shown] = blob_id
                yield FileEntry(shown, str(blob_id), mode == _LINK_MODE)

    def read(self, path: str) -> bytes | None:
        if path in self._ids:
            known: bytes = self.repo[self._ids[path]].data
            return known
        try:
            entry = self.index[path]
        except KeyError:
            return None
        data: bytes = self.repo[entry.id].data
        return data


class WorkTreeSnapshot(Snapshot):
    """The files as they are on disk, minus what git ignores (what `git add -A` would stage)."""

    label = "the working tree"

    def __init__(self, repo: Any, workdir: str) -> None:
        self.repo = repo
        self.workdir = workdir
        self._bytes: dict[str, bytes | None] = {}
        self._real: dict[str, str] = {}  # printable path -> the name on disk

    def _walk(self, prefixes: list[str]) -> Iterator[FileEntry]:
        for prefix in _outermost(prefixes):
            top = os.path.join(self.workdir, prefix)
            if not os.path.isdir(top):
                continue
            for folder, dirs, names in os.walk(top):
                rel_folder = os.path.relpath(folder, self.workdir).replace(os.sep, "/")
                rel_folder = "" if rel_folder == "." else rel_folder + "/"
                dirs[:] = sorted(d for d in dirs if d != ".git" and not self._ignored(rel_folder + d + "/"))
                for name in sorted(names):
                    real = rel_folder + name
                    if self._ignored(real):
                        continue
                    rel = display_path(real)
                    if rel != real:
                        self._real[rel] = real
                    info = os.lstat(os.path.join(folder, name))
                    link = stat.S_ISLNK(info.st_mode)
                    if link or stat.S_ISREG(info.st_mode):
                        yield FileEntry(rel, self._blob_id(rel), link)
        yield from self._outside_cone(prefixes)

    def _outside_cone(self, prefixes: list[str]) -> Iterator[FileEntry]:
        """In a sparse checkout, files outside the cone are absent on disk but not deleted:
        take them from the index, as `git add -A` leaves them."""
        try:
            sparse = bool(self.repo.config.get_bool("core.sparseCheckout"))
        except (KeyError, ValueError):
            sparse = False
        if not sparse:
            return
        index = self.repo.index
        index.read(False)
        for entry in IndexSnapshot(self.repo, index)._walk(prefixes):
            if not os.path.lexists(os.path.join(self.workdir, entry.path)):
                self._bytes[entry.path] = self.repo[entry.key].data
                yield entry

    def _blob_id(self, rel: str) -> str:
        """The id git would give the file, so unchanged files compare equal to HEAD's."""
        import pygit2

        data = self.read(rel)
        return str(pygit2.hash(data or b""))

    def _ignored(self, rel: str) -> bool:
        try:
            return bool(self.repo.path_is_ignored(rel))
        except Exception:
            return False

    def read(self, path: str) -> bytes | None:
        if path not in self._bytes:
            self._bytes[path] = self._read_disk(path)
            if self._bytes[path] is None:
                for entry in self._outside_cone([path]):
                    if entry.path == path:
                        break
        return self._bytes[path]

    def _read_disk(self, path: str) -> bytes | None:
        full = os.path.join(self.workdir, self._real.get(path, path))
        try:
            if os.path.islink(full):
                return os.readlink(full).encode("utf-8", "surrogateescape")
            with open(full, "rb") as handle:
                return handle.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except OSError as exc:
            raise GitError(
                f"cannot read {path}: {exc.strerror}", "check the file's permissions", path=path
            ) from exc


def _outermost(prefixes: list[str]) -> list[str]:
    """Drop prefixes already covered by a shorter one, so no file is walked twice."""
    kept: list[str] = []
    for prefix in sorted(set(prefixes), key=len):
        if not any(prefix.startswith(outer) for outer in kept):
            kept.append(prefix)
    return kept


class FolderSnapshot(Snapshot):
    """Plain files under a folder, for `check PATHS` and packs outside git."""

    def __init__(self, root: str, label: str = "") -> None:
        self.root = root
        self.label = label or root

    def _walk(self, prefixes: list[str]) -> Iterator[FileEntry]:
        for prefix in _outermost(prefixes):
            top = os.path.join(self.root, prefix)
            if not os.path.isdir(top):
                continue
            for folder, dirs, names in os.walk(top):
                dirs[:] = sorted(d for d in dirs if d != ".git")
                rel_folder = os.path.relpath(folder, self.root).replace(os.sep, "/")
                rel_folder = "" if rel_folder == "." else rel_folder + "/"
                for name in sorted(names):
                    full = os.path.join(folder, name)
                    info = os.lstat(full)
                    yield FileEntry(
                        rel_folder + name, f"{info.st_mtime_ns}:{info.st_size}", stat.S_ISLNK(info.st_mode)
                    )

    def read(self, path: str) -> bytes | None:
        try:
            with open(os.path.join(self.root, path), "rb") as handle:
                return handle.read()
        except OSError:
            return None


class TraversableSnapshot(Snapshot):
    """Files inside an installed package (importlib.resources), e.g. the built-in pack."""

    def __init__(self, root: Any, root_name: str) -> None:
        self.root = root
        self.root_name = root_name.strip("/")
        self.label = f"package folder {root_name}"

    def _node(self, path: str) -> Any:
        node = self.root
        parts = [part for part in path.strip("/").split("/") if part]
        if parts and parts[0] == self.root_name:
            parts = parts[1:]
        for part in parts:
            node = node / part
        return node

    def _walk(self, prefixes: list[str]) -> Iterator[FileEntry]:
        for prefix in _outermost(prefixes):
            node = self._node(prefix)
            if node.is_dir():
                yield from self._walk_node(node, prefix.rstrip("/") + "/" if prefix.strip("/") else "")

    def _walk_node(self, node: Any, prefix: str) -> Iterator[FileEntry]:
        for child in sorted(node.iterdir(), key=lambda item: item.name):
            if child.name == "__pycache__":
                continue
            if child.is_dir():
                yield from self._walk_node(child, f"{prefix}{child.name}/")
            elif child.is_file():
                yield FileEntry(prefix + child.name, "")

    def read(self, path: str) -> bytes | None:
        node = self._node(path)
        return bytes(node.read_bytes()) if node.is_file() else None
