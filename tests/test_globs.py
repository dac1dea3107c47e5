"""Agent globs come from a configuration the change under review may rewrite: hostile globs and
hostile file names must neither change what matches nor make matching slow (issue 13, attack 12)."""

from __future__ import annotations

import random
import re
import time

import pytest

from agentpolicy.files.globs import matches


def reference(pattern: str) -> re.Pattern[str]:
    """The documented meaning, as a plain backtracking regex (fine for short test inputs)."""
    pattern = pattern.removeprefix("./")
    out, i = [], 0
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
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def test_globs_mean_what_the_reference_says_on_random_patterns_and_paths() -> None:
    rng = random.Random(13)
    pieces = ["a", "b", "/", "*", "?", "**", "**/", ".", "\n"]
    for _ in range(20_000):
        pattern = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 7)))
        path = "".join(rng.choice("ab/.\n") for _ in range(rng.randint(0, 9)))
        assert matches(path, [pattern]) == bool(reference(pattern).match(path)), (pattern, path)


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        ("agents/*a*a*a*x", "agents/" + "a" * 3000),
        ("**/**/**/**/**/**/y", "/".join(["a"] * 300) + "/x"),
        ("**a**a**a**x", "a/" * 1500),
        ("agents/**/*a*a*b.yaml", "agents/" + "a/" * 200 + "a" * 1000 + ".yml"),
    ],
)
def test_attack_hostile_glob_and_name_cannot_make_matching_slow(pattern: str, path: str) -> None:
    started = time.perf_counter()
    assert matches(path, [pattern]) is False
    assert time.perf_counter() - started < 1.0  # a backtracking matcher takes minutes to hours here


def test_the_default_globs_still_match_as_documented() -> None:
    globs = ("agents/**/*.yaml", "agents/**/*.yml")
    assert matches("agents/billing.yaml", globs)
    assert matches("agents/finance/eu/billing.yml", globs)
    assert not matches("agents/billing.yaml.bak", globs)
    assert not matches("other/agents/billing.yaml", globs)
