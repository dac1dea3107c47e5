"""The audit's replay of history: each first-parent commit judged as `check --base C^ --head C` would.

The walk keeps only the current state (watched files, configuration, agents,
review entries) and hands every governed change to the one judge with the
*before* side's configuration, trust root and review floor, the commit's
authors and committers, and a clock that never runs backwards. An event still
unapproved stays open: entries that arrive later (before its content changes
again) are judged for it with the same before side, and with the signers in
force where they arrive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agentpolicy.app.agent_index import AgentIndex
from agentpolicy.cache.derived import AgentDigestCache
from agentpolicy.errors import AgentPolicyError
from agentpolicy.files.snapshot import Snapshot
from agentpolicy.git.history import CommitStep, FileDelta, History
from agentpolicy.model.changes import AgentChange, AgentState, compare, primary_kind
from agentpolicy.results.audit import AuditEvent, AuditNote, ReviewerRecord
from agentpolicy.review.entries import ReviewEntry, entry_folder, load_review, signed_time
from agentpolicy.review.judge import (
    BREAK_GLASS,
    Floor,
    Judgement,
    Subject,
    Verdict,
    agent_subject,
    approval_floor,
    break_glass_allowed,
    judge,
)
from agentpolicy.review.trust import TipTrust, TrustRoot, with_signers
from agentpolicy.review.trustroot import (
    TRUST_ROOT,
    bootstrapping,
    pack_files,
    trust_change,
    trust_content,
    unreadable_trust_subject,
    with_reviews_move_blocker,
)
from agentpolicy.rules.config import CONFIG_PATH, Config, load_config


@dataclass
class _Open:
    """An unapproved event and the before side it is judged against, frozen when it was made."""

    event: AuditEvent
    subject: Subject
    config: Config
    root: TrustRoot
    floor: Floor
    authors: set[str]
    confirmed: Floor | None = None  # once approved: the approvals so far (a re-approval must be newer)


class Replay:
    """The state of the repository as the walk reaches each commit."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.config = Config()
        self.exists = False  # no commit applied yet: the first one bootstraps like `check` does
        self.files: dict[str, str] = {}  # watched path -> blob id
        self.agents: dict[str, AgentState] = {}
        self.entries: dict[str, tuple[ReviewEntry, str]] = {}  # path -> (entry, commit that added it)
        self.open: dict[str, _Open] = {}
        self.closed: dict[str, _Open] = {}  # approved events whose content still stands (re-approvals)
        self.latest: dict[str, AuditEvent] = {}  # the last event of each agent (status reads it)
        self.events: list[AuditEvent] = []
        self.notes: list[AuditNote] = []
        self.clock: dt.datetime | None = None
        self.history_cut = False  # a shallow clone: what came before is unknown
        self._added_at: dict[str, dt.datetime] = {}  # commit -> the judge's clock when it was applied
        self._entry_cache: dict[str, ReviewEntry | None] = {}
        self._by_agent: dict[str, dict[str, tuple[ReviewEntry, str]]] = {}  # self.entries, by agent
        self._arrived: set[str] = set()  # agents whose entries this commit added
        self._roots: dict[tuple[Any, ...], TrustRoot] = {}
        self._tips: dict[tuple[int, int], TipTrust] = {}
        self._bootstrapped: dict[int, bool] = {}  # root id -> it trusts the commit's own signers
        self._removed: dict[str, tuple[ReviewEntry, str]] = {}  # entries this commit removed or replaced
        self._last_trust: dict[str, Any] = {}  # the last trust root that could be read
        self._verdicts: dict[tuple[int, str, str], Verdict] = {}
        self._duplicates: set[tuple[str, str]] = set()
        self._unreadable: dict[str, str] = {}  # path -> the unreadable blob already reported
        self.index = AgentIndex(history.blob, AgentDigestCache.open(history.git.path))

    def _entry(self, path: str, blob: str) -> ReviewEntry | None:
        if blob not in self._entry_cache:
            entry, _ = load_review(path, self.history.blob(blob))
            self._entry_cache[blob] = entry
        return self._entry_cache[blob]

    # -- what the state says ---------------------------------------------------
    def _entries_for(
        self, name: str, config: Config, entries: dict[str, tuple[ReviewEntry, str]]
    ) -> list[ReviewEntry]:
        folder = entry_folder(config.reviews, name)
        pool = self._by_agent.get(name, {}) if entries is self.entries else entries
        return [
            entry
            for path, (entry, _added) in sorted(pool.items())
            if entry.agent == name and path.startswith(folder)
        ]

    def _keep_entry(self, path: str, held: tuple[ReviewEntry, str] | None) -> None:
        """Set (or with None, drop) ``self.entries[path]``, keeping the per-agent index in step:
        scanning every entry for every judgement made a long history quadratic in its entries."""
        old = self.entries.pop(path, None)
        if old is not None:
            self._by_agent.get(old[0].agent, {}).pop(path, None)
        if held is not None:
            self.entries[path] = held
            self._by_agent.setdefault(held[0].agent, {})[path] = held

    def _is_review(self, path: str | None) -> bool:
        """An entry file as the check reads them: under the reviews folder, named *.yaml or *.yml."""
        return (
            bool(path)
            and str(path).startswith(self.config.reviews_prefix)
            and str(path).endswith((".yaml", ".yml"))
        )

    def _load_config(self, commit: str, files: dict[str, str], fallback: Config) -> Config:
        """The configuration of a commit with its packs; one that cannot be read keeps ``fallback``."""
        blob = files.get(CONFIG_PATH)
        try:
            config = load_config(self.history.blob(blob) if blob else None)
            return config.with_packs(self.history.repo.revision_snapshot(commit, commit[:12]))
        except AgentPolicyError as exc:
            self.notes.append(
                AuditNote(
                    commit,
                    f"{CONFIG_PATH} cannot be read here ({exc.message}); later changes are judged with the "
                    "last configuration that could be read",
                )
            )
            return fallback

    def root_for(
        self, config: Config, files: dict[str, str], proposed: dict[str, str] | None = None
    ) -> TrustRoot:
        """The trust root of a state; with no signers there yet, the proposed side's (bootstrap)."""
        allowed = files.get(config.allowed_signers)
        if allowed is not None and with_signers(self.history.blob(allowed)) is None:
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
                self.history.blob(allowed) if allowed else None,
                self.history.blob(revoked) if revoked else None,
            )
            self._bootstrapped[id(root)] = bootstrapped
            self._roots[key] = root
        return self._roots[key]

    def tip_trust(self, base: TrustRoot, tip: TrustRoot) -> TipTrust:
        """One TipTrust per pair, kept for the walk: verdicts are cached by the root's identity."""
        key = (id(base), id(tip))  # both live in self._roots for the whole walk, so ids are stable
        if key not in self._tips:
            self._tips[key] = TipTrust(base, tip)
        return self._tips[key]

    def _verifier(self, root: TrustRoot | TipTrust, entries: dict[str, tuple[ReviewEntry, str]]) -> Any:
        def verify(entry: ReviewEntry) -> Verdict:
            added_in = entries.get(entry.path, (entry, ""))[1]
            key = (id(root), entry.path, added_in)
            if key not in self._verdicts:
                self._verdicts[key] = root.verdict(entry, at=self._added_at.get(added_in, self.clock))
            return self._verdicts[key]

        return verify

    # -- the replay ---------------------------------------------------------
    def baseline(self, commit: str, files: Iterable[tuple[str, str]]) -> None:
        """Start a range from the state at its base: what is there already is not an event."""
        self.files = dict(files)
        self.config = self._load_config(commit, self.files, Config())
        self.index.rebuild(self.files, self.config.agents)
        self.agents = self.index.current()
        self._report_unreadable(None)
        self.exists = True
        for path, blob in self.files.items():
            if self._is_review(path):
                entry = self._entry(path, blob)
                if entry is not None:
                    self._keep_entry(path, (entry, ""))

    def _tick(self, step: CommitStep) -> None:
        """The judge's clock: the committer date, never earlier than any first-parent ancestor's."""
        committed = step.committed or step.date
        if self.clock is not None and committed < self.clock:
            self.notes.append(
                AuditNote(
                    step.id,
                    f"commit date {committed:%Y-%m-%dT%H:%M:%SZ} is earlier than an ancestor's "
                    f"({self.clock:%Y-%m-%dT%H:%M:%SZ}); signatures here are judged at the later time",
                )
            )
        self.clock = committed if self.clock is None or committed > self.clock else self.clock
        self._added_at[step.id] = self.clock

    def apply(self, step: CommitStep) -> None:
        self._tick(step)
        if step.cut:
            self.history_cut = True
            self.notes.append(
                AuditNote(
                    step.id,
                    "history is cut here (shallow clone): what happened "
                    "before this commit is unknown, so its content is "
                    "taken as a starting point, not as events",
                )
            )
        before_config, before_agents, existed = self.config, self.agents, self.exists
        before_files = self._signer_files(before_config)  # the before side's signers, before they change
        self._removed = {}
        self._arrived = set()
        for delta in step.deltas:
            if delta.old_path:
                self.files.pop(delta.old_path, None)
            if delta.new_path and delta.new_id:
                self.files[delta.new_path] = delta.new_id
        changed_config = self._config_touched(step.deltas, before_config)
        after_config = (
            self._load_config(step.id, self.files, before_config) if changed_config else before_config
        )
        for delta in step.deltas:
            if self._is_review(delta.old_path) or self._is_review(delta.new_path):
                self._review_delta(step, delta)
        self.exists = True
        if step.cut:
            self.config = after_config
            self.index.rebuild(self.files, after_config.agents)
            self.agents = self.index.current()
            self._report_unreadable(None)
            return
        # The before side judges: its config, its signers (bootstrap: the commit's own), its entries.
        judge_config = before_config if existed else after_config
        changed_paths = {path for delta in step.deltas for path in (delta.old_path, delta.new_path) if path}
        if changed_config or not existed:
            self.index.rebuild(self.files, tuple(dict.fromkeys((*judge_config.agents, *after_config.agents))))
            after_agents, affected = self.index.current(), set(before_agents) | set(self.index.names)
        else:
            affected = self.index.update(self.files, changed_paths, judge_config.agents)
            after_agents = dict(before_agents)
            for name in affected:
                paths = self.index.names.get(name)
                if paths:
                    after_agents[name] = self.index.by_path[paths[0]]
                else:
                    after_agents.pop(name, None)
        self._report_duplicates(step, {name: self.index.names.get(name, []) for name in affected})
        self._report_unreadable(step)
        touched = {
            name
            for name in affected
            if _identity(before_agents.get(name)) != _identity(after_agents.get(name))
        }
        root = self.root_for(judge_config, before_files if existed else {}, self.files)
        for name in (*affected, TRUST_ROOT):  # later edits make their authors authors of the change too
            pending = self.open.get(name)
            if pending is not None and pending.subject.paths & changed_paths:
                pending.authors |= set(step.people)
        for name in sorted(touched):
            change = compare(name, before_agents.get(name), after_agents.get(name))
            if change is not None and change.governed:
                floor = self._floor(step, name, judge_config, root)
                subject = agent_subject(change, judge_config, locate=False)
                self._event(step, change, subject, judge_config, root, floor, changed_paths)
        if (existed and changed_config) or self._signers_touched(step.deltas, before_config):
            self._trust_event(step, before_config, judge_config, root, changed_paths, existed)
        arrived = self._arrived
        for name in sorted(arrived & set(self.open)):
            base, tip = self.open[name].root, self.root_for(before_config, before_files)
            if tip.allowed is None and self._bootstrapped.get(id(base)):
                self._rejudge(step, name, base)  # nobody has signers yet, on either side (as `check`)
            else:
                self._rejudge(step, name, self.tip_trust(base, tip))
        for name in sorted(arrived & set(self.closed)):
            self._confirm(
                step, name, self.tip_trust(self.closed[name].root, self.root_for(before_config, before_files))
            )
        self.config = after_config
        if changed_config:
            self.index.rebuild(self.files, after_config.agents)
            self.agents = self.index.current()
        else:
            self.agents = after_agents

    def _signer_files(self, config: Config) -> dict[str, str]:
        """The blob ids of a configuration's signer files in the current state (all a root needs)."""
        paths = [config.allowed_signers, *([config.revoked_signers] if config.revoked_signers else [])]
        return {path: self.files[path] for path in paths if path in self.files}

    def _floor(self, step: CommitStep, name: str, config: Config, root: TrustRoot) -> Floor:
        held = self._before_entries(step, name)
        return approval_floor(self._entries_for(name, config, held), self.clock, self._verifier(root, held))

    def _before_entries(self, step: CommitStep, name: str) -> dict[str, tuple[ReviewEntry, str]]:
        """One agent's entries on the before side: today's, less what this commit added, plus what
        it removed."""
        held = {path: held for path, held in self._by_agent.get(name, {}).items() if held[1] != step.id}
        held.update((path, held) for path, held in self._removed.items() if held[0].agent == name)
        return held

    def _config_touched(self, deltas: list[FileDelta], config: Config) -> bool:
        packs = tuple(f"{folder.strip('/')}/" for folder in config.policy)
        return any(
            path == CONFIG_PATH or (packs and path.startswith(packs))
            for delta in deltas
            for path in (delta.old_path, delta.new_path)
            if path
        )

    def _signers_touched(self, deltas: list[FileDelta], config: Config) -> bool:
        watched = {config.allowed_signers, config.revoked_signers}
        return any(path in watched for delta in deltas for path in (delta.old_path, delta.new_path) if path)

    def _report_duplicates(self, step: CommitStep, defined: dict[str, list[str]]) -> None:
        for name, paths in defined.items():
            for path in paths[1:]:
                if (name, path) in self._duplicates:
                    continue
                self._duplicates.add((name, path))
                self.events.append(
                    AuditEvent(
                        agent=name,
                        event="duplicate-definition",
                        kinds=["duplicate-definition"],
                        version=None,
                        digest="",
                        commit=step.id,
                        date=_stamp(step.date),
                        author=step.author,
                        path=path,
                        details=[
                            f"{path} defines {name} again (first defined in {paths[0]}); tools that "
                            "read it may take either file"
                        ],
                    )
                )

    def _report_unreadable(self, step: CommitStep | None) -> None:
        """An agent file the strict loader refuses is an event that is never approved (a lenient
        tool may still deploy it); reported once per content, when it appears (not at a baseline)."""
        for path in [path for path in self._unreadable if path not in self.index.unreadable]:
            del self._unreadable[path]
        for path, why in sorted(self.index.unreadable.items()):
            blob = self.files.get(path, "")
            if self._unreadable.get(path) == blob:
                continue
            self._unreadable[path] = blob
            if step is None:
                continue
            defined = self.index.by_path.get(path)
            self.events.append(
                AuditEvent(
                    agent=defined.name if defined else path,
                    event="unreadable",
                    kinds=["unreadable"],
                    version=None,
                    digest="",
                    commit=step.id,
                    date=_stamp(step.date),
                    author=step.author,
                    path=path,
                    details=[f"{path} cannot be read as an agent: {why}"],
                )
            )

    def _authors(self, step: CommitStep, paths: set[str], changed: set[str]) -> set[str]:
        """Who authored the change: as `check --base C^ --head C` counts them."""
        if step.merge and step.parent_id is not None:
            from agentpolicy.review.authors import RangeAuthors

            return RangeAuthors(self.history.repo, step.parent_id, step.id)(paths)
        return set(step.people) if paths & changed else set()

    def _event(
        self,
        step: CommitStep,
        change: AgentChange,
        subject: Subject,
        config: Config,
        root: TrustRoot,
        floor: Floor,
        changed: set[str],
    ) -> None:
        event = _change_event(step, change, subject)
        self._open_event(
            step, event, subject, config, root, floor, self._authors(step, subject.paths, changed)
        )

    def _open_event(
        self,
        step: CommitStep,
        event: AuditEvent,
        subject: Subject,
        config: Config,
        root: TrustRoot,
        floor: Floor,
        authors: set[str],
    ) -> None:
        self.events.append(event)
        self.latest[event.agent] = event
        self.closed.pop(event.agent, None)
        self.open[event.agent] = _Open(event, subject, config, root, floor, authors)
        self._rejudge(step, event.agent, root)

    def _trust_event(
        self,
        step: CommitStep,
        before_config: Config,
        judge_config: Config,
        root: TrustRoot,
        changed: set[str],
        existed: bool,
    ) -> None:
        """A change to the trust root is an event of its own, judged like an agent change."""
        if not existed or step.parent_id is None:
            return
        repo = self.history.repo
        before = repo.revision_snapshot(step.parent_id, step.parent_id[:12])
        after = repo.revision_snapshot(step.id, step.id[:12])
        if bootstrapping(before, before_config, None, None):
            return
        subject = self._trust_subject(before, after, before_config)
        if subject is None:
            return
        floor = self._floor(step, TRUST_ROOT, judge_config, root)
        event = AuditEvent(
            agent=TRUST_ROOT,
            event="trust-root-changed",
            kinds=["trust-root-changed"],
            version=subject.version,
            digest=subject.digest,
            commit=step.id,
            date=_stamp(step.date),
            author=step.author,
            path=subject.where[0],
            details=[subject.headline],
            approvals_required=subject.required,
        )
        self._open_event(
            step, event, subject, judge_config, root, floor, self._authors(step, subject.paths, changed)
        )

    def _trust_subject(self, before: Snapshot, after: Snapshot, before_config: Config) -> Subject | None:
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

    def _rejudge(self, step: CommitStep, name: str, root: TrustRoot | TipTrust) -> None:
        pending = self.open[name]
        judgement = judge(
            pending.subject,
            self._entries_for(name, pending.config, self.entries),
            floor=pending.floor,
            verify=self._verifier(root, self.entries),
            authors=pending.authors,
            allow_self_approval=pending.config.allow_self_approval,
            break_glass=break_glass_allowed(pending.subject, pending.config),
        )
        if judgement.approved:
            self._approve(step, pending.event, judgement, root, self.entries)
            if judgement.via == BREAK_GLASS:
                due = (self.clock or step.date) + dt.timedelta(days=pending.config.break_glass_follow_up_days)
                pending.event.follow_up_due = f"{due:%Y-%m-%d}"
            pending.confirmed = approval_floor(judgement.counted, self.clock)
            self.closed[name] = self.open.pop(name)

    def _confirm(self, step: CommitStep, name: str, root: TipTrust) -> None:
        """Entries for content that still stands and is approved: a break-glass follow-up, or a
        re-approval that restarts the re-attestation clock. The judge decides both, without
        break-glass, against the before side the event was judged with."""
        pending = self.closed[name]
        event = pending.event
        follow_up = event.approved_via == BREAK_GLASS and event.followed_up_in is None
        floor = pending.floor if follow_up else pending.confirmed or pending.floor
        judgement = judge(
            pending.subject,
            self._entries_for(name, pending.config, self.entries),
            floor=floor,
            verify=self._verifier(root, self.entries),
            authors=pending.authors,
            allow_self_approval=pending.config.allow_self_approval,
        )
        if not judgement.approved:
            return
        known = {reviewer.path for reviewer in event.reviewers}
        fresh = [entry for entry in judgement.counted if entry.path not in known]
        if not fresh:
            return
        self._record(event, fresh, root, self.entries)
        event.last_approved = _newest(fresh, self.clock, event.last_approved)
        if follow_up:
            event.followed_up_in = step.id
        else:
            event.reattested_in.append(step.id)
        pending.confirmed = approval_floor(judgement.counted, self.clock)

    def _approve(
        self,
        step: CommitStep,
        event: AuditEvent,
        judgement: Judgement,
        root: TrustRoot | TipTrust,
        entries: dict[str, tuple[ReviewEntry, str]],
    ) -> None:
        event.approved = True
        event.approved_via = judgement.via
        if step.id != event.commit:
            event.approved_later_in = step.id
        self._record(event, judgement.counted, root, entries)
        event.last_approved = _newest(judgement.counted, self.clock, None)

    def _record(
        self,
        event: AuditEvent,
        counted: list[ReviewEntry],
        root: TrustRoot | TipTrust,
        entries: dict[str, tuple[ReviewEntry, str]],
    ) -> None:
        verify = self._verifier(root, entries)
        roots = [root.base, root.tip] if isinstance(root, TipTrust) else [root]
        trust = [(each.allowed, each.revoked) for each in roots if each is not None]
        for entry in counted:
            verdict = verify(entry)
            added_in = entries.get(entry.path, (entry, ""))[1]
            times = [t for t in (self._added_at.get(added_in, self.clock), signed_time(entry)) if t]
            at = max(times) if times else None
            event.reviewers.append(
                ReviewerRecord(
                    entry.reviewer_name,
                    entry.reviewer_email,
                    entry.decision,
                    "unsigned (accepted)" if verdict.message else "valid",
                    entry.timestamp,
                    added_in,
                    entry.path,
                    trust,
                    _stamp(at) if at else "",
                )
            )

    def _review_delta(self, step: CommitStep, delta: FileDelta) -> None:
        """Apply one change under the reviews folder; an edited or deleted entry is evidence lost:
        a note, and an event that is never approved (the check refuses it as AP210)."""
        if delta.old_path and delta.old_path in self.entries:
            entry, _added = self.entries[delta.old_path]
            self._keep_entry(delta.old_path, None)
            self._removed[delta.old_path] = (entry, _added)
            if not step.cut:
                how = "edited" if delta.new_path == delta.old_path else "deleted"
                what = (
                    f"review entry {delta.old_path} ({entry.reviewer}, "
                    f"{entry.agent} {entry.version}) was {how}"
                )
                self.notes.append(AuditNote(step.id, what))
                self.events.append(
                    AuditEvent(
                        agent=entry.agent,
                        event=f"review-entry-{how}",
                        kinds=[f"review-entry-{how}"],
                        version=entry.version,
                        digest=entry.digest,
                        commit=step.id,
                        date=_stamp(step.date),
                        author=step.author,
                        path=delta.old_path,
                        details=[f"{what}: review entries are append-only evidence"],
                    )
                )
        if delta.new_path and delta.new_id:
            added = self._entry(delta.new_path, delta.new_id)
            if added is not None:
                self._keep_entry(delta.new_path, (added, step.id))
                self._arrived.add(added.agent)

    def apply_side(self, step: CommitStep) -> None:
        """A commit on a merged side branch: judged on its own tree, apart from the main line."""
        if step.parent_id is None:
            return
        self._added_at.setdefault(step.id, step.committed or step.date)
        parent_files = self.history.files_at(step.parent_id)
        files = self.history.files_at(step.id)
        config = self._load_config(step.parent_id, parent_files, self.config)
        before, _ = self.index.agents_in(parent_files, config.agents)
        after, _ = self.index.agents_in(files, config.agents)
        entries = {
            path: (entry, step.id)
            for path, blob in files.items()
            if path.startswith(config.reviews_prefix)
            and path.endswith((".yaml", ".yml"))
            and (entry := self._entry(path, blob)) is not None
        }
        held = {
            path: (entry, "")
            for path, blob in parent_files.items()
            if path.startswith(config.reviews_prefix)
            and path.endswith((".yaml", ".yml"))
            and (entry := self._entry(path, blob)) is not None
        }
        root = self.root_for(config, parent_files, files)
        for name in sorted(set(before) | set(after)):
            if _identity(before.get(name)) == _identity(after.get(name)):
                continue
            change = compare(name, before.get(name), after.get(name))
            if change is None or not change.governed:
                continue
            subject = agent_subject(change, config, locate=False)
            event = _change_event(step, change, subject)
            event.side_branch = True
            self.events.append(event)
            judgement = judge(
                subject,
                self._entries_for(name, config, entries),
                floor=approval_floor(
                    self._entries_for(name, config, held), step.committed, self._verifier(root, held)
                ),
                verify=self._verifier(root, entries),
                authors=set(step.people),
                allow_self_approval=config.allow_self_approval,
                break_glass=break_glass_allowed(subject, config),
            )
            if judgement.approved:
                self._approve(step, event, judgement, root, entries)


def _change_event(step: CommitStep, change: AgentChange, subject: Subject) -> AuditEvent:
    target = change.after or change.before
    assert target is not None
    return AuditEvent(
        agent=change.name,
        event=primary_kind(change.kinds),
        kinds=list(change.kinds),
        version=target.version,
        digest=target.digest,
        commit=step.id,
        date=_stamp(step.date),
        author=step.author,
        path=target.path,
        details=list(change.details),
        approvals_required=subject.required,
        deleted=change.after is None,
    )


def _newest(entries: list[ReviewEntry], clock: dt.datetime | None, before: str | None) -> str | None:
    """The newest signed time among ``entries``, never later than the judge's clock (an entry
    dated ahead cannot push its agent's next review out of sight)."""
    times = [when for when in map(signed_time, entries) if when is not None]
    if not times:
        return before
    newest = min(max(times), clock) if clock else max(times)
    stamp = _stamp(newest)
    return max(stamp, before) if before else stamp


def _identity(state: AgentState | None) -> tuple[str, str] | None:
    return (state.path, state.digest) if state else None


def _stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
