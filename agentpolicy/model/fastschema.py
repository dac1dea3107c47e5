"""A fast first pass for JSON Schema checks: fastjsonschema, where it means the same as jsonschema.

fastjsonschema generates Python code for a schema and validates ~15x faster
than jsonschema, and imports in a tenth of the time; but it implements drafts
4 to 7, while our schemas are 2020-12. The keywords used here mean the same in
both, so a schema made only of them (checked below, recursively) gets the fast
path; any other schema, and every failure that needs an explanation, goes to
jsonschema. The fast path only ever answers "valid / not valid".
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any, cast

_SAME_IN_BOTH = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "enum",
    "const",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "uniqueItems",
    "contains",
    "not",
    "anyOf",
    "allOf",
    "oneOf",
    "propertyNames",
    "minProperties",
    "maxProperties",
    "multipleOf",
    "items",
    "$ref",
    "$defs",
    "$schema",
    "$id",
    "title",
    "description",
    "default",
    "examples",
    "$comment",
}
_SCHEMA_MAPS = {"properties", "patternProperties", "$defs"}
_SCHEMA_LISTS = {"anyOf", "allOf", "oneOf"}
_SCHEMA_VALUES = {"additionalProperties", "contains", "not", "propertyNames", "items"}

_compiled: dict[str, Callable[[Any], Any] | None] = {}
_IDENTITY_SLOTS = 256
# Where fastjsonschema and jsonschema judge a whole float (2.0) differently: fastjsonschema
# takes it as an integer, and compares items by their text for uniqueness (2.0 and 2 differ).
# Everywhere else (enum, const, minimum...) both compare numbers by value.
_WHOLE_FLOAT_KEYWORDS = ('"integer"', '"uniqueItems"', '"multipleOf"')
_by_identity: dict[int, tuple[Any, Any]] = {}  # id(schema) -> (schema, its fast check)
_whole_floats: dict[int, tuple[Any, Any]] = {}  # id(data) -> (data, holds a whole float)


def eligible(schema: Any, top: bool = True) -> bool:
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict):
        return False
    for key, value in schema.items():
        if key.startswith("x-"):
            continue
        if key not in _SAME_IN_BOTH:
            return False
        if key == "$ref":
            # local refs only, and no sibling assertions (2020-12 applies them, draft 7 ignores them)
            if not (isinstance(value, str) and value.startswith("#/$defs/")):
                return False
            if set(schema) - {"$ref", "description", "title", "default", "$comment"}:
                return False
        if key in ("$schema", "$id") and not top:
            return False
        if key == "items" and not isinstance(value, (dict, bool)):
            return False  # the list form means prefixItems in draft 7, nothing in 2020-12
        if key in _SCHEMA_MAPS and not (
            isinstance(value, dict) and all(eligible(v, False) for v in value.values())
        ):
            return False
        if key in _SCHEMA_LISTS and not (isinstance(value, list) and all(eligible(v, False) for v in value)):
            return False
        if key in _SCHEMA_VALUES and not eligible(value, False):
            return False
    return True


def fast_validator(schema: Any) -> Callable[[Any], bool] | None:
    """A `data -> bool` check, or None when only jsonschema can judge this schema.

    Kept per schema object as well as per schema text: a rule asks with the same object for
    every document, and encoding it to find the compiled check cost more than the check."""
    checker: Callable[[Any], bool] | None = _per_object(_by_identity, schema, _fast_validator)
    return checker


def _per_object(table: dict[int, tuple[Any, Any]], thing: Any, work: Callable[[Any], Any]) -> Any:
    """``work(thing)``, remembered for this very object (held, so its id is not reused)."""
    known = table.get(id(thing))
    if known is not None and known[0] is thing:
        return known[1]
    answer = work(thing)
    if len(table) >= _IDENTITY_SLOTS:
        table.clear()
    table[id(thing)] = (thing, answer)
    return answer


def _fast_validator(schema: Any) -> Callable[[Any], bool] | None:
    key = json.dumps(schema, sort_keys=True)
    if key not in _compiled:
        _compiled[key] = _compile(schema) if eligible(schema) else None
    validate = _compiled[key]
    if validate is None:
        return None
    floats_matter = any(word in key for word in _WHOLE_FLOAT_KEYWORDS)

    def is_valid(data: Any) -> bool:
        from fastjsonschema import JsonSchemaException

        if floats_matter and _has_whole_float_memo(data):
            # fastjsonschema takes 2.0 as an integer; our integers are integers only (see
            # strict_validator), so such rare data is judged by jsonschema, the same meaning.
            return bool(strict_validator(schema).is_valid(data))
        try:
            validate(data)
        except JsonSchemaException:
            return False
        return True

    return is_valid


def _has_whole_float_memo(data: Any) -> bool:
    """`_has_whole_float`, answered once per data object: every rule asks it of the same
    document, and the walk over a 10,000-agent tree was most of a check's time."""
    if not isinstance(data, (dict, list)):
        return _has_whole_float(data)
    return bool(_per_object(_whole_floats, data, _has_whole_float))


