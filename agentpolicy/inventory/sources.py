"""Which repositories to inventory: paths on the command line and in list files.

A path is kept as bytes from end to end (a folder name need not be UTF-8) and
made absolute and real, so one repository named twice (a relative path, a
symbolic link) is read once and stored under one identity. A list file is
read as bytes too: one path per line, blank lines and lines starting with
``#`` skipped; with ``--null`` its entries are separated by NUL bytes instead
(``find -print0``), so even a name holding a newline or starting with ``#``
can be listed.
"""

from __future__ import annotations

import os
import sys

from agentpolicy.errors import AgentPolicyError


def repository_keys(arguments: tuple[str, ...], lists: tuple[str, ...], null: bool = False) -> list[bytes]:
    """Each repository once, as its real absolute path in bytes, in the order first named."""
    raw = [os.fsencode(argument) for argument in arguments]
    for name in lists:
        raw += _entries(_read_list(name), null)
    keys: dict[bytes, None] = {}
    for entry in raw:
        keys.setdefault(os.path.realpath(os.path.abspath(entry)), None)
    if not keys:
        raise AgentPolicyError(
            "no repositories to inventory",
            "name them: agentpolicy inventory PATH... or --from FILE (one path per line)",
        )
    return list(keys)


def _read_list(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        with open(name, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise AgentPolicyError(
            f"cannot read the repository list {name}: {exc.strerror}",
            "pass a readable file with --from (one repository path per line), or - for standard input",
        ) from exc


def _entries(data: bytes, null: bool) -> list[bytes]:
    if null:
        return [entry for entry in data.split(b"\0") if entry]
    entries = []
    for line in data.split(b"\n"):
        entry = line.strip()
        if entry and not entry.startswith(b"#"):
            entries.append(entry)
    return entries
