"""The audit's replay of history: each first-parent commit judged as `check --base C^ --head C` would.

The walk keeps only the current state (watched files, configuration, agents,
review entries) and hands every governed change to the one judge with the
*before* side's configuration, trust root and review floor, the commit's
authors and committers, and a clock that never runs backwards. An event still
unapproved stays open: entries that arrive later (before its content changes
again) are judged for it with the same before side, and with the signers in
force where they arrive.

This module is the walk; what it keeps has modules of its own: the review entries
(`replay_entries`), the signers and verdicts (`replay_trust`), the events waiting on
entries (`replay_approvals`) and the wording of every event (`replay_events`).
"""

from __future__ import annotations

from collections.abc import Iterable

from agentpolicy.app.agent_index import AgentIndex
from agentpolicy.app.audit_stream import EventSink
from agentpolicy.app.replay_approvals import Approvals
from agentpolicy.app.replay_entries import ReviewLedger, is_review_path
from agentpolicy.app.replay_events import FileProblems, change_event, entry_lost, trust_root_event
from agentpolicy.app.replay_trust import ReplayTrust, signer_files, signers_touched
from agentpolicy.cache.agent_digests import AgentDigestCache
from agentpolicy.cache.parsed_ahead import ParsedAhead
from agentpolicy.errors import AgentPolicyError
from agentpolicy.git.history import CommitStep, FileDelta, History
from agentpolicy.model.changes import AgentChange, AgentState, compare
from agentpolicy.results.audit import AuditEvent, AuditNote
from agentpolicy.review.judge import Floor, Subject, agent_subject, approval_floor
from agentpolicy.review.trust import TrustRoot
from agentpolicy.review.trustroot import TRUST_ROOT, bootstrapping
from agentpolicy.rules.config import CONFIG_PATH, Config, load_config


