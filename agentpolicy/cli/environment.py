"""Faults of the machine, told apart from bugs: a full disk, a size limit, a closed output.

Why a module of its own: exit status 3 means "a bug in agentpolicy", and a team
that sees it files a report. A full `TMPDIR`, `ulimit -f`, stdout on a full disk
or a reader that closed the pipe are not bugs: they are exit 2 with the resource
named and the fix, or, where the verdict can still be given (a closed stdout),
the verdict. The launcher and the CLI's error handler both ask here.
"""

from __future__ import annotations

import errno
import os
import sys

from agentpolicy.errors import AgentPolicyError

# errno values that describe the machine, not the program
ENVIRONMENT_ERRNOS = {
    errno.ENOSPC: "free space on that disk",
    errno.EDQUOT: "free space within your disk quota",
    errno.EFBIG: "raise the file-size limit (ulimit -f) or write somewhere else",
    errno.EROFS: "the file system is read-only: write somewhere else",
    errno.EACCES: "check the permissions of the file and its folder",
    errno.EPERM: "check the permissions of the file and its folder",
    errno.EIO: "the disk reported an I/O error: check the device",
    errno.EMFILE: "too many open files: raise the limit (ulimit -n)",
    errno.ENFILE: "too many open files on the system: try again later",
    errno.ENOMEM: "the machine is out of memory: free some, or raise the limit (ulimit -v)",
}


class EnvironmentFault(AgentPolicyError):
    """The machine cannot do what was asked (exit 2): the message names the resource."""


class OutputClosed(Exception):
    """The reader of standard output went away: end quietly, as `head` expects of a writer."""


def detach_stdout() -> None:
    """Point standard output at /dev/null so nothing more is written, nor flushed at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno() if sys.stdout is not None else 1)
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
    sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives until exit


def ensure_stdout() -> None:
    """A closed stdout (`cmd >&-`) starts Python with ``sys.stdout = None``: the verdict is still
    given, by exit status, and what would have been printed goes nowhere."""
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives until exit
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives until exit


def from_os_error(exc: OSError, *, writing_stdout: bool = False) -> EnvironmentFault | OutputClosed | None:
    """The fault an OSError stands for, or None when it is not the machine's (then it is a bug)."""
    if isinstance(exc, BrokenPipeError) or exc.errno == errno.EPIPE:
        return OutputClosed()
    if exc.errno not in ENVIRONMENT_ERRNOS:
        return None
    reason = exc.strerror or os.strerror(exc.errno or 0)
    fix = ENVIRONMENT_ERRNOS[exc.errno]
    if writing_stdout or (exc.filename is None and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EIO)):
        return EnvironmentFault(
            f"cannot write to standard output: {reason}",
            f"{fix}, or send the output elsewhere (--output FILE)",
        )
    import tempfile

    name = os.fsdecode(exc.filename) if exc.filename is not None else "a file"
    if _in_tmpdir(name):
        return EnvironmentFault(
            f"cannot use the temporary folder {tempfile.gettempdir()} (TMPDIR): {name}: {reason}",
            f"{fix}, or point TMPDIR at a folder with room: TMPDIR=/path agentpolicy ...",
        )
    return EnvironmentFault(f"cannot write {name}: {reason}", fix)


def _in_tmpdir(name: str) -> bool:
    import tempfile

    folder = os.path.abspath(tempfile.gettempdir())
    return os.path.abspath(name).startswith(folder.rstrip("/") + "/")


def flush_stdout() -> EnvironmentFault | OutputClosed | None:
    """Flush standard output now, where a failure can still be reported (not at interpreter exit)."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except OSError as exc:
        fault = from_os_error(exc, writing_stdout=True)
        detach_stdout()
        return fault or EnvironmentFault(f"cannot write to standard output: {exc}", "check where it goes")
    except ValueError:  # already closed
        return None
    return None
