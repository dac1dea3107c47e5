"""The trust root as a governed subject: who may approve, and by which rules.

A change to `.agentpolicy.yaml` or to the allowed/revoked signers files needs
a signed approval from a signer of the *before* side, like an agent change; it
never applies to the change that makes it (the gate always reads the before
side). A repository with no allowed signers yet is bootstrapping: its first
signers file is trusted, and the output says so.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from typing import Any

from agentpolicy.config import CONFIG_PATH, Config, load_config
from agentpolicy.digest import digest_of
from agentpolicy.judge import Subject
from agentpolicy.snapshot import Snapshot

TRUST_ROOT = "@trust-root"
RULE_TRUST_ROOT = "AP220"


def _file_digest(raw: bytes | None) -> str | None:
    return None if raw is None else hashlib.sha256(raw).hexdigest()


def trust_content(snapshot: Snapshot) -> dict[str, Any]:
    """The parsed configuration (so comments do not count) and the signer files' bytes."""
    config = load_config(snapshot.read(CONFIG_PATH))
    settings = {
        key: value for key, value in asdict(config).items() if key not in ("source", "fingerprint", "packs")
    }
    for waiver in settings["waivers"]:
        waiver["expires"] = str(waiver["expires"])
        waiver.pop("line", None)
        waiver.pop("column", None)
    packs = {
        ref: {
            path: _file_digest(snapshot.read(path)) for path in sorted(snapshot.files_under(ref.strip("/")))
        }
        for ref in config.policy
    }
    return {
        "config": settings,
        "packs": packs,
        "allowed_signers": _file_digest(snapshot.read(config.allowed_signers)),
        "revoked_signers": _file_digest(snapshot.read(config.revoked_signers))
        if config.revoked_signers
        else None,
    }


def trust_digest(snapshot: Snapshot) -> str:
    return digest_of(trust_content(snapshot))


def trust_version(digest: str) -> str:
    """Review entries need a version; for the trust root it is the digest's first 12 digits."""
    return digest.removeprefix("sha256:")[:12]


def trust_subject(before: Snapshot, after: Snapshot, config: Config) -> Subject | None:
    if not before.exists or before.read(config.allowed_signers) is None:
        return None  # bootstrapping: nobody can approve yet (the signing module notes it)
    old, new = trust_content(before), trust_content(after)
    if old == new:
        return None
    changed = [
        label
        for key, label in (
            ("config", CONFIG_PATH),
            ("packs", "rule packs"),
            ("allowed_signers", "allowed signers"),
            ("revoked_signers", "revoked signers"),
        )
        if old[key] != new[key]
    ]
    digest = digest_of(new)
    after_config = load_config(after.read(CONFIG_PATH))
    paths = {CONFIG_PATH, config.allowed_signers, after_config.allowed_signers}
    paths |= {path for path in (config.revoked_signers, after_config.revoked_signers) if path}
    return Subject(
        name=TRUST_ROOT,
        digest=digest,
        version=trust_version(digest),
        headline=f"trust root changed ({', '.join(changed)})",
        decisions={"approve"},
        required=1,
        paths=paths,
        where=(CONFIG_PATH if old["config"] != new["config"] else config.allowed_signers, 1, 1),
        rule=RULE_TRUST_ROOT,
        approve_command="agentpolicy approve --trust-root (by a signer already in allowed signers)",
    )
