"""`.agentpolicy.yaml`: the per-repo configuration, validated, with documented defaults."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any

from agentpolicy.errors import ConfigError
from agentpolicy.files.repopath import UnsafePath, normalise
from agentpolicy.model.schemas import schema_errors
from agentpolicy.model.yamlload import load_yaml

CONFIG_PATH = ".agentpolicy.yaml"
DEFAULT_AGENT_GLOBS = ("agents/**/*.yaml", "agents/**/*.yml")
DEFAULT_REVIEWS = "reviews"
DEFAULT_ALLOWED_SIGNERS = ".agentpolicy/allowed_signers"

_RULE_ID = re.compile(r"[A-Z]+[0-9]+")
_LOCKED_RULE = re.compile(r"AP(?:0[0-9]{2}|140|[23][0-9]{2})")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_RANK = {"off": 0, "warning": 1, "error": 2}


@dataclass(frozen=True)
class Waiver:
    """A time-boxed exception: findings of `rule` on `agent` are reported as waived until `expires`."""

    rule: str
    agent: str
    reason: str
    owner: str
    expires: dt.date
    line: int = 0
    column: int = 0

    def expired(self, today: dt.date) -> bool:
        return today > self.expires


@dataclass(frozen=True)
class Config:
    """Settings in force for one snapshot; defaults are the safe choice."""

    agents: tuple[str, ...] = DEFAULT_AGENT_GLOBS
    reviews: str = DEFAULT_REVIEWS
    teams: tuple[str, ...] = ()
    rules: dict[str, str] = field(default_factory=dict)
    require_signatures: bool = True
    allowed_signers: str = DEFAULT_ALLOWED_SIGNERS
    revoked_signers: str | None = None
    allow_self_approval: bool = False
    autonomy_expansion_approvals: int | None = None
    policy: tuple[str, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    review_every: int | None = None  # days (issue 17: re-attestation)
    break_glass_allowed: bool = False
    break_glass_follow_up_days: int = 3
    max_waiver_days: int = 180
    source: str = "defaults"
    fingerprint: str = ""
    packs: tuple[Any, ...] = field(default=(), compare=False)  # resolved from `policy` by with_packs()

    def with_packs(self, snapshot: Any) -> Config:
        """This config with its `policy:` packs read from ``snapshot`` (the same side as the config)."""
        if not self.policy:
            return self
        from agentpolicy.rules.packs import resolve_packs

        return replace(self, packs=resolve_packs(self.policy, snapshot))

    @property
    def pack_rules(self) -> tuple[Any, ...]:
        return tuple(rule for pack in self.packs for rule in pack.rules)

    @property
    def reviews_prefix(self) -> str:
        return self.reviews.strip("/") + "/"


def read_config_file(root: str) -> bytes | None:
    """The bytes of ``root``'s `.agentpolicy.yaml` on disk, for the commands that write.

    A symbolic link is refused, dangling or not: git stores a link as its target's
    name, so every check would read something else than the file the link points to.
    """
    path = os.path.join(root, CONFIG_PATH)
    if not os.path.lexists(path):
        return None
    if os.path.islink(path):
        raise ConfigError(
            f"{CONFIG_PATH} is a symbolic link (to {os.readlink(path)}); the configuration must be "
            "a regular file in the repository",
            f"replace the link with the file itself: rm {CONFIG_PATH} and write the settings there",
            path=CONFIG_PATH,
        )
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ConfigError(
            f"cannot read {CONFIG_PATH}: {exc.strerror}",
            "make it a readable regular file",
            path=CONFIG_PATH,
        ) from None


def load_config(raw: bytes | None, where: str = CONFIG_PATH) -> Config:
    """Parse and validate a config file's bytes; ``None`` means no file, hence defaults."""
    if raw is None:
        return Config()
    loaded = load_yaml(where, raw)
    if loaded.document is None:
        problem = loaded.findings[0]
        raise ConfigError(problem.message, problem.hint, path=where, line=problem.line)
    data = loaded.document.data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            "the configuration must be a mapping of settings",
            "see the configuration reference in README.md",
            path=where,
            line=1,
        )
    _dates_as_text(data)
    document = loaded.document
    _check_text(data, (), where, document)
    _check_schema(data, where, document)
    _check_integers(data, where, document)
    _check_rule_overrides(data, where, document)
    return _from_data(data, where, hashlib.sha256(raw).hexdigest(), document)


