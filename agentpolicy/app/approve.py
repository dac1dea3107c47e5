"""`approve`: write a review entry bound to exactly the agent's current content."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from agentpolicy.errors import AgentPolicyError, AlreadyExists, SigningError
from agentpolicy.files.atomic import repo_target, write_new_in
from agentpolicy.files.snapshot import Snapshot
from agentpolicy.model.document import AGENT_NAME, ERROR
from agentpolicy.review.entries import entry_path, load_review, signed_payload
from agentpolicy.review.sshkeys import is_key_type
from agentpolicy.rules.config import CONFIG_PATH, Config, load_config, read_config_file
from agentpolicy.rules.engine import check_loaded, load_agent


@dataclass
class ApproveRequest:
    agent: str
    reviewer: str | None = None
    decision: str = "approve"
    note: str | None = None
    key: str | None = None
    trust_root: bool = False
    start: str = "."
    now: dt.datetime | None = None


@dataclass
class ApproveResult:
    path: str
    entry: dict[str, Any]
    signed: bool
    warnings: list[str] = field(default_factory=list)


_REVIEWER = re.compile(r"^\s*(?P<name>[^<>]+?)\s*<(?P<email>[^<>\s]+@[^<>\s]+)>\s*$")


def _find_agent(snapshot: Snapshot, config: Config, name: str) -> tuple[str, Any] | None:
    for path, entry in sorted(snapshot.files(config.agents).items()):
        loaded = load_agent(path, snapshot.read(path), is_link=entry.is_link)
        data = loaded.document.data if loaded.document else None
        if isinstance(data, dict) and data.get("name") == name:
            return path, loaded
    return None


def _unreadable(snapshot: Snapshot, config: Config) -> dict[str, str]:
    """Selected files the strict loader refuses (over the size limit, a YAML error...), with why."""
    found: dict[str, str] = {}
    for path, entry in snapshot.files(config.agents).items():
        loaded = load_agent(path, snapshot.read(path), is_link=entry.is_link)
        if loaded.document is None:
            errors = [f for f in loaded.findings if f.severity == ERROR]
            found[path] = f"{errors[0].rule} {errors[0].message}" if errors else "it cannot be loaded"
    return found


def approve(request: ApproveRequest) -> ApproveResult:
    from agentpolicy.git.repo import Repo

    repo = Repo(request.start)
    workdir = repo.require_workdir()
    worktree = repo.worktree_snapshot()
    config = load_config(read_config_file(workdir)).with_packs(worktree)
    warnings: list[str] = []
    if request.decision == "break-glass":
        from agentpolicy.app.breakglass import require_break_glass

        require_break_glass(repo, request.note)
    if request.trust_root:
        agent, version, digest, decision = _trust_root_target(worktree)
    else:
        agent, version, digest, decision = _agent_target(request, repo, worktree, config, warnings)
    name, email = _reviewer(request.reviewer, repo)
    now = (request.now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    entry: dict[str, Any] = {
        "apiVersion": "agentpolicy/v1",
        "kind": "Review",
        "agent": agent,
        "version": version,
        "digest": digest,
        "decision": decision,
        "reviewer": {"name": name, "email": email},
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if request.note:
        entry["note"] = request.note
    relative = _free_path(
        workdir,
        entry_path(_reviews_folder(repo, config), agent, version, email, entry["timestamp"]),
    )
    repo_target(workdir, relative)  # refuse a linked reviews/ folder before anything is signed
    signed = _sign(entry, request.key, repo, config, warnings, worktree)
    text = dump_entry(entry)
    reloaded, _problems = load_review(relative, text.encode("utf-8"))
    if reloaded is None or signed_payload(reloaded.data) != signed_payload(entry):
        raise AgentPolicyError(
            "internal error: the entry does not read back identically",
            "please report this with the agent file",
        )
    relative = _write_entry(workdir, relative, text.encode("utf-8"))
    return ApproveResult(relative, entry, signed, warnings)


def _write_entry(workdir: str, relative: str, data: bytes) -> str:
    """Create the entry under a free name; if another run took the name in the meantime (the
    same reviewer approving twice at once), take the next one. The signature covers the
    entry's fields, not its file name, so the signed bytes stay valid under any name."""
    wanted = relative
    for _attempt in range(50):
        try:
            write_new_in(workdir, relative, data)
            return relative
        except AlreadyExists:
            relative = _free_path(workdir, wanted)
    raise AgentPolicyError(
        f"could not find a free name for {wanted} after 50 tries",
        "many approvals are being written at this moment: try again",
    )


def _reviews_folder(repo: Any, config: Config) -> str:
    """Where the check will look for the entry: the committed configuration's folder (the hook's
    before side), so approving a change that moves `reviews:` writes where it is judged."""
    from agentpolicy.errors import ConfigError

    try:
        return (
            load_config(repo.head_snapshot().read(CONFIG_PATH)).reviews if repo.has_head else config.reviews
        )
    except ConfigError:
        return config.reviews


def _trust_root_target(worktree: Snapshot) -> tuple[str, str, str, str]:
    from agentpolicy.review.trustroot import TRUST_ROOT, trust_digest, trust_version

    digest = trust_digest(worktree)
    return TRUST_ROOT, trust_version(digest), digest, "approve"


