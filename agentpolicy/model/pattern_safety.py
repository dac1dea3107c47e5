"""Regular expressions in schemas: where they are, and which ones may backtrack for ages.

Why: a JSON Schema `pattern` runs in Python's backtracking `re` on strings an
attacker writes (any agent file in a pull request), and one ambiguous pattern
turns a 40 KB value into minutes in the hook. This module finds every pattern in
a schema and recognises the shapes that backtrack super-linearly; it is a
heuristic for warnings (`agentpolicy test`), while the shipped patterns are also
timed on worst-case inputs by the test suite.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

# Characters each class is probed with: ASCII plus a few that \s, \w and . treat specially.
_PROBES = frozenset([chr(code) for code in range(128)] + ["é", "ł", "\u00a0", "\u2028", "\u3000", "😀"])
_CATEGORIES = {
    sre.CATEGORY_DIGIT: r"\d",
    sre.CATEGORY_NOT_DIGIT: r"\D",
    sre.CATEGORY_SPACE: r"\s",
    sre.CATEGORY_NOT_SPACE: r"\S",
    sre.CATEGORY_WORD: r"\w",
    sre.CATEGORY_NOT_WORD: r"\W",
}
_REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", sre.MAX_REPEAT)}
_ONE_CHAR = {sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN, sre.CATEGORY}
_ZERO_WIDTH = {sre.AT, sre.ASSERT, sre.ASSERT_NOT}
_LONG = 100  # a repeat bounded above this counts as unbounded: {1,1000} backtracks like +

Node = tuple[Any, Any]
Chars = frozenset[str]


def schema_patterns(schema: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    """(JSON pointer, pattern) for every `pattern` and `patternProperties` key in a schema."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            here = f"{pointer}/{key}"
            if key == "pattern" and isinstance(value, str):
                yield here, value
            elif key == "patternProperties" and isinstance(value, dict):
                for name, sub in value.items():
                    yield f"{here}/{name}", name
                    yield from schema_patterns(sub, f"{here}/{name}")
            elif key not in ("enum", "const", "default", "examples"):
                yield from schema_patterns(value, here)
    elif isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from schema_patterns(item, f"{pointer}/{index}")


def backtracking_risk(pattern: str) -> str | None:
    """Why ``pattern`` can take super-linear time on some input, or None when no known shape is found."""
    try:
        parsed = list(sre_parse.parse(pattern))
    except (re.error, RecursionError, OverflowError):
        return None  # not ours to judge: the schema check reports a pattern that does not compile
    if _starts_with_repeat(parsed) and not _anchored(parsed):
        return "not anchored with ^ and starts with a repeat: a failing search retries it at every position"
    for sequence in _sequences(parsed):
        reason = _sequence_risk(sequence)
        if reason:
            return reason
    return None


def _sequences(sequence: list[Node]) -> Iterator[list[Node]]:
    yield sequence
    for op, av in sequence:
        for child in _children(op, av):
            yield from _sequences(child)


def _children(op: Any, av: Any) -> list[list[Node]]:
    if op in _REPEATS:
        return [list(av[2])]
    if op is sre.SUBPATTERN:
        return [list(av[3])]
    if op is sre.BRANCH:
        return [list(alternative) for alternative in av[1]]
    if op in (sre.ASSERT, sre.ASSERT_NOT):
        return [list(av[1])]
    if op is getattr(sre, "ATOMIC_GROUP", None):
        return [list(av)]
    if op is sre.GROUPREF_EXISTS:
        return [list(part) for part in av[1:] if part is not None]
    return []


def _flat(sequence: list[Node]) -> list[Node]:
    """Groups opened up, so ``(x+)a(y+)`` is seen as the sequence it matches."""
    flat: list[Node] = []
    for op, av in sequence:
        flat.extend(_flat(list(av[3])) if op is sre.SUBPATTERN else [(op, av)])
    return flat


def _sequence_risk(sequence: list[Node]) -> str | None:
    sequence = _flat(sequence)
    for index, (op, av) in enumerate(sequence):
        if op not in _REPEATS or av[1] <= 1:
            continue
        body = list(av[2])
        first, nullable = _first(body)
        if nullable and _unbounded(av):
            return "a repeated group can match the empty string"
        if _tail_chars(body) & first:
            return "nested quantifiers: the end of one round can also take what the next round starts with"
        if _ambiguous_branch(body):
            return "overlapping alternatives under a quantifier"
        unrolled = _flat(body) * 2  # two rounds in a row: X+ inside one round meets X+ of the next
        for position in range(len(unrolled)):
            reason = _followed_by_overlap(unrolled, position)
            if reason:
                return reason
        reason = _followed_by_overlap(sequence, index)
        if reason:
            return reason
    return None


def _followed_by_overlap(sequence: list[Node], index: int) -> str | None:
    """``X+ m Y+`` where X can take m and also what Y takes: every split is tried (quadratic)."""
    op, av = sequence[index]
    if op not in _REPEATS or not _unbounded(av):
        return None
    taken = _all_chars(list(av[2]))
    for op, av in sequence[index + 1 :]:
        if op in _REPEATS and _unbounded(av):
            if _first(list(av[2]))[0] & taken:
                return "two repeats in a row can take the same characters, so every split is tried"
            return None
        if op in _ONE_CHAR and _node_chars(op, av) <= taken:
            continue
        if op in _REPEATS and _all_chars(list(av[2])) <= taken:
            continue  # a bounded repeat of characters X can take
        if op is sre.SUBPATTERN and _all_chars(list(av[3])) <= taken and _first(list(av[3]))[1]:
            continue
        return None
    return None


