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

from agentpolicy.files.snapshot import Snapshot
from agentpolicy.model.digest import digest_of
from agentpolicy.model.document import ERROR, Finding
from agentpolicy.review.judge import Subject
from agentpolicy.rules.config import CONFIG_PATH, Config, load_config

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


def bootstrapping(before: Snapshot, config: Config, tip: Snapshot | None, tip_config: Config | None) -> bool:
    """No signers yet anywhere that judges: on the before side nor at the target's tip."""
    from agentpolicy.review.trust import with_signers

    if before.exists and with_signers(before.read(config.allowed_signers)) is not None:
        return False
    return tip is None or with_signers(tip.read((tip_config or config).allowed_signers)) is None


def trust_subject(
    before: Snapshot,
    after: Snapshot,
    config: Config,
    tip: Snapshot | None = None,
    tip_config: Config | None = None,
) -> Subject | None:
    if bootstrapping(before, config, tip, tip_config):
        return None  # nobody can approve yet (the signing module notes it)
    after_config = load_config(after.read(CONFIG_PATH))
    packs = pack_files(before, config) | pack_files(after, after_config)
    subject = trust_change(trust_content(before), trust_content(after), config, after_config, packs)
    return with_reviews_move_blocker(subject, before, config, after_config)


def with_reviews_move_blocker(
    subject: Subject | None, before: Snapshot, config: Config, after_config: Config
) -> Subject | None:
    """Entries are append-only and cannot follow a new `reviews:` folder, and earlier approvals
    are only known to be consumed where they are: so the folder cannot move while it holds any."""
    held = [path for path in before.files_under(config.reviews) if path.endswith((".yaml", ".yml"))]
    if subject is None or config.reviews == after_config.reviews or not held:
        return subject
    subject.blockers.append(
        Finding(
            CONFIG_PATH,
            1,
            1,
            RULE_TRUST_ROOT,
            ERROR,
            f"`reviews:` moves from {config.reviews}/ to {after_config.reviews}/, but "
            f"{config.reviews}/ holds review entries: they are append-only evidence and cannot move",
            f"keep `reviews: {config.reviews}`",
        )
    )
    return subject


def pack_files(snapshot: Snapshot, config: Config) -> set[str]:
    """The files of the rule packs a configuration names (their authors authored a trust-root change)."""
    return {path for ref in config.policy for path in snapshot.files_under(ref.strip("/"))}


def trust_change(
    old: dict[str, Any], new: dict[str, Any], config: Config, after_config: Config, packs: set[str]
) -> Subject | None:
    """The subject a trust-root change asks an existing signer to approve, or None if nothing changed."""
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
        if old.get(key) != new.get(key)
    ]
    digest = digest_of(new)
    paths = {CONFIG_PATH, config.allowed_signers, after_config.allowed_signers, *packs}
    paths |= {path for path in (config.revoked_signers, after_config.revoked_signers) if path}
    return Subject(
        name=TRUST_ROOT,
        digest=digest,
        version=trust_version(digest),
        headline=f"trust root changed ({', '.join(changed)})",
        decisions={"approve"},
        required=1,
        paths=paths,
        where=(CONFIG_PATH if old.get("config") != new.get("config") else config.allowed_signers, 1, 1),
        rule=RULE_TRUST_ROOT,
        approve_command="agentpolicy approve --trust-root (by a signer already in allowed signers)",
    )


def unreadable_trust_subject(problem: str) -> Subject:
    """A trust root whose configuration cannot be read: no approval can make it count."""
    return Subject(
        name=TRUST_ROOT,
        digest="",
        version="unreadable",
        headline=f"trust root changed ({CONFIG_PATH} cannot be read: {problem})",
        decisions=set(),
        required=1,
        paths={CONFIG_PATH},
        where=(CONFIG_PATH, 1, 1),
        rule=RULE_TRUST_ROOT,
        approve_command="fix .agentpolicy.yaml, then agentpolicy approve --trust-root",
        blockers=[
            Finding(
                CONFIG_PATH,
                1,
                1,
                RULE_TRUST_ROOT,
                ERROR,
                f"{CONFIG_PATH} cannot be read ({problem}): the rules in force are unknown",
                "fix the configuration, then have the fix approved: agentpolicy approve --trust-root",
            )
        ],
    )
