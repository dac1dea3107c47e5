"""Writing files so that nothing is ever half-written or overwritten."""

from __future__ import annotations

import contextlib
import os
import tempfile

from agentpolicy.errors import WriteError


def replace_file(path: str, data: bytes) -> None:
    """Write a report the user asked for: complete or not at all (temporary file, then rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        handle, temporary = tempfile.mkstemp(prefix=".agentpolicy-", suffix=".tmp", dir=folder)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except OSError as exc:
        raise WriteError(
            f"cannot write {path}: {exc.strerror}", "check the folder and free space", path=path
        ) from exc


def write_new(path: str, data: bytes) -> None:
    """Create ``path`` with ``data`` atomically; refuse if it exists.

    The bytes go to a temporary file in the same folder, are flushed to disk,
    then hard-linked into place: link() fails if the name exists, so a
    concurrent writer can never be overwritten, and a crash leaves at most a
    stray temporary file, never a truncated entry.
    """
    folder = os.path.dirname(path) or "."
    try:
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".agentpolicy-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise WriteError(
            f"cannot write in {folder}: {exc.strerror}",
            "check permissions and free space",
            path=path,
        ) from exc
    try:
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.link(temporary, path)
        except FileExistsError:
            raise WriteError(
                f"{path} already exists; it was not changed",
                "choose another name, or remove the file yourself",
                path=path,
            ) from None
        except OSError as exc:
            raise WriteError(
                f"cannot write {path}: {exc.strerror}",
                "check permissions and free space",
                path=path,
            ) from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
