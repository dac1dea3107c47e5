"""in-toto Statement v1 documents: one per counting review entry, one per unapproved change.

Subject: the agent file, by the git blob id of the approved file and the sha256 of
its governed content (the digest review entries bind). The predicate types are ours
and documented in docs/evidence.md.
"""

from __future__ import annotations

from typing import Any

from agentpolicy.results.audit import AuditEvent, ReviewerRecord

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
REVIEW_PREDICATE = "https://agentpolicy.dev/attestation/review/v1"
UNAPPROVED_PREDICATE = "https://agentpolicy.dev/attestation/unapproved-change/v1"


def subject(event: AuditEvent, blob: str | None) -> list[dict[str, Any]]:
    digest: dict[str, str] = {}
    if blob:
        digest["gitBlob"] = blob
    if event.digest.startswith("sha256:"):
        digest["sha256"] = event.digest.removeprefix("sha256:")
    if not digest:  # an unreadable file or a duplicate: only its commit identifies it
        digest["gitCommit"] = event.commit
    described: dict[str, Any] = {"name": event.path, "digest": digest}
    if blob:
        described["annotations"] = {"bundleFile": f"agents/{blob}.yaml"}
    return [described]


def _event(event: AuditEvent) -> dict[str, Any]:
    return {
        "kind": event.event,
        "kinds": event.kinds,
        "commit": event.commit,
        "date": event.date,
        "author": event.author,
        "details": event.details,
        "approvalsRequired": event.approvals_required,
        "approved": event.approved,
        "approvedVia": event.approved_via,
        "approvedLaterIn": event.approved_later_in,
        "followUpDue": event.follow_up_due,
        "followedUpIn": event.followed_up_in,
        "sideBranch": event.side_branch,
    }


def review_statement(
    event: AuditEvent,
    reviewer: ReviewerRecord,
    blob: str | None,
    entry: dict[str, Any],
    signers: list[dict[str, Any]],
) -> dict[str, Any]:
    """``entry``: the review entry's fields and bundle paths; ``signers``: the files it verified against."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": subject(event, blob),
        "predicateType": REVIEW_PREDICATE,
        "predicate": {
            "agent": event.agent,
            "version": event.version,
            "digest": event.digest,
            "decision": reviewer.decision,
            "reviewer": {"name": reviewer.name, "email": reviewer.email},
            "timestamp": reviewer.timestamp,
            "addedInCommit": reviewer.commit or None,
            "entryPath": reviewer.path,
            "signatureStatus": reviewer.signature,
            "verifiedAt": reviewer.verified_at or None,
            **entry,
            "signers": signers,
            "event": _event(event),
        },
    }


def unapproved_statement(event: AuditEvent, blob: str | None) -> dict[str, Any]:
    return {
        "_type": STATEMENT_TYPE,
        "subject": subject(event, blob),
        "predicateType": UNAPPROVED_PREDICATE,
        "predicate": {
            "agent": event.agent,
            "version": event.version,
            "digest": event.digest or None,
            "missing": f"{event.approvals_required} approving review "
            f"{'entry' if event.approvals_required == 1 else 'entries'} for this content; "
            "the audit found none that count",
            "event": _event(event),
        },
    }
