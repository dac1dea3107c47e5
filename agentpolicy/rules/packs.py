"""Rule packs: folders of declarative rules, gate policy and examples, like the built-in pack.

A pack is `rules/*.yaml` (one rule per file), an optional `pack.yaml` (name,
change-gate approval policy) and optional examples under `tests/pass/` and
`tests/fail/`. Packs are read through a Snapshot, so a pack inside the repo is
read from the same side (and the same trust root) as the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from agentpolicy.errors import ConfigError
from agentpolicy.files.snapshot import Snapshot
from agentpolicy.rules.config_checks import is_locked_rule

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class ApprovalPolicy:
    when: Any
    approvals_required: int | None
    autonomy_expansion: int | None
    source: str

    def applies_to(self, data: dict[str, Any]) -> bool:
        from agentpolicy.rules.declarative import matches_schema

        return matches_schema(self.when, data)


@dataclass(frozen=True)
class Pack:
    name: str
    source: str
    rules: tuple[Any, ...]  # DeclarativeRule
    approvals: tuple[ApprovalPolicy, ...] = ()
    passing: tuple[tuple[str, bytes], ...] = ()
    failing: tuple[tuple[str, bytes], ...] = ()

    @property
    def rule_ids(self) -> set[str]:
        return {rule.info.id for rule in self.rules}


def load_pack(snapshot: Snapshot, folder: str, label: str) -> Pack:
    """Read one pack from ``folder`` of ``snapshot``; a broken pack is a configuration error."""
    from agentpolicy.model.schemas import load_checked_yaml
    from agentpolicy.rules.declarative import load_rule

    root = folder.strip("/")
    prefix = f"{root}/" if root else ""
    files = snapshot.files_under(root) if root else snapshot.files_under("")
    rule_paths = sorted(p for p in files if p.startswith(f"{prefix}rules/") and p.endswith(YAML_SUFFIXES))
    if not rule_paths and f"{prefix}pack.yaml" not in files:
        raise ConfigError(
            f"no rule pack at {label}: it has neither rules/*.yaml nor pack.yaml",
            "check the `policy:` entry in .agentpolicy.yaml",
        )
    rules = tuple(load_rule(path, snapshot.read(path) or b"", f"{label}: {path}") for path in rule_paths)
    name: str = label
    approvals: tuple[ApprovalPolicy, ...] = ()
    settings_path = f"{prefix}pack.yaml"
    if settings_path in files:
        data = load_checked_yaml(settings_path, snapshot.read(settings_path) or b"", "pack", "pack settings")
        name = str(data.get("name", label))
        approvals = tuple(
            ApprovalPolicy(
                item["when"],
                _count(item, "approvals_required", label),
                _count(item, "autonomy_expansion", label),
                f"{label}: pack.yaml",
            )
            for item in data.get("approvals", [])
        )

    def examples(kind: str) -> tuple[tuple[str, bytes], ...]:
        return tuple(
            (path, snapshot.read(path) or b"")
            for path in sorted(files)
            if path.startswith(f"{prefix}tests/{kind}/") and path.endswith(YAML_SUFFIXES)
        )

    return Pack(name, label, rules, approvals, examples("pass"), examples("fail"))


def _count(item: dict[str, Any], key: str, label: str) -> int | None:
    """An approval count as a true integer: the schema's `integer` also lets 2.0 through."""
    value = item.get(key)
    if value is not None and type(value) is not int:
        raise ConfigError(
            f"{label}: pack.yaml: `{key}` must be a whole number, not {value!r}",
            f"write it without a decimal point or quotes, e.g. `{key}: 2`",
        )
    return value


@cache
def builtin_pack() -> Pack:
    from agentpolicy.files.snapshot import TraversableSnapshot
    from agentpolicy.model.schemas import builtin_pack as builtin_folder

    return load_pack(TraversableSnapshot(builtin_folder(), "policies"), "policies", "built-in pack")


