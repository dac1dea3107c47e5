"""The agentpolicy hooks in `.pre-commit-config.yaml`: written new, or appended to any valid config.

`init` writes `repo: local` hooks that call the installed `agentpolicy`: they run on
the first commit, offline, before any release tag exists. An existing config is
edited by inserting one run of text in its own style (block or flow, its indentation,
its line endings), and only if the result, read back, is the old config plus our
hooks and passes pre-commit's own schema; otherwise the file is left as it is and
the user gets the snippet to paste. This module decides; it never prints or writes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

PRE_COMMIT_CONFIG = ".pre-commit-config.yaml"
HOOK_IDS = ("agentpolicy", "agentpolicy-push")
INSTALL_TYPES = ("pre-commit", "pre-merge-commit", "pre-push")
INSTALL_LINE = "pre-commit install " + " ".join(f"--hook-type {kind}" for kind in INSTALL_TYPES)

# (id, name, entry, stages); the other keys are the same for both hooks.
_HOOKS = (
    (
        "agentpolicy",
        "agentpolicy (agent policy and review gate)",
        "agentpolicy check --staged",
        INSTALL_TYPES[:2],
    ),
    ("agentpolicy-push", "agentpolicy (pushed range)", "agentpolicy check --pushed", INSTALL_TYPES[2:]),
)


def _hook_lines(hook: tuple[str, str, str, tuple[str, ...]]) -> list[str]:
    hook_id, name, entry, stages = hook
    return [
        f"id: {hook_id}",
        f"name: {name}",
        f"entry: {entry}",
        "language: system",
        "pass_filenames: false",
        "always_run: true",
        "require_serial: true",
        f"stages: [{', '.join(stages)}]",
    ]


def block_entry(
    dash: int = 2, content: int = 4, hook_dash: int = 6, hook_content: int = 8, nl: str = "\n"
) -> str:
    """Our `repos:` item in block style: the columns of its dash and keys, and of its hooks'."""
    lines = [" " * dash + "-" + " " * (content - dash - 1) + "repo: local", " " * content + "hooks:"]
    for hook in _HOOKS:
        first, *rest = _hook_lines(hook)
        lines.append(" " * hook_dash + "-" + " " * (hook_content - hook_dash - 1) + first)
        lines += [" " * hook_content + line for line in rest]
    return nl.join(lines) + nl


def flow_entry() -> str:
    hooks = ", ".join("{" + ", ".join(_hook_lines(hook)) + "}" for hook in _HOOKS)
    return "{repo: local, hooks: [" + hooks + "]}"


NEW_CONFIG = (
    "# pre-commit (https://pre-commit.com): `pre-commit install` turns on the commit, merge and push hooks.\n"
    "# The agentpolicy hooks call the installed `agentpolicy` command: no download, no release tag needed.\n"
    "# To pin a release: repo: https://github.com/agentpolicy/agentpolicy, rev: vX.Y.Z, the same ids.\n"
    "minimum_pre_commit_version: '3.2.0'\n"
    f"default_install_hook_types: [{', '.join(INSTALL_TYPES)}]\n"
    "repos:\n" + block_entry()
)


@dataclass(frozen=True)
class HookEdit:
    """What to do with the pre-commit config: create it, insert text at a byte offset, or nothing.

    `problem` is set when the file could not be edited safely (it is then left untouched);
    `install_line` when `pre-commit install` alone would not install every hook type."""

    verb: str  # "create", "append", "skip"
    reason: str
    content: bytes = b""
    insert_at: int | None = None
    problem: str | None = None
    install_line: str | None = None


class _Unsafe(Exception):
    """The config cannot be appended to safely; the message says why, for the user."""


def plan_hook_edit(original: bytes | None) -> HookEdit:
    if original is None:
        return HookEdit("create", "pre-commit hooks: commit, merge and push, offline", NEW_CONFIG.encode())
    try:
        text, data = _read(original)
        if _has_our_hook(data):
            return HookEdit("skip", "already runs the agentpolicy hook", install_line=_install_line(data))
        insert_at, added = _insertion(text, data)
        updated = text[:insert_at] + added + text[insert_at:]
        _verify(data, updated)
    except _Unsafe as exc:
        return HookEdit("skip", "left untouched; the hooks to add by hand are below", problem=str(exc))
    return HookEdit(
        "append",
        "adds the local agentpolicy hooks; every other byte is kept",
        added.encode("utf-8"),
        len(text[:insert_at].encode("utf-8")),
        install_line=_install_line(data),
    )


