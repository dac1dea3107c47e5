"""The change gate: which governed changes need which approvals, and whether they have them.

Everything here is judged against the *before* side's configuration and trust
root, so a change cannot relax the rules it is judged by.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from agentpolicy.changes import BOUNDARY, EXPANDED, NARROWED, RETIRED, STAGE, VERSION, AgentChange
from agentpolicy.config import Config
from agentpolicy.model import ERROR, WARNING, Finding
from agentpolicy.result import ChangeSummary
from agentpolicy.reviews import ReviewEntry, entry_folder, load_review
from agentpolicy.snapshot import FileEntry, Snapshot

RULE_NEEDS_REVIEW = "AP201"
RULE_BUMP_VERSION = "AP202"
RULE_REJECTED = "AP203"
RULE_SELF_APPROVAL = "AP205"
RULE_MISMATCH = "AP206"
RULE_UNKNOWN_AGENT = "AP207"
RULE_APPEND_ONLY = "AP210"


@dataclass(frozen=True)
class Verdict:
    """Whether an entry's signature counts; a message on a counting entry is a warning."""

    ok: bool
    rule: str = ""
    message: str = ""
    hint: str = ""


Verifier = Callable[[ReviewEntry], Verdict]
AuthorsOf = Callable[[AgentChange], set[str]]


@dataclass
class ReviewSet:
    """The review entries of the after side that this gate run looks at."""

    before: Snapshot
    after: Snapshot
    config: Config
    findings: list[Finding] = field(default_factory=list)
    added_paths: set[str] = field(default_factory=set)
    _by_agent: dict[str, list[ReviewEntry]] = field(default_factory=dict)
    _loaded: dict[str, ReviewEntry | None] = field(default_factory=dict)

    def scan_changes(self) -> None:
        """Append-only: refuse edits and deletions of existing entries; validate added ones."""
        folder = self.config.reviews
        old = self.before.files_under(folder)
        new = self.after.files_under(folder)
        for path in sorted(old.keys() - new.keys()):
            self.findings.append(_append_only(path, "deleted", old[path]))
        for path in sorted(old.keys() & new.keys()):
            if old[path].key != new[path].key:
                self.findings.append(_append_only(path, "modified", new[path]))
        self.added_paths = {path for path in new.keys() - old.keys() if path.endswith((".yaml", ".yml"))}

    def for_agent(self, agent: str) -> list[ReviewEntry]:
        if agent not in self._by_agent:
            folder = entry_folder(self.config.reviews, agent)
            entries = []
            for path, entry in sorted(self.after.files_under(folder).items()):
                if not path.endswith((".yaml", ".yml")):
                    continue
                loaded = self._load(path, entry)
                if loaded is not None and loaded.agent == agent:
                    entries.append(loaded)
            self._by_agent[agent] = entries
        return self._by_agent[agent]

    def added_entries(self) -> list[ReviewEntry]:
        entries = []
        for path in sorted(self.added_paths):
            loaded = self._load(path, self.after.files_under(path.rsplit("/", 1)[0])[path])
            if loaded is not None:
                entries.append(loaded)
        return entries

    def _load(self, path: str, entry: FileEntry) -> ReviewEntry | None:
        if path in self._loaded:
            return self._loaded[path]
        if entry.is_link:
            self.findings.append(
                Finding(
                    path,
                    1,
                    1,
                    "AP204",
                    ERROR,
                    "review entry is a symbolic link",
                    "replace the link with the entry file itself",
                )
            )
            loaded = None
        else:
            loaded, problems = load_review(path, self.after.read(path))
            # Problems in entries that predate the change were judged when they landed.
            if path in self.added_paths:
                self.findings.extend(problems)
            if loaded is not None and not path.startswith(entry_folder(self.config.reviews, loaded.agent)):
                if path in self.added_paths:
                    self.findings.append(
                        Finding(
                            path,
                            1,
                            1,
                            "AP204",
                            ERROR,
                            f"review entry for {loaded.agent!r} is outside that agent's folder",
                            f"move it under {entry_folder(self.config.reviews, loaded.agent)}",
                        )
                    )
                loaded = None
        self._loaded[path] = loaded
        return loaded


