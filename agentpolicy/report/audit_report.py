"""Audit and status reporters: table (terminal), json, csv, markdown."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from collections.abc import Iterable, Iterator
from typing import Any

from agentpolicy import __version__
from agentpolicy.report.safe import csv_cell, json_text, markdown_text, visible
from agentpolicy.results.audit import AuditEvent, AuditResult
from agentpolicy.results.status import AgentStatus


def _reviewers(event: AuditEvent) -> str:
    if not event.reviewers:
        return "-"
    return ", ".join(f"{r.name} <{r.email}>" for r in event.reviewers)


def _status(event: AuditEvent) -> str:
    if not event.approved:
        return "UNAPPROVED"
    status = f"approved later ({event.approved_later_in[:8]})" if event.approved_later_in else "approved"
    if event.approved_via == "break-glass":
        status += " via BREAK-GLASS" + (
            f", followed up in {event.followed_up_in[:8]}"
            if event.followed_up_in
            else f", regular approvals due {event.follow_up_due}"
        )
    return status


def _rows(result: AuditResult) -> list[list[str]]:
    """The cells of each event, raw: each format neutralises them for its own reader."""
    return [_row(event) for event in result.events]


def _row(event: AuditEvent) -> list[str]:
    return [
        event.date[:10],
        event.commit[:8],
        event.agent,
        event.event,
        event.version or "-",
        _status(event),
        _reviewers(event),
    ]


HEADERS = ["date", "commit", "agent", "event", "version", "status", "reviewers"]


def _table(headers: list[str], rows: list[list[str]], width: int = 80) -> str:
    rows = [[visible(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    # keep within the terminal: the last column takes what is left and wraps
    fixed = sum(widths[:-1]) + 2 * (len(widths) - 1)
    last = max(16, width - fixed)
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(headers[:-1], widths[:-1], strict=True)) + "  " + headers[-1]
    ]
    for row in rows:
        head = "  ".join(c.ljust(w) for c, w in zip(row[:-1], widths[:-1], strict=True))
        tail = row[-1]
        chunks = textwrap.wrap(tail, last, break_long_words=False, break_on_hyphens=False) or [""]
        lines.append(head + "  " + chunks[0])
        lines.extend(" " * (fixed + 2) + chunk for chunk in chunks[1:])
    return "\n".join(lines)


def render_audit(result: AuditResult, fmt: str, board: list[AgentStatus] | None = None) -> str:
    return "".join(audit_chunks(result, fmt, board))


def audit_chunks(result: AuditResult, fmt: str, board: list[AgentStatus] | None = None) -> Iterator[str]:
    """The report in pieces, to be written as they come: JSON and CSV read one event at a time
    (a spooled audit never holds them all); the other formats are made whole."""
    if fmt == "json":
        yield from _json_lines(result)
    elif fmt == "csv":
        yield from _csv_chunks(
            [*HEADERS, "commit_full", "approved"],
            ([*_row(event), event.commit, str(event.approved).lower()] for event in result.events),
        )
    elif fmt == "markdown":
        yield _markdown(result)
    elif fmt == "html":
        from agentpolicy.report.html_report import render_html

        yield render_html(result, board)
    else:
        yield _terminal(result)


def _terminal(result: AuditResult) -> str:
    lines = [_event_table(result)] if result.events else ["No governed changes found."]
    lines += [
        f"note: {visible(note.commit[:8])} {visible(note.message)}".replace("note:  ", "note: ")
        for note in result.notes
    ]
    lines.append(_audit_summary(result))
    lines += textwrap.wrap(SIGNATURE_CLOCK, 80)
    return "\n".join(lines) + "\n"


def _event_table(result: AuditResult, width: int = 80) -> str:
    """Aligned columns, with the reviewers on an indented line below, so it reads at 80 columns."""
    rows = [[visible(cell) for cell in row[:-1]] for row in _rows(result)]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS[:-1])]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADERS[:-1], widths, strict=True)).rstrip()]
    for row, event in zip(rows, result.events, strict=True):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if event.reviewers:
            text = "by " + visible(_reviewers(event))
            lines += textwrap.wrap(
                text, width, initial_indent=" " * 12, subsequent_indent=" " * 15, break_long_words=False
            )
    return "\n".join(lines)


SIGNATURE_CLOCK = (
    "Each commit is judged with its parent's configuration and allowed signers; signatures at the "
    "committer date of the commit that added each entry, never earlier than an ancestor's."
)


def _audit_summary(result: AuditResult) -> str:
    unapproved = result.count_unapproved()
    return (
        f"{len(result.events)} governed change(s) in {result.commits_walked} commit(s); "
        f"{unapproved} unapproved."
    )


def _json_lines(result: AuditResult) -> Iterator[str]:
    """The JSON object with one event per line: readable, diff-friendly, and written by the C
    encoder (json's pretty printer is pure Python and dominates a long history's output).
    Events are encoded one at a time (a spooled audit encoded each when it became final)."""
    payload = audit_json(result, with_events=False)
    head = json.dumps(payload, ensure_ascii=False)[:-1]
    if not result.events:
        yield json_text(f'{head}, "events": []}}\n')
        return
    encode = json.JSONEncoder(ensure_ascii=False).encode
    yield json_text(f'{head}, "events": [\n')
    spooled = getattr(result.events, "lines", None)
    encoded = spooled() if spooled else (encode(event.to_json()) for event in result.events)
    last = len(result.events) - 1
    for number, line in enumerate(encoded):
        yield f"  {json_text(line)}{',' if number < last else ''}\n"
    yield "]}\n"


def audit_json(result: AuditResult, with_events: bool = True) -> dict[str, Any]:
    return {
        "format_version": 1,
        "tool": {"name": "agentpolicy", "version": __version__},
        **({"events": [event.to_json() for event in result.events]} if with_events else {}),
        "notes": [{"commit": note.commit or None, "message": note.message} for note in result.notes],
        "summary": {
            "events": len(result.events),
            "unapproved": result.count_unapproved(),
            "commits_walked": result.commits_walked,
        },
    }


def _csv_chunks(headers: list[str], rows: Iterable[list[str]]) -> Iterator[str]:
    """The CSV a few hundred rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    for number, row in enumerate(rows, 1):
        writer.writerow([csv_cell(cell) for cell in row])
        if number % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _csv(headers: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows([csv_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def _markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    """Cells are Markdown already: callers neutralise what came from the repository."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _markdown(result: AuditResult) -> str:
    parts = ["# Agent approval audit", "", f"{_audit_summary(result)} {SIGNATURE_CLOCK}", ""]
    if result.events:
        rows = [
            [
                f"`{c}`" if i == 1 else "**UNAPPROVED**" if c == "UNAPPROVED" else markdown_text(c)
                for i, c in enumerate(r)
            ]
            for r in _rows(result)
        ]
        parts.append(_markdown_table(HEADERS, rows))
    if result.notes:
        parts += ["", "## Notes", ""] + [
            f"- `{n.commit[:8]}` {markdown_text(n.message)}" for n in result.notes
        ]
    return "\n".join(parts) + "\n"


def render_rows(headers: list[str], rows: list[list[str]], fmt: str, payload: Any) -> str:
    """Shared by `status`: the same four formats over plain rows."""
    if fmt == "json":
        return json_text(json.dumps(payload, indent=2, ensure_ascii=False)) + "\n"
    if fmt == "csv":
        return _csv(headers, rows)
    if fmt == "markdown":
        return _markdown_table(headers, [[markdown_text(cell) for cell in row] for row in rows]) + "\n"
    return _table(headers, rows) + "\n"
