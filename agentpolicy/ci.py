"""Finding the range to check from the CI system's environment (`check --ci`)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from agentpolicy.errors import AgentPolicyError

_ZERO = "0" * 40


@dataclass(frozen=True)
class CiRange:
    provider: str
    base_candidates: tuple[str, ...]  # the first one that resolves is the base
    summary_path: str | None = None
    default_format: str | None = None


def detect(env: Mapping[str, str] = os.environ) -> CiRange:
    if env.get("GITHUB_ACTIONS") == "true":
        return _github(env)
    if env.get("GITLAB_CI") == "true":
        return _gitlab(env)
    raise AgentPolicyError(
        "--ci found no CI environment (GITHUB_ACTIONS or GITLAB_CI is not set)",
        "outside CI, name the base: agentpolicy check --base origin/main",
    )


def _github(env: Mapping[str, str]) -> CiRange:
    summary = env.get("GITHUB_STEP_SUMMARY") or None
    base_ref = env.get("GITHUB_BASE_REF", "")
    if base_ref:
        return CiRange("github", (f"origin/{base_ref}", base_ref), summary, "github")
    before = ""
    event_path = env.get("GITHUB_EVENT_PATH")
    if event_path:
        try:
            with open(event_path, encoding="utf-8") as handle:
                before = str(json.load(handle).get("before") or "")
        except (OSError, ValueError, AttributeError):
            before = ""
    if before and before != _ZERO:
        return CiRange("github", (before,), summary, "github")
    raise AgentPolicyError(
        "--ci cannot tell which range to check: no GITHUB_BASE_REF (not a pull request) and no "
        "`before` commit in the push event",
        "pass --base explicitly, e.g. --base origin/main (and check out with fetch-depth: 0)",
    )


def _gitlab(env: Mapping[str, str]) -> CiRange:
    for key in ("CI_MERGE_REQUEST_DIFF_BASE_SHA", "CI_COMMIT_BEFORE_SHA"):
        value = env.get(key, "")
        if value and value != _ZERO:
            return CiRange("gitlab", (value,))
    raise AgentPolicyError(
        "--ci cannot tell which range to check: neither CI_MERGE_REQUEST_DIFF_BASE_SHA nor "
        "CI_COMMIT_BEFORE_SHA is set",
        "pass --base explicitly, e.g. --base origin/main (and set GIT_DEPTH: 0)",
    )