def _agent_target(
    request: ApproveRequest, repo: Any, worktree: Snapshot, config: Config, warnings: list[str]
) -> tuple[str, str, str, str]:
    """The agent's name, version, digest and the decision to record for it."""
    from agentpolicy.model.digest import agent_digest

    if not AGENT_NAME.match(request.agent):
        raise AgentPolicyError(
            f"{request.agent!r} is not a valid agent name",
            "agent names are lowercase letters, digits and '-' (see `agentpolicy schema`)",
        )
    decision = request.decision
    found = _find_agent(worktree, config, request.agent)
    if found is None:
        found = _find_agent(repo.head_snapshot(), config, request.agent)
        unreadable = _unreadable(worktree, config)
        if found is not None and found[0] in unreadable:
            raise AgentPolicyError(
                f"{found[0]} defines {request.agent} at HEAD but cannot be read now: {unreadable[found[0]]}",
                "fix the file (agentpolicy check shows the problem), then approve; a file that still "
                "exists is never recorded as retired",
            )
        if found is None:
            also = "".join(f"; {path} cannot be read: {why}" for path, why in sorted(unreadable.items()))
            raise AgentPolicyError(
                f"no agent named {request.agent!r} in the working tree or at HEAD{also}",
                f"agent files are found by the globs {', '.join(config.agents)}; check the name"
                + (", and fix the files that cannot be read" if unreadable else ""),
            )
        if decision == "approve":
            decision = "retire"
        warnings.append(
            f"{request.agent} is gone from the working tree: recording a "
            f"{decision} entry for its last committed content"
        )
    else:
        errors = [f for f in check_loaded([found[1]], config) if f.severity == ERROR]
        if errors:
            first = errors[0]
            raise AgentPolicyError(
                f"{request.agent} fails the policy check ({len(errors)} error(s)); first: "
                f"{first.path}:{first.line}:{first.column}: {first.rule} {first.message}",
                "fix the agent file (agentpolicy check shows every problem), then approve",
            )
    _path, loaded = found
    data = loaded.document.data
    return request.agent, str(data.get("version", "")), agent_digest(data), decision


def _reviewer(spec: str | None, repo: Any) -> tuple[str, str]:
    if spec:
        match = _REVIEWER.match(spec)
        if not match:
            raise AgentPolicyError(
                f'--reviewer {spec!r} is not of the form "Name <email>"',
                'e.g. --reviewer "Anna Nowak <anna.nowak@example.com>"',
            )
        return match["name"], match["email"]
    identity = repo.identity()
    if identity is None:
        raise AgentPolicyError(
            "no reviewer given and git has no user.name/user.email",
            'pass --reviewer "Name <email>", or git config user.name/user.email',
        )
    return identity.name, identity.email


def _signing_key(explicit: str | None, repo: Any) -> tuple[str | None, bool, str | None]:
    """(key path, key is in ssh-agent, temporary file to remove) from --key or git's config."""
    if explicit:
        return explicit, _only_in_agent(explicit), None
    if (repo.config_value("gpg.format") or "").lower() != "ssh":
        return None, False, None
    value = repo.config_value("user.signingkey")
    if not value:
        return None, False, None
    literal = value.removeprefix("key::")
    if is_key_type(literal):
        import tempfile

        handle, temporary = tempfile.mkstemp(prefix="agentpolicy-key-", suffix=".pub")
        with os.fdopen(handle, "w") as stream:
            stream.write(literal + "\n")
        return temporary, True, temporary
    path = os.path.expanduser(value)
    return path, _only_in_agent(path), None


def _only_in_agent(path: str) -> bool:
    """A .pub with no private key beside it: ssh-keygen must be told to ask ssh-agent (-U)."""
    return path.endswith(".pub") and not os.path.exists(path.removesuffix(".pub"))


def _sign(
    entry: dict[str, Any],
    key: str | None,
    repo: Any,
    config: Config,
    warnings: list[str],
    worktree: Snapshot,
) -> bool:
    from agentpolicy.review.allowed_signers import parse_allowed_signers
    from agentpolicy.review.signing import NAMESPACE, sign
    from agentpolicy.review.sshsig import parse_signature

    path, in_agent, temporary = _signing_key(key, repo)
    if path is None:
        if config.require_signatures:
            raise SigningError(
                "no signing key: signed review entries are required",
                "pass --key ~/.ssh/id_ed25519, or configure git's SSH signing: "
                "git config gpg.format ssh && git config user.signingkey ~/.ssh/id_ed25519.pub",
            )
        warnings.append("entry is unsigned (require_signatures is false)")
        return False
    try:
        entry["signature"] = sign(signed_payload(entry), path, key_in_agent=in_agent)
    finally:
        if temporary:
            os.unlink(temporary)
    allowed = worktree.read(config.allowed_signers)
    blob = parse_signature(entry["signature"]).key_blob
    signers = parse_allowed_signers(allowed.decode("utf-8", "replace")) if allowed else []
    email = entry["reviewer"]["email"]
    if not any(
        s.key_blob == blob and s.matches_principal(email) and s.allows_namespace(NAMESPACE) for s in signers
    ):
        warnings.append(
            f"this key is not listed for {email} in {config.allowed_signers}; "
            "the check will not count the entry until it is"
        )
    return True


def _free_path(workdir: str, relative: str) -> str:
    candidate, number = relative, 2
    while os.path.lexists(os.path.join(workdir, candidate)):
        candidate = relative.removesuffix(".yaml") + f"-{number}.yaml"
        number += 1
    return candidate


class _EntryDumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_EntryDumper.add_representer(str, _str)


def dump_entry(entry: dict[str, Any]) -> str:
    header = "# agentpolicy review entry: append-only; written by `agentpolicy approve`.\n"
    return header + yaml.dump(entry, Dumper=_EntryDumper, sort_keys=False, allow_unicode=True, width=1000)
