"""The fast path of YAML loading: PyYAML's C composer, plain data built directly.

Why a path of its own: most files are plain, and for them the strict positional
builder (``yamlload``) does work that only a finding needs. This path builds the
same data or steps aside (returns None): anything it does not build plainly (a
tag, an alias, a merge key, a duplicate or non-string key, a NaN, nesting deeper
than ``MAX_DEPTH``) is left to the positional path, which explains it. It never
accepts more than that path.
"""

from __future__ import annotations

from typing import Any

import yaml

try:  # the C parser is ~10x faster; the pure one behaves the same
    from yaml import CSafeLoader as Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as Loader  # type: ignore[assignment]

__all__ = ["CONSTRUCTOR", "MAX_DEPTH", "NOT_PARSED", "PLAIN_TAGS", "YAML_TAG", "Loader", "fast_parse"]

MAX_DEPTH = 64
YAML_TAG = "tag:yaml.org,2002:"
PLAIN_TAGS = frozenset(YAML_TAG + kind for kind in ("str", "int", "float", "bool", "null", "timestamp"))
_T = YAML_TAG
_PLAIN_TAGS = PLAIN_TAGS
CONSTRUCTOR = yaml.SafeLoader("")  # PyYAML's own scalar constructors, bound once


class _NotParsed:
    def __repr__(self) -> str:
        return "NOT_PARSED"


NOT_PARSED: Any = _NotParsed()  # "no fast-path data here": the file is parsed where it is loaded


class _FastLoader(Loader):
    """PyYAML's C parser and composer, with scalar resolution remembered: the same plain
    scalars (keys, `true`, action names) recur in every file, and PyYAML tries each of its
    regular expressions on each of them. Path resolvers, which would make resolution depend
    on where a scalar sits, are not used by the safe loader; without them it is a pure
    function of the scalar."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        if kind is not yaml.ScalarNode:
            return self.DEFAULT_SEQUENCE_TAG if kind is yaml.SequenceNode else self.DEFAULT_MAPPING_TAG
        if not implicit[0]:
            return self.DEFAULT_SCALAR_TAG
        key = (value, implicit[1])
        tag = _RESOLVED.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
            if len(_RESOLVED) >= _RESOLVED_SLOTS:
                _RESOLVED.clear()
            _RESOLVED[key] = tag
        return tag


_RESOLVED: dict[tuple[str, bool], str] = {}
_RESOLVED_SLOTS = 4096
_STR, _SEQ, _MAP = _T + "str", _T + "seq", _T + "map"
_SCALARCONSTRUCTORS = {tag: yaml.SafeLoader.yaml_constructors[tag] for tag in _PLAIN_TAGS - {_STR}}


class _Fallback(Exception):
    pass


def _plain(node: yaml.Node, seen: set[int], depth: int) -> Any:
    """Plain data from a composed node, built directly (PyYAML's constructors go through
    generators and a table per node): strings, numbers, booleans, null, timestamps, lists
    and mappings with unique string keys, at most MAX_DEPTH deep. Anything else (a tag, an
    alias, a merge key, a NaN) is a `_Fallback`: the positional path then explains it."""
    if depth > MAX_DEPTH or id(node) in seen:
        raise _Fallback
    seen.add(id(node))
    tag = node.tag
    if tag == _STR and type(node) is yaml.ScalarNode:
        return node.value
    if tag == _MAP and type(node) is yaml.MappingNode:
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag != _STR or type(key_node) is not yaml.ScalarNode or key_node.value in mapping:
                raise _Fallback
            mapping[key_node.value] = _plain(value_node, seen, depth + 1)
        return mapping
    if tag == _SEQ and type(node) is yaml.SequenceNode:
        return [_plain(item, seen, depth + 1) for item in node.value]
    constructor = _SCALARCONSTRUCTORS.get(tag)
    if constructor is None or type(node) is not yaml.ScalarNode:
        raise _Fallback
    value = constructor(CONSTRUCTOR, node)
    if isinstance(value, float) and value != value:  # NaN: kept as its text, as the positional path does
        raise _Fallback
    return value


def fast_parse(text: str) -> Any:
    """The document's plain data, or None: the positional path then loads or refuses it."""
    loader = _FastLoader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _plain(node, set(), 0)
    except (_Fallback, yaml.YAMLError, RecursionError, ValueError, TypeError, OverflowError):
        return None
    finally:
        loader.dispose()
