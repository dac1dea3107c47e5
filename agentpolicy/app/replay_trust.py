"""The signers the audit's replay judges with: one trust root per state, verdicts kept for the walk.

A long history asks about the same signers files and the same entries many times;
building a `TrustRoot` once per distinct state, a `TipTrust` once per pair and a
verdict once per (root, entry, commit that added it) keeps the walk linear. The
time a signature is judged at is the judge's clock when the entry's commit was
applied (`added_at`), never a later commit's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from agentpolicy.app.replay_entries import Held
from agentpolicy.errors import AgentPolicyError
from agentpolicy.files.snapshot import Snapshot
from agentpolicy.git.history import FileDelta
from agentpolicy.review.entries import ReviewEntry
from agentpolicy.review.judge import Subject, Verdict, Verifier
from agentpolicy.review.trust import TipTrust, TrustRoot, with_signers
from agentpolicy.review.trustroot import (
    pack_files,
    trust_change,
    trust_content,
    unreadable_trust_subject,
    with_reviews_move_blocker,
)
from agentpolicy.rules.config import CONFIG_PATH, Config, load_config


class ReplayTrust:
    """Trust roots, tip pairs and signature verdicts, cached for one walk."""

    def __init__(self, blob: Callable[[str], bytes]) -> None:
        self.blob = blob
        self.clock: dt.datetime | None = None  # the judge's clock: the latest committer date so far
        self.added_at: dict[str, dt.datetime] = {}  # commit -> the judge's clock when it was applied
        self._roots: dict[tuple[Any, ...], TrustRoot] = {}
        self._tips: dict[tuple[int, int], TipTrust] = {}
        self._bootstrapped: dict[int, bool] = {}  # root id -> it trusts the commit's own signers
        self._verdicts: dict[tuple[int, str, str], Verdict] = {}
        self._last_trust: dict[str, Any] = {}  # the last trust root that could be read

    def root_for(
        self, config: Config, files: dict[str, str], proposed: dict[str, str] | None = None
    ) -> TrustRoot:
        """The trust root of a state; with no signers there yet, the proposed side's (bootstrap)."""
        allowed = files.get(config.allowed_signers)
        if allowed is not None and with_signers(self.blob(allowed)) is None:
            allowed = None  # only comments: still bootstrapping, as `check` sees it
        bootstrapped = allowed is None and proposed is not None
        if bootstrapped:
            assert proposed is not None
            allowed = proposed.get(config.allowed_signers)
        revoked = files.get(config.revoked_signers) if config.revoked_signers else None
        key = (
            config.fingerprint,
            config.require_signatures,
            config.allowed_signers,
            allowed,
            revoked,
            bootstrapped,
        )
        if key not in self._roots:
            root = TrustRoot(
                config,
                self.blob(allowed) if allowed else None,
                self.blob(revoked) if revoked else None,
            )
            self._bootstrapped[id(root)] = bootstrapped
            self._roots[key] = root
        return self._roots[key]

    def bootstrapped(self, root: TrustRoot) -> bool:
        """Whether ``root`` trusts the signers its own commit brought (nobody had any before)."""
        return self._bootstrapped.get(id(root), False)

    def tip_trust(self, base: TrustRoot, tip: TrustRoot) -> TipTrust:
        """One TipTrust per pair, kept for the walk: verdicts are cached by the root's identity."""
        key = (id(base), id(tip))  # both live in self._roots for the whole walk, so ids are stable
        if key not in self._tips:
            self._tips[key] = TipTrust(base, tip)
        return self._tips[key]

    def judged_at(self, added_in: str) -> dt.datetime | None:
        """The time an entry's signature is judged at: when its commit was applied (else now)."""
        return self.added_at.get(added_in, self.clock)

    def verifier(self, root: TrustRoot | TipTrust, entries: Held) -> Verifier:
        """Verdicts by ``root``, each entry judged at the time its commit was applied."""

        def verify(entry: ReviewEntry) -> Verdict:
            added_in = entries.get(entry.path, (entry, ""))[1]
            key = (id(root), entry.path, added_in)
            if key not in self._verdicts:
                self._verdicts[key] = root.verdict(entry, at=self.judged_at(added_in))
            return self._verdicts[key]

        return verify

    def trust_subject(self, before: Snapshot, after: Snapshot, before_config: Config) -> Subject | None:
        """Compared with the last trust root that could be read, so an unreadable step hides nothing."""
        try:
            old = trust_content(before)
        except AgentPolicyError:
            old = self._last_trust
        try:
            after_config = load_config(after.read(CONFIG_PATH))
            new = trust_content(after)
        except AgentPolicyError as exc:
            return unreadable_trust_subject(exc.message)
        self._last_trust = new
        packs = pack_files(before, before_config) | pack_files(after, after_config)
        subject = trust_change(old, new, before_config, after_config, packs)
        return with_reviews_move_blocker(subject, before, before_config, after_config)


def signer_files(config: Config, files: dict[str, str]) -> dict[str, str]:
    """The blob ids of a configuration's signer files in a state (all a root needs)."""
    paths = [config.allowed_signers, *([config.revoked_signers] if config.revoked_signers else [])]
    return {path: files[path] for path in paths if path in files}


def signers_touched(deltas: list[FileDelta], config: Config) -> bool:
    """Whether a commit changed the allowed or revoked signers file: a trust-root event."""
    watched = {config.allowed_signers, config.revoked_signers}
    return any(path in watched for delta in deltas for path in (delta.old_path, delta.new_path) if path)
