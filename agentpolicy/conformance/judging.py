"""Judge each runtime event against the boundary approved in git at the event's time.

The answer for an action is `Boundary.decide` (the same one the runtime library
and the exported OPA policy give); this module adds only what a log can show
beyond it: no confirmation recorded, a version never approved, a retired or
unknown agent, a record that cannot be read. Findings beyond ``max_findings``
are counted, not kept, so memory stays flat however many events fail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from agentpolicy.conformance.logs import Malformed, RuntimeEvent, read_log
from agentpolicy.conformance.timeline import NotYet, Timelines, build_timelines
from agentpolicy.model.document import ERROR, WARNING, Finding
from agentpolicy.results.check import CheckResult
from agentpolicy.runtime.boundary import ALLOW, DENY


@dataclass
class ConformanceRequest:
    logs: Sequence[str]
    rev: str = "HEAD"
    start: str = "."
    max_findings: int = 1000


@dataclass
class ConformanceResult(CheckResult):
    events: int = 0
    commit: str = ""
    omitted: dict[str, int] = field(default_factory=dict)  # severity -> findings counted, not listed

    @property
    def errors(self) -> int:
        return int(CheckResult.errors.fget(self)) + self.omitted.get(ERROR, 0)  # type: ignore[attr-defined]

    @property
    def warnings(self) -> int:
        return int(CheckResult.warnings.fget(self)) + self.omitted.get(WARNING, 0)  # type: ignore[attr-defined]


def run_conformance(request: ConformanceRequest) -> ConformanceResult:
    timelines = build_timelines(request.start, request.rev)
    result = ConformanceResult(mode="conformance", findings=[], files_checked=len(request.logs))
    result.commit = timelines.commit
    for path in request.logs:
        try:
            for record in read_log(path):
                if isinstance(record, Malformed):
                    _report(result, request, path, record.line, "AP500", record.why, "")
                    continue
                result.events += 1
                for rule, message in judge_event(record, timelines):
                    _report(result, request, path, record.line, rule, message, record.agent)
        except OSError as exc:
            from agentpolicy.errors import AgentPolicyError

            raise AgentPolicyError(
                f"cannot read {path}: {exc.strerror}", "check the log's path", path=path
            ) from exc
    shown = request.rev if not timelines.commit else f"{request.rev} ({timelines.commit[:12]})"
    result.notes.append(
        f"{result.events} events judged against the boundaries approved in the history of {shown}"
    )
    if result.omitted:
        more = sum(result.omitted.values())
        result.notes.append(
            f"{more} more findings counted but not listed (--max-findings {request.max_findings})"
        )
    return result


def _report(
    result: ConformanceResult,
    request: ConformanceRequest,
    path: str,
    line: int,
    rule: str,
    message: str,
    agent: str,
) -> None:
    if len(result.findings) >= request.max_findings:
        result.omitted[ERROR] = result.omitted.get(ERROR, 0) + 1
        return
    from agentpolicy.rules.catalog import PYTHON_RULES

    result.findings.append(Finding(path, line, 1, rule, ERROR, message, PYTHON_RULES[rule].hint, agent))


def judge_event(event: RuntimeEvent, timelines: Timelines) -> list[tuple[str, str]]:
    """The findings of one event: (rule id, message); none when it conforms."""
    at = _stamp(event.time)
    where = f"{event.where}: " if event.where else ""
    who = f"{event.agent} ran {event.action} at {at}"
    timeline = timelines.agents.get(event.agent)
    if timeline is None:
        return [("AP506", f"{where}{who}: no agent named {event.agent} in this history")]
    state, commit = timeline.at(event.time)
    if isinstance(state, NotYet):
        first = timeline.first_approved
        since = f"first approved at {_stamp(first)}" if first else "never approved"
        return [("AP507", f"{where}{who}: it had no approved boundary then ({since})")]
    if state is None or state.stage == "retired":
        how = "deleted" if state is None else "retired"
        return [("AP505", f"{where}{who}: the agent was {how} then (approved in {commit[:12]})")]
    found = []
    if event.version is not None and not timeline.version_approved_by(event.version, event.time):
        found.append(
            (
                "AP504",
                f"{where}{who} as version {event.version}, which was not approved by then "
                f"(in force: {state.version})",
            )
        )
    decision = state.decide(event.action)
    boundary = f"{event.agent} {state.version}, approved in {commit[:12]}"
    if decision == DENY:
        found.append(("AP501", f"{where}{who}: not in its boundary ({boundary})"))
    elif decision != ALLOW and not event.confirmed_by:
        if state.irreversible(event.action):
            found.append(
                (
                    "AP503",
                    f"{where}{who} without confirmation: irreversible, requires confirmation ({boundary})",
                )
            )
        else:
            found.append(("AP502", f"{where}{who} without confirmation: requires confirmation ({boundary})"))
    return found


def _stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
