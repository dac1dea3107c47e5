"""`evidence`: a self-contained bundle that an auditor verifies without agentpolicy.

Everything comes from one audit (the judge's verdicts, the entries that counted
and the trust roots they were verified against). Bundle file names are digests
and counters we generate, never names from the repository; the bytes depend only
on the range, except the manifest's generation time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

from agentpolicy import __version__
from agentpolicy.app.audit import AuditRequest, AuditResult, run_audit
from agentpolicy.errors import AgentPolicyError, WriteError
from agentpolicy.evidence.controls import render_controls
from agentpolicy.evidence.statements import (
    REVIEW_PREDICATE,
    UNAPPROVED_PREDICATE,
    review_statement,
    unapproved_statement,
)
from agentpolicy.evidence.verify_script import SignatureCheck, render_verify_script
from agentpolicy.results.audit import AuditEvent, ReviewerRecord
from agentpolicy.review.entries import load_review
from agentpolicy.review.signing import NAMESPACE


@dataclass
class EvidenceRequest:
    output: str
    agents: tuple[str, ...] = ()
    rev: str = "HEAD"
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    start: str = "."
    now: dt.datetime | None = None


@dataclass
class _Bundle:
    """The files of a bundle in memory: bundle path -> bytes."""

    files: dict[str, bytes] = field(default_factory=dict)
    checks: dict[tuple[str, str, str], SignatureCheck] = field(default_factory=dict)

    def add(self, folder: str, data: bytes, suffix: str) -> str:
        path = f"{folder}/{_short(data)}{suffix}"
        self.files[path] = data
        return path


def _short(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:20]


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")


def write_evidence(request: EvidenceRequest) -> dict[str, Any]:
    """Write the bundle into a new folder ``request.output``; return its manifest."""
    from agentpolicy.app.status import run_status
    from agentpolicy.git.repo import Repo
    from agentpolicy.report.audit_report import render_audit

    target = os.path.abspath(request.output)
    if os.path.lexists(target):
        raise WriteError(
            f"{request.output} already exists: an evidence bundle is never written over anything",
            "pass a new folder to --output, e.g. --output evidence-$(date +%Y%m%d)",
        )
    repo = Repo(request.start)
    if not repo.has_head:
        raise AgentPolicyError("no commits yet: there is no history to give evidence of", "commit first")
    head = (
        repo.resolve(request.rev.partition("..")[2] or "HEAD")
        if ".." in request.rev
        else repo.resolve(request.rev)
    )
    result = run_audit(
        AuditRequest(request.agents, request.rev, request.since, request.until, start=request.start)
    )
    head_commit = repo.repo[head]
    as_of = dt.datetime.fromtimestamp(head_commit.commit_time, dt.UTC)
    board = run_status(request.start, head, None if ".." in request.rev else result, as_of=as_of)
    if request.agents:
        board = [status for status in board if status.name in request.agents]
    bundle = _Bundle()
    events = list(result.events)  # a list: evidence holds every event
    links, counts = _statements(repo, head, events, bundle)
    agent_files = {}
    for status in board:
        blob = _blob_id(repo, head, status.path)
        if blob is not None:
            agent_files[status.name] = f"agents/{blob}.yaml"
            bundle.files[agent_files[status.name]] = _blob(repo, blob)
    stamp = f"{as_of:%Y-%m-%dT%H:%M:%SZ} (the head commit's date)"
    bundle.files["controls.md"] = render_controls(board, events, links, agent_files, stamp).encode()
    bundle.files["report.html"] = render_audit(result, "html", board).encode("utf-8", "backslashreplace")
    bundle.files["report.csv"] = render_audit(result, "csv").encode("utf-8", "backslashreplace")
    checks = sorted(bundle.checks.values(), key=lambda c: (c.entry, c.signers, c.revoked))
    bundle.files["verify.sh"] = render_verify_script(checks).encode("ascii")
    manifest = _manifest(request, head, result, counts, bundle, as_of)
    bundle.files["manifest.json"] = _json(manifest)
    _write_folder(target, bundle.files)
    return manifest


def _statements(
    repo: Any, head: str, events: list[AuditEvent], bundle: _Bundle
) -> tuple[dict[int, str], dict[str, int]]:
    links: dict[int, str] = {}
    counts = {"review_statements": 0, "unapproved_statements": 0, "entries": 0}
    number = 0
    for index, event in enumerate(events):
        blob = _event_blob(repo, event)
        if blob is not None:
            bundle.files[f"agents/{blob}.yaml"] = _blob(repo, blob)
        written = []
        if not event.approved:
            number += 1
            path = f"statements/{number:05d}-unapproved.intoto.json"
            bundle.files[path] = _json(unapproved_statement(event, blob))
            counts["unapproved_statements"] += 1
            written.append(path)
        for reviewer in event.reviewers:
            number += 1
            entry, signers = _entry_files(repo, head, reviewer, bundle)
            path = f"statements/{number:05d}-review.intoto.json"
            bundle.files[path] = _json(review_statement(event, reviewer, blob, entry, signers))
            counts["review_statements"] += 1
            written.append(path)
        if written:
            links[index] = ", ".join(f"[{p.removeprefix('statements/')}]({p})" for p in written)
    counts["entries"] = sum(
        1 for path in bundle.files if path.startswith("entries/") and path.endswith(".yaml")
    )
    return links, counts


def _entry_files(
    repo: Any, head: str, reviewer: ReviewerRecord, bundle: _Bundle
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The entry as committed, exactly the bytes it signs, its signature, and the signers in force."""
    raw = None
    for commit in (reviewer.commit, head):
        blob = _blob_id(repo, commit, reviewer.path) if commit else None
        if blob is not None:
            raw = _blob(repo, blob)
            break
    if raw is None:
        return {"entryFile": None}, []
    base = f"entries/{_short(raw)}"
    bundle.files[f"{base}.yaml"] = raw
    entry, _problems = load_review(reviewer.path, raw)
    signature = entry.signature if entry is not None else None
    described: dict[str, Any] = {"entryFile": f"{base}.yaml", "payloadFile": None, "signatureFile": None}
    if entry is None:
        return described, []
    bundle.files[f"{base}.payload"] = entry.payload()
    described["payloadFile"] = f"{base}.payload"
    described["signature"] = signature
    at = reviewer.verified_at.replace("-", "").replace(":", "").replace("T", "")
    if signature is None:
        bundle.checks[(base, "", "")] = SignatureCheck(base, "", "", "", signed=False)
        return described, []
    bundle.files[f"{base}.sig"] = signature.encode("ascii", "replace").rstrip(b"\n") + b"\n"
    bundle.files[f"{base}.principal"] = entry.reviewer_email.encode("utf-8", "surrogateescape")
    described["signatureFile"] = f"{base}.sig"
    described["namespace"] = NAMESPACE
    signers = []
    for allowed, revoked in reviewer.trust:
        if allowed is None:
            continue
        signers_path = bundle.add("signers", allowed, ".allowed_signers")
        revoked_path = bundle.add("signers", revoked, ".revoked") if revoked is not None else ""
        bundle.checks[(base, signers_path, revoked_path)] = SignatureCheck(
            base, signers_path, revoked_path, at
        )
        signers.append(
            {
                "allowedSignersFile": signers_path,
                "revokedSignersFile": revoked_path or None,
                "lines": _lines_for(allowed, signature, entry.reviewer_email),
            }
        )
    return described, signers