def _ambiguous_branch(body: list[Node]) -> bool:
    """An alternation that can match the same text two ways: overlapping starts, or two empty options."""
    for op, av in body:
        if op is sre.SUBPATTERN:
            if _ambiguous_branch(list(av[3])):
                return True
        elif op is sre.BRANCH:
            starts = [_first(list(alternative)) for alternative in av[1]]
            if sum(1 for _, empty in starts if empty) > 1:
                return True
            for left in range(len(starts)):
                for right in range(left + 1, len(starts)):
                    if starts[left][0] & starts[right][0]:
                        return True
    return False


def _unbounded(av: Any) -> bool:
    maximum = av[1]
    return bool(maximum is sre.MAXREPEAT or maximum > _LONG)


def _anchored(sequence: list[Node]) -> bool:
    return (
        bool(sequence)
        and sequence[0][0] is sre.AT
        and sequence[0][1] in (sre.AT_BEGINNING, sre.AT_BEGINNING_STRING)
    )


def _starts_with_repeat(sequence: list[Node]) -> bool:
    """The match begins with an unbounded repeat that something after it must follow."""
    if not sequence:
        return False
    op, av = sequence[0]
    rest_required = not _first(sequence[1:])[1]
    if op in _REPEATS and _unbounded(av):
        return rest_required
    if op is sre.SUBPATTERN:
        inner = list(av[3])
        return _starts_with_repeat(inner + sequence[1:])
    if op is sre.BRANCH:
        return any(_starts_with_repeat(list(alternative) + sequence[1:]) for alternative in av[1])
    return False


def _first(sequence: list[Node]) -> tuple[Chars, bool]:
    """The characters a match of ``sequence`` can start with, and whether it can be empty."""
    chars: set[str] = set()
    for op, av in sequence:
        first, nullable = _node_first(op, av)
        chars |= first
        if not nullable:
            return frozenset(chars), False
    return frozenset(chars), True


def _node_first(op: Any, av: Any) -> tuple[Chars, bool]:
    if op in _ONE_CHAR:
        return _node_chars(op, av), False
    if op in _REPEATS:
        first, nullable = _first(list(av[2]))
        return first, nullable or av[0] == 0
    if op is sre.SUBPATTERN:
        return _first(list(av[3]))
    if op is sre.BRANCH:
        results = [_first(list(alternative)) for alternative in av[1]]
        return frozenset().union(*(r[0] for r in results)), any(r[1] for r in results)
    if op in _ZERO_WIDTH:
        return frozenset(), True
    if op is getattr(sre, "ATOMIC_GROUP", None):
        return _first(list(av))
    return _PROBES, True  # back references and the like: assume anything


def _tail_chars(sequence: list[Node]) -> Chars:
    """What the optional or variable-length end of a match of ``sequence`` can take."""
    chars: set[str] = set()
    for op, av in reversed(sequence):
        nullable = _node_first(op, av)[1]
        if op in _REPEATS and (av[1] > av[0] or nullable):
            chars |= _all_chars(list(av[2]))
        elif op is sre.SUBPATTERN:
            chars |= _tail_chars(list(av[3]))
        elif op is sre.BRANCH:
            for alternative in av[1]:
                chars |= _tail_chars(list(alternative))
            if nullable:
                chars |= _all_chars([(op, av)])
        if not nullable:
            break
    return frozenset(chars)


def _all_chars(sequence: list[Node]) -> Chars:
    chars: set[str] = set()
    for op, av in sequence:
        if op in _ONE_CHAR:
            chars |= _node_chars(op, av)
        for child in _children(op, av):
            if op not in (sre.ASSERT, sre.ASSERT_NOT):
                chars |= _all_chars(child)
    return frozenset(chars)


def _node_chars(op: Any, av: Any) -> Chars:
    if op is sre.LITERAL:
        return frozenset([chr(av)])
    if op is sre.NOT_LITERAL:
        return _PROBES - {chr(av)}
    if op is sre.ANY:
        return _PROBES - {"\n"}
    if op is sre.CATEGORY:
        return _category(av)
    negate = bool(av) and av[0][0] is sre.NEGATE
    chars: set[str] = set()
    for item_op, item in av:
        if item_op is sre.LITERAL:
            chars.add(chr(item))
        elif item_op is sre.RANGE:
            chars |= {c for c in _PROBES if item[0] <= ord(c) <= item[1]}
            chars |= {chr(item[0]), chr(item[1])}
        elif item_op is sre.CATEGORY:
            chars |= _category(item)
    return frozenset(_PROBES - chars) if negate else frozenset(chars)


def _category(category: Any) -> Chars:
    expression = _CATEGORIES.get(category)
    if expression is None:
        return _PROBES
    return frozenset(c for c in _PROBES if re.fullmatch(expression, c))
