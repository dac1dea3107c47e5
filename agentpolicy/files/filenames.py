"""File names as git stores them: raw bytes, kept losslessly as ``str`` keys.

A key is the raw name decoded as UTF-8 with ``surrogateescape``: two different
byte strings never give one key, and the bytes come back exactly. Every
snapshot, diff and history walk keys files this way, so identity is the bytes;
``display_path`` (escaped, printable) is for output only.
"""

from __future__ import annotations

import re

from agentpolicy.errors import GitError

# C0 controls, DEL, C1 controls, and the lone surrogates that stand for bytes that are not UTF-8.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\udc80-\udcff]")

MOVE_OR_NARROW = (
    "move the agent files into this repository (git rm the submodule, then add the files), "
    "or narrow the `agents:` globs in .agentpolicy.yaml so they exclude {path}"
)


def path_key(raw: bytes) -> str:
    """The key of a raw file name (lossless and reversible, see ``path_bytes``)."""
    return raw.decode("utf-8", "surrogateescape")


def path_bytes(key: str) -> bytes:
    """The raw file name a key stands for."""
    return key.encode("utf-8", "surrogateescape")


def display_path(name: str | bytes) -> str:
    """A file name safe to print on one line: invalid UTF-8 and control characters escaped."""
    if isinstance(name, bytes):
        text = name.decode("utf-8", "backslashreplace")
    else:
        text = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def unsafe_name(key: str) -> bool:
    """True when a name holds a control character (C0, DEL, C1) or bytes that are not UTF-8.

    Such a name prints differently from what it is, so people reviewing a change
    cannot tell which file they approve; agent and review files must not have one.
    """
    return _UNSAFE.search(key) is not None


def rename_hint(key: str) -> str:
    return (
        f"rename {display_path(key)} to a name of printable UTF-8 characters "
        "(git mv; `git ls-files` shows the name with escapes)"
    )


def could_hold_matches(folder: str, patterns: tuple[str, ...]) -> bool:
    """Whether one of the globs could match ``folder`` itself or a file somewhere below it."""
    parts = folder.strip("/").split("/")
    return any(_could_hold(parts, pattern.removeprefix("./").split("/")) for pattern in patterns)


def _could_hold(parts: list[str], segments: list[str]) -> bool:
    for index, part in enumerate(parts):
        if index >= len(segments):
            return False  # the glob ends above this folder
        segment = segments[index]
        if "**" in segment:
            return True  # crosses folders: anything below may match
        if not _segment(segment).fullmatch(part):
            return False
    return True


def _segment(segment: str) -> re.Pattern[str]:
    """One folder level of a glob, as globs.py reads it (`*` and `?` stay inside the level)."""
    return re.compile(
        "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in segment), re.DOTALL
    )


class SubmoduleError(GitError):
    """Files that should be judged live in a submodule (a gitlink), where no snapshot can see them."""

    @classmethod
    def in_check(cls, path: str, label: str) -> SubmoduleError:
        shown = display_path(path)
        return cls(
            f"{shown} in {label} is a submodule, and the agent globs could match files inside it; "
            "agentpolicy cannot see or judge agent files that live in another repository",
            MOVE_OR_NARROW.format(path=shown),
        )

    @classmethod
    def in_history(cls, path: str, folder: str) -> SubmoduleError:
        shown = display_path(path)
        return cls(
            f"{shown} is a submodule inside {display_path(folder)}, a path the audit watches; "
            "the audit cannot see agent, review or configuration files that live in another repository",
            f"move the agent files into this repository (git rm the submodule, then add the files), "
            f"or move the submodule out of {display_path(folder)}",
        )
