"""Which check to run: the mode, the range and the outputs a command line's flags ask for.

Why here and not in the command: CI variables, pre-commit's pre-push variables and the
Action's `base` input decide the range, and those rules are part of what the check
promises (docs/ci.md), so they are library code with tests, not option parsing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from agentpolicy.app.check import PATHS, RANGE, STAGED, WORKTREE, CheckRequest
from agentpolicy.errors import AgentPolicyError


class UsageProblem(AgentPolicyError):
    """Flags that cannot go together, or a mode used outside the place it is made for."""


@dataclass
class CheckPlan:
    request: CheckRequest
    fmt: str
    summary_path: str | None = None  # GitHub's job summary, appended to
    range_note: str | None = None  # which event and range --ci used


def plan_check(
    paths: tuple[str, ...],
    *,
    staged: bool = False,
    base: str | None = None,
    head: str = "HEAD",
    pushed: bool = False,
    ci: bool = False,
    fmt: str | None = None,
) -> CheckPlan:
    flags = (
        ("PATHS", bool(paths)),
        ("--staged", staged),
        ("--base", bool(base)),
        ("--pushed", pushed),
        ("--ci", ci),
    )
    chosen = [name for name, on in flags if on]
    if len(chosen) > 1:
        raise UsageProblem(
            f"{' and '.join(chosen)} cannot be combined; pick one mode", "see agentpolicy check --help"
        )
    if head != "HEAD" and not base:
        raise UsageProblem("--head needs --base", "pass --base REV --head REV")
    summary_path = range_note = None
    if ci:
        from agentpolicy.app.ci import choose_range, detect
        from agentpolicy.git.repo import Repo

        found = detect()
        ci_range = choose_range(Repo(), found)
        base, range_note, summary_path = ci_range.base, ci_range.note, found.summary_path
        fmt = fmt or found.default_format
    if pushed:
        base, head = _pushed_range()
    fmt = fmt or "text"
    if fmt == "github" and base and not (ci or pushed):  # the Action's `base` input: a summary too
        summary_path = os.environ.get("GITHUB_STEP_SUMMARY") or None
    mode = PATHS if paths else STAGED if staged else RANGE if (base or pushed) else WORKTREE
    return CheckPlan(
        CheckRequest(mode=mode, paths=paths, base=base, head=head), fmt, summary_path, range_note
    )


def _pushed_range() -> tuple[str, str]:
    """The range pre-commit's pre-push stage hands over, with a trusted base (see `app/pushed_range.py`)."""
    if not os.environ.get("PRE_COMMIT_TO_REF") and not os.environ.get("PRE_COMMIT_LOCAL_BRANCH"):
        raise UsageProblem(
            "--pushed reads PRE_COMMIT_FROM_REF/PRE_COMMIT_TO_REF, which pre-commit sets in the pre-push "
            "stage; outside it, use --base REV --head REV",
            "run it from the agentpolicy-push hook, or pass --base REV --head REV",
        )
    from agentpolicy.app.pushed_range import pushed_range
    from agentpolicy.git.repo import Repo

    found = pushed_range(Repo())
    return found.base, found.head
