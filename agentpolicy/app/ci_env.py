"""Reading what the CI hands over: its variables and GitHub's event payload, as hostile input.

The variables and the payload are written by someone else (a fork's pull request can
put any text in a branch name): each value is checked for the shape the CI would send
(a branch name git accepts, a full commit id, a JSON string) and a value of any other
shape stops the check, naming the variable or field, rather than moving the range.
``ci`` chooses the range from what is read here.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn

from agentpolicy.errors import AgentPolicyError

ZERO_ID = re.compile(r"0{40}|0{64}")
COMMIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
PASS_BASE = "pass the base yourself: agentpolicy check --base refs/remotes/origin/main"


@dataclass(frozen=True)
class CiRun:
    """Which CI this is and what it wants from the report; `choose_range` reads the rest of env."""

    provider: str
    env: Mapping[str, str]
    summary_path: str | None = None
    default_format: str | None = None


def detect(env: Mapping[str, str] = os.environ) -> CiRun:
    if env.get("GITHUB_ACTIONS") == "true":
        return CiRun("GitHub", env, env.get("GITHUB_STEP_SUMMARY") or None, "github")
    if env.get("GITLAB_CI") == "true":
        return CiRun("GitLab", env)
    raise AgentPolicyError(
        "--ci found no CI environment (GITHUB_ACTIONS or GITLAB_CI is not set)",
        "outside CI, name the base: agentpolicy check --base refs/remotes/origin/main",
    )


class EventPayload:
    """The event payload (GITHUB_EVENT_PATH): a JSON object, or a stop naming the file."""

    def __init__(self, data: Mapping[str, object], path: str) -> None:
        self.data = data
        self.path = path

    @classmethod
    def read(cls, env: Mapping[str, str]) -> EventPayload:
        path = env.get("GITHUB_EVENT_PATH", "")
        if not path:
            return cls({}, "")
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or device would be waited on forever
                raise ValueError("not a regular file")
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError, RecursionError) as exc:
            raise AgentPolicyError(
                f"--ci cannot read the event payload GITHUB_EVENT_PATH={path!r}: {exc}",
                f"run it in a workflow step, where GitHub writes that file, or {PASS_BASE}",
            ) from None
        if not isinstance(data, dict):
            raise AgentPolicyError(
                f"the event payload GITHUB_EVENT_PATH={path!r} is not a JSON object",
                f"run it in a workflow step, where GitHub writes that file, or {PASS_BASE}",
            )
        return cls(data, path)

    def name(self, *keys: str) -> str:
        """How a message names a field: `before` of the event payload (GITHUB_EVENT_PATH=...)."""
        where = f"GITHUB_EVENT_PATH={self.path!r}" if self.path else "GITHUB_EVENT_PATH is not set"
        return f"`{'.'.join(keys)}` of the event payload ({where})"

    def value(self, *keys: str) -> object:
        found: object = self.data
        for key in keys:
            found = found.get(key) if isinstance(found, dict) else None
        return found

    def text(self, *keys: str) -> str:
        """A string field, "" when absent; any other JSON type stops the check."""
        found = self.value(*keys)
        if found is None:
            return ""
        if not isinstance(found, str):
            refuse(self.name(*keys), found, "is not a string")
        return found


def refuse(source: str, value: object, problem: str, fix: str = "") -> NoReturn:
    raise AgentPolicyError(
        f"--ci cannot use {source}: {value!r} {problem}",
        fix or f"this is not what the CI sends: check the workflow, or {PASS_BASE}",
    )


def branch_name(value: str, source: str) -> str:
    """A branch name git itself would accept (no `-x`, `main~1`, `a..b`, newlines, `HEAD`)."""
    import pygit2

    try:
        valid = pygit2.reference_is_valid_name(f"refs/heads/{value}")
    except (UnicodeError, ValueError, TypeError):
        valid = False
    if not valid or value.startswith("-") or value == "HEAD":
        refuse(source, value, "is not a branch name git accepts")
    return value
