"""Running the policy rules over loaded agent files; no git, no I/O."""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from agentpolicy.files.filenames import display_path, rename_hint, unsafe_name
from agentpolicy.model.conflicts import CONFLICT_HINT, conflict_line
from agentpolicy.model.document import ERROR, Document, Finding, LoadResult
from agentpolicy.model.yamlload import MAX_BYTES, NOT_PARSED, load_yaml
from agentpolicy.rules.agent_rules import check_actions, check_owner
from agentpolicy.rules.catalog import PYTHON_RULES
from agentpolicy.rules.config import Config
from agentpolicy.rules.config_checks import is_locked_rule, override_weakens
from agentpolicy.rules.declarative import builtin_declarative_rules
from agentpolicy.rules.schema_rule import check_schema


def load_agent(
    path: str, raw: bytes | None, *, is_link: bool = False, parsed: Any = NOT_PARSED
) -> LoadResult:
    """Load one agent file; a symlink or a vanished file is a finding, not a crash. ``parsed``:
    see `load_yaml`."""
    if is_link:
        return LoadResult(
            None,
            [
                _file_finding(
                    path,
                    "agent file is a symbolic link",
                    "replace the link with the file itself; a link can point outside the reviewed tree",
                )
            ],
        )
    if raw is None:
        return LoadResult(None, [_file_finding(path, "agent file cannot be read", "check the path")])
    conflict = conflict_line(raw)
    if conflict is not None:
        shown = display_path(path)
        found = _file_finding(
            path, f"merge conflict in {shown}: resolve it", CONFLICT_HINT.format(path=shown)
        )
        return LoadResult(None, [replace(found, line=conflict)])
    result = load_yaml(path, raw, parsed=parsed)
    if result.document is not None and not isinstance(result.document.data, dict):
        return LoadResult(
            None,
            [
                _file_finding(
                    path,
                    "an agent definition must be a mapping of fields at the top level",
                    "start the file with `apiVersion: agentpolicy/v1` (see `agentpolicy schema`)",
                )
            ],
        )
    return result


def _file_finding(path: str, message: str, hint: str) -> Finding:
    return Finding(path=path, line=1, column=1, rule="AP001", severity=ERROR, message=message, hint=hint)


def check_document(document: Document, config: Config) -> list[Finding]:
    findings = list(check_schema(document))
    findings.extend(check_owner(document, config.teams))
    findings.extend(check_actions(document))
    for rule in (*builtin_declarative_rules(), *config.pack_rules):
        findings.extend(rule.check(document))
    return findings


@dataclass
class FileVerdict:
    """The per-file result for one agent file: its name and its own findings."""

    path: str
    name: str | None
    findings: list[Finding]
    document: Document | None = None

    def name_position(self, reload: Callable[[str], Document | None] | None = None) -> tuple[int, int]:
        document = self.document or (reload(self.path) if reload else None)
        return document.position(("name",)) if document else (1, 1)


def judge_file(result: LoadResult, config: Config) -> FileVerdict:
    if result.document is None:
        return FileVerdict(result.findings[0].path if result.findings else "", None, list(result.findings))
    name = result.document.data.get("name")
    return FileVerdict(
        result.document.path,
        name if isinstance(name, str) and name else None,
        check_document(result.document, config),
        result.document,
    )


def check_unique_names(
    verdicts: Sequence[FileVerdict], reload: Callable[[str], Document | None] | None = None
) -> list[Finding]:
    first: dict[str, str] = {}
    findings = []
    for verdict in sorted(verdicts, key=lambda v: v.path):
        if verdict.name is None:
            continue
        if verdict.name in first:
            line, column = verdict.name_position(reload)
            findings.append(
                Finding(
                    path=verdict.path,
                    line=line,
                    column=column,
                    rule="AP140",
                    severity=ERROR,
                    message=f"agent name {verdict.name!r} is already used by {first[verdict.name]}",
                    hint=PYTHON_RULES["AP140"].hint,
                    agent=verdict.name,
                )
            )
        else:
            first[verdict.name] = verdict.path
    return findings


def check_file_names(paths: Iterable[str]) -> list[Finding]:
    """AP003 for agent files whose names hold control characters or bytes that are not UTF-8.

    The file is still loaded and judged (its changes still need their approvals); the
    name is an error of its own, kept out of the per-blob verdicts so no cache hides it.
    """
    return [
        Finding(
            path=path,
            line=1,
            column=1,
            rule="AP003",
            severity=ERROR,
            message=f"file name {display_path(path)} holds control characters or bytes that are not UTF-8, "
            "so it does not print as what it is",
            hint=rename_hint(path),
        )
        for path in sorted(paths)
        if unsafe_name(path)
    ]