def installed_pack(name: str) -> Pack | None:
    """A pack published by a Python package under the entry point group `agentpolicy.rules.packs`."""
    from importlib.metadata import entry_points
    from importlib.resources import files

    from agentpolicy.files.snapshot import TraversableSnapshot

    for entry in entry_points(group="agentpolicy.rules.packs"):
        if entry.name == name:
            module = entry.load()
            folder = files(module) if isinstance(module, str) else files(module.__name__)
            return load_pack(TraversableSnapshot(folder, name), name, f"pack {name} (installed)")
    return None


def resolve_packs(refs: tuple[str, ...], snapshot: Snapshot) -> tuple[Pack, ...]:
    """The packs named in `policy:`, read from ``snapshot`` (folders) or the installed packages."""
    packs: list[Pack] = []
    seen = set(builtin_pack().rule_ids) | _python_rule_ids()
    for ref in refs:
        folder = ref  # already in its one spelling: load_config normalises every `policy:` entry
        if snapshot.files_under(folder):
            pack = load_pack(snapshot, folder, f"pack {folder}")
        else:
            found = installed_pack(ref)
            if found is None:
                raise ConfigError(
                    f"policy pack {ref!r} was not found: no such folder in {snapshot.label}, and no "
                    "installed package offers it (entry point group agentpolicy.rules.packs)",
                    "fix the `policy:` entry in .agentpolicy.yaml, or install the pack",
                )
            pack = found
        reserved = sorted(rule_id for rule_id in pack.rule_ids if is_locked_rule(rule_id))
        if reserved:
            raise ConfigError(
                f"{pack.source} defines rule id(s) {', '.join(reserved)}, reserved for the change gate, "
                "the signature checks and file integrity",
                "give the pack's rules ids of their own (e.g. a prefix such as ACME101)",
            )
        _check_schemas(pack)
        clash = pack.rule_ids & seen
        if clash:
            raise ConfigError(
                f"{pack.source} redefines rule id(s) {', '.join(sorted(clash))}",
                "give the pack's rules ids of their own (e.g. a prefix such as ACME101)",
            )
        seen |= pack.rule_ids
        packs.append(pack)
    return tuple(packs)


def _check_schemas(pack: Pack) -> None:
    """Every `when`/`require` of a pack is a valid JSON Schema, so a broken one is a
    configuration error now, not a crash in the middle of a check or an audit."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    schemas = [
        (f"rule {rule.info.id}: {key}", getattr(rule, key))
        for rule in pack.rules
        for key in ("when", "require")
    ]
    schemas += [
        (f"pack.yaml: approvals[{index}].when", policy.when) for index, policy in enumerate(pack.approvals)
    ]
    for where, schema in schemas:
        if schema is None:
            continue
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise ConfigError(
                f"{pack.source}: {where} is not a valid JSON Schema: {exc.message}",
                "fix the schema (draft 2020-12); `agentpolicy test` runs the pack's examples",
            ) from None
        _refuse_hazards(pack.source, where, schema)


def _refuse_hazards(source: str, where: str, schema: Any) -> None:
    """What a valid schema can still do to a check or an audit: reach outside itself (`$ref` to a
    URI that cannot be resolved offline crashes the evaluation) or backtrack for hours on a
    crafted value (a pattern with nested or overlapping repeats)."""
    from agentpolicy.model.pattern_safety import backtracking_risk, schema_patterns

    for ref in _refs(schema):
        if not ref.startswith("#"):
            raise ConfigError(
                f"{source}: {where} refers to {ref!r}, outside the rule itself",
                "keep rule schemas self-contained: only local references such as '#/$defs/name'",
            )
    for place, pattern in schema_patterns(schema):
        risk = backtracking_risk(pattern)
        if risk:
            raise ConfigError(
                f"{source}: {where}: pattern {pattern!r} at {place or 'the top'} can take hours on a "
                f"crafted value ({risk})",
                "rewrite it without nested or overlapping repeats (`agentpolicy test` explains each)",
            )


def _refs(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        found = [
            value
            for key, value in schema.items()
            if key in ("$ref", "$dynamicRef") and isinstance(value, str)
        ]
        return found + [ref for value in schema.values() for ref in _refs(value)]
    if isinstance(schema, list):
        return [ref for value in schema for ref in _refs(value)]
    return []


def _python_rule_ids() -> set[str]:
    from agentpolicy.rules.catalog import PYTHON_RULES

    return set(PYTHON_RULES)
