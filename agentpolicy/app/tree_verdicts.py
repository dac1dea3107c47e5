"""The hook's whole-tree result: HEAD's agent files and their verdicts, one sealed row per tree.

Why: `check --staged` needs every agent file (names must be unique), and walking HEAD's
tree and reading a cached row per file made the hook's cost follow the repository. Here
HEAD's agent files, each one's name, findings and flags, are kept in one row of the
derived cache keyed by the policy, the globs and the ids of the globs' folders in HEAD.
A HEAD without a row gets one from the newest row of the same globs plus libgit2's diff
between the two trees (a commit later, that diff is the commit's own change), or from the
empty tree. The index is then HEAD's files plus the staged changes, judged as the walk
judges them (``file_verdicts.policy_verdicts``). Any doubt (a submodule near the globs, a
configuration that widens the globs, an index that is not HEAD plus changes) takes the walk.

The row is hostile input like any cache row (``cache/derived``): sealed, and one that
does not decode, or names a tree this repository does not have, is a miss.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from agentpolicy.app.file_verdicts import AgentFiles, may_opt_in, open_cache, policy_verdicts
from agentpolicy.cache.derived import DerivedCache, decode_verdict, encode_findings
from agentpolicy.errors import GitError
from agentpolicy.files.filenames import could_hold_matches
from agentpolicy.files.globs import matches, static_prefix
from agentpolicy.files.snapshot import FileEntry, Snapshot
from agentpolicy.git.snapshots import IndexSnapshot, TreeSnapshot
from agentpolicy.git.tree_diff import tree_changes
from agentpolicy.rules.config import Config
from agentpolicy.rules.engine import FileVerdict, judge_file, load_agent

LINK, MENTIONS_FLAG = 1, 2
Record = tuple[str | None, str | None, int]  # (agent name, stored findings, flags)


def staged_agent_files(
    before: Snapshot, after: Snapshot, globs: tuple[str, ...], config: Config, git_dir: str | None
) -> AgentFiles | None:
    """The index's agent files from HEAD's tree result; None when the walk must answer."""
    if git_dir is None or not isinstance(before, TreeSnapshot) or not isinstance(after, IndexSnapshot):
        return None
    staged = after.staged_changes(before)
    if staged is None or any(entry is not None and entry.is_gitlink for entry in staged.values()):
        return None
    cache = open_cache(git_dir, config)
    if cache is None:
        return None
    try:
        files = tree_files(cache, before, globs, config)
        return None if files is None else _with_staged(files, staged, before, after, globs, config, cache)
    finally:
        cache.close()


def opted_in(snapshot: Snapshot, config: Config, git_dir: str) -> bool | None:
    """Whether an agent file of ``snapshot`` mentions `review_every`, from its stored tree
    result (written by this run's check); None when there is none."""
    globs = tuple(dict.fromkeys(config.agents))
    if not isinstance(snapshot, TreeSnapshot):
        return None
    trees = snapshot.subtree_ids(sorted({static_prefix(glob) for glob in globs}))
    cache = open_cache(git_dir, config)
    if trees is None or cache is None:
        return None
    try:
        row = cache.get_tree(json.dumps(globs), json.dumps(trees))
    finally:
        cache.close()
    files = decode_files(row[1]) if row else None
    return None if files is None else any(flags & MENTIONS_FLAG for _, _, flags in files.values())


def tree_files(
    cache: DerivedCache, tree: TreeSnapshot, globs: tuple[str, ...], config: Config
) -> dict[str, Record] | None:
    """path -> record for every file of ``tree`` the globs match (stored, derived or built)."""
    trees = tree.subtree_ids(sorted({static_prefix(glob) for glob in globs}))
    if trees is None:
        return None
    scope, key = json.dumps(globs), json.dumps(trees)
    row = cache.get_tree(scope, key)
    files = decode_files(row[1]) if row else None
    if files is not None:
        return files
    newest = cache.get_tree(scope)
    base = _base(newest, trees) if newest else None
    try:
        files = _derive(cache, tree, globs, config, trees, base) if base else None
    except GitError:  # a stored tree this repository does not have: start from nothing
        files = None
    if files is None:
        try:
            files = _derive(cache, tree, globs, config, trees, ({}, [(p, None) for p, _ in trees]))
        except GitError:
            return None  # the walk will say what is wrong with the repository
    if files is not None:
        cache.put_tree(scope, key, encode_files(files))
    return files


def _base(row: tuple[str, str], trees: list[tuple[str, str | None]]) -> tuple[dict[str, Record], Any] | None:
    files = decode_files(row[1])
    try:
        stored = json.loads(row[0])
    except (ValueError, RecursionError):
        return None
    if files is None or not isinstance(stored, list) or len(stored) != len(trees):
        return None
    for item, (prefix, _) in zip(stored, trees, strict=True):
        if not (isinstance(item, list) and len(item) == 2 and item[0] == prefix):
            return None
        if item[1] is not None and not isinstance(item[1], str):
            return None
    return files, stored


def _derive(
    cache: DerivedCache,
    tree: TreeSnapshot,
    globs: tuple[str, ...],
    config: Config,
    trees: list[tuple[str, str | None]],
    base: tuple[dict[str, Record], Any],
) -> dict[str, Record] | None:
    """The base's files with the diff from the base's trees to ``trees`` applied."""
    files, stored = dict(base[0]), base[1]
    wanted: dict[str, str] = {}
    for (prefix, old), (_, new) in zip(stored, trees, strict=True):
        for path, entry in tree_changes(tree.repo, old, new, prefix).items():
            files.pop(path, None)
            wanted.pop(path, None)
            if entry is None:
                continue
            if entry.is_gitlink:
                if could_hold_matches(path, globs):
                    return None  # the walk fails closed on it, with its own message
                continue
            if not matches(path, globs):
                continue
            if entry.is_link:
                files[path] = (None, None, LINK)
            else:
                wanted[path] = entry.key
    cached = cache.get_many(sorted(set(wanted.values())))
    for path, blob in wanted.items():
        hit = cached.get(blob)
        if hit is None:
            raw = tree.read(path)
            verdict = judge_file(load_agent(path, raw), config)
            hit = (verdict.name, verdict.findings, may_opt_in(raw))
            cache.put(blob, *hit)
            cached[blob] = hit
        files[path] = (hit[0], encode_findings(hit[1]), MENTIONS_FLAG if hit[2] else 0)
    return files


def _with_staged(
    files: dict[str, Record],
    staged: dict[str, FileEntry | None],
    before: TreeSnapshot,
    after: Snapshot,
    globs: tuple[str, ...],
    config: Config,
    cache: DerivedCache,
) -> AgentFiles | None:
    """The index's agent files: HEAD's, with the staged changes the globs match."""
    touched = {path for path in staged if matches(path, globs)}
    after_entries = {path: entry for path in sorted(touched) if (entry := staged[path]) is not None}
    # What the staged changes change is read from git, never from the stored row: a row that
    # left a file out must not turn its deletion or edit into no change at all.
    before_entries = {path: entry for path in touched if (entry := before.entry(path))}
    changed_after = {
        path for path, entry in after_entries.items() if before_entries.get(path, _NONE).key != entry.key
    }
    changed_before = {
        path: entry.is_link
        for path, entry in before_entries.items()
        if after_entries.get(path, _NONE).key != entry.key
    }
    verdicts, loaded = policy_verdicts(after, after_entries, changed_after, config, cache)
    for path, (name, stored, flags) in files.items():
        if path in touched:
            continue
        if flags & LINK:
            verdicts.append(judge_file(load_agent(path, None, is_link=True), config))
            continue
        decoded = decode_verdict(name, stored)
        if decoded is None:
            return None
        verdicts.append(FileVerdict(path, name, [replace(finding, path=path) for finding in decoded[1]]))
    paths = [path for path in files if path not in touched] + list(after_entries)
    return AgentFiles(paths, changed_after, changed_before, verdicts, loaded)


def encode_files(files: dict[str, Record]) -> str:
    paths = sorted(files)
    return json.dumps(
        {
            "paths": "\0".join(paths),
            "names": [files[path][0] for path in paths],
            "flags": "".join(str(files[path][2]) for path in paths),
            "findings": {path: files[path][1] for path in paths if files[path][1] is not None},
        }
    )


def decode_files(payload: str) -> dict[str, Record] | None:
    """A stored tree result, or None when it is not exactly what ``encode_files`` writes."""
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    paths, names, flags, findings = (data.get(k) for k in ("paths", "names", "flags", "findings"))
    if not (isinstance(paths, str) and isinstance(names, list) and isinstance(flags, str)):
        return None
    if not isinstance(findings, dict):
        return None
    listed = paths.split("\0") if paths else []
    if not (len(listed) == len(names) == len(flags) == len(set(listed))) or not set(flags) <= set("0123"):
        return None
    if not all(name is None or isinstance(name, str) for name in names):
        return None
    files: dict[str, Record] = {
        path: (name, None, int(flag)) for path, name, flag in zip(listed, names, flags, strict=True)
    }
    for path, stored in findings.items():
        record = files.get(path)
        if record is None or not isinstance(stored, str) or decode_verdict(record[0], stored) is None:
            return None
        files[path] = (record[0], stored, record[2])
    return files


_NONE = FileEntry("", "")
