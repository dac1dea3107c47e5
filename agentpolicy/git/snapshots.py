"""Snapshots backed by git: a tree (HEAD, any revision), the index, the working tree.

Every pygit2 call that reads files lives here and in ``history``. Files are keyed by
their raw names (``filenames.path_key``), the same way in every kind of snapshot, so
one file has one key whether it is read from a tree, the index or the disk.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import Any

from agentpolicy.errors import GitError
from agentpolicy.files.filenames import display_path, path_bytes, path_key
from agentpolicy.files.snapshot import FileEntry, Snapshot, outermost
from agentpolicy.git.objects import blob_data, get_object, reading
from agentpolicy.git.tree_diff import entry_of

_LINK_MODE = 0o120000
_TREE_MODE = 0o040000
_GITLINK_MODE = 0o160000


class TreeSnapshot(Snapshot):
    def __init__(self, repo: Any, tree: Any, label: str) -> None:
        self.repo = repo
        self.tree = tree
        self.label = label
        self._ids: dict[str, Any] = {}  # walked path -> blob id
        self._walked: dict[tuple[str, ...], list[FileEntry]] = {}

    def _subtree(self, folder: str) -> Any:
        """The tree at ``folder``; None when there is none; a gitlink FileEntry when a
        submodule sits at or above it (its files are in another repository)."""
        node, walked = self.tree, ""
        for part in folder.strip("/").split("/"):
            if not part:
                continue
            try:
                node = node[part]
            except KeyError:
                return None
            walked += part
            if node.filemode == _GITLINK_MODE:
                return FileEntry(walked, str(node.id), is_gitlink=True)
            if node.filemode != _TREE_MODE:
                return None
            node = get_object(self.repo, node.id)
            walked += "/"
        return node

    def _walk(self, prefixes: list[str]) -> Iterator[FileEntry]:
        # A tree never changes: walked once per prefix list, however many sides ask for it.
        key = tuple(prefixes)
        if key not in self._walked:
            entries: list[FileEntry] = []
            for prefix in outermost(prefixes):
                tree = self._subtree(prefix)
                if isinstance(tree, FileEntry):
                    entries.append(tree)
                elif tree is not None:
                    entries.extend(self._walk_tree(tree, prefix))
            self._walked[key] = entries
        yield from self._walked[key]

    def _walk_tree(self, tree: Any, prefix: str) -> Iterator[FileEntry]:
        for entry in tree:
            path = prefix + path_key(entry.raw_name)
            if entry.filemode == _TREE_MODE:
                yield from self._walk_tree(get_object(self.repo, entry.id), path + "/")
            elif entry.filemode == _GITLINK_MODE:
                yield FileEntry(path, str(entry.id), is_gitlink=True)
            else:
                self._ids[path] = entry.id
                yield FileEntry(path, str(entry.id), entry.filemode == _LINK_MODE)

    def subtree_ids(self, prefixes: list[str]) -> list[tuple[str, str | None]] | None:
        """(folder, its tree's id or None) for each outermost prefix; None when one is a
        submodule or inside one (only a walk says what that means for the globs)."""
        found: list[tuple[str, str | None]] = []
        for prefix in outermost(prefixes):
            with reading():
                tree = self._subtree(prefix)
            if isinstance(tree, FileEntry):
                return None
            found.append((prefix, None if tree is None else str(tree.id)))
        return found

    def entry(self, path: str) -> FileEntry | None:
        """The file at ``path`` (a tree lookup, no walk); None when there is none."""
        try:
            with reading():
                entry = self.tree[path]
        except KeyError:
            return None
        if entry.filemode in (_TREE_MODE, _GITLINK_MODE):
            return None
        return FileEntry(path, str(entry.id), entry.filemode == _LINK_MODE)

    def read(self, path: str) -> bytes | None:
        if path in self._ids:
            return blob_data(self.repo, self._ids[path])
        try:
            with reading():  # a path through a missing subtree is a damaged repository, not no file
                entry = self.tree[path]
        except KeyError:
            return None
        if entry.filemode in (_TREE_MODE, _GITLINK_MODE):
            return None
        return blob_data(self.repo, entry.id)


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
        roots = tuple(outermost(prefixes))
        for entry in self._base._walk(prefixes):
            if entry.path not in self._changes:
                if not entry.is_gitlink:
                    self._ids[entry.path] = self._base._ids.get(entry.path)
                yield entry
        for path, change in sorted(self._changes.items()):
            if change is not None and _under(path, change[1], roots):
                yield self._entry(path, *change)

    def _entry(self, path: str, blob_id: Any, mode: int) -> FileEntry:
        if mode == _GITLINK_MODE:
            return FileEntry(path, str(blob_id), is_gitlink=True)
        self._ids[path] = blob_id
        return FileEntry(path, str(blob_id), mode == _LINK_MODE)

    def _entries(self) -> list[tuple[str, Any, int]]:
        """(path, id, mode) of every index entry, read once: pygit2 builds each entry in Python."""
        if self._all is None:
            # pygit2 decodes names with the file-system encoding; re-encoding gives the raw bytes back.
            self._all = [(path_key(os.fsencode(entry.path)), entry.id, entry.mode) for entry in self.index]
        return self._all

    def on_top_of(self, base: TreeSnapshot) -> None:
        """Describe the index as HEAD's tree plus the staged changes (a diff done in C), so a
        walk costs what HEAD's tree costs, and no Python object is built per index entry."""
        self._base = base
        self._changes = {}
        with reading():
            deltas = self.index.diff_to_tree(base.tree).deltas
        for delta in deltas:
            old, new = delta.old_file, delta.new_file
            if old.raw_path:
                self._changes.setdefault(path_key(old.raw_path), None)
            if new.id.raw != b"\0" * 20:
                self._changes[path_key(new.raw_path)] = (new.id, new.mode)
            elif new.raw_path:
                self._changes.setdefault(path_key(new.raw_path), None)

    def staged_changes(self, base: TreeSnapshot) -> dict[str, FileEntry | None] | None:
        """What the index changes on top of ``base`` (None: removed), from the diff done in C;
        None when the index is not described as ``base`` plus changes. Gitlinks included."""
        if self._base is not base:
            return None
        return {
            path: None if change is None else entry_of(path, *change)
            for path, change in self._changes.items()
        }

    def _walk(self, prefixes: list[str]) -> Iterator[FileEntry]:
        if self._base is not None:
            yield from self._walk_overlay(prefixes)
            return
        roots = tuple(outermost(prefixes))
        for path, blob_id, mode in self._entries():
            if _under(path, mode, roots):
                yield self._entry(path, blob_id, mode)

    def read(self, path: str) -> bytes | None:
        if path in self._ids:
            return blob_data(self.repo, self._ids[path])
        try:
            entry = self.index[path]
        except KeyError:
            return None
        return blob_data(self.repo, entry.id)


class WorkTreeSnapshot(Snapshot):
    """The files as they are on disk, minus what git ignores (what `git add -A` would stage).

    The walk is in bytes, so keys are the raw names whatever the locale says.
    """

    label = "the working tree"

    def __init__(self, repo: Any, workdir: str) -> None:
        self.repo = repo
        self.workdir = workdir
        self._root = os.fsencode(workdir)
        self._bytes: dict[str, bytes | None] = {}

    def _walk(self, prefixes: list[str]) -> Iterator[FileEntry]:
        for prefix in outermost(prefixes):
            blocked, nested = self._blocked(prefix)
            if nested is not None:
                yield nested
            if not blocked:
                top = os.path.join(self._root, path_bytes(prefix))
                if os.path.isdir(top):
                    yield from self._walk_folder(top)
        yield from self._outside_cone(prefixes)

    def _walk_folder(self, top: bytes) -> Iterator[FileEntry]:
        for folder, dirs, names in os.walk(top):
            rel_folder = os.path.relpath(folder, self._root).replace(os.sep.encode(), b"/")
            rel_folder = b"" if rel_folder == b"." else rel_folder + b"/"
            walked = []
            for name in sorted(dirs):
                rel = path_key(rel_folder + name)
                if name == b".git" or self._ignored(rel + "/"):
                    continue
                full = os.path.join(folder, name)
                if os.path.islink(full):  # git stores a link to a folder as a link
                    yield FileEntry(rel, self._blob_id(rel), True)
                elif os.path.lexists(os.path.join(full, b".git")):  # a submodule or nested repository
                    yield FileEntry(rel, "", is_gitlink=True)
                else:
                    walked.append(name)
            dirs[:] = walked
            for name in sorted(names):
                rel = path_key(rel_folder + name)
                if self._ignored(rel):
                    continue
                info = os.lstat(os.path.join(folder, name))
                link = stat.S_ISLNK(info.st_mode)
                if link or stat.S_ISREG(info.st_mode):
                    yield FileEntry(rel, self._blob_id(rel), link)

    def _blocked(self, prefix: str) -> tuple[bool, FileEntry | None]:
        """Whether a folder along ``prefix`` is not a plain folder of this repository, as git
        sees it: a symbolic link (git stores the link, not what it points to) or another
        repository (a submodule's work tree, returned as a gitlink entry)."""
        walked = ""
        for part in prefix.strip("/").split("/"):
            if not part:
                continue
            walked += part
            full = os.path.join(self._root, path_bytes(walked))
            if os.path.islink(full):
                return True, None
            if os.path.lexists(os.path.join(full, b".git")):
                return True, FileEntry(walked, "", is_gitlink=True)
            walked += "/"
        return False, None

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
            if not os.path.lexists(os.path.join(self._root, path_bytes(entry.path))):
                if not entry.is_gitlink:
                    self._bytes[entry.path] = blob_data(self.repo, entry.key)
                yield entry

    def _blob_id(self, rel: str) -> str:
        """The id git would give the file, so unchanged files compare equal to HEAD's."""
        import pygit2

        data = self.read(rel)
        return str(pygit2.hash(data or b""))

    def _as_git_stores(self, path: str, data: bytes) -> bytes:
        """The bytes `git add` would store: git's clean conversion for this path applied.

        Under `core.autocrlf`, `core.eol` or a `.gitattributes` `text`/`eol`, a text file
        is checked out with CRLF and stored with LF; hashing the disk bytes would make
        every file of a clean checkout look edited. libgit2 applies exactly git's rules
        (attributes, auto-detection of binary content, the "safer autocrlf" check against
        the index); it runs no external filter driver. A file with a NUL byte is binary
        to git's auto-detection and, unlike pygit2's buffer API, never truncated here.
        """
        import pygit2

        if b"\r" not in data or b"\0" in data:
            return data
        try:
            filters = self.repo.load_filter_list(os.fsdecode(path_bytes(path)))
            return filters.apply_to_buffer(data) if filters is not None else data
        except (pygit2.GitError, ValueError, UnicodeError):  # e.g. core.safecrlf refusing: git would too
            return data

    def _ignored(self, rel: str) -> bool:
        try:
            return bool(self.repo.path_is_ignored(rel))
        except Exception:  # a name libgit2 cannot take (not UTF-8): judged, never hidden
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
        full = os.path.join(self._root, path_bytes(path))
        try:
            if os.path.islink(full):
                return os.readlink(full)
            with open(full, "rb") as handle:
                return self._as_git_stores(path, handle.read())
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except OSError as exc:
            raise GitError(
                f"cannot read {display_path(path)}: {exc.strerror}",
                "check the file's permissions",
                path=display_path(path),
            ) from exc


def _under(path: str, mode: int, roots: tuple[str, ...]) -> bool:
    """Inside one of the walked folders, or a submodule at or above one (it hides the folder)."""
    if path.startswith(roots):
        return True
    return mode == _GITLINK_MODE and any(root.startswith(path + "/") for root in roots)
