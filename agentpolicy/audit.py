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
from dataclasses import dataclass, field
from typing import Any

from agentpolicy.changes import AgentState, compare, primary_kind
from agentpolicy.config import CONFIG_PATH, Config, load_config
from agentpolicy.derived import AgentDigestCache
from agentpolicy.errors import AgentPolicyError
from agentpolicy.globs import matches, static_prefix
from agentpolicy.history import CommitStep, History
from agentpolicy.model import Document
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
    side_branch: bool = False

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
            "side_branch": self.side_branch,
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
        self._dates: dict[str, dt.datetime] = {}
        self._by_path: dict[str, AgentState] = {}
        self._paths_by_name: dict[str, set[str]] = {}
        self.digests = AgentDigestCache.open(history.git.path)

    # -- parsing, once per blob ---------------------------------------------
    def _agent(self, path: str, blob: str) -> AgentState | None:
        if blob not in self._agent_cache:
            self._agent_cache[blob] = self._parsed(path, blob)
        state = self._agent_cache[blob]
        if state is not None and state.path != path:  # the same content, moved
            state = AgentState(state.name, state.document.moved_to(path))
        return state

    def _parsed(self, path: str, blob: str) -> AgentState | None:
        """An agent's governed content: from the derived cache when this blob was seen before
        (the audit only needs governed content: events are governed changes)."""
        hit = self.digests.get(blob) if self.digests else None
        if hit is not None:
            cached_name, digest, governed = hit
            state = AgentState(cached_name, Document(path, governed))
            state.__dict__["governed"] = governed  # the cached_properties, filled from the cache
            state.__dict__["digest"] = digest
            return state
        loaded = load_agent(path, self.history.blob(blob))
        data = loaded.document.data if loaded.document else None
        name = data.get("name") if isinstance(data, dict) else None
        if not (isinstance(name, str) and loaded.document):
            return None
        state = AgentState(name, loaded.document)
        if self.digests:
            self.digests.put(blob, name, state.digest, state.governed)
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
        self._dates[step.id] = step.date
        if step.cut:
            self.notes.append(
                AuditNote(
                    step.id,
                    "history is cut here (shallow clone): what happened "
                    "before this commit is unknown, so its content is "
                    "taken as a starting point, not as events",
                )
            )
        config_changed = False
        for delta in step.deltas:
            if delta.old_path:
                self.files.pop(delta.old_path, None)
            if delta.new_path and delta.new_id:
                self.files[delta.new_path] = delta.new_id
            config_changed |= CONFIG_PATH in (delta.old_path, delta.new_path)
        if config_changed:
            self._reload_config()
        before_agents = dict(self.agents)
        if config_changed:  # the globs may have changed: rebuild what counts as an agent
            self.agents = self._current_agents()
            names = set(before_agents) | set(self.agents)
        else:
            names = self._update_agents(step)
        touched = {
            name for name in names if _identity(before_agents.get(name)) != _identity(self.agents.get(name))
        }
        reviewed: set[str] = set()
        for delta in step.deltas:
            if self._is_review(delta.old_path) or self._is_review(delta.new_path):
                reviewed |= self._review_delta(step, delta)
        if step.cut:
            return
        for name in sorted(touched):
            change = compare(name, before_agents.get(name), self.agents.get(name))
            if change is not None and change.governed:
                self._event(step, change)
                reviewed.add(name)
        # An event's approval can only change when it is new or when entries for its agent arrive.
        for name in sorted(reviewed & set(self.open_events)):
            event = self.open_events[name]
            if self._judge(event, step, self.entries, self.files, self.config):
                del self.open_events[name]

    def _update_agents(self, step: CommitStep) -> set[str]:
        """Re-read only the agent files this commit changed; return the names they concern."""
        names: set[str] = set()
        for delta in step.deltas:
            for path in (delta.old_path, delta.new_path):
                if path and self._is_agent(path):
                    old = self._by_path.pop(path, None)
                    if old is not None:
                        names.add(old.name)
                        self._paths_by_name[old.name].discard(path)
        for delta in step.deltas:
            if delta.new_path and delta.new_id and self._is_agent(delta.new_path):
                state = self._agent(delta.new_path, delta.new_id)
                if state is not None:
                    self._by_path[delta.new_path] = state
                    self._paths_by_name.setdefault(state.name, set()).add(delta.new_path)
                    names.add(state.name)
        for name in names:
            paths = sorted(self._paths_by_name.get(name, ()))
            if paths:
                self.agents[name] = self._by_path[paths[0]]
            else:
                self.agents.pop(name, None)
        return names

    def apply_side(self, step: CommitStep) -> None:
        """A commit on a merged side branch: judged on its own tree, apart from the main line."""
        if step.parent_id is None:
            return
        self._dates[step.id] = step.date
        files = self.history.files_at(step.id)
        before = self._agents_in(self.history.files_at(step.parent_id))
        after = self._agents_in(files)
        entries = {
            path: (entry, step.id)
            for path, blob in files.items()
            if self._is_review(path) and (entry := self._entry(path, blob)) is not None
        }
        for name in sorted(set(before) | set(after)):
            if _identity(before.get(name)) == _identity(after.get(name)):
                continue
            change = compare(name, before.get(name), after.get(name))
            if change is not None and change.governed:
                event = self._new_event(step, change)
                event.side_branch = True
                self.events.append(event)
                self._judge(event, step, entries, files, self.config)

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
        self._by_path = {
            path: state
            for path, blob in self.files.items()
            if self._is_agent(path) and (state := self._agent(path, blob)) is not None
        }
        self._paths_by_name = {}
        for path, state in self._by_path.items():
            self._paths_by_name.setdefault(state.name, set()).add(path)
        return self._agents_in(self.files)

    def _agents_in(self, files: dict[str, str]) -> dict[str, AgentState]:
        agents: dict[str, AgentState] = {}
        for path in sorted(files):
            if self._is_agent(path):
                state = self._agent(path, files[path])
                if state is not None and state.name not in agents:
                    agents[state.name] = state
        return agents

    def _review_delta(self, step: CommitStep, delta: Any) -> set[str]:
        """Apply one change under the reviews folder; return the agents whose entries arrived."""
        if delta.old_path and delta.old_path in self.entries:
            entry, _added = self.entries.pop(delta.old_path)
            if not step.cut:
                how = "edited" if delta.new_path == delta.old_path else "deleted"
                self.notes.append(
                    AuditNote(
                        step.id,
                        f"review entry {delta.old_path} ({entry.reviewer}, "
                        f"{entry.agent} {entry.version}) was {how}",
                    )
                )
        if delta.new_path and delta.new_id:
            added = self._entry(delta.new_path, delta.new_id)
            if added is not None:
                self.entries[delta.new_path] = (added, step.id)
                return {added.agent}
        return set()

    def _event(self, step: CommitStep, change: Any) -> None:
        event = self._new_event(step, change)
        self.events.append(event)
        self.open_events[change.name] = event  # an unapproved earlier event stays unapproved

    def _new_event(self, step: CommitStep, change: Any) -> AuditEvent:
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
        return event

    def _judge(
        self,
        event: AuditEvent,
        step: CommitStep,
        entries: dict[str, tuple[ReviewEntry, str]],
        files: dict[str, str],
        config: Config,
    ) -> bool:
        decisions = {"retire"} if event.deleted else {"approve", "retire"}
        reviewers: dict[str, ReviewerRecord] = {}
        for path, (entry, added_in) in sorted(entries.items()):
            if entry.agent != event.agent or entry.digest != event.digest or entry.decision not in decisions:
                continue
            signature = self._signature(entry, added_in, step, files, config)
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
        if len(reviewers) < event.approvals_required or event.approved:
            return False
        event.approved = True
        event.reviewers = list(reviewers.values())
        if step.id != event.commit:
            event.approved_later_in = step.id
        return True

    def _signature(
        self, entry: ReviewEntry, added_in: str, step: CommitStep, files: dict[str, str], config: Config
    ) -> str:
        key = (entry.path, added_in)
        if key not in self._verdicts:
            when = self._dates.get(added_in, step.date)
            self._verdicts[key] = self._verify(entry, when, files, config)
        return self._verdicts[key]

    def _verify(self, entry: ReviewEntry, when: dt.datetime, files: dict[str, str], config: Config) -> str:
        """The verdict with the signers in force at the commit that added it, at that commit's date."""
        from agentpolicy.signing import TrustRoot

        allowed_blob = files.get(config.allowed_signers)
        revoked_blob = files.get(config.revoked_signers) if config.revoked_signers else None
        root = TrustRoot(
            config,
            self.history.blob(allowed_blob) if allowed_blob else None,
            self.history.blob(revoked_blob) if revoked_blob else None,
        )
        verdict = root.verdict(entry, at=when)
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
        if step.side:
            replay.apply_side(step)
        else:
            replay.apply(step)
        if request.progress and count % 500 == 0:
            request.progress(count)
    if replay.digests:
        replay.digests.close()
    events = [event for event in replay.events if _selected(event, request)]
    return AuditResult(events, replay.notes, count)


def _selected(event: AuditEvent, request: AuditRequest) -> bool:
    if request.agents and event.agent not in request.agents:
        return False
    if request.unapproved_only and event.approved:
        return False
    # ISO 8601 UTC strings of one fixed format compare like the times they name
    if request.since and event.date < request.since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"):
        return False
    return not (
        request.until and event.date > request.until.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