def _append_only(path: str, how: str, _entry: FileEntry) -> Finding:
    return Finding(
        path=path,
        line=1,
        column=1,
        rule=RULE_APPEND_ONLY,
        severity=ERROR,
        message=f"existing review entry {how}: review entries are append-only",
        hint="restore the entry (git checkout HEAD -- PATH); to retract a decision add a new entry",
    )


@dataclass
class Gate:
    config: Config
    reviews: ReviewSet
    verify: Verifier
    authors_of: AuthorsOf
    findings: list[Finding] = field(default_factory=list)
    summaries: list[ChangeSummary] = field(default_factory=list)

    def run(self, changes: Iterable[AgentChange], known_agents: set[str]) -> None:
        self.reviews.scan_changes()
        for change in changes:
            self._version_bump(change)
            self._judge(change)
        self._added_entries(known_agents)
        self.findings.extend(self.reviews.findings)

    def _finding(
        self, change: AgentChange, rule: str, message: str, hint: str, severity: str = ERROR
    ) -> Finding:
        state = change.after or change.before
        assert state is not None
        line, column = state.document.position(change.at) if change.at else (1, 1)
        return Finding(state.path, line, column, rule, severity, message, hint, agent=change.name)

    def _version_bump(self, change: AgentChange) -> None:
        if change.before is None or change.after is None or VERSION in change.kinds:
            return
        what = [kind for kind in change.kinds if kind in (EXPANDED, NARROWED, BOUNDARY, STAGE, RETIRED)]
        if not what:
            return
        version = change.after.version or "?"
        self.findings.append(
            Finding(
                change.after.path,
                *change.after.document.position(("version",)),
                RULE_BUMP_VERSION,
                ERROR,
                f"{change.name}: {_describe_kinds(what)} without a version bump (still {version})",
                "bump `version` (e.g. the minor for a boundary change), then ask for a review of it",
                agent=change.name,
            )
        )

    def _required(self, change: AgentChange) -> int:
        counts = [1]
        for state in (change.before, change.after):
            control = state.data.get("change_control") if state else None
            if isinstance(control, dict) and isinstance(control.get("approvals_required"), int):
                counts.append(control["approvals_required"])
        if change.expands_autonomy and self.config.autonomy_expansion_approvals:
            counts.append(self.config.autonomy_expansion_approvals)
        return max(counts)

    def _judge(self, change: AgentChange) -> None:
        target = change.after or change.before
        assert target is not None
        summary = ChangeSummary(
            agent=change.name,
            path=target.path,
            kinds=list(change.kinds),
            before_version=change.before.version if change.before else None,
            after_version=change.after.version if change.after else None,
            needs_review=change.governed,
        )
        self.summaries.append(summary)
        if not change.governed:
            return
        digest, version = target.digest, target.version or ""
        summary.digest = digest
        required = summary.approvals_required = self._required(change)
        # A deletion is bound to content that was approved before: only a new
        # `retire` decision can approve it, or the old approval would replay.
        decisions = (
            {"retire"} if change.after is None else {"approve", "retire"} if change.retires else {"approve"}
        )
        authors = {email.lower() for email in self.authors_of(change)}
        counted: dict[str, ReviewEntry] = {}
        other_content: list[ReviewEntry] = []
        for entry in self.reviews.for_agent(change.name):
            if entry.digest != digest:
                other_content.append(entry)
                if entry.path in self.reviews.added_paths:
                    self.findings.append(self._mismatch(change, entry, version))
                continue
            if entry.decision != "reject" and entry.decision not in decisions:
                if entry.path not in self.reviews.added_paths:
                    continue  # an earlier decision on this content, e.g. its approval before deletion
                self.findings.append(
                    Finding(
                        entry.path,
                        1,
                        1,
                        RULE_MISMATCH,
                        ERROR,
                        f"entry decides {entry.decision!r}, but this change needs "
                        f"{' or '.join(sorted(decisions))}",
                        f"ask for a new review: agentpolicy approve {change.name}",
                        agent=change.name,
                    )
                )
                continue
            if not self._verified(entry):
                continue
            if entry.decision == "reject":
                self.findings.append(
                    self._finding(
                        change,
                        RULE_REJECTED,
                        f"{change.name} {version}: rejected by {entry.reviewer} ({entry.path})",
                        "address the reviewer's note, change the agent and ask for a new review",
                    )
                )
                continue
            if entry.reviewer_email.lower() in authors and not self.config.allow_self_approval:
                self.findings.append(
                    Finding(
                        entry.path,
                        1,
                        1,
                        RULE_SELF_APPROVAL,
                        ERROR,
                        f"{entry.reviewer} authored this change to {change.name} and cannot approve it "
                        "(separation of duties)",
                        "ask someone who did not author the change to run: "
                        f"agentpolicy approve {change.name}",
                        agent=change.name,
                    )
                )
                continue
            counted.setdefault(entry.reviewer_email.lower(), entry)
        summary.approved_by = sorted(entry.reviewer for entry in counted.values())
        if len(counted) < required:
            self.findings.append(self._needs_review(change, required, counted, other_content))

    def _needs_review(
        self,
        change: AgentChange,
        required: int,
        counted: dict[str, ReviewEntry],
        other_content: list[ReviewEntry],
    ) -> Finding:
        before = change.before.version if change.before else None
        after = change.after.version if change.after else None
        if before and after and before != after:
            head = f"{change.name} {before} -> {after}"
        else:
            head = f"{change.name} {after or before or ''}".rstrip()
        what = _describe_kinds(change.kinds)
        if change.details:
            what += f" ({'; '.join(change.details)})"
        found = "found none" if not counted else f"found {len(counted)} ({', '.join(sorted(counted))})"
        message = (
            f"{head}: {what}; needs {required} approving review "
            f"entr{'y' if required == 1 else 'ies'} for this content; {found}"
        )
        if other_content:
            latest = other_content[-1]
            message += (
                f"; {latest.path} is for version {latest.version} with other content, so it does not count"
            )
        return self._finding(
            change,
            RULE_NEEDS_REVIEW,
            message,
            f"Ask a reviewer to run: agentpolicy approve {change.name}  (it records a signed "
            "entry for exactly this content; commit that entry with the change)",
        )

    def _mismatch(self, change: AgentChange, entry: ReviewEntry, version: str) -> Finding:
        if entry.version != version:
            why = f"it is for version {entry.version}, but {change.name} is now {version}"
        else:
            why = (
                f"it approves other content of version {version} (digest {entry.digest[:19]}...); "
                "the agent was edited after the review"
            )
        return Finding(
            entry.path,
            1,
            1,
            RULE_MISMATCH,
            ERROR,
            f"review entry does not match {change.name}: {why}",
            f"ask for a review of the current content: agentpolicy approve {change.name}",
            agent=change.name,
        )

    def _added_entries(self, known_agents: set[str]) -> None:
        """Every added entry is judged, even one no change needs: it becomes evidence."""
        for entry in self.reviews.added_entries():
            if entry.agent not in known_agents:
                self.findings.append(
                    Finding(
                        entry.path,
                        1,
                        1,
                        RULE_UNKNOWN_AGENT,
                        WARNING,
                        f"review entry names agent {entry.agent!r}, which is not defined on either side",
                        "check the agent name, or remove the entry before it is committed",
                    )
                )
            if entry.agent not in self._judged_agents():
                self._verified(entry)

    def _verified(self, entry: ReviewEntry) -> bool:
        verdict = self.verify(entry)
        if verdict.message:
            severity = WARNING if verdict.ok else ERROR
            self.findings.append(
                Finding(
                    entry.path,
                    1,
                    1,
                    verdict.rule,
                    severity,
                    verdict.message,
                    verdict.hint,
                    agent=entry.agent,
                )
            )
        return verdict.ok

    def _judged_agents(self) -> set[str]:
        return {summary.agent for summary in self.summaries if summary.needs_review}


def _describe_kinds(kinds: Iterable[str]) -> str:
    return ", ".join(kind.replace("-", " ") for kind in kinds)
