"""`init` and `new`: guard an existing repository, scaffold an agent. Never overwrite a byte.

Both return a plan (a list of actions) that the CLI prints; `--dry-run` prints
it without carrying it out. Every file is created with `write_new_in` (atomic,
refuses to overwrite, never writes through a symbolic link); the one edit of an
existing file, appending the hook to `.pre-commit-config.yaml`, inserts text and
keeps every other byte as it was. Every path a plan touches is checked for links
when the plan is made, so a refusal leaves nothing half done.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agentpolicy.app.first_signer import append_command, find_first_signer
from agentpolicy.app.precommit_config import PRE_COMMIT_CONFIG, block_entry, plan_hook_edit
from agentpolicy.errors import AgentPolicyError, WriteError
from agentpolicy.files.atomic import replace_file, repo_target, write_new_in
from agentpolicy.files.globs import static_prefix
from agentpolicy.model.document import AGENT_NAME
from agentpolicy.rules.config import (
    CONFIG_PATH,
    DEFAULT_ALLOWED_SIGNERS,
    DEFAULT_REVIEWS,
    load_config,
    read_config_file,
)

CONFIG_TEXT = f"""\
# agentpolicy configuration: every key is optional; the values below are the defaults.
# Reference: https://github.com/agentpolicy/agentpolicy#configuration-agentpolicyyaml
#
# Which files are agent definitions ('**' crosses folders):
agents: ['agents/**/*.yaml', 'agents/**/*.yml']
# Where review entries live (written by `agentpolicy approve`):
reviews: {DEFAULT_REVIEWS}
# Group addresses or handles that can never own an agent:
teams: []
# Per-rule overrides, e.g. {{AP112: warning}} or {{AP120: 'off'}}:
rules: {{}}
# Review entries must be signed by a key in the allowed-signers file:
require_signatures: true
allowed_signers: {DEFAULT_ALLOWED_SIGNERS}
# revoked_signers: .agentpolicy/revoked_signers
# A reviewer may not approve a change they authored:
allow_self_approval: false
# Extra rule packs (folders in this repo, or installed pack names):
# policy: [policies/acme]
"""

SIGNERS_HEADER = """\
# Who may sign agentpolicy review entries: git's allowed-signers format, one line per key:
#   EMAIL namespaces="agentpolicy-review" KEYTYPE KEY
# e.g.: echo "you@example.com namespaces=\\"agentpolicy-review\\" $(cat ~/.ssh/id_ed25519.pub)" >> THIS_FILE
"""


@dataclass
class Action:
    path: str
    verb: str  # "create", "append", "skip"
    reason: str
    content: bytes = b""
    insert_at: int | None = None
    expected: bytes | None = None  # an appended file's bytes when planned: changed since, nothing is written

    def describe(self) -> str:
        return f"{self.verb:<7} {self.path}  ({self.reason})"


@dataclass
class Plan:
    root: str
    actions: list[Action] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def carry_out(self) -> None:
        for action in self.actions:
            if action.verb == "create":
                write_new_in(self.root, action.path, action.content)
            elif action.verb == "append":
                repo_target(self.root, action.path)
                _insert(
                    os.path.join(self.root, action.path), action.content, action.insert_at, action.expected
                )


def _insert(path: str, text: bytes, at: int | None, expected: bytes | None) -> None:
    """Insert into an existing file atomically (files/atomic), keeping every other byte and its mode."""
    with open(path, "rb") as handle:
        original = handle.read()
    if expected is not None and original != expected:
        raise WriteError(
            f"{path} changed while init was running; it was not changed",
            "run agentpolicy init again",
            path=path,
        )
    position = len(original) if at is None else at
    replace_file(path, original[:position] + text + original[position:], mode=os.stat(path).st_mode & 0o777)


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


SOLO_WARNING = (
    "--solo: allow_self_approval is true in {config}, so you may approve your own changes. "
    "Fine for pilots; an agent in production deserves a second person. When you have one: add "
    "their key to {signers}, set `allow_self_approval: false`, sign that trust-root change with "
    "`agentpolicy approve --trust-root` and commit it."
)
SOLO_BY_HAND = (
    "--solo: {config} is already there and was left as it is; to approve your own changes, set "
    "`allow_self_approval: true` in it, sign that trust-root change with `agentpolicy approve --trust-root` "
    "and commit both"
)


def solo_config_text() -> str:
    """The default configuration with self-approval allowed, and how to turn it off again."""
    return CONFIG_TEXT.replace(
        "# A reviewer may not approve a change they authored:\nallow_self_approval: false\n",
        "# A reviewer may not approve a change they authored, unless this is true (`init --solo`).\n"
        "# Turning it off later is a trust-root change: edit it, then `agentpolicy approve --trust-root`.\n"
        "allow_self_approval: true\n",
    )


def plan_init(start: str = ".", solo: bool = False) -> Plan:
    """Everything `init` would create or append, with the warnings and next steps to print."""
    from agentpolicy.git.repo import Repo

    repo = Repo(start)
    root = repo.require_workdir()
    plan = Plan(root)

    def exists(relative: str) -> bool:
        repo_target(root, relative)  # a link anywhere on the way is refused, skipped or not
        return os.path.lexists(os.path.join(root, relative))

    raw = read_config_file(root)
    if raw is not None:
        plan.actions.append(Action(CONFIG_PATH, "skip", "already there; left as it is"))
        config = load_config(raw, CONFIG_PATH)
        if solo and not config.allow_self_approval:
            plan.warnings.append(SOLO_BY_HAND.format(config=CONFIG_PATH))
    else:
        text = solo_config_text() if solo else CONFIG_TEXT
        why = "documented defaults" + ("; --solo: allow_self_approval: true" if solo else "")
        plan.actions.append(Action(CONFIG_PATH, "create", why, text.encode()))
        config = load_config(text.encode())
        if solo:
            plan.warnings.append(SOLO_WARNING.format(config=CONFIG_PATH, signers=config.allowed_signers))
    agents_folder = static_prefix(config.agents[0]).rstrip("/") or "agents"
    for folder, why in (
        (agents_folder, "one YAML file per agent"),
        (config.reviews.strip("/"), "review entries"),
    ):
        keep = f"{folder}/.gitkeep"
        if exists(folder):
            plan.actions.append(Action(folder + "/", "skip", "folder already there"))
        else:
            plan.actions.append(Action(keep, "create", f"the {folder}/ folder: {why}", b""))
    first_signer_steps = _plan_signers(plan, repo, config.allowed_signers, exists)
    install = _plan_hooks(plan, root)
    plan.next_steps[:0] = first_signer_steps
    plan.next_steps.append(f"{install}   # turn on the commit, merge and push hooks (pip install pre-commit)")
    if not solo:
        plan.next_steps.append(
            "# each reviewer adds their key (they run this in a checkout, or send you the line):\n"
            + append_command("$(git config user.email)", config.allowed_signers)
        )
    plan.next_steps += [
        'git add -A && git commit -m "Guard agents with agentpolicy"',
        "agentpolicy new my-agent   # scaffold your first agent",
    ]
    return plan


def _plan_signers(plan: Plan, repo: Any, signers: str, exists: Callable[[str], bool]) -> list[str]:
    """Create the allowed-signers file seeded with the user's key; without a key, the steps to make one."""
    if exists(signers):
        plan.actions.append(Action(signers, "skip", "already there; left as it is"))
        return []
    first = find_first_signer(repo, signers)
    body = SIGNERS_HEADER.replace("THIS_FILE", signers) + (f"{first.line}\n" if first.line else "")
    if first.line:
        plan.actions.append(Action(signers, "create", "seeded with your git SSH signing key", body.encode()))
        return []
    plan.actions.append(Action(signers, "create", "no SSH signing key in git config yet", body.encode()))
    plan.warnings.append(
        "git has no SSH signing key for you: make one and add yourself as the first signer "
        "with the commands under Next steps"
    )
    return ["# your SSH signing key, and you as the first signer:\n" + "\n".join(first.instructions)]


