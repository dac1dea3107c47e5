"""One judge: `check --base C^ --head C`, `audit` and `status` agree on every commit of generated histories.

Hypothesis writes histories of real commits (create, expand, narrow, bump,
retire, change thresholds, approve, self-approve, reject, add and revoke
signers, with or without the approvals they need), pushed straight to main
with --no-verify. For every first-parent commit C, the audit must report C's
changes approved (in C itself) exactly when the PR check of C^..C says so, and
`status` must agree with the audit's verdict for HEAD.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.helpers import GitRepo, Key, agent_yaml, approve

AGENTS = ("alpha", "beta")
REVIEWERS = ("rev", "rev2", "dev", "mallory")


@dataclass(frozen=True)
class Step:
    op: str
    agent: str
    approvers: tuple[str, ...]
    decision: str
    author: str


steps = st.lists(
    st.builds(
        Step,
        op=st.sampled_from(
            [
                "create",
                "expand",
                "narrow",
                "bump",
                "retire",
                "threshold",
                "approve-only",
                "add-signer",
                "revoke-signer",
                "expansion-rule",
            ]
        ),
        agent=st.sampled_from(AGENTS),
        approvers=st.lists(st.sampled_from(REVIEWERS), max_size=2, unique=True).map(tuple),
        decision=st.sampled_from(["approve", "approve", "approve", "reject"]),
        author=st.sampled_from(["dev", "dev", "rev"]),
    ),
    min_size=2,
    max_size=5,
)


class Story:
    """Applies generated steps to a real repository; keeps what each agent looks like."""

    def __init__(self, repo: GitRepo, keys: dict[str, Key]) -> None:
        self.repo, self.keys = repo, keys
        self.state: dict[str, dict[str, object]] = {}
        self.signers = ["rev", "rev2", "dev"]
        self.config: list[str] = ["require_signatures: true"]

    def write_agent(self, name: str) -> None:
        state = self.state[name]
        text = agent_yaml(name=name, version=str(state["version"]))
        if state["expanded"]:
            text = text.replace(
                "    - action: extract-fields\n", "    - action: extract-fields\n    - action: summarise\n"
            )
        text = text.replace("approvals_required: 1", f"approvals_required: {state['required']}")
        self.repo.write(f"agents/{name}.yaml", text)

    def bump(self, name: str) -> None:
        major, minor, patch = (int(part) for part in str(self.state[name]["version"]).split("."))
        self.state[name]["version"] = f"{major}.{minor + 1}.{patch}"

    def write_signers(self) -> None:
        self.repo.write(
            ".agentpolicy/allowed_signers",
            "".join(self.keys[name].signer_line() + "\n" for name in self.signers),
        )

    def sign(self, who: str, *args: str) -> None:
        done = approve(self.repo, self.keys[who], *args)
        assert done.code == 0 or "fails the policy check" in done.text, done.text

    def apply(self, step: Step) -> bool:
        name, repo = step.agent, self.repo
        trust = False
        if step.op == "create" and name not in self.state:
            self.state[name] = {"version": "1.0.0", "expanded": False, "required": 1}
            self.write_agent(name)
        elif step.op in ("expand", "narrow", "bump", "threshold") and name in self.state:
            if step.op == "expand":
                self.state[name]["expanded"] = True
            elif step.op == "narrow":
                self.state[name]["expanded"] = False
            elif step.op == "threshold":
                self.state[name]["required"] = 3 - int(self.state[name]["required"])  # 1 <-> 2
            self.bump(name)
            self.write_agent(name)
        elif step.op == "retire" and name in self.state:
            (repo.path / "agents" / f"{name}.yaml").unlink()
            del self.state[name]
        elif step.op == "add-signer" and "mallory" not in self.signers:
            self.signers.append("mallory")
            self.write_signers()
            trust = True
        elif step.op == "revoke-signer" and "rev2" in self.signers:
            self.signers.remove("rev2")
            self.write_signers()
            trust = True
        elif step.op == "expansion-rule":
            self.config = (
                ["require_signatures: true"]
                if self.config[1:]
                else [
                    "require_signatures: true",
                    "autonomy_expansion_approvals: 2",
                ]
            )
            repo.write(".agentpolicy.yaml", "".join(line + "\n" for line in self.config))
            trust = True
        elif step.op != "approve-only":
            return False
        for who in step.approvers:
            if trust:
                self.sign(who, "--trust-root")
            elif name in self.state or step.op == "retire":
                decision = "retire" if step.op == "retire" else step.decision
                self.sign(who, name, "--decision", decision)
        if not repo.git("status", "--porcelain").strip():
            return False
        author = self.keys[step.author].email
        repo.commit(f"{step.op} {name}", author=f"{step.author.capitalize()} <{author}>")
        return True


def verdicts_of_check(repo: GitRepo, commit: str) -> dict[str, bool]:
    done = repo.ap("check", "--format", "json", "--base", f"{commit}^", "--head", commit)
    assert done.code in (0, 1), done.text
    report = json.loads(done.out)
    found = {change["agent"]: change["approved"] for change in report["changes"] if change["needs_review"]}
    if report["trust_root"] is not None:
        found["@trust-root"] = report["trust_root"]["approved"]
    return found


@settings(
    # A few real histories per CI run (each is dozens of real git and agentpolicy runs); set
    # AGENTPOLICY_AGREEMENT_EXAMPLES to explore more locally.
    max_examples=int(os.environ.get("AGENTPOLICY_AGREEMENT_EXAMPLES", "6")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=steps)
def test_check_audit_and_status_agree_on_every_commit(
    history: list[Step], keys: dict[str, Key], tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("story")
    repo = GitRepo(folder / "repo", folder)
    story = Story(repo, keys)
    story.write_signers()
    story.state["alpha"] = {"version": "1.0.0", "expanded": False, "required": 1}
    story.write_agent("alpha")
    story.sign("rev", "alpha")
    repo.commit("start")
    commits = [
        commit for step in history if story.apply(step) for commit in [repo.git("rev-parse", "HEAD").strip()]
    ]
    done = repo.ap("audit", "--format", "json")
    assert done.code == 0, done.text
    events = json.loads(done.out)["events"]
    for commit in commits:
        from_check = verdicts_of_check(repo, commit)
        from_audit = {
            event["agent"]: event["approved"] and event["approved_later_in"] is None
            for event in events
            if event["commit"] == commit and event["event"] != "duplicate-definition"
        }
        assert from_audit == from_check, (commit, history)
        for subject, approved in from_check.items():
            event(
                f"{'trust root' if subject.startswith('@') else 'agent'} change {'approved' if approved else 'refused'}"
            )
    status = json.loads(repo.ap("status", "--format", "json").out)["agents"]
    latest = {event["agent"]: event["approved"] for event in events}
    for agent in status:
        assert agent["approved"] == latest.get(agent["name"], False), (agent, history)


def test_story_builds_a_real_history(keys: dict[str, Key], tmp_path: Path) -> None:
    """The generator itself works: an expansion approved by a reviewer is one approved event."""
    repo = GitRepo(tmp_path / "repo", tmp_path)
    story = Story(repo, keys)
    story.write_signers()
    story.state["alpha"] = {"version": "1.0.0", "expanded": False, "required": 1}
    story.write_agent("alpha")
    story.sign("rev", "alpha")
    repo.commit("start")
    assert story.apply(Step("expand", "alpha", ("rev2",), "approve", "dev"))
    head = repo.git("rev-parse", "HEAD").strip()
    assert verdicts_of_check(repo, head) == {"alpha": True}