class Replay:
    """The state of the repository as the walk reaches each commit."""

    def __init__(self, history: History, sink: EventSink | None = None) -> None:
        self.history = history
        self.sink = sink or EventSink()  # every event, as it is made; told when each is final
        self._kept_entry = False  # the commit being applied added a review entry
        self.config = Config()
        self.exists = False  # no commit applied yet: the first one bootstraps like `check` does
        self.files: dict[str, str] = {}  # watched path -> blob id
        self.agents: dict[str, AgentState] = {}
        self.ahead = ParsedAhead(history.git.path)  # a big commit's files parsed on the other core
        self.ledger = ReviewLedger(history.blob, self.ahead)
        self.trust = ReplayTrust(history.blob)
        self.problems = FileProblems()
        self.approvals = Approvals(self.ledger, self.trust, self.sink.final)
        self.latest = self.approvals.latest  # the last event of each agent (status reads it)
        self.notes: list[AuditNote] = []
        self.history_cut = False  # a shallow clone: what came before is unknown
        self.index = AgentIndex(history.blob, AgentDigestCache.open(history.git.path), self.ahead)

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

    @property
    def events(self) -> list[AuditEvent]:
        """Every event so far (with the default sink; a spooling sink keeps its own)."""
        return self.sink.events

    def _made(self, events: Iterable[AuditEvent]) -> None:
        """Events final as they are made: nothing later can approve them."""
        for event in events:
            self.sink.add(event, final=True)

    def finish(self) -> None:
        """The walk is over: every event is final."""
        self.index.close()
        self.sink.close()

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
            if is_review_path(path, self.config):
                entry = self.ledger.entry(path, blob)
                if entry is not None:
                    self.ledger.keep(path, (entry, ""))

    def _tick(self, step: CommitStep) -> None:
        """The judge's clock: the committer date, never earlier than any first-parent ancestor's."""
        committed = step.committed or step.date
        clock = self.trust.clock
        if clock is not None and committed < clock:
            self.notes.append(
                AuditNote(
                    step.id,
                    f"commit date {committed:%Y-%m-%dT%H:%M:%SZ} is earlier than an ancestor's "
                    f"({clock:%Y-%m-%dT%H:%M:%SZ}); signatures here are judged at the later time",
                )
            )
        self.trust.clock = committed if clock is None or committed > clock else clock
        self.trust.added_at[step.id] = self.trust.clock

    def apply(self, step: CommitStep) -> None:
        self._kept_entry = False
        self._apply(step)
        if not self._kept_entry:  # only an entry's commit is ever asked when it was applied
            self.trust.added_at.pop(step.id, None)

    def _apply(self, step: CommitStep) -> None:
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
        if len(step.deltas) >= self.ahead.min_batch:
            known = self.index.loaded
            self.ahead.submit(
                blob for blob in _in_likely_order(step.deltas, self.config) if blob not in known
            )
        before_config, before_agents, existed = self.config, self.agents, self.exists
        before_files = signer_files(before_config, self.files)  # the before side's, before they change
        self.ledger.start_commit()
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
            if is_review_path(delta.old_path, self.config) or is_review_path(delta.new_path, self.config):
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
        defined = {name: self.index.names.get(name, []) for name in affected}
        self._made(self.problems.duplicates(step, defined))
        self._report_unreadable(step)
        touched = {
            name
            for name in affected
            if _identity(before_agents.get(name)) != _identity(after_agents.get(name))
        }
        root = self.trust.root_for(judge_config, before_files if existed else {}, self.files)
        # later edits make their authors authors of the change too
        self.approvals.edited((*affected, TRUST_ROOT), changed_paths, step.people)
        for name in sorted(touched):
            change = compare(name, before_agents.get(name), after_agents.get(name))
            if change is not None and change.governed:
                floor = self._floor(step, name, judge_config, root)
                subject = agent_subject(change, judge_config, locate=False)
                self._event(step, change, subject, judge_config, root, floor, changed_paths)
        if (existed and changed_config) or signers_touched(step.deltas, before_config):
            self._trust_event(step, before_config, judge_config, root, changed_paths, existed)
        self.approvals.arrived(step, lambda: self.trust.root_for(before_config, before_files))
        self.config = after_config
        if changed_config:
            self.index.rebuild(self.files, after_config.agents)
            self.agents = self.index.current()
        else:
            self.agents = after_agents

    def _floor(self, step: CommitStep, name: str, config: Config, root: TrustRoot) -> Floor:
        held = self.ledger.before_side(step.id, name)
        return approval_floor(
            self.ledger.for_agent(name, config, held), self.trust.clock, self.trust.verifier(root, held)
        )

    def _config_touched(self, deltas: list[FileDelta], config: Config) -> bool:
        packs = tuple(f"{folder.strip('/')}/" for folder in config.policy)
        return any(
            path == CONFIG_PATH or (packs and path.startswith(packs))
            for delta in deltas
            for path in (delta.old_path, delta.new_path)
            if path
        )

    def _report_unreadable(self, step: CommitStep | None) -> None:
        def defines(path: str) -> str | None:
            defined = self.index.by_path.get(path)
            return defined.name if defined else None

        self._made(self.problems.unreadable(step, self.index.unreadable, self.files, defines))

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
        event = change_event(step, change, subject)
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
        self.sink.add(event, final=False)
        self.approvals.start(step, event, subject, config, root, floor, authors)

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
        subject = self.trust.trust_subject(before, after, before_config)
        if subject is None:
            return
        floor = self._floor(step, TRUST_ROOT, judge_config, root)
        event = trust_root_event(step, subject)
        self._open_event(
            step, event, subject, judge_config, root, floor, self._authors(step, subject.paths, changed)
        )

    def _review_delta(self, step: CommitStep, delta: FileDelta) -> None:
        """Apply one change under the reviews folder; an edited or deleted entry is evidence lost:
        a note, and an event that is never approved (the check refuses it as AP210)."""
        if delta.old_path and delta.old_path in self.ledger.entries:
            entry, _added = self.ledger.entries[delta.old_path]
            self.ledger.keep(delta.old_path, None)
            self.ledger.removed[delta.old_path] = (entry, _added)
            if not step.cut:
                how = "edited" if delta.new_path == delta.old_path else "deleted"
                what, event = entry_lost(step, delta.old_path, entry, how)
                self.notes.append(AuditNote(step.id, what))
                self._made([event])
        if delta.new_path and delta.new_id:
            added = self.ledger.entry(delta.new_path, delta.new_id)
            if added is not None:
                self.ledger.keep(delta.new_path, (added, step.id))
                self._kept_entry = True
                self.ledger.arrived.add(added.agent)

    def apply_side(self, step: CommitStep) -> None:
        """A commit on a merged side branch: judged on its own tree, apart from the main line."""
        if step.parent_id is None:
            return
        self.trust.added_at.setdefault(step.id, step.committed or step.date)
        parent_files = self.history.files_at(step.parent_id)
        files = self.history.files_at(step.id)
        config = self._load_config(step.parent_id, parent_files, self.config)
        before, _ = self.index.agents_in(parent_files, config.agents)
        after, _ = self.index.agents_in(files, config.agents)
        changes = [
            change
            for name in sorted(set(before) | set(after))
            if _identity(before.get(name)) != _identity(after.get(name))
            and (change := compare(name, before.get(name), after.get(name))) is not None
            and change.governed
        ]
        self._made(self.approvals.judge_side(step, changes, config, parent_files, files))


def _in_likely_order(deltas: list[FileDelta], config: Config) -> list[str]:
    """A commit's new blobs in the order the replay reads them: review entries as listed, then
    the agent files by path (the helper parses from the end, this process from the start)."""
    entries = [d.new_id for d in deltas if d.new_id and is_review_path(d.new_path, config)]
    others = sorted((d.new_path, d.new_id) for d in deltas if d.new_id and d.new_path)
    return [*entries, *(blob for _, blob in others)]


def _identity(state: AgentState | None) -> tuple[str, str] | None:
    return (state.path, state.digest) if state else None
