"""Which files define which agents, parsed once per blob and kept up to date path by path.

The audit's replay asks this index for the agents of each state; it reads only
the files a commit changed (a full rebuild only when the globs change), and
takes an agent's governed content from the derived cache when a blob was seen
before, so a history walked once is not parsed again.

A file the globs select that the strict loader refuses (a duplicate key, a YAML
error, over the size limit, no name) is *unreadable*: the index remembers why,
and keeps what the path defined before, so the replay reports the file as
unreadable (never approved) rather than the agent as deleted, and a later repair
back to approved content is not a new change.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable

from agentpolicy.cache.agent_digests import AgentDigestCache
from agentpolicy.cache.parsed_ahead import ParsedAhead
from agentpolicy.files.globs import matches
from agentpolicy.model.changes import AgentState
from agentpolicy.model.document import ERROR, Document, LoadResult
from agentpolicy.model.yamlload import NOT_PARSED
from agentpolicy.rules.engine import load_agent

# Blobs parsed this run kept in memory (the current state's agents are held by ``by_path``
# anyway): enough for reverts and moves nearby, without memory growing with the history.
RECENT_BLOBS = 256


class AgentIndex:
    def __init__(
        self,
        read_blob: Callable[[str], bytes],
        digests: AgentDigestCache | None,
        ahead: ParsedAhead | None = None,
    ) -> None:
        self.read_blob = read_blob
        self.digests = digests
        self.ahead = ahead
        self.by_path: dict[str, AgentState] = {}  # agent file -> its state, by the current globs
        self.names: dict[str, list[str]] = {}  # agent name -> the files defining it, in path order
        self.unreadable: dict[str, str] = {}  # selected file -> why it defines no agent
        self.blobs: dict[str, str] = {}  # agent file -> the blob its state was read from
        self.loaded: dict[str, LoadResult] = {}  # blob -> its file as the caller loaded it (once)
        self.loaded_digests: dict[str, str] = {}  # blob -> digest, for the caller's loaded files
        self._parsed_blobs: OrderedDict[str, AgentState | str] = OrderedDict()

    def state(self, path: str, blob: str) -> AgentState | None:
        """The agent a blob defines (None when it defines none), placed at ``path``."""
        parsed = self._parsed(path, blob)
        if isinstance(parsed, str):
            return None
        if parsed.path != path:  # the same content, moved
            parsed = AgentState(parsed.name, parsed.document.moved_to(path))
        return parsed

    def why_unreadable(self, path: str, blob: str) -> str | None:
        parsed = self._parsed(path, blob)
        return parsed if isinstance(parsed, str) else None

    def _parsed(self, path: str, blob: str) -> AgentState | str:
        parsed = self._parsed_blobs.get(blob)
        if parsed is None:
            parsed = self._parsed_blobs[blob] = self._parse(path, blob)
            if len(self._parsed_blobs) > RECENT_BLOBS:
                self._parsed_blobs.popitem(last=False)
        else:
            self._parsed_blobs.move_to_end(blob)
        return parsed

    def _parse(self, path: str, blob: str) -> AgentState | str:
        """An agent's governed content: from the derived cache when this blob was seen before."""
        hit = self.digests.get(blob) if self.digests else None
        if hit is not None:
            cached_name, digest, cached_data = hit
            state = AgentState(cached_name, Document(path, cached_data))
            state.__dict__["digest"] = digest  # a cached_property, filled from the cache
            return state
        known = self.loaded.pop(blob, None)
        if known is not None and known.document is not None and known.document.path == path:
            loaded, ahead = known, None  # the same blob, loaded at the same path by the caller
        else:
            ahead = self.ahead.take(blob) if self.ahead else None
            loaded = load_agent(path, self.read_blob(blob), parsed=ahead.data if ahead else NOT_PARSED)
        data = loaded.document.data if loaded.document else None
        name = data.get("name") if isinstance(data, dict) else None
        if not (isinstance(name, str) and name and loaded.document):
            reasons = [f"{f.rule} {f.message}" for f in loaded.findings if f.severity == ERROR]
            return "; ".join(reasons) or "it defines no agent: `name` is missing or not a string"
        state = AgentState(name, loaded.document)
        helped = ahead is not None and ahead.governed is not None and data is ahead.data
        if helped and ahead is not None:
            # the helper's digest of these very data (the same functions of the same values)
            state.__dict__["governed"], state.__dict__["digest"] = ahead.governed, ahead.digest
        if self.digests:
            self.digests.put(blob, name, state.digest, state.data, ahead.stored if helped and ahead else None)
        if known is not None:
            self.loaded_digests[blob] = state.digest
        return state

    def agents_in(
        self, files: dict[str, str], globs: Iterable[str]
    ) -> tuple[dict[str, AgentState], dict[str, list[str]]]:
        """Agents by name (the first file in path order wins) and every file defining each name."""
        patterns = tuple(globs)
        agents: dict[str, AgentState] = {}
        paths: dict[str, list[str]] = {}
        for path in sorted(files):
            if matches(path, patterns):
                state = self.state(path, files[path])
                if state is not None:
                    agents.setdefault(state.name, state)
                    paths.setdefault(state.name, []).append(path)
        return agents, paths

    def rebuild(self, files: dict[str, str], globs: tuple[str, ...]) -> None:
        """Index every file the globs select. A file whose blob is the one already indexed
        for its path keeps its state (what a blob defines does not depend on the config):
        a commit that adds 10,000 agents and the config that selects them parses each once."""
        previous, readable = self.by_path, self._readable_blobs()
        self.by_path, self.names, self.unreadable, self.blobs = {}, {}, {}, {}
        for path in sorted(files):
            if matches(path, globs):
                blob = files[path]
                if readable.get(path) == blob:
                    self._index(path, blob, previous[path])
                else:
                    self._place(path, blob, previous.get(path))

    def _readable_blobs(self) -> dict[str, str]:
        return {path: blob for path, blob in self.blobs.items() if path not in self.unreadable}

    def _place(self, path: str, blob: str, previous: AgentState | None) -> None:
        """Put what ``path`` defines in the index; an unreadable file keeps its previous agent."""
        state = self.state(path, blob)
        if state is None:
            self.unreadable[path] = self.why_unreadable(path, blob) or "unreadable"
            state = previous
        if state is not None:
            self._index(path, blob, state)

    def _index(self, path: str, blob: str, state: AgentState) -> None:
        self.by_path[path] = state
        self.blobs[path] = blob
        names = self.names.setdefault(state.name, [])
        names.append(path)
        names.sort()

    def current(self) -> dict[str, AgentState]:
        return {name: self.by_path[paths[0]] for name, paths in self.names.items() if paths}

    def update(self, files: dict[str, str], paths: set[str], globs: tuple[str, ...]) -> set[str]:
        """Re-read only the files a commit changed; return the agent names they concern."""
        affected: set[str] = set()
        kept: dict[str, AgentState] = {}
        for path in paths:
            self.unreadable.pop(path, None)
            self.blobs.pop(path, None)
            old = self.by_path.pop(path, None)
            if old is not None:
                kept[path] = old
                affected.add(old.name)
                self.names[old.name].remove(path)
                if not self.names[old.name]:
                    del self.names[old.name]
        for path in sorted(paths):
            blob = files.get(path)
            if blob is None or not matches(path, globs):
                continue
            self._place(path, blob, kept.get(path))
            if path in self.by_path:
                affected.add(self.by_path[path].name)
        return affected

    def close(self) -> None:
        if self.digests:
            self.digests.close()
        if self.ahead:
            self.ahead.close()
