"""`.agentpolicy.yaml`: the per-repo configuration, validated, with documented defaults."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

from agentpolicy.errors import ConfigError
from agentpolicy.pack import schema_errors
from agentpolicy.yamlload import load_yaml

CONFIG_PATH = ".agentpolicy.yaml"
DEFAULT_AGENT_GLOBS = ("agents/**/*.yaml", "agents/**/*.yml")
DEFAULT_REVIEWS = "reviews"
DEFAULT_ALLOWED_SIGNERS = ".agentpolicy/allowed_signers"


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
    source: str = "defaults"
    fingerprint: str = ""
    packs: tuple[Any, ...] = field(default=(), compare=False)  # resolved from `policy` by with_packs()

    def with_packs(self, snapshot: Any) -> Config:
        """This config with its `policy:` packs read from ``snapshot`` (the same side as the config)."""
        if not self.policy:
            return self
        from agentpolicy.packs import resolve_packs

        return replace(self, packs=resolve_packs(self.policy, snapshot))

    @property
    def pack_rules(self) -> tuple[Any, ...]:
        return tuple(rule for pack in self.packs for rule in pack.rules)

    @property
    def reviews_prefix(self) -> str:
        return self.reviews.strip("/") + "/"


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
    errors = schema_errors("config", data)
    if errors:
        error = errors[0]
        path = tuple(error.absolute_path)
        key = ".".join(str(part) for part in path)
        if error.validator == "additionalProperties":
            unknown = sorted(set(data) - set(error.schema["properties"]))[0]
            line, _ = loaded.document.position((unknown,))
            known = ", ".join(sorted(error.schema["properties"]))
            raise ConfigError(f"unknown key `{unknown}`", f"known keys: {known}", path=where, line=line)
        line, _ = loaded.document.position(path)
        if error.validator == "required":
            missing = next(k for k in error.validator_value if k not in error.instance)
            where_key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
            raise ConfigError(
                f"`{where_key}` is missing the required key `{missing}`",
                f"add `{missing}:` ({_describe_key(missing)})",
                path=where,
                line=line,
            )
        raise ConfigError(
            f"invalid value for `{key or 'config'}`: {error.message}",
            f"expected: {error.schema.get('description', error.schema)}",
            path=where,
            line=line,
        )
    return _from_data(data, where, hashlib.sha256(raw).hexdigest(), loaded.document)


def _describe_key(key: str) -> str:
    return {
        "expires": "the last day the waiver applies, YYYY-MM-DD",
        "reason": "why the exception is acceptable",
        "owner": "the one person accountable for it: {name, email}",
    }.get(key, "see the configuration reference in README.md")


def _waivers(data: dict[str, Any], document: Any) -> tuple[Waiver, ...]:
    waivers = []
    for index, item in enumerate(data.get("waivers", [])):
        line, column = document.position(("waivers", index))
        if item["rule"].startswith(("AP2", "AP3")):
            raise ConfigError(
                f"waivers[{index}]: {item['rule']} is a change-gate or signature rule and cannot be waived",
                "get the review instead; waivers are for policy rules (AP1xx and your packs' rules)",
                path=CONFIG_PATH,
                line=line,
            )
        owner = item["owner"]
        waivers.append(
            Waiver(
                item["rule"],
                item["agent"],
                item["reason"],
                f"{owner['name']} <{owner['email']}>",
                dt.date.fromisoformat(item["expires"]),
                line,
                column,
            )
        )
    return tuple(waivers)


def _dates_as_text(data: dict[str, Any]) -> None:
    """`expires: 2026-12-31` unquoted is a YAML date; accept it as the string it was written as."""
    for item in data.get("waivers", []) if isinstance(data.get("waivers"), list) else []:
        if isinstance(item, dict) and isinstance(item.get("expires"), dt.date):
            item["expires"] = item["expires"].isoformat()


def _from_data(data: dict[str, Any], where: str, fingerprint: str, document: Any) -> Config:
    defaults = Config()
    return Config(
        agents=tuple(data.get("agents", defaults.agents)),
        reviews=data.get("reviews", defaults.reviews),
        teams=tuple(data.get("teams", ())),
        rules=dict(data.get("rules", {})),
        require_signatures=data.get("require_signatures", defaults.require_signatures),
        allowed_signers=data.get("allowed_signers", defaults.allowed_signers),
        revoked_signers=data.get("revoked_signers"),
        allow_self_approval=data.get("allow_self_approval", defaults.allow_self_approval),
        autonomy_expansion_approvals=data.get("autonomy_expansion_approvals"),
        policy=tuple(data.get("policy", ())),
        waivers=_waivers(data, document),
        source=where,
        fingerprint=fingerprint,
    )
