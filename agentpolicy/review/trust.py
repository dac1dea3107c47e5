"""The signers in force for one judgement, and the verdict on each review entry's signature.

A `TrustRoot` is the before side's allowed (and revoked) signers under its
configuration; `TipTrust` also asks the target branch's tip, so a key removed or
revoked there stops counting on branches forked earlier. Each verdict names the
rule (AP300-AP308) and the fix; the judge only counts the verdicts. The
cryptography is ``signing.verify_with_ssh_keygen``; the trust root as a subject
that needs approval is ``trustroot``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from agentpolicy.files.snapshot import Snapshot
from agentpolicy.review.allowed_signers import parse_allowed_signers, revoked_key_blobs
from agentpolicy.review.entries import ReviewEntry, signed_time
from agentpolicy.review.judge import Verdict
from agentpolicy.review.signing import NAMESPACE, verify_with_ssh_keygen
from agentpolicy.review.sshkeys import certificate_principals, key_identity
from agentpolicy.review.sshsig import ParsedSignature, parse_signature
from agentpolicy.review.sshwire import SignatureFormatError
from agentpolicy.rules.config import Config

CREATE_SIGNERS_HINT = (
    "create it with one line per reviewer (no SSH key yet? ssh-keygen -t ed25519 -C you@example.com), e.g.: "
    'echo "$(git config user.email) namespaces=\\"agentpolicy-review\\" $(cat ~/.ssh/id_ed25519.pub)" '
    ">> {path}   (or set require_signatures: false in .agentpolicy.yaml for a pilot)"
)


class TrustRoot:
    """Allowed signers and revocations in force for one check, and how to judge an entry."""

    def __init__(
        self,
        config: Config,
        allowed: bytes | None,
        revoked: bytes | None,
        proposed: bytes | None = None,
        label: str = "",
    ) -> None:
        self.config = config
        self.allowed = allowed
        self.revoked = revoked
        self.proposed = proposed
        self.label = label
        self.signers = parse_allowed_signers(allowed.decode("utf-8", "replace")) if allowed else []
        self.revoked_blobs = revoked_key_blobs(revoked) if revoked else set()

    def verdict(self, entry: ReviewEntry, at: dt.datetime | None = None) -> Verdict:
        signature = entry.signature
        if signature is None:
            if not self.config.require_signatures:
                return Verdict(
                    True,
                    "AP301",
                    "unsigned review entry accepted (require_signatures is false)",
                    "sign entries before production: agentpolicy approve --key ...",
                )
            return Verdict(
                False,
                "AP301",
                f"review entry by {entry.reviewer} is not signed",
                "signatures are required: re-approve with a signing key "
                "(agentpolicy approve AGENT --key ~/.ssh/id_ed25519)",
            )
        if self.allowed is None:
            if not self.config.require_signatures:
                return Verdict(
                    True,
                    "AP300",
                    "signature not verified: no allowed-signers file",
                    CREATE_SIGNERS_HINT.format(path=self.config.allowed_signers),
                )
            return Verdict(
                False,
                "AP300",
                f"no allowed-signers file at {self.config.allowed_signers}: signatures cannot be verified",
                CREATE_SIGNERS_HINT.format(path=self.config.allowed_signers),
            )
        try:
            parsed = parse_signature(signature)
        except SignatureFormatError as exc:
            return Verdict(
                False,
                "AP302",
                f"signature of review entry is garbled: {exc}",
                "the entry was damaged; ask the reviewer for a new entry",
            )
        # Never judge a key earlier than the entry says it was signed: the signed time cannot be
        # forged, while a commit's date (the audit's clock) can be set to before a key expired.
        signed = signed_time(entry)
        when = at or dt.datetime.now(dt.UTC)
        when = max(when, signed) if signed is not None else when
        problem = self._diagnose(entry, parsed, when)
        if problem is not None:
            return problem
        if not verify_with_ssh_keygen(
            entry.payload(), signature, entry.reviewer_email, self.allowed, self.revoked, when
        ):
            return Verdict(
                False,
                "AP308",
                f"signature by {entry.reviewer} does not match the entry's content "
                "(a field was edited after signing?)",
                "entries are append-only: ask the reviewer for a new signed entry",
            )
        return Verdict(True, key=signing_key_identity(parsed), principals=self.principals_of(parsed))

    def principals_of(self, parsed: ParsedSignature) -> tuple[str, ...]:
        """Every principal pattern this root allows the signing key to sign as (separation of duties)."""
        principals = [
            p for signer in self.signers if signer.key_blob == parsed.key_blob for p in signer.principals
        ]
        if parsed.is_certificate:
            principals.extend(certificate_principals(parsed.key_blob) or ())
        return tuple(dict.fromkeys(principals))

    def _diagnose(self, entry: ReviewEntry, parsed: ParsedSignature, now: dt.datetime) -> Verdict | None:
        if parsed.namespace != NAMESPACE:
            return Verdict(
                False,
                "AP303",
                f"signature was made for namespace {parsed.namespace!r}, not {NAMESPACE!r} "
                "(a git commit or e-mail signature cannot approve an agent)",
                "sign review entries with agentpolicy approve",
            )
        if self.revoked_blobs and parsed.key_blob in self.revoked_blobs:
            return Verdict(
                False,
                "AP304",
                f"signing key {parsed.fingerprint} has been revoked",
                "the reviewer must sign with a new key that is in allowed signers",
            )
        if parsed.is_certificate:
            return None  # certificate-authority lines are ssh-keygen's to judge
        lines = [signer for signer in self.signers if signer.key_blob == parsed.key_blob]
        if not lines:
            detail = ""
            if self.proposed and parsed.key_blob in {
                signer.key_blob for signer in parse_allowed_signers(self.proposed.decode("utf-8", "replace"))
            }:
                detail = (
                    "; this same change adds that key to allowed signers, and a new signer "
                    "can approve only after that change has landed"
                )
            return Verdict(
                False,
                "AP305",
                f"signing key {parsed.fingerprint} is not in the allowed signers "
                f"({self.config.allowed_signers}{self.label}){detail}",
                "ask a listed reviewer to approve, or land the new signer first",
            )
        lines = [signer for signer in lines if signer.matches_principal(entry.reviewer_email)]
        if not lines:
            return Verdict(
                False,
                "AP306",
                f"signing key {parsed.fingerprint} is not allowed for "
                f"{entry.reviewer_email}, the reviewer named in the entry",
                "an entry must be signed by the reviewer it names",
            )
        lines = [signer for signer in lines if signer.allows_namespace(NAMESPACE)]
        if not lines:
            return Verdict(
                False,
                "AP303",
                f"allowed signers do not allow {entry.reviewer_email} to sign in namespace {NAMESPACE!r}",
                f'add namespaces="{NAMESPACE}" to that signer\'s line',
            )
        windows = [signer.window_problem(now) for signer in lines]
        if all(windows):
            return Verdict(
                False,
                "AP307",
                f"signing key {parsed.fingerprint} of {entry.reviewer_email} {windows[0]}",
                "the key is outside its valid-after/valid-before window; "
                "ask for an entry signed with a current key",
            )
        return None


def signing_key_identity(parsed: ParsedSignature) -> bytes:
    """One key, one count: a certificate counts as the key it certifies."""
    return key_identity(parsed.key_blob)


class TipTrust:
    """A key counts only if it is also still allowed, and not revoked, at the target branch's tip.

    Why: the before side of a pull request is its merge base; a branch forked
    before a key was revoked or removed must not keep using that key.
    """

    def __init__(self, base: TrustRoot, tip: TrustRoot | None) -> None:
        self.base, self.tip = base, tip

    def verdict(self, entry: ReviewEntry, at: dt.datetime | None = None) -> Verdict:
        verdict = self.base.verdict(entry, at)
        if not verdict.ok or self.tip is None:
            return verdict
        later = self.tip.verdict(entry, at)  # unsigned entries too: the tip may require signatures
        if not later.ok:
            return Verdict(
                False,
                later.rule or "AP305",
                f"{later.message} (at the target branch's tip{self.tip.label}; a key must still be "
                "allowed where the change lands, not only where the branch was forked)",
                later.hint,
            )
        merged = tuple(dict.fromkeys((*verdict.principals, *later.principals)))
        return Verdict(True, verdict.rule, verdict.message, verdict.hint, verdict.key, merged)


def tip_trust_root(tip_config: Config, tip: Snapshot) -> TrustRoot:
    """The signers in force at the target branch's tip, under that tip's own configuration."""
    revoked = tip.read(tip_config.revoked_signers) if tip_config.revoked_signers else None
    allowed = with_signers(tip.read(tip_config.allowed_signers))
    return TrustRoot(tip_config, allowed, revoked, label=f" in {tip.label}")


def with_signers(raw: bytes | None) -> bytes | None:
    """An allowed-signers file that lists anyone; one of only comments and blank lines (what
    `init` writes without a key) is as good as none: the repository is still bootstrapping."""
    if raw is None:
        return None
    # Read lines as ssh-keygen does: split at "\n" only, a line ends at a NUL, and only spaces
    # and tabs lead a comment. Anything else may be a signer to ssh-keygen, so it counts as one:
    # a line Python would call blank (a form feed, an NBSP) must not reopen the bootstrap.
    for line in raw.removeprefix(b"\xef\xbb\xbf").split(b"\n"):
        text = line.split(b"\0", 1)[0].lstrip(b" \t")
        if text not in (b"", b"\r") and not text.startswith(b"#"):
            return raw
    return None


def load_trust_root(config: Config, before: Snapshot, after: Snapshot, notes: list[str]) -> TrustRoot:
    """The trust root comes from the before side; a new repo bootstraps from the after side."""
    allowed = with_signers(before.read(config.allowed_signers)) if before.exists else None
    proposed = after.read(config.allowed_signers)
    label = f" in {before.label}"
    if allowed is None and proposed is not None:
        allowed, label = proposed, f" in {after.label}"
        where = f"in {before.label}" if before.exists else "before this change (no commit yet)"
        notes.append(
            f"{config.allowed_signers} lists no signer {where}: this change establishes the trust "
            "root, so its own allowed signers are trusted; review that file with care"
        )
    revoked = None
    if config.revoked_signers:
        revoked = before.read(config.revoked_signers) if before.exists else after.read(config.revoked_signers)
    return TrustRoot(config, allowed, revoked, proposed, label)


def make_verifier(
    config: Config,
    before: Snapshot,
    after: Snapshot,
    notes: list[str],
    tip: Snapshot | None = None,
    tip_config: Config | None = None,
) -> Callable[[ReviewEntry], Verdict]:
    """Verdicts by the before side's trust root (and, for a range, the target tip's), cached per entry.

    The tip is asked whenever it has signers, even when the merge base had none: a branch
    forked before signatures were adopted must not bring its own trust root."""
    base = load_trust_root(config, before, after, notes)
    tip_root = tip_trust_root(tip_config or config, tip) if tip is not None else None
    base_has_signers = before.exists and with_signers(before.read(config.allowed_signers)) is not None
    if tip_root is not None and tip_root.allowed is None and not base_has_signers:
        tip_root = None  # nobody has signers yet, on either side: still bootstrapping
    root = TipTrust(base, tip_root)
    cache: dict[str, Verdict] = {}

    def verify(entry: ReviewEntry) -> Verdict:
        if entry.path not in cache:
            cache[entry.path] = root.verdict(entry)
        return cache[entry.path]

    return verify
