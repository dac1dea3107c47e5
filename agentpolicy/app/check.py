"""`check`: choose the two snapshots for the mode, then policy, diff, gate, result.

Modes (see ARCHITECTURE): PATHS (no before side), working tree vs HEAD, index vs
HEAD (the pre-commit hook), and merge-base(base, head) vs head (pull requests).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentpolicy.app.file_verdicts import AgentFiles, walked_agent_files
from agentpolicy.errors import ConfigError, GitError
from agentpolicy.files.snapshot import FolderSnapshot, Snapshot
from agentpolicy.model.changes import AgentChange, AgentState, diff_agents
from agentpolicy.model.document import Document, LoadResult
from agentpolicy.results.check import CheckResult
from agentpolicy.rules.config import CONFIG_PATH, Config, load_config
from agentpolicy.rules.engine import (
    agent_names,
    check_file_names,
    check_files,
    check_unique_names,
    load_agent,
)

if TYPE_CHECKING:
    from agentpolicy.app.gate import AuthorsOf
    from agentpolicy.git.repo import Repo

PATHS, WORKTREE, STAGED, RANGE = "paths", "worktree", "staged", "range"


@dataclass(frozen=True)
class CheckRequest:
    mode: str
    paths: tuple[str, ...] = ()
    base: str | None = None
    head: str = "HEAD"
    start: str = "."


def find_worktree_config(start: str) -> tuple[bytes | None, str]:
    """The config of the work tree containing ``start``, found without loading pygit2."""
    folder = os.path.abspath(start)
    while True:
        if os.path.exists(os.path.join(folder, ".git")):
            break
        parent = os.path.dirname(folder)
        if parent == folder:
            folder = os.path.abspath(start)
            break
        folder = parent
    path = os.path.join(folder, CONFIG_PATH)
    try:
        with open(path, "rb") as handle:
            return handle.read(), path
    except FileNotFoundError:
        return None, path


def run_check(request: CheckRequest) -> CheckResult:
    if request.mode == PATHS:
        raw, where = find_worktree_config(request.start)
        config = load_config(raw, os.path.relpath(where)).with_packs(FolderSnapshot(os.path.dirname(where)))
        skipped: list[str] = []
        findings, results = check_files(request.paths, config, skipped)
        notes = [f"skipped {path}: not a regular file (a FIFO, socket or device)" for path in skipped]
        return CheckResult(
            PATHS,
            findings,
            len(results),
            notes=notes,
            agents=agent_names(results),
            pack_rules=tuple(rule.info for rule in config.pack_rules),
        )
    from agentpolicy.git.repo import Repo

    repo = Repo(request.start)
    before, after, authors, tip = _snapshots(repo, request)
    result = compare_snapshots(request.mode, before, after, authors, repo.repo.path, tip)
    from agentpolicy.app.reattest import review_due_findings

    config = _trust_root_config(before, after, [])
    changing = {change.agent for change in result.changes}
    rev = request.head if request.mode == RANGE else "HEAD"
    result.findings += review_due_findings(repo, rev, config, changing, request.start)
    return result


def _snapshots(repo: Repo, request: CheckRequest) -> tuple[Snapshot, Snapshot, AuthorsOf, Snapshot | None]:
    """(before, after, who authored the change, the target branch's tip when it differs from before)."""
    from agentpolicy.review.authors import RangeAuthors, UserAuthors

    if request.mode == RANGE:
        head = repo.resolve(request.head)
        if request.base is None:
            # Never judge a range against nothing: the content under review would be its own trust root.
            raise GitError(
                "a range check needs a base: the tip of the branch the change lands on",
                "pass --base REV (e.g. --base refs/remotes/origin/main)",
            )
        base = repo.resolve(request.base)
        merge_base = repo.merge_base(base, head)
        tip = None if base == merge_base else repo.revision_snapshot(base, f"{request.base} ({base[:12]})")
        return (
            repo.revision_snapshot(merge_base, f"merge base {merge_base[:12]}"),
            repo.revision_snapshot(head, f"{request.head} ({head[:12]})"),
            RangeAuthors(repo, merge_base, head),
            tip,
        )
    before = repo.head_snapshot()
    after = repo.index_snapshot(before) if request.mode == STAGED else repo.worktree_snapshot()
    return before, after, UserAuthors(repo), None


def compare_snapshots(
    mode: str,
    before: Snapshot,
    after: Snapshot,
    authors: AuthorsOf,
    git_dir: str | None = None,
    tip: Snapshot | None = None,
) -> CheckResult:
    from agentpolicy.app.gate import Gate
    from agentpolicy.review.entry_set import ReviewSet
    from agentpolicy.review.trust import make_verifier

    notes: list[str] = []
    config = _trust_root_config(before, after, notes)
    from agentpolicy.review.target import changed_on_target, stale_findings, target_config

    tip_config = target_config(tip) if tip is not None else None
    # What the target branch governs now is governed on both sides; a file that only the after
    # side's configuration makes an agent is new to the gate: widening the globs must not slip
    # existing, never-reviewed files in.
    globs = tuple(dict.fromkeys((*config.agents, *(tip_config.agents if tip_config else ()))))
    files = _agent_files(before, after, globs, config, git_dir, tip)
    verdicts, loaded_after, changed_after = files.verdicts, files.loaded_after, files.changed_after
    policy_findings = [f for verdict in verdicts for f in verdict.findings]
    policy_findings += check_unique_names(verdicts, lambda path: load_agent(path, after.read(path)).document)
    policy_findings += check_file_names(files.paths)
    after_states = _states({p: loaded_after[p] for p in changed_after})
    before_states = _states(
        {p: load_agent(p, before.read(p), is_link=is_link) for p, is_link in files.changed_before.items()}
    )
    # An agent whose file is still there but no longer loads (broken YAML, a merge conflict) has
    # not been deleted: its AP001 error (locked, never waivable) already fails the change, and
    # a second, false "deleted" finding would send the author after the wrong problem.
    unreadable = {p for p in changed_after if loaded_after[p].document is None}
    still_there = {
        name: state
        for name, state in before_states.items()
        if name in after_states or state.path not in unreadable
    }
    changes: list[AgentChange] = diff_agents(still_there, after_states)

    agents = {v.name: v.path for v in sorted(verdicts, key=lambda v: v.path, reverse=True) if v.name}
    known = set(agents) | set(before_states)
    reviews = ReviewSet(before, after, config)
    from agentpolicy.review.trustroot import trust_subject

    verify = make_verifier(config, before, after, notes, tip, tip_config)
    gate = Gate(config, reviews, verify, authors, tip_config=tip_config)
    trust = trust_subject(before, after, config, tip, tip_config)
    gate.run(changes, known, [trust] if trust else [])
    if tip is not None:
        gate.findings += stale_findings(changes, changed_on_target(before, tip, config, globs), tip)
    from agentpolicy.rules.engine import apply_overrides

    findings = apply_overrides([*policy_findings, *gate.findings], config)
    return CheckResult(
        mode,
        findings,
        len(files.paths),
        gate.summaries,
        notes,
        agents,
        tuple(rule.info for rule in config.pack_rules),
        gate.trust_root_approved,
    )


def _agent_files(
    before: Snapshot,
    after: Snapshot,
    globs: tuple[str, ...],
    config: Config,
    git_dir: str | None,
    tip: Snapshot | None,
) -> AgentFiles:
    """The after side's agent files and verdicts: for the hook, from HEAD's whole-tree result when
    the globs are the same on both sides; else (or when in doubt) by walking both snapshots."""
    after_globs = governed_globs(globs, after)
    if tip is None and after_globs == globs:
        from agentpolicy.app.tree_verdicts import staged_agent_files

        found = staged_agent_files(before, after, globs, config, git_dir)
        if found is not None:
            return found
    return walked_agent_files(before, after, globs, after_globs, git_dir, config)


def governed_globs(globs: tuple[str, ...], after: Snapshot) -> tuple[str, ...]:
    """The agent globs in force plus any the after side's configuration adds."""
    try:
        proposed = load_config(after.read(CONFIG_PATH)).agents
    except ConfigError:
        return globs
    return tuple(dict.fromkeys((*globs, *proposed)))


def _trust_root_config(before: Snapshot, after: Snapshot, notes: list[str]) -> Config:
    after_raw = after.read(CONFIG_PATH)
    if not before.exists:
        notes.append(f"no commit yet: using the configuration of {after.label} (it becomes the trust root)")
        return load_config(after_raw).with_packs(after)
    before_raw = before.read(CONFIG_PATH)
    try:
        config = load_config(before_raw).with_packs(before)
    except ConfigError as exc:
        raise ConfigError(
            f"{exc.message} (in {before.label}, whose configuration judges this change)",
            f"{exc.hint}; the fix itself cannot pass a check judged by the broken version: "
            "commit it with `git commit --no-verify` and have it reviewed (the audit will list it)",
            path=exc.path,
            line=exc.line,
        ) from None
    if before_raw != after_raw:
        notes.append(
            f"{CONFIG_PATH} differs in {after.label}; this check uses the version of {before.label}, "
            "and the change takes effect once it has landed"
        )
    return config


def _states(loaded: dict[str, LoadResult]) -> dict[str, AgentState]:
    states: dict[str, AgentState] = {}
    for path in sorted(loaded):
        document = loaded[path].document
        name = _name(document)
        if document is not None and name and name not in states:
            states[name] = AgentState(name, document)
    return states


def _name(document: Document | None) -> str | None:
    if document is None or not isinstance(document.data, dict):
        return None
    name = document.data.get("name")
    return name if isinstance(name, str) and name else None
