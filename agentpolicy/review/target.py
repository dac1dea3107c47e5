"""The target branch's tip in a range check: its rules bind too, and what it changed since the fork.

The before side of a pull request is its merge base, which can be far behind
the branch it lands on. Whatever the target tightened since (a higher
threshold, a pack, self-approval switched off, a revoked key) must still hold,
and an agent the target changed since the fork would land as a merge of both
contents, which no one reviewed: the branch must be brought up to date first.
"""

from __future__ import annotations

from agentpolicy.errors import ConfigError
from agentpolicy.files.snapshot import Snapshot
from agentpolicy.model.changes import AgentChange
from agentpolicy.model.document import ERROR, Finding
from agentpolicy.rules.config import CONFIG_PATH, Config, load_config
from agentpolicy.rules.engine import load_agent

RULE_STALE = "AP209"


def target_config(tip: Snapshot) -> Config:
    """The configuration (with packs) in force at the target branch's tip."""
    try:
        return load_config(tip.read(CONFIG_PATH)).with_packs(tip)
    except ConfigError as exc:
        raise ConfigError(
            f"{exc.message} (in {tip.label}, the branch this change lands on)",
            exc.hint,
            path=exc.path,
            line=exc.line,
        ) from None


def changed_on_target(before: Snapshot, tip: Snapshot, config: Config, globs: tuple[str, ...]) -> set[str]:
    """Names of the agents whose files, or review entries (a rejection recorded on the target),
    differ between the merge base and the target's tip."""
    names = _reviewed_on_target(before, tip, config)
    old, new = before.files(globs), tip.files(globs)
    for snapshot, files, other in ((before, old, new), (tip, new, old)):
        for path, entry in files.items():
            if other.get(path) is not None and other[path].key == entry.key:
                continue
            document = load_agent(path, snapshot.read(path), is_link=entry.is_link).document
            name = document.data.get("name") if document is not None else None
            if isinstance(name, str):
                names.add(name)
    return names


def _reviewed_on_target(before: Snapshot, tip: Snapshot, config: Config) -> set[str]:
    old, new = before.files_under(config.reviews), tip.files_under(config.reviews)
    prefix = config.reviews_prefix
    return {
        path[len(prefix) :].split("/", 1)[0]
        for path, entry in new.items()
        if path.startswith(prefix) and (old.get(path) is None or old[path].key != entry.key)
    }


def stale_findings(changes: list[AgentChange], moved: set[str], tip: Snapshot) -> list[Finding]:
    """A governed change to an agent the target also changed since the fork cannot be judged here."""
    findings = []
    for change in changes:
        if not change.governed or change.name not in moved:
            continue
        target = change.after or change.before
        assert target is not None
        findings.append(
            Finding(
                target.path,
                1,
                1,
                RULE_STALE,
                ERROR,
                f"{change.name} (or its reviews) also changed on {tip.label} since this branch was "
                "forked: what would land is a merge of both, which nobody reviewed",
                "merge or rebase the target branch into this one, then ask for a review of the result",
                agent=change.name,
            )
        )
    return findings
