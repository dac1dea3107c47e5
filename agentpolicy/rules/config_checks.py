"""Checks on `.agentpolicy.yaml` as a document, before any setting is read from it.

`load_config` runs these on the parsed YAML: the schema (worded for a person: the
allowed values, what YAML actually read), no control characters, whole numbers
where a count is expected, and no `rules:` override that weakens the change gate.
Kept apart from loading so each refusal and its hint can be read in one place.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from agentpolicy.errors import ConfigError
from agentpolicy.model.schemas import schema_errors

RULE_ID = re.compile(r"[A-Z]+[0-9]+")
_LOCKED_RULE = re.compile(r"AP(?:0[0-9]{2}|140|[23][0-9]{2})")
_RANK = {"off": 0, "warning": 1, "error": 2}


def check_schema(data: dict[str, Any], where: str, document: Any) -> None:
    """The first JSON Schema error, worded for the key it is about (unknown, missing, not allowed)."""
    errors = schema_errors("config", data)
    if errors:
        error = errors[0]
        path = tuple(error.absolute_path)
        key = ".".join(str(part) for part in path)
        if error.validator == "additionalProperties":
            unknown = sorted(set(data) - set(error.schema["properties"]))[0]
            line, _ = document.position((unknown,))
            known = ", ".join(sorted(error.schema["properties"]))
            raise ConfigError(f"unknown key `{unknown}`", f"known keys: {known}", path=where, line=line)
        line, _ = document.position(path)
        if error.validator == "required":
            missing = next(k for k in error.validator_value if k not in error.instance)
            where_key = dotted(path)
            raise ConfigError(
                f"`{where_key}` is missing the required key `{missing}`",
                f"add `{missing}:` ({_describe_key(missing)})",
                path=where,
                line=line,
            )
        if error.validator == "enum":
            raise _enum_error(key, path, error.instance, error.validator_value, where, line)
        hint = f"expected: {error.schema.get('description', error.schema)}"
        raise ConfigError(
            f"invalid value for `{key or 'config'}`: {error.message}",
            hint,
            path=where,
            line=line,
        )


def _enum_error(
    key: str, path: tuple[Any, ...], got: Any, allowed: list[Any], where: str, line: int
) -> ConfigError:
    """`rules.AP112 must be one of error, warning or off (got 'warn')`: the allowed values in
    words, and what YAML actually read, so `warn`, `true` and a bare `off` explain themselves."""
    words = [str(value) for value in allowed]
    listed = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
    if path[:1] == ("rules",) and got is False:
        hint = f"quote it: `{path[-1]}: 'off'` (YAML reads a bare off as false)"
    elif path[:1] == ("rules",):
        hint = f"write e.g. `{path[-1]}: warning`; to switch the rule off write `{path[-1]}: 'off'` (quoted)"
    else:
        hint = f"set `{key}` to one of: {', '.join(words)}"
    return ConfigError(f"{key} must be one of {listed} (got {_shown(got)})", hint, path=where, line=line)


def _shown(value: Any) -> str:
    """A value as the user wrote it in YAML, not as Python prints it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing (null)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _describe_key(key: str) -> str:
    return {
        "expires": "the last day the waiver applies, YYYY-MM-DD",
        "reason": "why the exception is acceptable",
        "owner": "the one person accountable for it: {name, email}",
    }.get(key, "see the configuration reference in README.md")


def dotted(path: tuple[Any, ...]) -> str:
    """A key path as it reads in the file: `waivers[0].expires`."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def refuse(message: str, hint: str, where: str, document: Any, path: tuple[Any, ...]) -> ConfigError:
    """A ConfigError at the line of the key ``path`` names."""
    line, _ = document.position(path)
    return ConfigError(message, hint, path=where, line=line)


def check_text(value: Any, path: tuple[Any, ...], where: str, document: Any) -> None:
    """No control characters or lone surrogates anywhere (a waiver's reason may span lines):
    they pass a `$`-anchored pattern, then break a date parse, a file name or a terminal."""
    if isinstance(value, dict):
        for key, item in value.items():
            check_text(key, (*path, key), where, document)
            check_text(item, (*path, key), where, document)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_text(item, (*path, index), where, document)
    elif isinstance(value, str):
        allowed = "\n\t" if path[-1:] == ("reason",) else ""
        bad = next((c for c in value if _unprintable(c) and c not in allowed), None)
        if bad is not None:
            raise refuse(
                f"`{dotted(path)}` contains the control character {bad!r}",
                "remove it; configuration values are plain text on one line",
                where,
                document,
                path,
            )


def _unprintable(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cs")


def check_integers(data: dict[str, Any], where: str, document: Any) -> None:
    """JSON Schema's `integer` accepts 2.0; a threshold that is a float or a bool is refused."""
    found = data.get("break_glass")
    glass: dict[str, Any] = found if isinstance(found, dict) else {}
    counts = {
        ("autonomy_expansion_approvals",): data.get("autonomy_expansion_approvals"),
        ("max_waiver_days",): data.get("max_waiver_days"),
        ("break_glass", "follow_up_days"): glass.get("follow_up_days"),
    }
    for path, value in counts.items():
        if value is not None and type(value) is not int:
            raise refuse(
                f"`{dotted(path)}` must be a whole number, not {value!r}",
                f"write it without a decimal point, e.g. `{path[-1]}: 2`",
                where,
                document,
                path,
            )


def is_locked_rule(rule_id: str) -> bool:
    """Rules the change gate stands on: file integrity (AP0xx), one file per agent name (AP140),
    the gate itself (AP2xx) and the signature checks (AP3xx). No `rules:`, waiver or pack
    may switch them off, weaken or redefine them."""
    return _LOCKED_RULE.fullmatch(rule_id) is not None


def override_weakens(rule_id: str, severity: str) -> bool:
    """True when `rules: {rule_id: severity}` would lower a locked rule below its built-in severity."""
    if not is_locked_rule(rule_id):
        return False
    if severity == "off":
        return True
    from agentpolicy.rules.catalog import PYTHON_RULES

    known = PYTHON_RULES.get(rule_id)
    return _RANK[severity] < _RANK[known.severity if known else "error"]


def check_rule_overrides(data: dict[str, Any], where: str, document: Any) -> None:
    """`rules:` names rule ids only, and never weakens a locked rule."""
    for rule_id, severity in (data.get("rules") or {}).items():
        if not RULE_ID.fullmatch(rule_id):
            raise refuse(
                f"`rules`: {rule_id!r} is not a rule id",
                "rule ids are capital letters then digits, e.g. AP112 (agentpolicy rules lists them)",
                where,
                document,
                ("rules", rule_id),
            )
        if override_weakens(rule_id, severity):
            raise refuse(
                f"`rules.{rule_id}: {severity}`: {rule_id} is part of the change gate or the signature "
                "checks, so it cannot be switched off or downgraded",
                f"remove {rule_id} from `rules:`; a change the gate refuses needs its signed review "
                "(agentpolicy approve), not a configuration change",
                where,
                document,
                ("rules", rule_id),
            )
