"""Writing files so that nothing is ever half-written or overwritten."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile

from agentpolicy.errors import AlreadyExists, WriteError


def current_umask() -> int:
    """The process umask, read without changing it for longer than two system calls.

    POSIX has no call that only reads the umask: ``os.umask(x)`` sets ``x`` and returns
    the old mask, so we set a safe value (0o077) and put the old one straight back. The
    umask is process-wide, and another thread creating a file in between would get the
    stricter mask for that instant: never a more open file than the user asked for.
    """
    previous = os.umask(0o077)
    os.umask(previous)
    return previous


STALE_AFTER = 3600.0  # seconds: a temporary file this old belongs to a run that was killed


def scratch_folder(near: str) -> str | None:
    """A folder for temporary files inside the git directory of the repository around ``near``.

    Why: a temporary file beside its target sits in the working tree, and a run killed at
    the wrong moment leaves it there for `git add -A` to commit. Inside the git directory
    git never sees it; a hard link or rename then puts the finished file in place (same
    file system, as the git directory nearly always is). None outside a repository, or
    when the folder cannot be made: the caller then writes beside the target. Stale
    files from killed runs are removed here, by the next writer.
    """
    try:
        import pygit2

        found = pygit2.discover_repository(os.path.abspath(near))
    except Exception:  # no repository, or one libgit2 cannot open: write beside
        return None
    if not found:
        return None
    folder = os.path.join(found, "agentpolicy", "tmp")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if os.path.islink(folder) or not os.path.isdir(folder):
            return None
        _remove_stale(folder)
    except OSError:
        return None
    return folder


def _remove_stale(folder: str) -> None:
    import time

    now = time.time()
    for name in os.listdir(folder):
        if name.startswith(".agentpolicy-") and name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                if now - os.lstat(os.path.join(folder, name)).st_mtime > STALE_AFTER:
                    os.unlink(os.path.join(folder, name))


def _same_device(first: str, second: str) -> bool:
    try:
        return os.stat(first).st_dev == os.stat(second).st_dev
    except OSError:
        return False


def _create_temporary(folder: str) -> tuple[int, str]:
    """A new, empty temporary file in ``folder`` with the mode a plain ``open()`` would give
    (0o666 minus the umask): mkstemp makes it 0o600, and rename or link keeps that mode,
    so a report or an entry written for the team would be unreadable to the team."""
    handle, temporary = tempfile.mkstemp(prefix=".agentpolicy-", suffix=".tmp", dir=folder)
    try:
        os.fchmod(handle, 0o666 & ~current_umask())
    except OSError:
        os.close(handle)
        _remove(temporary)
        raise
    return handle, temporary


def _remove(temporary: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(temporary)


def replace_file(path: str, data: bytes, *, mode: int | None = None) -> None:
    """Write a report the user asked for, or update a file: complete or not at all (temporary
    file, then rename). ``mode``: the permissions to give it (an updated file keeps its own);
    otherwise what a plain ``open()`` would give under the umask.

    On any failure (a full disk, a folder where the file should go, an interrupt) the
    temporary file is removed and ``path`` is left as it was.
    """
    folder = os.path.dirname(os.path.abspath(path))
    scratch = scratch_folder(folder) if os.path.isdir(folder) else None
    if scratch is not None and _same_device(scratch, folder):
        folder = scratch
    try:
        handle, temporary = _create_temporary(folder)
    except OSError as exc:
        raise WriteError(
            f"cannot write {path}: {exc.strerror}", "check the folder and free space", path=path
        ) from exc
    try:
        if mode is not None:
            os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except OSError as exc:
        _remove(temporary)
        raise WriteError(
            f"cannot write {path}: {exc.strerror}", "check the folder and free space", path=path
        ) from exc
    except BaseException:
        _remove(temporary)
        raise


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
        handle, temporary = _create_temporary(folder)
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
            raise AlreadyExists(
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
        _remove(temporary)


_DIR = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
_NO_FOLLOW_DIR = _DIR | getattr(os, "O_NOFOLLOW", 0)
_AT_FOLDER = {os.open, os.mkdir, os.link, os.unlink} <= os.supports_dir_fd and hasattr(os, "O_NOFOLLOW")


def repo_target(root: str, relative: str) -> list[str]:
    """The folders and name of ``relative`` under ``root``, refused if it is not plainly
    inside the repository or if any part of it on disk is a symbolic link.

    Links are never followed when writing, even to somewhere inside the repository:
    a checkout's links come from whoever wrote the commit, and the safe rule is the simple one.
    """
    from agentpolicy.files.repopath import UnsafePath, normalise

    try:
        parts = normalise(relative).split("/")
    except UnsafePath as exc:
        raise WriteError(
            f"refusing to write {relative!r}: {exc.reason}",
            "write inside the repository, with a path relative to its root",
            path=relative,
        ) from None
    current = root
    for index, part in enumerate(parts):
        current = os.path.join(current, part)
        if os.path.islink(current):
            link = "/".join(parts[: index + 1])
            raise WriteError(
                f"refusing to write {'/'.join(parts)}: {link} is a symbolic link (to {os.readlink(current)})",
                f"agentpolicy never writes through a link: replace {link} with a real "
                f"{'folder' if index < len(parts) - 1 else 'file'}, or remove it",
                path=link,
            )
        if not os.path.lexists(current):
            break
    return parts


def write_new_in(root: str, relative: str, data: bytes) -> None:
    """`write_new` for a path inside the repository at ``root``, never through a symbolic link.

    Where the platform allows, every folder is opened relative to its parent with
    O_NOFOLLOW, so a link swapped in after the check is refused too.
    """
    parts = repo_target(root, relative)
    if not _AT_FOLDER:
        write_new(os.path.join(root, *parts), data)
        return
    shown = "/".join(parts)
    try:
        folder = os.open(root, _DIR)  # the repository root itself may sit under a link
    except OSError as exc:
        raise WriteError(f"cannot open {root}: {exc.strerror}", "check permissions", path=shown) from exc
    try:
        for index, part in enumerate(parts[:-1]):
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, dir_fd=folder)
            try:
                inner = os.open(part, _NO_FOLLOW_DIR, dir_fd=folder)
            except OSError as exc:
                raise WriteError(
                    f"cannot write in {'/'.join(parts[: index + 1])}: {exc.strerror}",
                    "agentpolicy writes only into real folders, never through a symbolic link: "
                    "make it a folder",
                    path=shown,
                ) from exc
            os.close(folder)
            folder = inner
        _link_new_at(folder, parts[-1], data, shown, scratch_folder(root))
    finally:
        os.close(folder)


def _link_new_at(folder: int, name: str, data: bytes, shown: str, scratch: str | None = None) -> None:
    """Temporary file, flushed, then hard-linked to ``name`` in the open ``folder`` (fails if taken).

    The temporary file lives in ``scratch`` (inside the git directory, where `git add -A`
    never sees it) when given, and beside the target otherwise or when the two are on
    different file systems.
    """
    import secrets

    temporary = f".agentpolicy-{secrets.token_hex(8)}.tmp"
    where: int | None = folder
    if scratch is not None:
        with contextlib.suppress(OSError):
            where = os.open(scratch, _NO_FOLLOW_DIR)
    try:
        try:
            handle = os.open(
                temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666, dir_fd=where
            )
        except OSError as exc:
            raise WriteError(
                f"cannot write in the folder of {shown}: {exc.strerror}",
                "check permissions and free space",
                path=shown,
            ) from exc
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            try:
                os.link(temporary, name, src_dir_fd=where, dst_dir_fd=folder)
            except OSError as exc:
                if exc.errno != errno.EXDEV or where == folder:
                    raise
                _link_new_at(folder, name, data, shown)  # another file system: write beside it
        except FileExistsError:
            raise AlreadyExists(
                f"{shown} already exists; it was not changed",
                "choose another name, or remove the file yourself",
                path=shown,
            ) from None
        except OSError as exc:
            raise WriteError(
                f"cannot write {shown}: {exc.strerror}", "check permissions and free space", path=shown
            ) from exc
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=where)
    finally:
        if where != folder and where is not None:
            os.close(where)
