"""Strict, hostile-input-safe YAML loading that keeps the position of every node.

PyYAML's safe loader still accepts duplicate keys (the last one silently wins),
expands aliases (the billion-laughs bomb) and resolves many tags. Here we only
*compose* the node graph with the C parser where present, then build plain
data ourselves, refusing everything a policy file has no business containing.
"""

from __future__ import annotations

from typing import Any

import yaml

from agentpolicy.model.document import ERROR, Document, Finding, JsonPath, LoadResult, Position
from agentpolicy.model.yamlfast import CONSTRUCTOR as _CONSTRUCTOR
from agentpolicy.model.yamlfast import MAX_DEPTH, NOT_PARSED, PLAIN_TAGS, YAML_TAG, fast_parse
from agentpolicy.model.yamlfast import Loader as _Loader

MAX_BYTES = 1024 * 1024
RULE_SYNTAX = "AP001"
RULE_DUPLICATE = "AP002"

_T = YAML_TAG
_PLAIN_TAGS = PLAIN_TAGS
__all__ = ["MAX_BYTES", "MAX_DEPTH", "NOT_PARSED", "fast_data", "load_yaml", "locate"]


class _Refused(Exception):
    def __init__(self, message: str, hint: str, line: int, column: int, rule: str = RULE_SYNTAX):
        super().__init__(message)
        self.message, self.hint, self.line, self.column, self.rule = (
            message,
            hint,
            line,
            column,
            rule,
        )


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _scalar(node: yaml.ScalarNode) -> Any:
    # Resolution is PyYAML's (YAML 1.1): `no` is a bool, `1.10` a float. We keep
    # those types so the schema can refuse them with a "quote it" hint, instead
    # of guessing what the author meant.
    if node.tag not in _PLAIN_TAGS:
        line, col = _mark(node)
        raise _Refused(
            f"YAML tag {node.tag!r} is not allowed",
            "remove the tag; agent files hold plain strings, numbers, lists and mappings",
            line,
            col,
        )
    constructor = yaml.SafeLoader.yaml_constructors[node.tag]
    try:
        value = constructor(_CONSTRUCTOR, node)
    except (ValueError, OverflowError, yaml.YAMLError) as exc:
        line, col = _mark(node)
        raise _Refused(
            f"value {node.value[:40]!r} cannot be read: {str(exc)[:80]}",
            "quote the value if it is text, or write a reasonable number",
            line,
            col,
        ) from None
    if isinstance(value, float) and value != value:  # NaN never equals itself
        return node.value
    return value