def _check_schema(data: dict[str, Any], where: str, document: Any) -> None:
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
            where_key = _dotted(path)
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


def _dotted(path: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _refuse(message: str, hint: str, where: str, document: Any, path: tuple[Any, ...]) -> ConfigError:
    line, _ = document.position(path)
    return ConfigError(message, hint, path=where, line=line)


def _check_text(value: Any, path: tuple[Any, ...], where: str, document: Any) -> None:
    """No control characters or lone surrogates anywhere (a waiver's reason may span lines):
    they pass a `$`-anchored pattern, then break a date parse, a file name or a terminal."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, (*path, key), where, document)
            _check_text(item, (*path, key), where, document)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text(item, (*path, index), where, document)
    elif isinstance(value, str):
        allowed = "\n\t" if path[-1:] == ("reason",) else ""
        bad = next((c for c in value if _unprintable(c) and c not in allowed), None)
        if bad is not None:
            raise _refuse(
                f"`{_dotted(path)}` contains the control character {bad!r}",
                "remove it; configuration values are plain text on one line",
                where,
                document,
                path,
            )


def _unprintable(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cs")


def _check_integers(data: dict[str, Any], where: str, document: Any) -> None:
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
            raise _refuse(
                f"`{_dotted(path)}` must be a whole number, not {value!r}",
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


def _check_rule_overrides(data: dict[str, Any], where: str, document: Any) -> None:
    for rule_id, severity in (data.get("rules") or {}).items():
        if not _RULE_ID.fullmatch(rule_id):
            raise _refuse(
                f"`rules`: {rule_id!r} is not a rule id",
                "rule ids are capital letters then digits, e.g. AP112 (agentpolicy rules lists them)",
                where,
                document,
                ("rules", rule_id),
            )
        if override_weakens(rule_id, severity):
            raise _refuse(
                f"`rules.{rule_id}: {severity}`: {rule_id} is part of the change gate or the signature "
                "checks, so it cannot be switched off or downgraded",
                f"remove {rule_id} from `rules:`; a change the gate refuses needs its signed review "
                "(agentpolicy approve), not a configuration change",
                where,
                document,
                ("rules", rule_id),
            )


def _expiry(text: str, index: int, where: str, document: Any) -> dt.date:
    problem = "it is not of the form YYYY-MM-DD"
    if _DATE.fullmatch(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError as exc:
            problem = str(exc)
    raise _refuse(
        f"`waivers[{index}].expires`: {text!r} is not a date ({problem})",
        "write the last day the waiver applies as YYYY-MM-DD, e.g. 2027-02-28",
        where,
        document,
        ("waivers", index, "expires"),
    )


def _waivers(data: dict[str, Any], where: str, document: Any) -> tuple[Waiver, ...]:
    waivers = []
    for index, item in enumerate(data.get("waivers", [])):
        line, column = document.position(("waivers", index))
        if not _RULE_ID.fullmatch(item["rule"]) or is_locked_rule(item["rule"]):
            raise ConfigError(
                f"waivers[{index}]: {item['rule']!r} is a change-gate, signature or file-integrity "
                "rule and cannot be waived",
                "get the review instead; waivers are for policy rules (AP1xx and your packs' rules)",
                path=where,
                line=line,
            )
        expires = _expiry(item["expires"], index, where, document)
        _within_horizon(item, expires, data.get("max_waiver_days", 180), index, where, line)
        owner = item["owner"]
        waivers.append(
            Waiver(
                item["rule"],
                item["agent"],
                item["reason"],
                f"{owner['name']} <{owner['email']}>",
                expires,
                line,
                column,
            )
        )
    return tuple(waivers)


def _within_horizon(
    item: dict[str, Any], expires: dt.date, days: int, index: int, where: str, line: int
) -> None:
    """A waiver that expires further ahead than `max_waiver_days` is a permanent exception in disguise."""
    today = dt.datetime.now(dt.UTC).date()
    if expires > today + dt.timedelta(days=days):
        raise ConfigError(
            f"waivers[{index}] ({item['rule']} on {item['agent']}, owner {item['owner']['email']}) expires "
            f"on {expires.isoformat()}, more than max_waiver_days ({days}) from today",
            f"set `expires` on or before {(today + dt.timedelta(days=days)).isoformat()}, and renew the "
            "waiver with its owner when it runs out (or raise `max_waiver_days`)",
            path=where,
            line=line,
        )


def _evidence_settings(data: dict[str, Any]) -> dict[str, Any]:
    """Re-attestation, break-glass and the waiver horizon (issue 17), already schema-checked."""
    glass = data.get("break_glass") or {}
    every = data.get("review_every")
    return {
        "review_every": int(every[:-1]) if every else None,
        "break_glass_allowed": bool(glass.get("allowed", False)),
        "break_glass_follow_up_days": glass.get("follow_up_days", 3),
        "max_waiver_days": data.get("max_waiver_days", 180),
    }


def _dates_as_text(data: dict[str, Any]) -> None:
    """`expires: 2026-12-31` unquoted is a YAML date; accept it as the string it was written as."""
    for item in data.get("waivers", []) if isinstance(data.get("waivers"), list) else []:
        if isinstance(item, dict) and isinstance(item.get("expires"), dt.date):
            item["expires"] = item["expires"].isoformat()


def _path(value: str, key: tuple[Any, ...], where: str, document: Any) -> str:
    """One configured path in its canonical spelling (see `repopath.normalise`), or a ConfigError."""
    try:
        return normalise(value)
    except UnsafePath as exc:
        raise _refuse(
            f"`{_dotted(key)}`: {value!r} is not a path inside the repository: {exc.reason}",
            "write a path relative to the repository root, with / between folders and no `..`, "
            "e.g. `reviews` or `.agentpolicy/allowed_signers`",
            where,
            document,
            key,
        ) from None


def _paths(data: dict[str, Any], key: str, where: str, document: Any) -> tuple[str, ...]:
    return tuple(_path(value, (key, index), where, document) for index, value in enumerate(data[key]))


def _from_data(data: dict[str, Any], where: str, fingerprint: str, document: Any) -> Config:
    defaults = Config()
    revoked = data.get("revoked_signers")
    return Config(
        agents=_paths(data, "agents", where, document) if "agents" in data else defaults.agents,
        reviews=_path(data["reviews"], ("reviews",), where, document)
        if "reviews" in data
        else defaults.reviews,
        teams=tuple(data.get("teams", ())),
        rules=dict(data.get("rules", {})),
        require_signatures=data.get("require_signatures", defaults.require_signatures),
        allowed_signers=_path(data["allowed_signers"], ("allowed_signers",), where, document)
        if "allowed_signers" in data
        else defaults.allowed_signers,
        revoked_signers=None if revoked is None else _path(revoked, ("revoked_signers",), where, document),
        allow_self_approval=data.get("allow_self_approval", defaults.allow_self_approval),
        autonomy_expansion_approvals=data.get("autonomy_expansion_approvals"),
        policy=_paths(data, "policy", where, document) if "policy" in data else (),
        waivers=_waivers(data, where, document),
        **_evidence_settings(data),
        source=where,
        fingerprint=fingerprint,
    )
