"""AP100: the agent schema, with messages that say which field and how to fix it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from agentpolicy.model.document import ERROR, Document, Finding, JsonPath
from agentpolicy.model.fastschema import fast_validator
from agentpolicy.model.schemas import schema, validator

_JSON_TYPES = {
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a decimal number",
    list: "a list",
    dict: "a mapping",
    type(None): "empty (null)",
}


def _describe(value: Any) -> str:
    for kind, text in _JSON_TYPES.items():
        if isinstance(value, kind):
            return text
    return "a date" if hasattr(value, "isoformat") else type(value).__name__


def _field(path: JsonPath) -> str:
    return (
        ".".join(str(part) if isinstance(part, str) else f"[{part}]" for part in path).replace(".[", "[")
        or "the document"
    )


def _rule_for(schema_path: list[Any]) -> str:
    """The nearest `x-rule` annotation on the schema path, so owner errors read as AP101."""
    node: Any = schema("agent")
    found = "AP100"
    for part in schema_path:
        if isinstance(node, dict) and "x-rule" in node:
            found = node["x-rule"]
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
    return found


def check_schema(document: Document) -> Iterator[Finding]:
    fast = fast_validator(schema("agent"))
    if fast is not None and fast(document.data):
        return  # the common case: valid, and jsonschema is never even imported
    seen: set[tuple[JsonPath, str]] = set()
    errors = validator("agent").iter_errors(document.data)
    for error in sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), e.validator)):
        path: JsonPath = tuple(error.absolute_path)
        message, hint, at = _explain(error, path, document)
        if (at, message) in seen:
            continue
        seen.add((at, message))
        line, column = document.position(at)
        agent = document.data.get("name", "") if isinstance(document.data, dict) else ""
        yield Finding(
            path=document.path,
            line=line,
            column=column,
            rule=_rule_for(list(error.absolute_schema_path)),
            severity=ERROR,
            message=message,
            hint=hint,
            agent=agent if isinstance(agent, str) else "",
        )


def _explain(error: Any, path: JsonPath, document: Document) -> tuple[str, str, JsonPath]:
    kind = error.validator
    name = _field(path)
    if kind == "required":
        missing = [key for key in error.validator_value if key not in error.instance]
        field = _field((*path, missing[0])) if missing else name
        return f"missing required field `{field}`", f"add `{missing[0]}:`", path
    if kind == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in known and not str(k).startswith("x-")]
        key = extra[0] if extra else "?"
        hint = "remove it, or prefix your own extension fields with `x-`"
        if known:
            hint = f"known fields here: {', '.join(sorted(known))}; " + hint
        return f"unknown field `{_field((*path, key))}`", hint, (*path, key)
    if kind == "type" and path == ("owner",):
        return (
            _owner_shape(error.instance),
            "name one accountable person: `owner: {name: ..., email: ...}`",
            path,
        )
    if kind == "type":
        raw = document.raw_scalars.get(path)
        expected = error.validator_value
        key = path[-1] if path else name
        message = f"`{name}` must be {_article(expected)}, not {_describe(error.instance)}"
        if expected == "string" and raw is not None:
            message = f"{message} (YAML reads {raw} as {_describe(error.instance)})"
            fixed = _valid_string(error.schema, _string_candidates(key, raw))
            if fixed is not None:
                return message, f'quote the value: {key}: "{fixed}"', path
            return message, f"write `{name}` as a quoted string: {_expected(error.schema)}", path
        typed = _typed_value(expected, error.instance)
        if typed is not None:
            return message, f"write it without quotes: `{key}: {typed}`", path
        return message, f"write `{name}` as {_article(expected)}", path
    if kind in ("enum", "const"):
        allowed = error.validator_value if kind == "enum" else [error.validator_value]
        shown = ", ".join(str(value) for value in allowed)
        return (
            f"`{name}` is {error.instance!r}; it must be {'one of ' if kind == 'enum' else ''}{shown}",
            f"set `{name}` to {'one of: ' if kind == 'enum' else ''}{shown}",
            path,
        )
    if kind == "maxLength":
        limit = error.validator_value
        return f"`{name}` is longer than {limit} characters", f"shorten `{name}` to {limit} or fewer", path
    if kind == "pattern":
        shown = repr(error.instance) if len(error.instance) <= 200 else repr(error.instance[:200]) + "..."
        hint = f"expected: {_expected(error.schema)}"
        fixed = _valid_string(error.schema, _string_candidates(path[-1] if path else name, error.instance))
        if fixed is not None and path:
            hint = f'{hint.rstrip(".")}; for example: `{path[-1]}: "{fixed}"`'
        return f"`{name}` {shown} is not valid", hint, path
    return f"`{name}`: {error.message}", "see `agentpolicy schema`", path


def _expected(schema: Any) -> str:
    return str(schema.get("description", f"a value matching {schema.get('pattern')}"))


_NUMBERS = re.compile(r"(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?(?:\.(0|[1-9][0-9]*))?")


def _string_candidates(key: Any, raw: str) -> list[str]:
    """What the user most likely meant, best first: `version: 1.4` meant "1.4.0" (a full
    semantic version), anything else meant its own text, quoted."""
    candidates = []
    numbers = _NUMBERS.fullmatch(raw.strip())
    if key == "version" and numbers:
        candidates.append(".".join(part or "0" for part in numbers.groups()))
    candidates.append(raw)
    if key == "version":
        candidates.append("1.0.0")
    return candidates


def _valid_string(schema: Any, candidates: list[str]) -> str | None:
    """The first candidate the field's own schema accepts: a suggested fix is never itself
    an error (quoting `1.4` gives "1.4", which is not a semantic version)."""
    import json

    from agentpolicy.model.fastschema import strict_validator

    if "$ref" in json.dumps(schema):
        return None  # a part of the schema that cannot be judged alone: suggest nothing
    for candidate in candidates:
        if '"' in candidate or "\\" in candidate:
            continue  # would need escaping inside the suggested double quotes
        if strict_validator(schema).is_valid(candidate):
            return candidate
    return None


def _typed_value(expected: Any, value: Any) -> str | None:
    """`'1'` where a whole number belongs, `'true'` where a boolean belongs: the value as YAML
    reads it when written without quotes, if there is exactly one such value."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if expected == "integer" and re.fullmatch(r"-?[0-9]+", text):
        return str(int(text))
    if expected == "boolean" and text.lower() in ("true", "false"):
        return text.lower()
    return None


def _article(expected: Any) -> str:
    if isinstance(expected, list):
        return " or ".join(_article(item) for item in expected)
    return {
        "string": "a string",
        "object": "a mapping",
        "array": "a list",
        "integer": "a whole number",
        "boolean": "true or false",
        "number": "a number",
        "null": "empty",
    }.get(expected, str(expected))


def _owner_shape(owner: Any) -> str:
    if isinstance(owner, list):
        return "owner is a list: name one accountable person, not several"
    if isinstance(owner, str) and owner.startswith("@"):
        return f"owner is a team ({owner}): name one accountable person"
    return f"owner must be a person with a name and an email, not {_describe(owner)}"
