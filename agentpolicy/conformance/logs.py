"""Streaming readers of runtime logs: JSON Lines of events, and OTLP JSON traces (per line or whole).

A log is hostile input: any line may be huge, deeply nested, not UTF-8, or
carry control characters. Memory stays flat: one line (at most
``MAX_LINE_BYTES``) is held at a time, and a record that cannot be read is
yielded as `Malformed` with its line number, never raised.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

MAX_LINE_BYTES = 1024 * 1024  # one event or one OTLP export batch
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024  # a pretty-printed OTLP JSON file, read whole
MAX_NAME_CHARS = 512  # agent, action, version and confirmer names longer than this are refused


@dataclass(frozen=True)
class RuntimeEvent:
    """One thing an agent did, as its runtime reported it."""

    line: int
    time: dt.datetime
    agent: str
    action: str
    version: str | None = None
    confirmed_by: str | None = None
    where: str = ""  # e.g. "span 3" inside an OTLP record


@dataclass(frozen=True)
class Malformed:
    line: int
    why: str


Record = RuntimeEvent | Malformed


def read_log(path: str) -> Iterator[Record]:
    """Every event of one log file, in file order; the format is detected per record."""
    from agentpolicy.conformance.otlp import otlp_events

    with open(path, "rb") as stream:
        whole = _whole_document(stream)
        if whole is not None:
            yield from otlp_events(whole, 1)
            return
        for number, line in _lines(stream):
            if isinstance(line, Malformed):
                yield line
                continue
            if not line.strip():
                continue
            record = parse_json(line, number)
            if isinstance(record, Malformed):
                yield record
            elif isinstance(record, dict) and "resourceSpans" in record:
                yield from otlp_events(record, number)
            else:
                yield event_from_json(record, number)


def _whole_document(stream: BinaryIO) -> dict[str, Any] | None:
    """A pretty-printed OTLP export (one JSON object over many lines), else None (and rewound)."""
    if not stream.seekable():  # a pipe: read as lines
        return None
    head = stream.read(1)
    stream.seek(0)
    if head != b"{":
        return None
    first = stream.readline(MAX_LINE_BYTES + 1)
    stream.seek(0)
    if _parses(first):
        return None  # one record per line
    raw = stream.read(MAX_DOCUMENT_BYTES + 1)
    stream.seek(0)
    if len(raw) > MAX_DOCUMENT_BYTES:
        return None
    document = parse_json(raw, 1)
    return document if isinstance(document, dict) and "resourceSpans" in document else None


def _parses(line: bytes) -> bool:
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


def _lines(stream: BinaryIO) -> Iterator[tuple[int, bytes | Malformed]]:
    """Numbered lines; one longer than MAX_LINE_BYTES is skipped (read in bounded pieces)."""
    number = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = stream.readline(MAX_LINE_BYTES)
            yield number, Malformed(number, f"the line is longer than {MAX_LINE_BYTES} bytes")
            continue
        yield number, line


class DuplicateKey(ValueError):
    """A JSON object names one key twice: readers disagree on which value holds."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise DuplicateKey(key)
        found[key] = value
    return found


def twice(key: str) -> str:
    """Why a record naming ``key`` twice is refused (json.loads keeps the last, other readers the first)."""
    return f"`{key[:64]}` is given twice: the record is ambiguous"


def parse_json(raw: bytes, line: int) -> Any:
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
    except UnicodeDecodeError as exc:
        return Malformed(line, f"not UTF-8 (byte {exc.start + 1})")
    except RecursionError:
        return Malformed(line, "JSON nested too deeply")
    except DuplicateKey as exc:
        return Malformed(line, twice(str(exc.args[0])))
    except ValueError as exc:
        return Malformed(line, f"not JSON ({str(exc).partition(':')[0]})")


def event_from_json(record: object, line: int) -> Record:
    """One JSON Lines event: {"time", "agent", "action", "version"?, "confirmed_by"?}."""
    if not isinstance(record, dict):
        return Malformed(line, "an event is a JSON object")
    when = parse_time(record.get("time"))
    if isinstance(when, str):
        return Malformed(line, when)
    fields: dict[str, str | None] = {}
    for key, required in (("agent", True), ("action", True), ("version", False), ("confirmed_by", False)):
        value = name_field(record.get(key), key, required)
        if isinstance(value, Malformed):
            return Malformed(line, value.why)
        fields[key] = value
    agent, action = fields["agent"], fields["action"]
    assert agent is not None and action is not None
    return RuntimeEvent(line, when, agent, action, fields["version"], fields["confirmed_by"])


def name_field(value: object, key: str, required: bool) -> str | Malformed | None:
    """A name from the log: a non-empty string of bounded length (absent or null when optional)."""
    if value is None or (value == "" and not required):
        return Malformed(0, f"`{key}` is missing") if required else None
    if not isinstance(value, str) or not value:
        return Malformed(0, f"`{key}` must be a non-empty string")
    if len(value) > MAX_NAME_CHARS:
        return Malformed(0, f"`{key}` is longer than {MAX_NAME_CHARS} characters")
    return value


def parse_time(value: object) -> dt.datetime | str:
    """An ISO 8601 time with a zone, as UTC; the reason as text when it is not one."""
    if not isinstance(value, str):
        return "`time` is missing" if value is None else "`time` must be an ISO 8601 string"
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return "`time` is not an ISO 8601 time"
    if when.tzinfo is None or when.utcoffset() is None:
        return "`time` has no zone (add Z or an offset such as +02:00): it could mean any hour"
    try:
        return when.astimezone(dt.UTC)
    except OverflowError:
        return "`time` is out of range"
