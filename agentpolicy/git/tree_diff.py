"""The files that differ between two trees, as libgit2's diff finds them.

Why: the hook's whole-tree result (``app/tree_verdicts``) is kept per tree id; a tree
near one already summarised (HEAD after a commit, say) is described by that one plus
this diff, whose cost follows the change, not the size of the trees.
"""

from __future__ import annotations

from typing import Any

from agentpolicy.errors import GitError
from agentpolicy.files.filenames import path_key
from agentpolicy.files.snapshot import FileEntry
from agentpolicy.git.objects import get_object, reading

LINK_MODE = 0o120000
GITLINK_MODE = 0o160000
_NO_ID = b"\0" * 20
_HEX = frozenset("0123456789abcdef")


def entry_of(path: str, object_id: Any, mode: int) -> FileEntry:
    return FileEntry(path, str(object_id), mode == LINK_MODE, mode == GITLINK_MODE)


def tree_changes(repo: Any, old: str | None, new: str | None, prefix: str) -> dict[str, FileEntry | None]:
    """Every file that differs between two trees (ids; None: the empty tree), by its path
    under ``prefix``: its entry in ``new``, or None when ``new`` has none. Gitlinks included.
    An id that does not name a tree of this repository is a GitError."""
    if old == new:
        return {}
    changes: dict[str, FileEntry | None] = {}
    with reading():
        before, after = _tree(repo, old), _tree(repo, new)
        if before is None:
            deltas = after.diff_to_tree(swap=True).deltas
        elif after is None:
            deltas = before.diff_to_tree().deltas
        else:
            deltas = before.diff_to_tree(after).deltas
        for delta in deltas:
            old_file, new_file = delta.old_file, delta.new_file
            if old_file.id.raw != _NO_ID:
                changes.setdefault(prefix + path_key(old_file.raw_path), None)
            if new_file.id.raw != _NO_ID:
                path = prefix + path_key(new_file.raw_path)
                changes[path] = entry_of(path, new_file.id, new_file.mode)
    return changes


def _tree(repo: Any, object_id: str | None) -> Any:
    import pygit2

    if object_id is None:
        return None
    if not isinstance(object_id, str) or len(object_id) != 40 or not _HEX.issuperset(object_id):
        raise GitError(f"not an object id: {object_id!r}", "")
    found = get_object(repo, object_id)
    if not isinstance(found, pygit2.Tree):
        raise GitError(f"object {object_id} is not a tree", "")
    return found
