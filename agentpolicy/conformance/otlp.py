"""Tool executions in an OTLP JSON trace export, read with the OpenTelemetry GenAI conventions.

A span is a tool execution when `gen_ai.operation.name` is `execute_tool` or it
carries `gen_ai.tool.name`. Its agent is `gen_ai.agent.name` on the span, else on
the nearest ancestor span of the same record that has one, within 64 levels
(the `invoke_agent` span around it), else on the resource; `gen_ai.agent.version` likewise. A
confirmation is the span attribute `agentpolicy.confirmed_by`. The time is
the span's `startTimeUnixNano`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from agentpolicy.conformance.logs import Malformed, Record, RuntimeEvent, name_field, twice

AGENT_NAME = "gen_ai.agent.name"
AGENT_VERSION = "gen_ai.agent.version"
TOOL_NAME = "gen_ai.tool.name"
OPERATION = "gen_ai.operation.name"
CONFIRMED_BY = "agentpolicy.confirmed_by"
MAX_ANCESTORS = 64
_MAX_NANOS = 253402300799 * 10**9  # 9999-12-31T23:59:59Z


class _Twice:
    """The value of an attribute whose key a list gives twice: neither value is believed."""


TWICE = _Twice()


def otlp_events(record: dict[str, Any], line: int) -> Iterator[Record]:
    """Every tool execution of one OTLP export record (`resourceSpans[].scopeSpans[].spans[]`)."""
    batches = record.get("resourceSpans")
    if not isinstance(batches, list):
        yield Malformed(line, "`resourceSpans` must be a list")
        return
    number = 0
    for batch in batches:
        if not isinstance(batch, dict):
            yield Malformed(line, "a resourceSpans entry must be an object")
            continue
        resource = batch.get("resource")
        resource_attrs = _attributes(resource.get("attributes") if isinstance(resource, dict) else None)
        spans = list(_spans(batch))
        if any(isinstance(span, Malformed) for span in spans):
            yield Malformed(line, "scopeSpans[].spans[] must be lists of objects")
        spans_by_id = {
            span.get("spanId"): span
            for span in spans
            if isinstance(span, dict) and isinstance(span.get("spanId"), str)
        }
        for span in spans:
            if not isinstance(span, dict):
                continue
            number += 1
            attrs = _attributes(span.get("attributes"))
            if attrs.get(OPERATION) != "execute_tool" and TOOL_NAME not in attrs:
                continue
            yield _event(span, attrs, spans_by_id, resource_attrs, line, number)


def _spans(batch: dict[str, Any]) -> Iterator[dict[str, Any] | Malformed]:
    scopes = batch.get("scopeSpans")
    if not isinstance(scopes, list):
        yield Malformed(0, "")
        return
    for scope in scopes:
        spans = scope.get("spans") if isinstance(scope, dict) else None
        if not isinstance(spans, list):
            yield Malformed(0, "")
            continue
        for span in spans:
            yield span if isinstance(span, dict) else Malformed(0, "")


def _attributes(items: object) -> dict[str, object]:
    """OTLP key/value attributes as a dict; only string values are kept (names are strings).
    A key given twice maps to TWICE: readers disagree on which value holds."""
    found: dict[str, object] = {}
    if not isinstance(items, list):
        return found
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            continue
        value = item.get("value")
        key = item["key"]
        found[key] = TWICE if key in found else value.get("stringValue") if isinstance(value, dict) else None
    return found


def _inherited(
    key: str, span: dict[str, Any], spans_by_id: dict[Any, dict[str, Any]], resource: dict[str, object]
) -> object:
    """The attribute on the span, else on its nearest ancestor having it, else on the resource."""
    current: dict[str, Any] | None = span
    for _depth in range(MAX_ANCESTORS):  # bounded: a hostile record may chain or loop its spans
        if current is None:
            break
        attrs = _attributes(current.get("attributes"))
        if key in attrs:
            return attrs[key]
        current = spans_by_id.get(current.get("parentSpanId"))
    return resource.get(key)


def _event(
    span: dict[str, Any],
    attrs: dict[str, object],
    spans_by_id: dict[Any, dict[str, Any]],
    resource: dict[str, object],
    line: int,
    number: int,
) -> Record:
    where = f"span {number}"
    when = _time(span.get("startTimeUnixNano"))
    if isinstance(when, str):
        return Malformed(line, f"{where}: {when}")
    raw = {
        AGENT_NAME: _inherited(AGENT_NAME, span, spans_by_id, resource),
        TOOL_NAME: attrs.get(TOOL_NAME),
        AGENT_VERSION: _inherited(AGENT_VERSION, span, spans_by_id, resource),
        CONFIRMED_BY: attrs.get(CONFIRMED_BY),
    }
    for key, value in raw.items():
        if value is TWICE:
            return Malformed(line, f"{where}: {twice(key)}")
    values = {
        "agent": name_field(raw[AGENT_NAME], AGENT_NAME, True),
        "action": name_field(raw[TOOL_NAME], TOOL_NAME, True),
        "version": name_field(raw[AGENT_VERSION], AGENT_VERSION, False),
        "confirmed_by": name_field(raw[CONFIRMED_BY], CONFIRMED_BY, False),
    }
    for value in values.values():
        if isinstance(value, Malformed):
            return Malformed(line, f"{where}: {value.why}")
    agent, action, version, confirmed_by = (
        value if isinstance(value, str) else None for value in values.values()
    )
    assert agent is not None and action is not None
    return RuntimeEvent(line, when, agent, action, version, confirmed_by, where)


def _time(value: object) -> dt.datetime | str:
    """`startTimeUnixNano`: nanoseconds since the epoch, a JSON string (or number) of digits."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return "`startTimeUnixNano` is missing"
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 20:
        return "`startTimeUnixNano` must be a whole number of nanoseconds"
    nanos = int(text)
    if nanos == 0 or nanos > _MAX_NANOS:
        return "`startTimeUnixNano` is out of range"
    return dt.datetime.fromtimestamp(nanos // 10**9, dt.UTC) + dt.timedelta(
        microseconds=nanos % 10**9 // 1000
    )
