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
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from agentpolicy import __version__
from agentpolicy.atomic import repo_target, write_new_in
from agentpolicy.config import (
    CONFIG_PATH,
    DEFAULT_ALLOWED_SIGNERS,
    DEFAULT_REVIEWS,
    load_config,
    read_config_file,
)
from agentpolicy.errors import AgentPolicyError, WriteError
from agentpolicy.globs import static_prefix

HOOK_REPO = "https://github.com/agentpolicy/agentpolicy"
PRE_COMMIT_CONFIG = ".pre-commit-config.yaml"

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

    def describe(self) -> str:
        return f"{self.verb:<7} {self.path}  ({self.reason})"


@dataclass
class Plan:
    root: str
    actions: list[Action] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)

    def carry_out(self) -> None:
        for action in self.actions:
            if action.verb == "create":
                write_new_in(self.root, action.path, action.content)
            elif action.verb == "append":
                repo_target(self.root, action.path)
                _insert(os.path.join(self.root, action.path), action.content, action.insert_at)


def _insert(path: str, text: bytes, at: int | None) -> None:
    """Insert into an existing file atomically (temporary file, then rename), keeping every byte."""
    import tempfile

    with open(path, "rb") as handle:
        original = handle.read()
    position = len(original) if at is None else at
    updated = original[:position] + text + original[position:]
    folder = os.path.dirname(path) or "."
    handle_no, temporary = tempfile.mkstemp(prefix=".agentpolicy-", dir=folder)
    try:
        with os.fdopen(handle_no, "wb") as stream:
            stream.write(updated)
        os.chmod(temporary, os.stat(path).st_mode & 0o777)
        os.replace(temporary, path)
    except OSError as exc:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise WriteError(f"cannot update {path}: {exc.strerror}", "check permissions and free space") from exc


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _signing_line(repo: Any) -> str | None:
    if (repo.config_value("gpg.format") or "").lower() != "ssh":
        return None
    key = repo.config_value("user.signingkey")
    identity = repo.identity()
    if not key or identity is None:
        return None
    literal = key.removeprefix("key::")
    if not literal.startswith(("ssh-", "ecdsa-", "sk-")):
        path = os.path.expanduser(key)
        path = path if path.endswith(".pub") else path + ".pub"
        try:
            with open(path, encoding="utf-8") as handle:
                literal = handle.read().strip()
        except OSError:
            return None
    return f'{identity.email} namespaces="agentpolicy-review" {literal}'


def plan_init(start: str = ".") -> Plan:
    from agentpolicy.gitrepo import Repo

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
    else:
        plan.actions.append(Action(CONFIG_PATH, "create", "documented defaults", CONFIG_TEXT.encode()))
        config = load_config(CONFIG_TEXT.encode())
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
    if exists(config.allowed_signers):
        plan.actions.append(Action(config.allowed_signers, "skip", "already there; left as it is"))
    else:
        line = _signing_line(repo)
        body = SIGNERS_HEADER.replace("THIS_FILE", config.allowed_signers) + (f"{line}\n" if line else "")
        why = (
            "seeded with your git SSH signing key"
            if line
            else "no SSH signing key in git config: add reviewers"
        )
        plan.actions.append(Action(config.allowed_signers, "create", why, body.encode()))
        if not line:
            plan.next_steps.append(f"add each reviewer's SSH public key to {config.allowed_signers}")
    plan.actions.append(_hook_action(root))
    plan.next_steps += [
        "agentpolicy new my-agent            # scaffold your first agent",
        "pre-commit install                  # activate the hook (pip install pre-commit first)",
        f"git add {CONFIG_PATH} {config.allowed_signers} .pre-commit-config.yaml && git commit",
    ]
    return plan


HOOK_ENTRY = f"""\
  - repo: {HOOK_REPO}
    rev: v{__version__}
    hooks:
      - id: agentpolicy
"""


def _hook_action(root: str) -> Action:
    repo_target(root, PRE_COMMIT_CONFIG)
    path = os.path.join(root, PRE_COMMIT_CONFIG)
    if not os.path.exists(path):
        return Action(
            PRE_COMMIT_CONFIG,
            "create",
            "pre-commit hook: agentpolicy check --staged",
            ("repos:\n" + HOOK_ENTRY).encode(),
        )
    text = _read(path).decode("utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AgentPolicyError(
            f"{PRE_COMMIT_CONFIG} is not valid YAML: {exc}",
            "fix it first; agentpolicy init never rewrites a file it cannot read",
        ) from None
    if isinstance(data, dict) and any(
        hook.get("id") == "agentpolicy"
        for repo in data.get("repos") or []
        if isinstance(repo, dict)
        for hook in repo.get("hooks") or []
        if isinstance(hook, dict)
    ):
        return Action(PRE_COMMIT_CONFIG, "skip", "already runs the agentpolicy hook")
    repos = _repos_node(node)
    if repos is None or repos.flow_style:
        raise AgentPolicyError(
            f"{PRE_COMMIT_CONFIG} has no block-style `repos:` list to append to",
            f"add the hook by hand:\n{HOOK_ENTRY}",
        )
    indent = repos.value[0].start_mark.column - 2 if repos.value else 2
    entry = "".join(
        " " * max(indent, 0) + line[2:] + "\n" if line.strip() else "\n" for line in HOOK_ENTRY.splitlines()
    )
    # The list ends where the next top-level key (or the end of the file) begins:
    # insert at the start of that line, so the new item follows the last one.
    end = repos.end_mark.index
    line_start = text.rfind("\n", 0, end) + 1
    insert_at = line_start if not text[line_start:end].strip() else end
    if insert_at > 0 and text[insert_at - 1] != "\n":
        entry = "\n" + entry
    byte_offset = len(text[:insert_at].encode("utf-8"))
    return Action(
        PRE_COMMIT_CONFIG,
        "append",
        "adds the agentpolicy hook; every other byte is kept",
        entry.encode(),
        byte_offset,
    )


def _repos_node(node: Any) -> Any:
    if not isinstance(node, yaml.MappingNode):
        return None
    for key, value in node.value:
        if getattr(key, "value", None) == "repos" and isinstance(value, yaml.SequenceNode):
            return value
    return None


_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")

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
    from agentpolicy.gitrepo import Repo

    if not _NAME.match(name):
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
    plan.next_steps += [f"agentpolicy check {relative}      # see which answers are still open"]
    return plan
