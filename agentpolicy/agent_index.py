"""Which files define which agents, parsed once per blob and kept up to date path by path.

The audit's replay asks this index for the agents of each state; it reads only
the files a commit changed (a full rebuild only when the globs change), and
takes an agent's governed content from the derived cache when a blob was seen
before, so a history walked once is not parsed again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from agentpolicy.changes import AgentState
from agentpolicy.derived import AgentDigestCache
from agentpolicy.globs import matches
from agentpolicy.model import Document
from agentpolicy.policy import load_agent


class AgentIndex:
    def __init__(self, read_blob: Callable[[str], bytes], digests: AgentDigestCache | None) -> None:
        self.read_blob = read_blob
        self.digests = digests
        self.by_path: dict[str, AgentState] = {}  # agent file -> its state, by the current globs
        self.names: dict[str, list[str]] = {}  # agent name -> the files defining it, in path order
        self._parsed_blobs: dict[str, AgentState | None] = {}

    def state(self, path: str, blob: str) -> AgentState | None:
        """The agent a blob defines (None when it defines none), placed at ``path``."""
        if blob not in self._parsed_blobs:
            self._parsed_blobs[blob] = self._parse(path, blob)
        state = self._parsed_blobs[blob]
        if state is not None and state.path != path:  # the same content, moved
            state = AgentState(state.name, state.document.moved_to(path))
        return state

    def _parse(self, path: str, blob: str) -> AgentState | None:
        """An agent's governed content: from the derived cache when this blob was seen before."""
        hit = self.digests.get(blob) if self.digests else None
        if hit is not None:
            cached_name, digest, cached_data = hit
            state = AgentState(cached_name, Document(path, cached_data))
            state.__dict__["digest"] = digest  # a cached_property, filled from the cache
            return state
        loaded = load_agent(path, self.read_blob(blob))
        data = loaded.document.data if loaded.document else None
        name = data.get("name") if isinstance(data, dict) else None
        if not (isinstance(name, str) and loaded.document):
            return None
        state = AgentState(name, loaded.document)
        if self.digests:
            self.digests.put(blob, name, state.digest, state.data)
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
        self.by_path = {}
        self.names = {}
        for path in sorted(files):
            if matches(path, globs):
                state = self.state(path, files[path])
                if state is not None:
                    self.by_path[path] = state
                    self.names.setdefault(state.name, []).append(path)

    def current(self) -> dict[str, AgentState]:
        return {name: self.by_path[paths[0]] for name, paths in self.names.items() if paths}

    def update(self, files: dict[str, str], paths: set[str], globs: tuple[str, ...]) -> set[str]:
        """Re-read only the files a commit changed; return the agent names they concern."""
        affected: set[str] = set()
        for path in paths:
            old = self.by_path.pop(path, None)
            if old is not None:
                affected.add(old.name)
                self.names[old.name].remove(path)
                if not self.names[old.name]:
                    del self.names[old.name]
        for path in sorted(paths):
            blob = files.get(path)
            if blob is None or not matches(path, globs):
                continue
            state = self.state(path, blob)
            if state is not None:
                self.by_path[path] = state
                names = self.names.setdefault(state.name, [])
                names.append(path)
                names.sort()
                affected.add(state.name)
        return affected

    def close(self) -> None:
        if self.digests:
            self.digests.close()
