"""The review entries a gate run looks at: append-only scanning and lazy loading per agent."""

from __future__ import annotations

from dataclasses import dataclass, field

from agentpolicy.files.snapshot import FileEntry, Snapshot
from agentpolicy.model.document import ERROR, Finding
from agentpolicy.review.entries import ReviewEntry, entry_folder, load_review
from agentpolicy.rules.config import Config

RULE_INVALID_ENTRY = "AP204"
RULE_APPEND_ONLY = "AP210"
ENTRY_SUFFIXES = (".yaml", ".yml")


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
        old = _entry_files(self.before.files_under(folder))
        new = _entry_files(self.after.files_under(folder))
        for path in sorted(old.keys() - new.keys()):
            self.findings.append(_append_only(path, "deleted", old[path]))
        for path in sorted(old.keys() & new.keys()):
            if old[path].key != new[path].key:
                self.findings.append(_append_only(path, "modified", new[path]))
        self.added_paths = set(new.keys() - old.keys())

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

    def before_entries(self, agent: str) -> list[ReviewEntry]:
        """The entries the before side already holds for ``agent`` (their times set the floor)."""
        folder = entry_folder(self.config.reviews, agent)
        entries = []
        for path, entry in sorted(self.before.files_under(folder).items()):
            if entry.is_link or not path.endswith((".yaml", ".yml")):
                continue
            loaded, _problems = load_review(path, self.before.read(path))
            if loaded is not None and loaded.agent == agent:
                entries.append(loaded)
        return entries

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
                    RULE_INVALID_ENTRY,
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
                            RULE_INVALID_ENTRY,
                            ERROR,
                            f"review entry for {loaded.agent!r} is outside that agent's folder",
                            f"move it under {entry_folder(self.config.reviews, loaded.agent)}",
                        )
                    )
                loaded = None
        self._loaded[path] = loaded
        return loaded


def _entry_files(files: dict[str, FileEntry]) -> dict[str, FileEntry]:
    """Review entries are the *.yaml and *.yml files of the folder (a README or .gitkeep is not one)."""
    return {path: entry for path, entry in files.items() if path.endswith(ENTRY_SUFFIXES)}


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
