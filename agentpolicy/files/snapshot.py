"""Snapshots: a set of files at one point in time, whatever holds them.

The rest of the code speaks of snapshots (which files, what bytes) and never of
trees or indexes; the snapshots backed by git are in ``gitsnapshots``. A file's
``path`` is the key of its raw name (``filenames.path_key``), never an escaped form.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from agentpolicy.files.filenames import SubmoduleError, could_hold_matches
from agentpolicy.files.filenames import display_path as display_path  # re-exported for reporters
from agentpolicy.files.globs import matches, static_prefix


@dataclass(frozen=True)
class FileEntry:
    """A file in a snapshot: ``path`` is the raw name's key (see ``filenames``), ``key``
    identifies its content (a blob id where known). A gitlink is a submodule's commit."""

    path: str
    key: str
    is_link: bool = False
    is_gitlink: bool = False


class Snapshot:
    """A set of files at one point in time; subclasses differ only in where bytes live."""

    label = "snapshot"
    exists = True

    def files(self, patterns: Iterable[str]) -> dict[str, FileEntry]:
        """The files the globs match; a submodule they could reach into fails closed."""
        patterns = tuple(patterns)
        found: dict[str, FileEntry] = {}
        for entry in self._walk(sorted({static_prefix(pattern) for pattern in patterns})):
            if entry.is_gitlink:
                if could_hold_matches(entry.path, patterns):
                    raise SubmoduleError.in_check(entry.path, self.label)
            elif matches(entry.path, patterns):
                found[entry.path] = entry
        return found

    def files_under(self, folder: str) -> dict[str, FileEntry]:
        prefix = folder.strip("/") + "/" if folder.strip("/") else ""
        return {entry.path: entry for entry in self._walk([prefix]) if not entry.is_gitlink}

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


def outermost(prefixes: list[str]) -> list[str]:
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
        for prefix in outermost(prefixes):
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
        for prefix in outermost(prefixes):
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
