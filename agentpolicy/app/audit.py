"""`audit`: every governed change in history, and whether the one judge approves it.

The replay itself lives in ``replay``; this module turns a request into a walk
(which commits, which folders) and filters the events it reports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agentpolicy.app.audit_stream import EventSink, LatestOnly, SpoolSink
from agentpolicy.app.replay import Replay
from agentpolicy.errors import AgentPolicyError
from agentpolicy.files.globs import static_prefix
from agentpolicy.git.history import History
from agentpolicy.model.document import LoadResult
from agentpolicy.results.audit import AuditEvent, AuditNote, AuditResult, ReviewerRecord
from agentpolicy.rules.config import CONFIG_PATH, Config, load_config

__all__ = ["AuditEvent", "AuditNote", "AuditRequest", "AuditResult", "ReviewerRecord", "run_audit"]


@dataclass
class AuditRequest:
    agents: tuple[str, ...] = ()
    rev: str = "HEAD"
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    unapproved_only: bool = False
    all_parents: bool = False
    start: str = "."
    progress: Callable[[int], None] | None = None
    as_of: dt.datetime | None = None  # walk only to the commit that stood then; judge deadlines then


def run_audit(
    request: AuditRequest,
    *,
    events: str = "all",
    loaded: dict[str, LoadResult] | None = None,
    digests: dict[str, str] | None = None,
) -> AuditResult:
    """The audit of ``request``. ``events``: ``"all"`` keeps every event in a list,
    ``"spool"`` writes each to a temporary file once final (flat memory: the reports read
    them back one at a time), ``"latest"`` keeps only each agent's newest (what status reads).
    ``loaded``: agent files the caller already loaded, by blob id (status loads every agent
    file of the revision it audits; a blob is not parsed twice); ``digests`` is then given
    the digest the audit worked out for each of them, by blob id."""
    from agentpolicy.git.repo import Repo

    repo = Repo(request.start)
    hide, head = None, request.rev
    if ".." in request.rev:
        left, _, right = request.rev.partition("..")
        hide, head = repo.resolve(left), repo.resolve(right or "HEAD")
    else:
        if not repo.has_head and request.rev == "HEAD":
            return AuditResult([], [AuditNote("", "no commits yet")], 0, {})
        head = repo.resolve(request.rev)
    if request.as_of is not None:
        from agentpolicy.app.reattest import commit_at

        head = commit_at(repo, head, request.as_of)
    history = History(repo, [CONFIG_PATH])
    history = History(repo, watched_folders(history, head, hide, not request.all_parents))
    sink = (
        SpoolSink(lambda event: _selected(event, request), request.as_of)
        if events == "spool"
        else LatestOnly()
        if events == "latest"
        else EventSink()
    )
    try:
        return _walk(
            request, repo, history, head, hide, sink, (loaded or {}, {} if digests is None else digests)
        )
    except BaseException:
        sink.discard()  # a failed walk leaves no spool behind
        raise


def _walk(
    request: AuditRequest,
    repo: Any,
    history: History,
    head: str,
    hide: str | None,
    sink: EventSink,
    preloaded: tuple[dict[str, LoadResult], dict[str, str]],
) -> AuditResult:
    replay = Replay(history, sink)
    replay.index.loaded, replay.index.loaded_digests = preloaded
    try:
        count = _replayed(request, repo, history, head, hide, replay)
    finally:
        replay.ahead.close()  # the helper process is gone on every path
    known = sink.agents | set(replay.agents)
    unknown = [name for name in request.agents if name not in known]
    if unknown:
        raise AgentPolicyError(
            f"no agent named {', '.join(map(repr, unknown))} in the history of {request.rev}",
            "check the name: `agentpolicy status` lists the agents, `agentpolicy audit` every event",
        )
    kept: Sequence[AuditEvent] = (
        sink.events_read_back()
        if isinstance(sink, SpoolSink)
        else [event for event in sink.events if _selected(event, request)]
    )
    return AuditResult(kept, replay.notes, count, replay.latest, replay.history_cut, request.as_of)


def _replayed(
    request: AuditRequest, repo: Any, history: History, head: str, hide: str | None, replay: Replay
) -> int:
    """Walk the history into ``replay``; the number of commits walked."""
    if hide:
        replay.baseline(hide, history.files(repo.repo[hide].tree))
    count = 0
    for step in history.steps(head, hide, first_parent=not request.all_parents):
        count += 1
        if count == replay.ahead.follow_after:  # a long history: a helper parses what lies ahead
            replay.ahead.follow(head, hide, not request.all_parents, history.folders, count)
        if step.side:
            replay.apply_side(step)
        else:
            replay.apply(step)
        if request.progress and count % 500 == 0:
            request.progress(count)
    replay.finish()
    return count


def watched_folders(history: History, head: str, hide: str | None, first_parent: bool) -> list[str]:
    """Everything any configuration in this history could make an agent, a review or the trust root.

    Why every configuration: watching only what the newest one names would hide
    the history of folders that were governed earlier (or a glob with no folder).
    """
    configs: dict[str, Config] = {"": Config()}
    for commit in history.commits(head, hide, first_parent):
        try:
            entry = commit.tree[CONFIG_PATH]
        except KeyError:
            continue
        if entry.type_str != "blob":  # a folder of that name is no configuration
            continue
        blob = str(entry.id)
        if blob not in configs:
            try:
                configs[blob] = load_config(history.blob(blob))
            except AgentPolicyError:
                continue
    folders = {CONFIG_PATH}
    for config in configs.values():
        folders |= {static_prefix(pattern).rstrip("/") for pattern in config.agents}
        folders |= {config.reviews.strip("/"), config.allowed_signers, *(p.strip("/") for p in config.policy)}
        if config.revoked_signers:
            folders.add(config.revoked_signers)
    return sorted(folders)


def _selected(event: AuditEvent, request: AuditRequest) -> bool:
    if request.agents and event.agent not in request.agents:
        return False
    if request.unapproved_only and event.approved:
        return False
    # ISO 8601 UTC strings of one fixed format compare like the times they name
    if request.since and event.date < request.since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"):
        return False
    return not (
        request.until and event.date > request.until.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
