"""The agent files of a check's after side and their per-file policy verdicts.

Two ways to the same answer: walking both snapshots file by file (every mode), or, for
the hook, HEAD's whole-tree result plus the staged changes (``app/tree_verdicts``).
Either way a file's verdict comes from ``judge_file`` or from the derived cache row of
its blob, written by ``judge_file``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from agentpolicy.files.snapshot import FileEntry, Snapshot
from agentpolicy.model.document import LoadResult
from agentpolicy.rules.config import Config
from agentpolicy.rules.engine import FileVerdict, judge_file, load_agent

if TYPE_CHECKING:
    from agentpolicy.cache.derived import DerivedCache

MENTIONS = b"review_every"  # in a blob's bytes: someone may have opted in to re-attestation


def may_opt_in(raw: bytes | None) -> bool:
    """Whether a file might set `review_every`, judged from its bytes without parsing it: it
    names the key, or it holds a backslash (a double-quoted YAML key can spell the name with
    escapes, `"review_\\x65very"`, which a byte search would miss)."""
    data = raw or b""
    return MENTIONS in data or b"\\" in data


@dataclass
class AgentFiles:
    paths: list[str]  # every agent file of the after side
    changed_after: set[str]  # after-side files whose content differs from the before side's
    changed_before: dict[str, bool]  # before-side files that differ or are gone -> is a link
    verdicts: list[FileVerdict]
    loaded_after: dict[str, LoadResult]  # at least every file of changed_after


def walked_agent_files(
    before: Snapshot,
    after: Snapshot,
    before_globs: tuple[str, ...],
    after_globs: tuple[str, ...],
    git_dir: str | None,
    config: Config,
) -> AgentFiles:
    after_files = after.files(after_globs)
    before_files = before.files(before_globs)
    changed_after = {p for p, e in after_files.items() if before_files.get(p, _NONE).key != e.key}
    changed_before = {p: e.is_link for p, e in before_files.items() if after_files.get(p, _NONE).key != e.key}
    cache = open_cache(git_dir, config)
    try:
        verdicts, loaded = policy_verdicts(after, after_files, changed_after, config, cache)
    finally:
        if cache is not None:
            cache.close()
    return AgentFiles(list(after_files), changed_after, changed_before, verdicts, loaded)


def open_cache(git_dir: str | None, config: Config) -> DerivedCache | None:
    from agentpolicy.cache.derived import DerivedCache, policy_key

    return DerivedCache.open(git_dir, policy_key(config)) if git_dir else None


def policy_verdicts(
    after: Snapshot,
    files: dict[str, FileEntry],
    changed: set[str],
    config: Config,
    cache: DerivedCache | None,
) -> tuple[list[FileVerdict], dict[str, LoadResult]]:
    """Per-file verdicts for ``files``; unchanged blobs come from the derived cache."""
    # Changed files are judged afresh (their documents are needed for the diff), but a row already
    # stored for the same blob (a hook run again on the same staged content) is not written again:
    # a write is a transaction and a sync to disk, the largest single cost of a hook run.
    cached = cache.get_many(sorted({e.key for e in files.values()})) if cache else {}
    verdicts: list[FileVerdict] = []
    loaded: dict[str, LoadResult] = {}
    for path, entry in files.items():
        hit = cached.get(entry.key) if path not in changed and not entry.is_link else None
        if hit is not None:
            name, findings, _ = hit
            verdicts.append(FileVerdict(path, name, [replace(f, path=path) for f in findings]))
            continue
        raw = after.read(path)
        loaded[path] = load_agent(path, raw, is_link=entry.is_link)
        verdict = judge_file(loaded[path], config)
        verdicts.append(verdict)
        if cache is not None and not entry.is_link and entry.key not in cached:
            cache.put(entry.key, verdict.name, verdict.findings, may_opt_in(raw))
    return verdicts, loaded


_NONE = FileEntry("", "")
