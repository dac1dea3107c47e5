"""`.agentpolicy.yaml`: the per-repo configuration, validated, with documented defaults.

This module loads it; the document checks are `config_checks`, the paths, waivers and
evidence settings `config_values`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from typing import Any

from agentpolicy.errors import ConfigError
from agentpolicy.model.yamlload import load_yaml
from agentpolicy.rules.config_checks import check_integers, check_rule_overrides, check_schema, check_text
from agentpolicy.rules.config_values import (
    Waiver,
    config_path,
    config_paths,
    dates_as_text,
    evidence_settings,
    waivers,
)

CONFIG_PATH = ".agentpolicy.yaml"
DEFAULT_AGENT_GLOBS = ("agents/**/*.yaml", "agents/**/*.yml")
DEFAULT_REVIEWS = "reviews"
DEFAULT_ALLOWED_SIGNERS = ".agentpolicy/allowed_signers"


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
    dates_as_text(data)
    document = loaded.document
    check_text(data, (), where, document)
    check_schema(data, where, document)
    check_integers(data, where, document)
    check_rule_overrides(data, where, document)
    return _from_data(data, where, hashlib.sha256(raw).hexdigest(), document)


def _from_data(data: dict[str, Any], where: str, fingerprint: str, document: Any) -> Config:
    defaults = Config()
    revoked = data.get("revoked_signers")
    return Config(
        agents=config_paths(data, "agents", where, document) if "agents" in data else defaults.agents,
        reviews=config_path(data["reviews"], ("reviews",), where, document)
        if "reviews" in data
        else defaults.reviews,
        teams=tuple(data.get("teams", ())),
        rules=dict(data.get("rules", {})),
        require_signatures=data.get("require_signatures", defaults.require_signatures),
        allowed_signers=config_path(data["allowed_signers"], ("allowed_signers",), where, document)
        if "allowed_signers" in data
        else defaults.allowed_signers,
        revoked_signers=None
        if revoked is None
        else config_path(revoked, ("revoked_signers",), where, document),
        allow_self_approval=data.get("allow_self_approval", defaults.allow_self_approval),
        autonomy_expansion_approvals=data.get("autonomy_expansion_approvals"),
        policy=config_paths(data, "policy", where, document) if "policy" in data else (),
        waivers=waivers(data, where, document),
        **evidence_settings(data),
        source=where,
        fingerprint=fingerprint,
    )
