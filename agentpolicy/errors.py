"""The one exception family for operational failures.

Policy problems are findings (data); these are the cases where no verdict can
be given at all (bad config, unknown revision, not a repository). The CLI maps
every one of them to exit status 2 in a single place.
"""

from __future__ import annotations


class AgentPolicyError(Exception):
    """An operational failure a user can fix; ``hint`` says how."""

    def __init__(self, message: str, hint: str = "", *, path: str = "", line: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.path = path
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.path:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        text = f"{where}{self.message}"
        if self.hint:
            text += f"\n  fix: {self.hint}"
        return text


class ConfigError(AgentPolicyError):
    """``.agentpolicy.yaml`` is unreadable or invalid."""


class GitError(AgentPolicyError):
    """The repository, a revision or the index cannot be used as asked."""


class SigningError(AgentPolicyError):
    """An SSH key or ``ssh-keygen`` cannot be used to sign."""


class WriteError(AgentPolicyError):
    """A file could not be written safely (it exists, or the disk refused)."""


class AlreadyExists(WriteError):
    """The name was taken (by another run, at the same moment): nothing was changed."""