def _read(original: bytes) -> tuple[str, Any]:
    try:
        text = original.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Unsafe(f"{PRE_COMMIT_CONFIG}: not UTF-8 (byte {exc.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _Unsafe(_yaml_problem(exc)) from None
    problem = _schema_problem(data)
    if problem:
        raise _Unsafe(f"{PRE_COMMIT_CONFIG}: not a valid pre-commit config ({problem})")
    return text, data


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line naming the file and line, never PyYAML's multi-line dump."""
    mark = getattr(exc, "problem_mark", None)
    where = f":{mark.line + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or "cannot be parsed"
    return f"{PRE_COMMIT_CONFIG}{where}: not valid YAML ({problem})"


def _has_our_hook(data: Any) -> bool:
    return any(
        isinstance(hook, dict) and hook.get("id") in HOOK_IDS
        for repo in data.get("repos") or []
        if isinstance(repo, dict)
        for hook in repo.get("hooks") or []
    )


def _install_line(data: Any) -> str | None:
    declared = data.get("default_install_hook_types") if isinstance(data, dict) else None
    if isinstance(declared, list) and set(INSTALL_TYPES) <= set(declared):
        return None
    return INSTALL_LINE


def _insertion(text: str, data: Any) -> tuple[int, str]:
    """Where our item goes and its text, in the style of the `repos:` list already there."""
    nl = "\r\n" if "\r\n" in text else "\n"
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:  # pragma: no cover - safe_load accepted it a moment ago
        raise _Unsafe(_yaml_problem(exc)) from None
    repos = _repos_node(root)
    if repos is None:
        raise _Unsafe(
            f"{PRE_COMMIT_CONFIG}: cannot add the hooks to its `repos:` list safely (an alias or tag)"
        )
    if repos.flow_style:
        return _flow_insertion(text, repos)
    last = repos.value[-1]
    content = last.start_mark.column
    dash = repos.start_mark.column
    hook_dash, hook_content = _hooks_columns(last, content)
    entry = block_entry(dash, content, hook_dash, hook_content, nl)
    end = _deep_end(last)
    at_line_start = end == 0 or text[end - 1] == "\n"
    if at_line_start:
        return end, entry
    newline = text.find("\n", end)
    if newline < 0:
        return len(text), nl + entry
    return newline + 1, entry


def _repos_node(root: Any) -> Any:
    """The `repos:` sequence node to insert into, or None (an empty block list cannot exist)."""
    if not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        is_repos = isinstance(key, yaml.ScalarNode) and key.value == "repos"
        if is_repos and isinstance(value, yaml.SequenceNode) and (value.value or value.flow_style):
            return value
    return None


def _hooks_columns(item: Any, content: int) -> tuple[int, int]:
    """The dash and key columns of the last item's block `hooks:` list, to write ours alike."""
    pairs = item.value if isinstance(item, yaml.MappingNode) else []
    hooks = next((value for key, value in pairs if getattr(key, "value", None) == "hooks"), None)
    if isinstance(hooks, yaml.SequenceNode) and not hooks.flow_style and hooks.value:
        first = hooks.value[0]
        dash, keys = hooks.start_mark.column, first.start_mark.column
        if content <= dash < keys and first.start_mark.line == hooks.start_mark.line:
            return dash, keys
    return content + 2, content + 4


def _deep_end(node: Any) -> int:
    """Where the last item really ends: block collections end at the next token, after any
    comments that follow, so follow their last child down to a node whose end is exact."""
    while isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and not node.flow_style and node.value:
        node = node.value[-1][1] if isinstance(node, yaml.MappingNode) else node.value[-1]
    return int(node.end_mark.index)


def _flow_insertion(text: str, repos: Any) -> tuple[int, str]:
    close = repos.end_mark.index - 1
    if text[close] != "]":
        raise _Unsafe(f"{PRE_COMMIT_CONFIG}: cannot find the end of its `repos: [...]` list")
    if not repos.value:
        return close, flow_entry()
    between = text[repos.value[-1].end_mark.index : close]
    has_comma = "," in "".join(line.split("#", 1)[0] for line in between.splitlines())
    # After the last item (a comment may follow it on its line, so never at the `]`).
    at = repos.value[-1].end_mark.index
    if has_comma:
        at += between.index(",") + 1
        return at, " " + flow_entry() + ","
    return at, ", " + flow_entry()


def _verify(before: Any, updated: str) -> None:
    """The edited text must read as exactly the old config plus our item, and pass pre-commit's schema."""
    try:
        after = yaml.safe_load(updated)
    except yaml.YAMLError:
        after = None
    expected = dict(before)
    expected["repos"] = [*before.get("repos", []), yaml.safe_load(flow_entry())]
    if after != expected:
        raise _Unsafe(f"{PRE_COMMIT_CONFIG}: cannot add the hooks to its `repos:` list safely")
    problem = _schema_problem(after)
    if problem:  # pragma: no cover - our entry is valid; kept as the last line of defence
        raise _Unsafe(f"{PRE_COMMIT_CONFIG}: the edit would not be a valid pre-commit config ({problem})")


def _schema_problem(data: Any) -> str | None:
    """pre-commit's own schema (`pre_commit.clientlib.CONFIG_SCHEMA`) when pre-commit is importable;
    without it, a structural check of what pre-commit needs: `repos`, a list of mappings with a
    `repo` string and a `hooks` list of mappings with an `id` string."""
    try:
        import cfgv  # type: ignore[import-untyped]
        from pre_commit.clientlib import CONFIG_SCHEMA  # type: ignore[import-untyped]
    except ImportError:
        return _structural_problem(data)
    with _quiet("pre_commit"):
        try:
            cfgv.validate(data, CONFIG_SCHEMA)
        except cfgv.ValidationError as exc:
            return _innermost(exc)
    return None


def _innermost(exc: Any) -> str:
    where = []
    while isinstance(getattr(exc, "error_msg", None), Exception):
        where.append(str(exc.ctx))
        exc = exc.error_msg
    message = str(getattr(exc, "error_msg", exc))
    return f"{where[-1]}: {message}" if where else message


def _structural_problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "the file must be a mapping with a `repos:` list"
    repos = data.get("repos")
    if not isinstance(repos, list):
        return "`repos:` must be a list"
    for number, repo in enumerate(repos, 1):
        if not isinstance(repo, dict) or not isinstance(repo.get("repo"), str):
            return f"repo {number} needs `repo:`"
        hooks = repo.get("hooks")
        if not isinstance(hooks, list) or not all(
            isinstance(h, dict) and isinstance(h.get("id"), str) for h in hooks
        ):
            return f"repo {number} needs a `hooks:` list of hooks with an `id`"
    return None


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """pre-commit logs schema warnings (unknown keys) that belong to pre-commit's own runs, not to ours."""
    logger = logging.getLogger(name)
    previous = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = previous