def _plan_hooks(plan: Plan, root: str) -> str:
    """Create or append to the pre-commit config; return the `pre-commit install` line to run."""
    repo_target(root, PRE_COMMIT_CONFIG)
    path = os.path.join(root, PRE_COMMIT_CONFIG)
    original = _read(path) if os.path.lexists(path) else None
    edit = plan_hook_edit(original)
    plan.actions.append(
        Action(PRE_COMMIT_CONFIG, edit.verb, edit.reason, edit.content, edit.insert_at, original)
    )
    if edit.problem:
        plan.warnings.append(f"{edit.problem}; it was left untouched: add the hooks under `repos:` by hand")
        plan.next_steps.append(f"# add under `repos:` in {PRE_COMMIT_CONFIG}:\n" + block_entry().rstrip("\n"))
    return edit.install_line or "pre-commit install"


NEW_AGENT = """\
# {name}: answer the five questions below before this agent leaves pilot.
# `agentpolicy check` lists what is still open; `agentpolicy schema` documents every field.
apiVersion: agentpolicy/v1
kind: Agent
name: {name}
version: 0.1.0
stage: pilot                     # pilot | staging | production | retired
description: What this agent does, in one sentence.

# 1. Who owns this agent? One named person, not a team.
{owner}
# 2. What is the boundary of autonomy? What it does alone, what a person confirms first.
# autonomy:
#   autonomous:
#     - action: draft-reply
#       description: Write a reply for a person to read.
#   requires_confirmation:
#     - action: send-reply
#       irreversible: true

# 3. How will we know something is wrong? Unexpected outputs, silent errors, drift.
# monitoring:
#   signals:
#     - name: reply-rejection-rate
#       detects: More than 10% of drafts are rejected in a day.
#       alert: slack:#team-channel

# 4. How do we undo it? A rollback, or a human checkpoint before any irreversible action.
# undo:
#   rollback: Redeploy the previous version.
#   human_checkpoint: A person approves every reply before it is sent.

# 5. How does the next version get approved?
# change_control:
#   approvals_required: 1
#   process: Pull request plus a signed review entry (agentpolicy approve {name}).
"""


