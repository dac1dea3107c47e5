"""`audit`: every governed change in history, and the review entries that approve it.

The walk replays history oldest first, keeping only the current state: the
agents (by name), the review entries present, and the events whose content is
still current (an approval added later, before the content changes again,
approves them "later", as after a rebase-merged pull request).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from agentpolicy.changes import AgentState, compare, primary_kind
from agentpolicy.config import CONFIG_PATH, Config, load_config
from agentpolicy.errors import AgentPolicyError
from agentpolicy.globs import matches, static_prefix
from agentpolicy.history import CommitStep, History
from agentpolicy.policy import load_agent
from agentpolicy.reviews import ReviewEntry, load_review


@dataclass
class ReviewerRecord:
    name: str
    email: str
    decision: str
    signature: str
    timestamp: str
    commit: str
    path: str

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class AuditEvent:
    agent: str
    event: str
    kinds: list[str]
    version: str | None
    digest: str
    commit: str
    date: str
    author: str
    path: str
    details: list[str] = field(default_factory=list)
    approvals_required: int = 1
    approved: bool = False
    approved_later_in: str | None = None
    reviewers: list[ReviewerRecord] = field(default_factory=list)
    deleted: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "event": self.event,
            "kinds": self.kinds,
            "version": self.version,
            "digest": self.digest,
            "commit": self.commit,
            "date": self.date,
            "author": self.author,
            "file": self.path,
            "details": self.details,
            "approved": self.approved,
            "approved_later_in": self.approved_later_in,
            "approvals_required": self.approvals_required,
            "reviewers": [reviewer.to_json() for reviewer in self.reviewers],
        }


@dataclass
class AuditNote:
    commit: str
    message: str


@dataclass
class AuditResult:
    events: list[AuditEvent]
    notes: list[AuditNote]
    commits_walked: int

    @property
    def unapproved(self) -> list[AuditEvent]:
        return [event for event in self.events if not event.approved]


@dataclass
class AuditRequest:
    agents: tuple[str, ...] = ()
    rev: str = "HEAD"
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    unapproved_only: bool = False
    all_parents: bool = False
    start: str = "."
    progress: Callable[[int], None] | None = None


class _Replay:
    """The state of the repository as the walk reaches each commit."""

    def __init__(self, history: History, config: Config) -> None:
        self.history = history
        self.config = config
        self.files: dict[str, str] = {}  # watched path -> blob id
        self.agents: dict[str, AgentState] = {}
        self.entries: dict[str, tuple[ReviewEntry, str]] = {}  # path -> (entry, commit that added it)
        self.open_events: dict[str, AuditEvent] = {}
        self.events: list[AuditEvent] = []
        self.notes: list[AuditNote] = []
        self._agent_cache: dict[str, AgentState | None] = {}
        self._entry_cache: dict[str, ReviewEntry | None] = {}
        self._verdicts: dict[tuple[str, str], str] = {}

    # -- parsing, once per blob ---------------------------------------------
    def _agent(self, path: str, blob: str) -> AgentState | None:
        if blob not in self._agent_cache:
            loaded = load_agent(path, self.history.blob(blob))
            data = loaded.document.data if loaded.document else None
            name = data.get("name") if isinstance(data, dict) else None
            self._agent_cache[blob] = (
                AgentState(name, loaded.document) if isinstance(name, str) and loaded.document else None
            )
        state = self._agent_cache[blob]
        if state is not None and state.path != path:  # the same content, moved
            state = AgentState(state.name, replace(state.document, path=path))
        return state

    def _entry(self, path: str, blob: str) -> ReviewEntry | None:
        if blob not in self._entry_cache:
            entry, _ = load_review(path, self.history.blob(blob))
            self._entry_cache[blob] = entry
        return self._entry_cache[blob]

    # -- the replay ---------------------------------------------------------
    def baseline(self, files: Iterable[tuple[str, str]]) -> None:
        """Start a range from the state at its base: what is there already is not an event."""
        self.files = dict(files)
        self._reload_config()
        self.agents = self._current_agents()
        for path, blob in self.files.items():
            if self._is_review(path):
                entry = self._entry(path, blob)
                if entry is not None:
                    self.entries[path] = (entry, "")

    def apply(self, step: CommitStep) -> None:
        if step.cut:
            self.notes.append(
                AuditNote(
                    step.id,
                    "history is cut here (shallow clone): what happened "
                    "before this commit is unknown, so its content is "
                    "taken as a starting point, not as events",
                )
            )
        before_agents = dict(self.agents)
        touched: set[str] = set()
        for delta in step.deltas:
            if delta.old_path:
                self.files.pop(delta.old_path, None)
            if delta.new_path and delta.new_id:
                self.files[delta.new_path] = delta.new_id
            for path in (delta.old_path, delta.new_path):
                if path and path == CONFIG_PATH:
                    self._reload_config()
        agent_paths = {p for d in step.deltas for p in (d.old_path, d.new_path) if p and self._is_agent(p)}
        review_deltas = [d for d in step.deltas if self._is_review(d.old_path) or self._is_review(d.new_path)]
        if agent_paths:
            self.agents = self._current_agents()
            for name in set(before_agents) | set(self.agents):
                if _identity(before_agents.get(name)) != _identity(self.agents.get(name)):
                    touched.add(name)
        for delta in review_deltas:
            self._review_delta(step, delta)
        if step.cut:
            return
        for name in sorted(touched):
            change = compare(name, before_agents.get(name), self.agents.get(name))
            if change is None or not change.governed:
                continue
            self._event(step, change)
        for event in list(self.open_events.values()):
            self._judge(event, step)

    def _reload_config(self) -> None:
        blob = self.files.get(CONFIG_PATH)
        # A broken config in history keeps the last good one in force.
        with contextlib.suppress(AgentPolicyError):
            self.config = load_config(self.history.blob(blob) if blob else None)

    def _is_agent(self, path: str) -> bool:
        return matches(path, self.config.agents)

    def _is_review(self, path: str | None) -> bool:
        return bool(path) and str(path).startswith(self.config.reviews_prefix)

    def _current_agents(self) -> dict[str, AgentState]:
        agents: dict[str, AgentState] = {}
        for path in sorted(self.files):
            if self._is_agent(path):
                state = self._agent(path, self.files[path])
                if state is not None and state.name not in agents:
                    agents[state.name] = state
        return agents

    def _review_delta(self, step: CommitStep, delta: Any) -> None:
        if delta.old_path and delta.old_path in self.entries and not step.cut:
            entry, _added = self.entries.pop(delta.old_path)
            how = "edited" if delta.new_path == delta.old_path else "deleted"
            self.notes.append(
                AuditNote(
                    step.id,
                    f"review entry {delta.old_path} ({entry.reviewer}, "
                    f"{entry.agent} {entry.version}) was {how}",
                )
            )
        elif delta.old_path:
            self.entries.pop(delta.old_path, None)
        if delta.new_path and delta.new_id:
            added = self._entry(delta.new_path, delta.new_id)
            if added is not None:
                self.entries[delta.new_path] = (added, step.id)

    def _event(self, step: CommitStep, change: Any) -> None:
        target = change.after or change.before
        required = 1
        control = target.data.get("change_control")
        if isinstance(control, dict) and isinstance(control.get("approvals_required"), int):
            required = max(1, control["approvals_required"])
        event = AuditEvent(
            agent=change.name,
            event=primary_kind(change.kinds),
            kinds=list(change.kinds),
            version=target.version,
            digest=target.digest,
            commit=step.id,
            date=step.date.strftime("%Y-%m-%dT%H:%M:%SZ"),
            author=step.author,
            path=target.path,
            details=list(change.details),
            approvals_required=required,
        )
        event.deleted = change.after is None
        self.events.append(event)
        self.open_events[change.name] = event  # an unapproved earlier event stays unapproved

    def _judge(self, event: AuditEvent, step: CommitStep) -> None:
        decisions = {"retire"} if event.deleted else {"approve", "retire"}
        reviewers: dict[str, ReviewerRecord] = {}
        for path, (entry, added_in) in sorted(self.entries.items()):
            if entry.agent != event.agent or entry.digest != event.digest or entry.decision not in decisions:
                continue
            signature = self._signature(entry, added_in, step)
            record = ReviewerRecord(
                entry.reviewer_name,
                entry.reviewer_email,
                entry.decision,
                signature,
                entry.timestamp,
                added_in,
                path,
            )
            if signature in ("valid", "unsigned (accepted)"):
                reviewers.setdefault(entry.reviewer_email.lower(), record)
        if len(reviewers) >= event.approvals_required and not event.approved:
            event.approved = True
            event.reviewers = list(reviewers.values())
            if step.id != event.commit:
                event.approved_later_in = step.id
            self.open_events.pop(event.agent, None)

    def _signature(self, entry: ReviewEntry, added_in: str, step: CommitStep) -> str:
        key = (entry.path, added_in)
        if key not in self._verdicts:
            self._verdicts[key] = self._verify(entry, step)
        return self._verdicts[key]

    def _verify(self, entry: ReviewEntry, step: CommitStep) -> str:
        from agentpolicy.signing import TrustRoot

        allowed_blob = self.files.get(self.config.allowed_signers)
        revoked_blob = self.files.get(self.config.revoked_signers) if self.config.revoked_signers else None
        root = TrustRoot(
            self.config,
            self.history.blob(allowed_blob) if allowed_blob else None,
            self.history.blob(revoked_blob) if revoked_blob else None,
        )
        verdict = root.verdict(entry, at=step.date)
        if verdict.ok:
            return "unsigned (accepted)" if verdict.message else "valid"
        return f"invalid: {verdict.message}"


def _identity(state: AgentState | None) -> tuple[str, str] | None:
    return (state.path, state.digest) if state else None


def run_audit(request: AuditRequest) -> AuditResult:
    from agentpolicy.gitrepo import Repo

    repo = Repo(request.start)
    hide, head = None, request.rev
    if ".." in request.rev:
        left, _, right = request.rev.partition("..")
        hide, head = repo.resolve(left), repo.resolve(right or "HEAD")
    else:
        if not repo.has_head and request.rev == "HEAD":
            return AuditResult([], [AuditNote("", "no commits yet")], 0)
        head = repo.resolve(request.rev)
    config = load_config(repo.revision_snapshot(head, "head").read(CONFIG_PATH))
    folders = {static_prefix(pattern).rstrip("/") for pattern in config.agents}
    folders |= {config.reviews.strip("/"), CONFIG_PATH, config.allowed_signers}
    if config.revoked_signers:
        folders.add(config.revoked_signers)
    history = History(repo, sorted(folders))
    replay = _Replay(history, load_config(None))
    if hide:
        replay.baseline(history.files(repo.repo[hide].tree))
    count = 0
    for step in history.steps(head, hide, first_parent=not request.all_parents):
        count += 1
        replay.apply(step)
        if request.progress and count % 500 == 0:
            request.progress(count)
    events = [event for event in replay.events if _selected(event, request)]
    return AuditResult(events, replay.notes, count)


def _selected(event: AuditEvent, request: AuditRequest) -> bool:
    if request.agents and event.agent not in request.agents:
        return False
    if request.unapproved_only and event.approved:
        return False
    when = dt.datetime.strptime(event.date, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    if request.since and when < request.since:
        return False
    return not (request.until and when > request.until)
