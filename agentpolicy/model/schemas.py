"""The built-in policy pack: schemas and declarative rules shipped in the wheel.

The pack is read through importlib.resources so an installed checker never
depends on a source checkout; files are parsed once per process.
"""

from __future__ import annotations

import importlib
import json
import os
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

PACK_PACKAGE = "agentpolicy.policies"


def builtin_pack() -> Traversable:
    from importlib.resources import files

    return files(PACK_PACKAGE)


@cache
def schema(name: str) -> dict[str, Any]:
    """A JSON Schema of the built-in pack by file stem: agent, config, review, rule."""
    loaded: dict[str, Any] = json.loads(schema_text(name))
    return loaded


def schema_text(name: str) -> str:
    """The schema file's text. Read straight from the installed package's folder when it has
    one (importing importlib.resources was a tenth of the hook's own start-up); through
    importlib.resources otherwise (a zipped install)."""
    folder = _pack_folder()
    if folder is not None:
        with open(os.path.join(folder, "schemas", f"{name}.schema.json"), encoding="utf-8") as handle:
            return handle.read()
    return (builtin_pack() / "schemas" / f"{name}.schema.json").read_text("utf-8")


@cache
def _pack_folder() -> str | None:
    location = getattr(importlib.import_module(PACK_PACKAGE), "__file__", None)
    folder = os.path.dirname(location) if location else None
    return folder if folder and os.path.isdir(os.path.join(folder, "schemas")) else None


def exported_schema_text(name: str) -> str:
    """The schema as `agentpolicy schema` prints it: plain draft 2020-12 that any validator
    accepts in its strictest mode (ajv's default refuses unknown keywords and union types).

    Our own annotations (`x-...` keywords, such as `x-rule`, which names the rule a schema
    error reports as) stay in the shipped file for the checker and are left out here.
    """
    return json.dumps(_portable(schema(name)), indent=2, ensure_ascii=False) + "\n"


# Keywords whose value maps names to subschemas, and those whose value is a list of subschemas;
# every other object value of a schema keyword is itself a subschema, except literal values.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})
_SCHEMA_LISTS = frozenset({"prefixItems", "allOf", "anyOf", "oneOf"})
_LITERALS = frozenset({"const", "enum", "default", "examples", "$vocabulary"})


def _portable(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    exported: dict[str, Any] = {}
    for keyword, value in node.items():
        if keyword.startswith("x-"):
            continue
        if keyword in _SCHEMA_MAPS and isinstance(value, dict):
            exported[keyword] = {name: _portable(sub) for name, sub in value.items()}
        elif keyword in _SCHEMA_LISTS and isinstance(value, list):
            exported[keyword] = [_portable(sub) for sub in value]
        elif keyword in _LITERALS:
            exported[keyword] = value
        else:
            exported[keyword] = _portable(value)
    kinds = exported.get("type")
    if isinstance(kinds, list) and len(kinds) > 1 and "anyOf" not in exported:
        return _without_union_type(exported, kinds)
    return exported


_NUMERIC = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"})
_APPLIES_TO = {
    "integer": _NUMERIC,
    "number": _NUMERIC,
    "string": frozenset({"minLength", "maxLength", "pattern", "format"}),
    "array": frozenset(
        {"items", "prefixItems", "contains", "minItems", "maxItems", "uniqueItems"}
        | {"minContains", "maxContains"}
    ),
    "object": frozenset(
        {"properties", "patternProperties", "additionalProperties", "required", "propertyNames"}
        | {"minProperties", "maxProperties", "dependentRequired", "dependentSchemas"}
    ),
}


def _without_union_type(node: dict[str, Any], kinds: list[str]) -> dict[str, Any]:
    """`type: [a, b]` as `anyOf: [{type: a, ...}, {type: b, ...}]`, each keyword that only
    constrains one type moved into that type's branch: the same meaning, and no keyword
    without its type (ajv's strictTypes refuses both a union and a keyword outside its type)."""
    moved = set().union(*_APPLIES_TO.values())
    outer = {key: value for key, value in node.items() if key != "type" and key not in moved}
    outer["anyOf"] = [
        {"type": kind, **{key: value for key, value in node.items() if key in _APPLIES_TO.get(kind, ())}}
        for kind in kinds
    ]
    return outer


def load_checked_yaml(path: str, raw: bytes, schema_name: str, what: str) -> Any:
    """A settings file (a rule, a pack.yaml) parsed strictly and checked against its schema;
    any problem is a configuration error naming the file and the line."""
    from agentpolicy.errors import ConfigError
    from agentpolicy.model.yamlload import load_yaml

    loaded = load_yaml(path, raw)
    if loaded.document is None:
        problem = loaded.findings[0]
        raise ConfigError(problem.message, problem.hint, path=path, line=problem.line)
    errors = schema_errors(schema_name, loaded.document.data)
    if errors:
        line, _ = loaded.document.position(tuple(errors[0].absolute_path))
        raise ConfigError(f"invalid {what}: {errors[0].message}", "see docs/rules.md", path=path, line=line)
    return loaded.document.data


def schema_errors(name: str, data: Any) -> list[Any]:
    """jsonschema's errors for ``data`` against a built-in schema, sorted by place; the
    fast path answers the common, valid case without importing jsonschema at all."""
    from agentpolicy.model.fastschema import fast_validator

    fast = fast_validator(schema(name))
    if fast is not None and fast(data):
        return []
    return sorted(validator(name).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])


@cache
def validator(name: str) -> Any:
    """A validator built once per process: building one costs far more than using it. Its
    `integer` accepts integers only, like the fast path (2.0, "2" and true are errors)."""
    from agentpolicy.model.fastschema import strict_validator

    return strict_validator(schema(name))
