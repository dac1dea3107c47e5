"""Repo-relative path globs with `**`, compiled once (fnmatch has no notion of folders).

Globs come from `.agentpolicy.yaml`, which the change under review may rewrite,
so matching must stay fast on hostile patterns and names. A glob with at most
one `**` and at most one `*` per folder level cannot make the regex engine
backtrack more than linearly, and gets a compiled regex (C speed, the usual
case); any other glob is matched by simulating all its positions at once
(Thompson's construction), which costs at most glob length x path length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

_LITERAL, _ONE, _STAR, _ANY, _FOLDERS = range(5)


def _tokens(pattern: str) -> list[tuple[int, str]]:
    tokens: list[tuple[int, str]] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            if not (tokens and tokens[-1][0] == _FOLDERS):  # `**/**/` means what `**/` means
                tokens.append((_FOLDERS, ""))
            i += 3
        elif pattern.startswith("**", i):
            tokens.append((_ANY, ""))
            i += 2
        elif pattern[i] == "*":
            tokens.append((_STAR, ""))
            i += 1
        elif pattern[i] == "?":
            tokens.append((_ONE, ""))
            i += 1
        else:
            tokens.append((_LITERAL, pattern[i]))
            i += 1
    return tokens


def _regex(tokens: list[tuple[int, str]]) -> str:
    parts = {_ONE: "[^/]", _STAR: "[^/]*", _ANY: ".*", _FOLDERS: "(?:[^/]+/)*"}
    return "".join(re.escape(text) if kind == _LITERAL else parts[kind] for kind, text in tokens) + r"\Z"


def _linear_as_regex(tokens: list[tuple[int, str]]) -> bool:
    """At most one `**` and at most one `*` per folder level: no two quantifiers compete."""
    if sum(1 for kind, _ in tokens if kind in (_ANY, _FOLDERS)) > 1:
        return False
    stars = 0
    for kind, text in tokens:
        if kind == _STAR:
            stars += 1
            if stars > 1:
                return False
        elif kind in (_FOLDERS, _ANY) or (kind == _LITERAL and text == "/"):
            stars = 0
    return True


class _Automaton:
    """All positions of one glob at once; a state is (token index, inside a folder name)."""

    def __init__(self, tokens: list[tuple[int, str]]) -> None:
        self.tokens = tokens

    def _closure(self, states: set[tuple[int, bool]]) -> set[tuple[int, bool]]:
        todo, seen = list(states), set(states)
        while todo:
            index, inside = todo.pop()
            if index < len(self.tokens) and not inside and self.tokens[index][0] in (_STAR, _ANY, _FOLDERS):
                nxt = (index + 1, False)
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    def match(self, path: str) -> bool:
        tokens, end = self.tokens, len(self.tokens)
        states = self._closure({(0, False)})
        for char in path:
            step: set[tuple[int, bool]] = set()
            for index, inside in states:
                if index == end:
                    continue
                kind, text = tokens[index]
                if kind == _LITERAL:
                    if char == text:
                        step.add((index + 1, False))
                elif kind == _ONE:
                    if char != "/":
                        step.add((index + 1, False))
                elif kind == _STAR:
                    if char != "/":
                        step.add((index, False))
                elif kind == _ANY:
                    step.add((index, False))
                elif char != "/":  # _FOLDERS: a folder name, then its slash
                    step.add((index, True))
                elif inside:
                    step.add((index, False))
            if not step:
                return False
            states = self._closure(step)
        return (end, False) in states


@cache
def _matcher(pattern: str) -> re.Pattern[str] | _Automaton:
    tokens = _tokens(pattern.removeprefix("./"))
    if _linear_as_regex(tokens):
        return re.compile(_regex(tokens), re.DOTALL)  # a newline in a file name is still a character
    return _Automaton(tokens)


@cache
def _combined(patterns: tuple[str, ...]) -> tuple[re.Pattern[str] | None, tuple[_Automaton, ...]]:
    matchers = [_matcher(pattern) for pattern in patterns]
    regexes = [f"(?:{m.pattern})" for m in matchers if isinstance(m, re.Pattern)]
    automata = tuple(m for m in matchers if isinstance(m, _Automaton))
    return (re.compile("|".join(regexes), re.DOTALL) if regexes else None), automata


def matches(path: str, patterns: Iterable[str]) -> bool:
    regex, automata = _combined(tuple(patterns))
    if regex is not None and regex.match(path):
        return True
    return any(automaton.match(path) for automaton in automata)


def static_prefix(pattern: str) -> str:
    """The folder part before the first wildcard, so a walk can skip the rest of the tree."""
    head = re.split(r"[*?\[]", pattern.removeprefix("./"), maxsplit=1)[0]
    return head.rsplit("/", 1)[0] + "/" if "/" in head else ""
