"""Review entries: one YAML file per decision, bound to one agent content by digest.

Layout: ``<reviews>/<agent>/<version>/<UTC time>-<reviewer>.yaml``. The folder
per agent keeps the gate's lookups to that agent's entries, and the file name
per reviewer and second keeps concurrent approvals from colliding in merges.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Any

from agentpolicy.files.filenames import display_path, rename_hint, unsafe_name
from agentpolicy.model.digest import canonical_json
from agentpolicy.model.document import ERROR, Document, Finding
from agentpolicy.model.schemas import schema_errors
from agentpolicy.model.yamlload import NOT_PARSED, load_yaml

SIGNED_FIELDS = (
    "apiVersion",
    "kind",
    "agent",
    "version",
    "digest",
    "decision",
    "reviewer",
    "timestamp",
    "note",
)
RULE_INVALID = "AP204"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_TIME_FIELDS = ((0, 4), (5, 7), (8, 10), (11, 13), (14, 16), (17, 19))
_TIME_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


@dataclass(frozen=True)
class ReviewEntry:
    path: str
    data: dict[str, Any]
    document: Document

    @functools.cached_property
    def agent(self) -> str:
        return str(self.data["agent"])

    @functools.cached_property
    def version(self) -> str:
        return str(self.data["version"])

    @functools.cached_property
    def digest(self) -> str:
        return str(self.data["digest"])

    @functools.cached_property
    def decision(self) -> str:
        return str(self.data["decision"])

    @functools.cached_property
    def reviewer_name(self) -> str:
        return str(self.data["reviewer"]["name"])

    @functools.cached_property
    def reviewer_email(self) -> str:
        return str(self.data["reviewer"]["email"])

    @property
    def reviewer(self) -> str:
        return f"{self.reviewer_name} <{self.reviewer_email}>"

    @functools.cached_property
    def timestamp(self) -> str:
        return str(self.data["timestamp"])

    @property
    def signature(self) -> str | None:
        signature = self.data.get("signature")
        return signature if isinstance(signature, str) else None

    def payload(self) -> bytes:
        return self._payload

    @functools.cached_property
    def _payload(self) -> bytes:
        return signed_payload(self.data)

    @functools.cached_property
    def signed_at(self) -> dt.datetime | None:
        """Parsed once per entry: the judge asks for it several times per event, and
        `strptime` was a tenth of an audit of 20,000 entries."""
        return parse_signed_time(self.timestamp)


def signed_time(entry: ReviewEntry) -> dt.datetime | None:
    """The entry's signed timestamp, or None when it is not exactly YYYY-MM-DDTHH:MM:SSZ."""
    return entry.signed_at


def parse_signed_time(text: str) -> dt.datetime | None:
    """`strptime(text, TIME_FORMAT)` that must print back as ``text``, without strptime (a
    tenth of a wide audit's time): the same answers, compared on arbitrary text by a test."""
    if not _TIME_SHAPE.fullmatch(text):
        return None
    try:
        parsed = dt.datetime(
            int(text[0:4]),
            int(text[5:7]),
            int(text[8:10]),
            int(text[11:13]),
            int(text[14:16]),
            int(text[17:19]),
        )
    except ValueError:
        return None
    if parsed.strftime(TIME_FORMAT) != text:
        return None
    return parsed.replace(tzinfo=dt.UTC)


def strptime_time(text: str) -> dt.datetime | None:
    """The definition `parse_signed_time` keeps to (the tests compare the two)."""
    try:
        parsed = dt.datetime.strptime(text, TIME_FORMAT)
    except ValueError:
        return None
    if parsed.strftime(TIME_FORMAT) != text:
        return None
    return parsed.replace(tzinfo=dt.UTC)


def signed_payload(data: dict[str, Any]) -> bytes:
    """The exact bytes a reviewer signs: every field but the signature, canonical JSON."""
    fields = {key: data[key] for key in SIGNED_FIELDS if key in data}
    return (canonical_json(fields) + "\n").encode("utf-8")


def load_review(
    path: str, raw: bytes | None, parsed: Any = NOT_PARSED
) -> tuple[ReviewEntry | None, list[Finding]]:
    """An entry and the problems with it; ``parsed``: see `load_yaml`."""
    entry, problems = _load_review(path, raw, parsed)
    if unsafe_name(path):  # still loaded: a rejection in it keeps blocking
        message = f"review entry name {display_path(path)} holds control characters or non-UTF-8 bytes"
        problems.insert(0, _invalid(path, 1, 1, message, rename_hint(path)))
    return entry, problems


def _load_review(path: str, raw: bytes | None, parsed: Any) -> tuple[ReviewEntry | None, list[Finding]]:
    if raw is None:
        return None, [_invalid(path, 1, 1, "review entry cannot be read", "check the file")]
    loaded = load_yaml(path, raw, parsed=parsed)
    if loaded.document is None:
        return None, [_retag(finding) for finding in loaded.findings]
    data = loaded.document.data
    if not isinstance(data, dict):
        return None, [_invalid(path, 1, 1, "a review entry must be a mapping", _REWRITE)]
    errors = schema_errors("review", data)
    if errors:
        error = errors[0]
        line, column = loaded.document.position(tuple(error.absolute_path))
        field = ".".join(map(str, error.absolute_path)) or "entry"
        return None, [
            _invalid(path, line, column, f"invalid review entry ({field}): {error.message}", _REWRITE)
        ]
    return ReviewEntry(path, data, loaded.document), []


_REWRITE = "entries are written by `agentpolicy approve`; add a new entry rather than editing one"


def _invalid(path: str, line: int, column: int, message: str, hint: str) -> Finding:
    return Finding(
        path=path,
        line=line,
        column=column,
        rule=RULE_INVALID,
        severity=ERROR,
        message=message,
        hint=hint,
    )


def _retag(finding: Finding) -> Finding:
    return _invalid(
        finding.path,
        finding.line,
        finding.column,
        f"review entry is not valid YAML: {finding.message}",
        finding.hint,
    )


def entry_folder(reviews: str, agent: str) -> str:
    return f"{reviews.strip('/')}/{agent}/"


def entry_path(reviews: str, agent: str, version: str, email: str, timestamp: str) -> str:
    stamp = timestamp.replace("-", "").replace(":", "")
    who = re.sub(r"[^A-Za-z0-9._-]+", "-", email).strip("-") or "reviewer"
    safe_version = re.sub(r"[^A-Za-z0-9._+-]+", "-", version) or "unversioned"
    return f"{entry_folder(reviews, agent)}{safe_version}/{stamp}-{who}.yaml"
