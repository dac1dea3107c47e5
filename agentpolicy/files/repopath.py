"""Repository-relative paths: one spelling for each path, and none that leaves the repository.

Every path the configuration names (agent globs, the reviews folder, the signer
files, pack folders) and every path a command writes goes through `normalise`,
so `./acme`, `acme/` and `acme//` are one folder for every reader (the trust
root's digest and the pack loader cannot disagree), and `../x`, `/x`, `C:x` or
`.git/x` never reach the disk.
"""

from __future__ import annotations

import re

MAX_PATH_CHARS = 4096
_DRIVE = re.compile(r"[A-Za-z]:")


class UnsafePath(ValueError):
    """A path that cannot name a place inside the repository; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalise(path: str) -> str:
    """``path`` in its one canonical spelling: `/`-separated, no `.` or empty segments,
    no trailing `/`. Raises UnsafePath for anything that is not plainly inside the repository.

    Globs go through here too: `*`, `?` and `**` are ordinary characters to this function.
    """
    if not isinstance(path, str):
        raise UnsafePath("it is not text")
    if len(path) > MAX_PATH_CHARS:
        raise UnsafePath(f"it is longer than {MAX_PATH_CHARS} characters")
    hidden = next((c for c in path if not c.isprintable() and c != " "), None)
    if hidden is not None:
        raise UnsafePath(f"it contains the control or invisible character {hidden!r}")
    if "\\" in path:
        raise UnsafePath("it contains a backslash (write folders with /)")
    if path.startswith("/"):
        raise UnsafePath("it is absolute (paths are relative to the repository root)")
    if _DRIVE.match(path):
        raise UnsafePath("it starts with a drive letter (paths are relative to the repository root)")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    for part in parts:
        if part == "..":
            raise UnsafePath("it leaves the repository through `..`")
        if part.rstrip(". ").lower() == ".git":
            raise UnsafePath("it points into git's own folder (.git)")
    if not parts:
        raise UnsafePath("it names the repository root itself, not a file or folder in it")
    return "/".join(_collapse_globstars(parts))


def _collapse_globstars(parts: list[str]) -> list[str]:
    """`**/**` matches what `**` matches; keep one, so a glob cannot multiply its own cost."""
    kept: list[str] = []
    for part in parts:
        if part == "**" and kept and kept[-1] == "**":
            continue
        kept.append(part)
    return kept