def check_verdicts(
    verdicts: Sequence[FileVerdict], config: Config, reload: Callable[[str], Document | None] | None = None
) -> list[Finding]:
    findings = [finding for verdict in verdicts for finding in verdict.findings]
    findings.extend(check_unique_names(verdicts, reload))
    findings.extend(check_file_names(verdict.path for verdict in verdicts))
    return apply_overrides(findings, config)


def check_loaded(results: Iterable[LoadResult], config: Config) -> list[Finding]:
    """Every per-file and cross-file policy finding for a set of loaded agent files."""
    return check_verdicts([judge_file(result, config) for result in results], config)


def apply_overrides(
    findings: Iterable[Finding], config: Config, today: dt.date | None = None
) -> list[Finding]:
    """Apply `rules:` (switch off, change severity) and `waivers:` from the config.

    A waived finding stays in the report, marked waived, so nothing is silently
    dropped; an expired waiver is an error of its own that names its owner. The
    rules the gate stands on (`is_locked_rule`) are never switched off, weakened
    or waived here, whatever the config says.
    """
    today = today or dt.datetime.now(dt.UTC).date()
    active = {
        (w.rule, w.agent): w for w in config.waivers if not w.expired(today) and not is_locked_rule(w.rule)
    }
    result = []
    for finding in findings:
        override = config.rules.get(finding.rule)
        if override and override_weakens(finding.rule, override):
            override = None  # refused when the config is read; never honoured if one slips through
        if override == "off":
            continue
        if override:
            finding = replace(finding, severity=override)
        if (finding.rule, finding.agent) in active:
            finding = replace(finding, waived=True)
        result.append(finding)
    for waiver in config.waivers:
        if waiver.expired(today):
            result.append(
                Finding(
                    path=config.source if config.source != "defaults" else ".agentpolicy.yaml",
                    line=waiver.line or 1,
                    column=waiver.column or 1,
                    rule="AP150",
                    severity=ERROR,
                    message=f"waiver for {waiver.rule} on {waiver.agent} expired on "
                    f"{waiver.expires.isoformat()} (owner: {waiver.owner})",
                    hint="fix the finding, or agree a new expiry with the owner and update the waiver",
                    agent=waiver.agent,
                )
            )
    return sorted(result)


def check_files(
    paths: Sequence[str], config: Config, skipped: list[str] | None = None
) -> tuple[list[Finding], list[LoadResult]]:
    """`check PATHS`: the named files (folders are searched for YAML), read from disk as given.
    Special files found in folders (FIFOs, sockets, devices) are listed in ``skipped``."""
    files = expand_paths(paths, skipped)
    results = [load_agent(path, raw, is_link=link) for path, raw, link in map(_read_disk, files)]
    return check_loaded(results, config), results


def agent_names(results: Iterable[LoadResult]) -> dict[str, str]:
    """Agent name -> file, for every file that names an agent."""
    names: dict[str, str] = {}
    for result in results:
        data = result.document.data if result.document else None
        name = data.get("name") if isinstance(data, dict) else None
        if isinstance(name, str) and name:
            names.setdefault(name, result.document.path if result.document else "")
    return names


def expand_paths(paths: Sequence[str], skipped: list[str] | None = None) -> list[str]:
    """The YAML files under each folder, and each named file; a FIFO, socket or device met in a
    folder is skipped (reading one would block or never end) and listed in ``skipped``."""
    files: list[str] = []
    for path in paths:
        if os.path.isdir(path) and not os.path.islink(path):
            for folder, dirs, names in os.walk(path):
                dirs.sort()
                for name in sorted(names):
                    full = os.path.join(folder, name)
                    if not name.endswith((".yaml", ".yml")):
                        continue
                    if _special(full):
                        if skipped is not None:
                            skipped.append(full)
                        continue
                    files.append(full)
        else:
            files.append(path)
    return files


def _special(path: str) -> bool:
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISLNK(mode) or stat.S_ISDIR(mode))


def _read_disk(path: str) -> tuple[str, bytes | None, bool]:
    if os.path.islink(path):
        return path, None, True
    if _special(path):  # named on the command line: "cannot be read", never a hang
        return path, None, False
    try:
        with open(path, "rb") as handle:
            # Never read more than the limit: one byte past it is enough to refuse.
            return path, handle.read(MAX_BYTES + 1), False
    except OSError:
        return path, None, False