def _lines_for(allowed: bytes, signature: str, email: str) -> list[str]:
    """The allowed-signers lines that list the signing key for the reviewer's address."""
    from agentpolicy.review.allowed_signers import parse_allowed_signers
    from agentpolicy.review.sshsig import parse_signature
    from agentpolicy.review.sshwire import SignatureFormatError

    try:
        blob = parse_signature(signature).key_blob
    except SignatureFormatError:
        return []
    text = allowed.decode("utf-8", "replace")
    lines = text.splitlines()
    return [
        lines[signer.line - 1]
        for signer in parse_allowed_signers(text)
        if signer.key_blob == blob and signer.matches_principal(email) and 0 < signer.line <= len(lines)
    ]


def _event_blob(repo: Any, event: AuditEvent) -> str | None:
    """The blob id of the file as the event left it (a deletion: as it was before)."""
    if not event.deleted:
        return _blob_id(repo, event.commit, event.path)
    parents = repo.repo[event.commit].parent_ids
    return _blob_id(repo, str(parents[0]), event.path) if parents else None


def _blob_id(repo: Any, commit: str, path: str) -> str | None:
    try:
        entry = repo.repo[commit].tree[path]
    except (KeyError, ValueError, UnicodeError):
        return None
    return str(entry.id) if entry.type_str == "blob" else None


def _blob(repo: Any, blob_id: str) -> bytes:
    return bytes(repo.repo[blob_id].data)


def _manifest(
    request: EvidenceRequest,
    head: str,
    result: AuditResult,
    counts: dict[str, int],
    bundle: _Bundle,
    as_of: dt.datetime,
) -> dict[str, Any]:
    now = (request.now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return {
        "format_version": 1,
        "tool": {"name": "agentpolicy", "version": __version__},
        "generated_at": f"{now:%Y-%m-%dT%H:%M:%SZ}",
        "repository": {"head": head},
        "range": {
            "rev": request.rev,
            "since": request.since.isoformat() if request.since else None,
            "until": request.until.isoformat() if request.until else None,
            "agents": list(request.agents),
        },
        "status_as_of": f"{as_of:%Y-%m-%dT%H:%M:%SZ}",
        "predicate_types": [REVIEW_PREDICATE, UNAPPROVED_PREDICATE],
        "summary": {
            "events": len(result.events),
            "unapproved": len(result.unapproved),
            "commits_walked": result.commits_walked,
            "signature_checks": len(bundle.checks),
            **counts,
        },
        "files": {path: hashlib.sha256(data).hexdigest() for path, data in sorted(bundle.files.items())},
    }


def _write_folder(target: str, files: dict[str, bytes]) -> None:
    """Build the bundle beside ``target`` and rename it into place: never half a bundle, never over one."""
    from agentpolicy.files.atomic import current_umask

    parent = os.path.dirname(target)
    if not os.path.isdir(parent):
        raise WriteError(f"{parent} is not a folder", "create the parent folder first")
    mask = current_umask()
    scratch = tempfile.mkdtemp(prefix=".evidence-", dir=parent)
    try:
        os.chmod(scratch, 0o777 & ~mask)
        for path, data in files.items():
            full = os.path.join(scratch, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "xb") as handle:
                handle.write(data)
            if path == "verify.sh":
                os.chmod(full, 0o777 & ~mask)
        if os.path.lexists(target):
            raise WriteError(
                f"{target} appeared while the bundle was written", "pass a new folder to --output"
            )
        os.rename(scratch, target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
