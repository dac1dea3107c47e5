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
    """A validator built once per process: building one costs far more than using it."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema(name))
