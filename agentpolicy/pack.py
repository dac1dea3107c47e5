"""The built-in policy pack: schemas and declarative rules shipped in the wheel.

The pack is read through importlib.resources so an installed checker never
depends on a source checkout; files are parsed once per process.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

PACK_PACKAGE = "agentpolicy.policies"


def builtin_pack() -> Traversable:
    return files(PACK_PACKAGE)


@cache
def schema(name: str) -> dict[str, Any]:
    """A JSON Schema of the built-in pack by file stem: agent, config, review, rule."""
    text = (builtin_pack() / "schemas" / f"{name}.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def schema_text(name: str) -> str:
    return (builtin_pack() / "schemas" / f"{name}.schema.json").read_text("utf-8")


def load_checked_yaml(path: str, raw: bytes, schema_name: str, what: str) -> Any:
    """A settings file (a rule, a pack.yaml) parsed strictly and checked against its schema;
    any problem is a configuration error naming the file and the line."""
    from agentpolicy.errors import ConfigError
    from agentpolicy.yamlload import load_yaml

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
    from agentpolicy.fastschema import fast_validator

    fast = fast_validator(schema(name))
    if fast is not None and fast(data):
        return []
    return sorted(validator(name).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])


@cache
def validator(name: str) -> Any:
    """A validator built once per process: building one costs far more than using it. Its
    `integer` accepts integers only, like the fast path (2.0, "2" and true are errors)."""
    from agentpolicy.fastschema import strict_validator

    return strict_validator(schema(name))