def plan_new(name: str, start: str = ".", path: str | None = None) -> Plan:
    from agentpolicy.git.repo import Repo

    if not AGENT_NAME.match(name):
        raise AgentPolicyError(
            f"{name!r} is not a valid agent name",
            "use lowercase letters, digits and '-', e.g. invoice-triage",
        )
    repo = Repo(start)
    root = repo.require_workdir()
    config = load_config(read_config_file(root))
    if path and os.path.isabs(path):
        path = os.path.relpath(path, root)  # inside the repository, or refused just below
    relative = path or f"{static_prefix(config.agents[0]) or 'agents/'}{name}.yaml"
    relative = "/".join(repo_target(root, relative))
    identity = repo.identity()
    if identity:
        owner = f"owner:\n  name: {identity.name}\n  email: {identity.email}\n"
    else:
        owner = "# owner:\n#   name: Your Name\n#   email: you@example.com\n"
    plan = Plan(root)
    if os.path.lexists(os.path.join(root, relative)):
        raise AgentPolicyError(
            f"{relative} already exists; it was not changed", "choose another name, or edit that file"
        )
    plan.actions.append(
        Action(
            relative,
            "create",
            "a pilot agent with the five questions to answer",
            NEW_AGENT.format(name=name, owner=owner).encode(),
        )
    )
    plan.next_steps += [
        "agentpolicy check   # the open answers (warnings in a pilot), and AP201 until it is approved",
        f"agentpolicy approve {name}   # a reviewer signs this content (you, only with allow_self_approval)",
        f'git add {relative} {config.reviews.strip("/")}/ && git commit -m "Add {name}"',
    ]
    return plan
