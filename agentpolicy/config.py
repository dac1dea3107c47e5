"""`.agentpolicy.yaml`: the per-repo configuration, validated, with documented defaults."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from agentpolicy.errors import ConfigError
from agentpolicy.pack import validator
from agentpolicy.yamlload import load_yaml

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
    source: str = "defaults"
    fingerprint: str = ""

    @property
    def reviews_prefix(self) -> str:
        return self.reviews.strip("/") + "/"

    def trust_paths(self) -> tuple[str, ...]:
        """Files whose change alters who may approve: governed like an agent."""
        paths = [CONFIG_PATH, self.allowed_signers]
        if self.revoked_signers:
            paths.append(self.revoked_signers)
        return tuple(paths)


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
    errors = sorted(validator("config").iter_errors(data), key=lambda e: list(map(str, e.path)))
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
        raise ConfigError(
            f"invalid value for `{key or 'config'}`: {error.message}",
            f"expected: {error.schema.get('description', error.schema)}",
            path=where,
            line=line,
        )
    return _from_data(data, where, hashlib.sha256(raw).hexdigest())


def _from_data(data: dict[str, Any], where: str, fingerprint: str) -> Config:
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
        source=where,
        fingerprint=fingerprint,
    )