def _has_whole_float(data: Any) -> bool:
    """Whether a float with an integer value (2.0) sits anywhere in ``data`` (a loop, not a
    recursion of generators: it runs once per document in every check)."""
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, float):
            if item.is_integer():
                return True
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _is_integer(checker: Any, value: Any) -> bool:
    """An integer is an int: 2.0 equals 2 in Python but not in the digest, and `true` is no count."""
    return isinstance(value, int) and not isinstance(value, bool)


@functools.cache
def end_anchored(pattern: str) -> re.Pattern[str]:
    """`pattern` with each `$` anchor meaning the very end, as on the fast path: Python's `$`
    also matches before a final newline, which would let `"name\n"` through a rule meant to
    refuse it. A `$` that is escaped or inside a character class stays a literal."""
    out, escaped, in_class = [], False, False
    for index, char in enumerate(pattern):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]" or pattern[index - 1] == "["
        elif char == "[":
            in_class = True
        elif char == "$":
            out.append("\\Z")
            continue
        out.append(char)
    try:
        return re.compile("".join(out))
    except re.error:
        return re.compile(pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    from jsonschema.exceptions import ValidationError

    if isinstance(instance, str) and not end_anchored(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def strict_validator(schema: Any) -> Any:
    """A 2020-12 jsonschema validator with the fast path's meaning, built once per schema: its
    `integer` accepts integers only (jsonschema's own accepts 2.0) and its `pattern` ends at `$`.
    Every schema judgement, fast or explained, uses this meaning."""
    key = json.dumps(schema, sort_keys=True)
    if key not in _strict:
        from jsonschema import Draft202012Validator
        from jsonschema.validators import extend

        checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer)
        strict = cast(Any, extend)(
            Draft202012Validator, validators={"pattern": _pattern}, type_checker=checker
        )
        _strict[key] = strict(schema)
    return _strict[key]


_strict: dict[str, Any] = {}


def as_draft7(schema: Any) -> Any:
    draft7 = dict(schema) if isinstance(schema, dict) else schema
    if isinstance(draft7, dict):
        draft7["$schema"] = "http://json-schema.org/draft-07/schema#"
        draft7.pop("$id", None)
    return draft7


def schema_key(draft7: Any) -> str:
    return hashlib.sha256(json.dumps(draft7, sort_keys=True).encode("utf-8")).hexdigest()


def generate_source(draft7: Any) -> str:
    import fastjsonschema

    # use_default=False: never insert defaults into the data being judged
    return str(fastjsonschema.compile_to_code(draft7, use_default=False, use_formats=False))


def _compile(schema: Any) -> Callable[[Any], Any] | None:
    """The validator for a schema: shipped ready-made for the built-in schemas (the hook's hot
    path), otherwise generated from the schema (which came from the trust root, never from a
    cache) and run in this process only."""
    draft7 = as_draft7(schema)
    from agentpolicy.model import builtin_validators

    factories: dict[str, Callable[[], Callable[[Any], Any]]] = builtin_validators.FACTORIES
    shipped = factories.get(schema_key(draft7))
    if shipped is not None:
        return shipped()
    try:
        source = generate_source(draft7)
        namespace: dict[str, Any] = {}
        exec(compile(source, "<fastjsonschema validator>", "exec"), namespace)
        names = [name for name in namespace if name.startswith("validate")]
        return namespace[names[0]] if names else None
    except Exception:  # anything it cannot compile goes to jsonschema
        return None
