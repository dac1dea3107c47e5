"""Repo-relative path globs with `**`, compiled once (fnmatch has no notion of folders)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)  # a newline in a file name is still a character


@cache
def _combined(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{_compile(p.removeprefix('./')).pattern})" for p in patterns), re.DOTALL)


def matches(path: str, patterns: Iterable[str]) -> bool:
    return bool(_combined(tuple(patterns)).match(path))


def static_prefix(pattern: str) -> str:
    """The folder part before the first wildcard, so a walk can skip the rest of the tree."""
    head = re.split(r"[*?\[]", pattern.removeprefix("./"), maxsplit=1)[0]
    return head.rsplit("/", 1)[0] + "/" if "/" in head else ""
