"""The review entries the audit's replay holds as it walks: which are in force, and since when.

Each entry is kept with the commit that added it (the time its signature is judged
at), indexed by agent: scanning every entry for every judgement made a long
history quadratic in its entries. What one commit removed or added is kept apart
for that commit, since the before side of its changes still held the removed ones.
"""

from __future__ import annotations

from collections.abc import Callable

from agentpolicy.cache.parsed_ahead import ParsedAhead
from agentpolicy.model.yamlload import NOT_PARSED
from agentpolicy.review.entries import ReviewEntry, entry_folder, load_review
from agentpolicy.rules.config import Config

Held = dict[str, tuple[ReviewEntry, str]]  # entry path -> (entry, commit that added it, "" at a baseline)


def is_review_path(path: str | None, config: Config) -> bool:
    """An entry file as the check reads them: under the reviews folder, named *.yaml or *.yml."""
    return (
        bool(path) and str(path).startswith(config.reviews_prefix) and str(path).endswith((".yaml", ".yml"))
    )


class ReviewLedger:
    """The entries of the current state, by path and by agent, and what the commit being applied changed."""

    def __init__(self, blob: Callable[[str], bytes], ahead: ParsedAhead | None = None) -> None:
        self.blob = blob
        self.ahead = ahead
        self.entries: Held = {}
        self.removed: Held = {}  # entries the commit being applied removed or replaced
        self.arrived: set[str] = set()  # agents whose entries the commit being applied added
        self._by_agent: dict[str, Held] = {}
        self._parsed: dict[str, ReviewEntry | None] = {}  # blob id -> its entry (None: not one)

    def entry(self, path: str, blob: str) -> ReviewEntry | None:
        """The entry a blob holds, parsed once per blob for the whole walk."""
        if blob not in self._parsed:
            ahead = self.ahead.take(blob) if self.ahead else None
            entry, _ = load_review(path, self.blob(blob), ahead.data if ahead else NOT_PARSED)
            self._parsed[blob] = entry
        return self._parsed[blob]

    def keep(self, path: str, held: tuple[ReviewEntry, str] | None) -> None:
        """Set (or with None, drop) ``entries[path]``, keeping the per-agent index in step."""
        old = self.entries.pop(path, None)
        if old is not None:
            self._by_agent.get(old[0].agent, {}).pop(path, None)
        if held is not None:
            self.entries[path] = held
            self._by_agent.setdefault(held[0].agent, {})[path] = held

    def start_commit(self) -> None:
        """Forget what the previous commit removed and added."""
        self.removed = {}
        self.arrived = set()

    def for_agent(self, name: str, config: Config, pool: Held | None = None) -> list[ReviewEntry]:
        """``name``'s entries under ``config``'s reviews folder, from ``pool`` or else the current state."""
        folder = entry_folder(config.reviews, name)
        found = self._by_agent.get(name, {}) if pool is None else pool
        return [
            entry
            for path, (entry, _added) in sorted(found.items())
            if entry.agent == name and path.startswith(folder)
        ]

    def before_side(self, commit: str, name: str) -> Held:
        """One agent's entries on the before side of ``commit``: today's, less what it added, plus
        what it removed."""
        held = {path: held for path, held in self._by_agent.get(name, {}).items() if held[1] != commit}
        held.update((path, held) for path, held in self.removed.items() if held[0].agent == name)
        return held

    def entries_in(self, files: dict[str, str], config: Config, added_in: str) -> Held:
        """Every entry of a whole tree (a side branch's commit is judged on its own tree)."""
        return {
            path: (entry, added_in)
            for path, blob in files.items()
            if is_review_path(path, config) and (entry := self.entry(path, blob)) is not None
        }
