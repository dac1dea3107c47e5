"""The digest of agentpolicy's own code, which every cached verdict is keyed by.

Hashing every source file costs a few ms on each hook run, so the digest is remembered
in the user's cache folder (``$XDG_CACHE_HOME/agentpolicy``, else ``~/.cache/agentpolicy``)
under a fingerprint of the installed files: each one's name, size, modification and
change times and inode. An edit always moves the change time (no tool can set it), so
a fingerprint that matches means the bytes hashed last time. Never in `.git`: that is
hostile input, and a digest read from the repository under review could make another
build's verdicts look like this one's.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import stat
import sys
from typing import Any

_RECORD_LIMIT = 4096  # bytes: a record is about 160
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # agentpolicy/, not cache/


@functools.cache
def code_digest() -> str:
    """A digest of the code every cached verdict depends on: the bytes of agentpolicy's own
    source files and built-in pack, and the versions of Python and the schema libraries.

    Why not ``__version__``: an upgrade without a version bump (an editable install, a
    patched wheel) would otherwise keep serving verdicts the new code would not give.
    Computed once per process, and only when a cache is opened.
    """
    files = _code_files()
    fingerprint = _fingerprint(files)
    remembered = _remembered(fingerprint)
    if remembered is not None:
        return remembered
    digest = _hash_code(files)
    _remember(fingerprint, digest)
    return digest


def _code_files() -> list[tuple[str, Any]]:
    """(name in the digest, the file: a path or a package resource) of every file the digest
    covers, in a fixed order."""
    from pathlib import Path

    from agentpolicy.model.schemas import builtin_pack

    sources = sorted(
        os.path.relpath(os.path.join(folder, name), _PACKAGE)
        for folder, _, names in os.walk(_PACKAGE)
        for name in names
        if name.endswith(".py")
    )
    files: list[tuple[str, Any]] = [(f"agentpolicy/{name}", Path(_PACKAGE, name)) for name in sources]
    pack = builtin_pack()
    for folder in ("schemas", "rules"):
        for entry in sorted((pack / folder).iterdir(), key=lambda e: e.name):
            if entry.is_file():
                files.append((f"policies/{folder}/{entry.name}", entry))
    return files


def _fingerprint(files: list[tuple[str, Any]]) -> str:
    hasher = hashlib.sha256(sys.version.encode())
    hasher.update(f"|{sys.executable}|{_PACKAGE}".encode("utf-8", "surrogateescape"))
    for module, distribution in (("fastjsonschema", "fastjsonschema"), ("jsonschema", "jsonschema")):
        hasher.update(f"|{_installed_version(module, distribution)}".encode())
    for name, path in files:
        try:
            info = os.stat(str(path))
        except (OSError, ValueError):
            return ""  # a file that cannot be seen: hash the code, remember nothing
        stamp = (name, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)
        hasher.update(repr(stamp).encode("utf-8", "surrogateescape"))
    return hasher.hexdigest()


def _hash_code(files: list[tuple[str, Any]]) -> str:
    hasher = hashlib.sha256(sys.version.encode())
    for module, distribution in (("fastjsonschema", "fastjsonschema"), ("jsonschema", "jsonschema")):
        hasher.update(f"|{_installed_version(module, distribution)}".encode())
    for name, path in files:
        data = path.read_bytes()
        hasher.update(f"\0{name}\0{len(data)}\0".encode())
        hasher.update(data)
    return hasher.hexdigest()


def _record_path() -> str | None:
    base = os.environ.get("XDG_CACHE_HOME") or ""
    if not os.path.isabs(base):
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    # One record per installation (several builds side by side must not evict each other).
    where = hashlib.sha256(f"{sys.executable}|{_PACKAGE}".encode("utf-8", "surrogateescape")).hexdigest()
    return os.path.join(base, "agentpolicy", f"code-digest-{where[:16]}.json")


def _remembered(fingerprint: str) -> str | None:
    path = _record_path()
    if not fingerprint or path is None:
        return None
    try:
        # Not blocking, and only a small regular file: a FIFO or a device left at this path would
        # hang every hook, a huge file would fill the memory.
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None
            record: Any = json.loads(handle.read(_RECORD_LIMIT))
    except (OSError, ValueError, UnicodeError, RecursionError):
        return None
    if not isinstance(record, dict) or record.get("fingerprint") != fingerprint:
        return None
    digest = record.get("digest")
    if isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest):
        return digest
    return None


def _remember(fingerprint: str, digest: str) -> None:
    """Write the record atomically (a rename); a folder that cannot be written only costs time."""
    path = _record_path()
    if not fingerprint or path is None:
        return
    folder = os.path.dirname(path)
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(folder, exist_ok=True)
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump({"fingerprint": fingerprint, "digest": digest}, handle)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def _installed_version(module: str, distribution: str) -> str:
    """The library's dist-info folder name (it holds the version), found without importing the
    library: importlib.metadata costs ~80 ms, more than the hook's whole budget for this."""
    from importlib.util import find_spec

    spec = find_spec(module)
    if spec is None or spec.origin is None:
        return f"{module}=none"
    site = os.path.dirname(os.path.dirname(spec.origin))
    try:
        found = sorted(
            name
            for name in os.listdir(site)
            if name.lower().startswith(f"{distribution.lower()}-") and name.endswith(".dist-info")
        )
    except OSError:
        found = []
    return ",".join(found) or f"{module}@{spec.origin}"
