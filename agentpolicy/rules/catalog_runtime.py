"""Metadata of the rules `agentpolicy conformance` reports for runtime events (AP5xx).

Kept apart from the catalog of file and gate rules so each stays readable; both are
merged into `catalog.PYTHON_RULES`, the one registry every reporter reads.
"""

from __future__ import annotations

from agentpolicy.model.document import ERROR
from agentpolicy.rules import RuleInfo, python_rule

RUNTIME_RULES: dict[str, RuleInfo] = {
    rule.id: rule
    for rule in (
        python_rule(
            "AP500",
            "runtime-log-readable",
            ERROR,
            "a runtime log record cannot be read as an event",
            "fix the producer: JSON Lines of {time, agent, action}, or OTLP JSON with the GenAI attributes",
            "`agentpolicy conformance` reads every record; a line that is not JSON, not UTF-8, too "
            "long, or lacks a zoned time, an agent or an action is a finding with its line number "
            "(an unreadable record could hide an action). The rest of the log is still judged.",
        ),
        python_rule(
            "AP501",
            "runtime-action-in-boundary",
            ERROR,
            "an agent ran an action that is in neither list of its approved boundary",
            "stop the action, or add it to the boundary and have the change approved",
            "At run time an agent may only take the actions its approved boundary lists, as "
            "`Boundary.decide` and the exported OPA policy answer: anything else is denied.",
        ),
        python_rule(
            "AP502",
            "runtime-confirmation-recorded",
            ERROR,
            "an action that requires confirmation ran without a recorded confirmation",
            "record who confirmed it (`confirmed_by`, or the span attribute agentpolicy.confirmed_by)",
            "An action under `requires_confirmation` needs a person's confirmation each time it runs; "
            "the event must say who confirmed it.",
        ),
        python_rule(
            "AP503",
            "runtime-irreversible-confirmed",
            ERROR,
            "an irreversible action ran autonomously, without the confirmation its boundary requires",
            "record who confirmed it; check what the action did, it cannot be undone",
            "The most serious case of AP502: the boundary marks the action irreversible and requires "
            "confirmation, and nobody confirmed it.",
        ),
        python_rule(
            "AP504",
            "runtime-version-approved",
            ERROR,
            "an agent ran a version that had never been approved at that time",
            "deploy an approved version, or approve this one",
            "An event that names the agent's version is checked against every version approved in git "
            "at or before the event's time.",
        ),
        python_rule(
            "AP505",
            "runtime-agent-not-retired",
            ERROR,
            "a retired or deleted agent was still acting",
            "stop the agent: its retirement was approved",
            "Once the retirement (or the deletion) of an agent is approved, its boundary allows nothing.",
        ),
        python_rule(
            "AP506",
            "runtime-agent-known",
            ERROR,
            "an event names an agent that no agent file in this history defines",
            "check the agent name the runtime reports, or add the agent and have it approved",
            "Every agent acting at run time needs an approved definition in git.",
        ),
        python_rule(
            "AP507",
            "runtime-boundary-in-force",
            ERROR,
            "the agent had no approved boundary yet at the event's time",
            "approve the agent before it runs; check the clocks of the log and the commits",
            "An agent's boundary at time T is its governed content at the last first-parent commit at "
            "or before T whose change was approved; before its first approval, an agent may do nothing.",
        ),
    )
}