class _Builder:
    """The strict, positional path: every refusal gets a line and a column."""

    def __init__(self) -> None:
        self.positions: dict[JsonPath, Position] = {}
        self.key_positions: dict[JsonPath, Position] = {}
        self.raw_scalars: dict[JsonPath, str] = {}
        self.seen: set[int] = set()

    def build(self, node: yaml.Node, path: JsonPath, depth: int) -> Any:
        line, col = _mark(node)
        if id(node) in self.seen:
            raise _Refused(
                "YAML aliases (*name) are not allowed",
                "write the value out in full; aliases can hide content and explode in size",
                line,
                col,
            )
        self.seen.add(id(node))
        if depth > MAX_DEPTH:
            raise _Refused(
                f"nesting deeper than {MAX_DEPTH} levels",
                "flatten the document",
                line,
                col,
            )
        self.positions[path] = (line, col)
        if isinstance(node, yaml.ScalarNode):
            if not node.style:  # plain (unquoted): the C and pure loaders differ here
                self.raw_scalars[path] = node.value
            return _scalar(node)
        if isinstance(node, yaml.SequenceNode):
            self._check_tag(node, _T + "seq")
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            self._check_tag(node, _T + "map")
            return self._mapping(node, path, depth)
        raise _Refused("unsupported YAML node", "use plain YAML", line, col)  # pragma: no cover

    def _check_tag(self, node: yaml.Node, expected: str) -> None:
        if node.tag != expected:
            line, col = _mark(node)
            raise _Refused(
                f"YAML tag {node.tag!r} is not allowed",
                "remove the tag; agent files hold plain strings, numbers, lists and mappings",
                line,
                col,
            )

    def _mapping(self, node: yaml.MappingNode, path: JsonPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            line, col = _mark(key_node)
            if key_node.tag == _T + "merge":
                raise _Refused(
                    "YAML merge keys (<<) are not allowed",
                    "write the keys out in full",
                    line,
                    col,
                )
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _T + "str":
                shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                raise _Refused(
                    f"mapping key {shown!r} is not a string",
                    f'quote the key: "{shown}":',
                    line,
                    col,
                )
            key = key_node.value
            if key in first_seen:
                raise _Refused(
                    f"duplicate key {key!r} (first defined on line {first_seen[key]})",
                    "keep one of the two; YAML parsers disagree on which one wins",
                    line,
                    col,
                    RULE_DUPLICATE,
                )
            first_seen[key] = line
            self.key_positions[(*path, key)] = (line, col)
            result[key] = self.build(value_node, (*path, key), depth + 1)
        return result


def _decode(raw: bytes) -> str:
    if b"\x00" in raw:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise _Refused(
                "file is UTF-16; agent files must be UTF-8",
                "re-save the file as UTF-8 (without a byte-order mark)",
                1,
                1,
            )
        raise _Refused(
            "file contains NUL bytes (binary?)",
            "agent files are UTF-8 text; remove the binary content",
            raw[: raw.index(b"\x00")].count(b"\n") + 1,
            1,
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _Refused(
            f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            "re-save the file as UTF-8",
            line,
            1,
        ) from None
    return text.removeprefix("\ufeff")


def locate(text: str) -> tuple[dict[JsonPath, Position], dict[JsonPath, Position], dict[JsonPath, str]]:
    """Positions of every node of a document that already loaded cleanly."""
    builder = _Builder()
    nodes = _compose_all(text)
    if nodes:
        builder.build(nodes[0], (), 0)
    return builder.positions, builder.key_positions, builder.raw_scalars


def fast_data(raw: bytes) -> Any:
    """What `load_yaml`'s fast path makes of ``raw`` (its plain data), or ``NOT_PARSED`` when
    that path would not decide it (too big, not UTF-8, anything for the positional path).
    A helper process parses batches with it ahead of need (``cache/parsed_ahead``)."""
    if len(raw) > MAX_BYTES:
        return NOT_PARSED
    try:
        data = fast_parse(_decode(raw))
    except _Refused:
        return NOT_PARSED
    return NOT_PARSED if data is None else data


def load_yaml(path: str, raw: bytes, *, max_bytes: int = MAX_BYTES, parsed: Any = NOT_PARSED) -> LoadResult:
    """Turn ``raw`` into a :class:`Document`, or into findings that say why not.

    ``parsed``: what `fast_data` made of these very bytes elsewhere (a helper process), used
    instead of parsing them again; every check but the parse itself still runs here."""
    try:
        if len(raw) > max_bytes:
            raise _Refused(
                f"file is larger than the limit of {max_bytes:,} bytes",
                "an agent definition is a short file; split out or remove bulk content",
                1,
                1,
            )
        text = _decode(raw)
        data = fast_parse(text) if parsed is NOT_PARSED else parsed
        if data is not None:
            return LoadResult(Document(path, data, text))
        nodes = _compose_all(text)
        if not nodes:
            raise _Refused(
                "file is empty",
                "write the agent definition (see `agentpolicy schema`), or delete the file",
                1,
                1,
            )
        if len(nodes) > 1:
            line, col = _mark(nodes[1])
            raise _Refused(
                "file holds more than one YAML document",
                "put one agent in each file; remove the extra '---' section",
                line,
                col,
            )
        builder = _Builder()
        document = Document(path, builder.build(nodes[0], (), 0))
        document._positions = builder.positions
        document._key_positions = builder.key_positions
        document._raw_scalars = builder.raw_scalars
    except _Refused as refused:
        return LoadResult(None, [_finding(path, refused)])
    return LoadResult(document)


def _compose_all(text: str) -> list[yaml.Node]:
    loader = _Loader(text)
    try:
        nodes: list[yaml.Node] = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                nodes.append(node)
            if len(nodes) > 1:
                break
        return nodes
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        hint = "fix the YAML syntax"
        at_tab = mark is not None and text[mark.index : mark.index + 1] == "\t"
        if at_tab or "tab" in problem:
            hint = "indent with spaces; YAML does not allow tabs for indentation"
        raise _Refused(f"invalid YAML: {problem}", hint, line, col) from None
    except yaml.YAMLError as exc:
        raise _Refused(f"invalid YAML: {exc}", "fix the YAML syntax", 1, 1) from None
    finally:
        loader.dispose()


def _finding(path: str, refused: _Refused) -> Finding:
    return Finding(
        path=path,
        line=refused.line,
        column=refused.column,
        rule=refused.rule,
        severity=ERROR,
        message=refused.message,
        hint=refused.hint,
    )
