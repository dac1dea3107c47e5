"""Where the audit's events go as the walk makes them: kept in a list, or spooled once final.

Why a spool: a long history has tens of thousands of events, and holding each one (with
its reviewers) until the walk ends made the audit's memory grow with the history. An
event can still change while it is its agent's newest one (it may be "approved later",
followed up or re-approved) and is final once its agent's next event supersedes it, or
the walk ends. ``SpoolSink`` keeps only events not yet final; each final one is encoded
(its JSON object, one line) to a temporary file, and read back in the order the events
were made (oldest first, as the report has always listed them), so the output is
unchanged. What it holds per event is an offset and a length.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

from agentpolicy.results.audit import AuditEvent, ReviewerRecord


class EventSink:
    """Every event, kept in the order it was made (what library callers and tests read)."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self.agents: set[str] = set()

    def add(self, event: AuditEvent, *, final: bool) -> None:
        self.events.append(event)
        self.agents.add(event.agent)

    def final(self, event: AuditEvent) -> None:
        """``event`` can no longer change."""

    def close(self) -> None:
        """The walk is over: every event is final."""

    def discard(self) -> None:
        """The walk failed: let go of anything held outside memory."""


class LatestOnly(EventSink):
    """No event kept (``status`` reads only each agent's newest one, which the replay holds)."""

    def add(self, event: AuditEvent, *, final: bool) -> None:
        self.agents.add(event.agent)


class SpoolSink(EventSink):
    """Events written to a temporary file once final, the selected ones only."""

    def __init__(self, selected: Callable[[AuditEvent], bool], as_of: dt.datetime | None) -> None:
        super().__init__()
        self.selected = selected
        self.today = f"{(as_of or dt.datetime.now(dt.UTC)).astimezone(dt.UTC):%Y-%m-%d}"
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 - owned by the SpooledEvents it becomes
        self.made = 0
        self.pending: dict[int, tuple[int, AuditEvent]] = {}  # id(event) -> (its place, event)
        self.offsets = array("q")  # per place: where its line starts in the file (-1: not selected)
        self.lengths = array("q")
        self.unapproved = 0
        self.overdue = 0
        self.encode = json.JSONEncoder(ensure_ascii=False).encode

    def add(self, event: AuditEvent, *, final: bool) -> None:
        self.agents.add(event.agent)
        place = self.made
        self.made += 1
        self.offsets.append(-1)
        self.lengths.append(0)
        if final:
            self._write(place, event)
        else:
            self.pending[id(event)] = (place, event)

    def final(self, event: AuditEvent) -> None:
        held = self.pending.pop(id(event), None)
        if held is not None:
            self._write(*held)

    def close(self) -> None:
        for place, event in sorted(self.pending.values(), key=lambda held: held[0]):
            self._write(place, event)
        self.pending.clear()

    def _write(self, place: int, event: AuditEvent) -> None:
        if not self.selected(event):
            return
        data = self.encode(event.to_json()).encode("utf-8", "surrogatepass")
        self.offsets[place] = self.file.tell()
        self.lengths[place] = len(data)
        self.file.write(data)
        self.unapproved += not event.approved
        self.overdue += event.follow_up_overdue(self.today)

    def discard(self) -> None:
        self.file.close()

    def events_read_back(self) -> SpooledEvents:
        return SpooledEvents(self)


class SpooledEvents(Sequence[AuditEvent]):
    """The selected events, oldest first, read back from the spool one at a time."""

    def __init__(self, spool: SpoolSink) -> None:
        self.file = spool.file
        # Two arrays, not a tuple per event: 16 bytes an event instead of ~70 (issue 20: memory
        # flat in history length).
        self.offsets, self.lengths = array("q"), array("q")
        for offset, length in zip(spool.offsets, spool.lengths, strict=True):
            if offset >= 0:
                self.offsets.append(offset)
                self.lengths.append(length)
        self.unapproved = spool.unapproved
        self.overdue = spool.overdue

    def __len__(self) -> int:
        return len(self.offsets)

    @overload
    def __getitem__(self, index: int) -> AuditEvent: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[AuditEvent]: ...
    def __getitem__(self, index: int | slice) -> AuditEvent | Sequence[AuditEvent]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return event_from_json(json.loads(self.line(index)))

    def __iter__(self) -> Iterator[AuditEvent]:
        for line in self.lines():
            yield event_from_json(json.loads(line))

    def close(self) -> None:
        """Remove the spool (a temporary file: gone from disk once closed)."""
        self.file.close()

    def line(self, index: int) -> str:
        """The event's JSON object, as encoded when it became final."""
        offset, length = self.offsets[index], self.lengths[index]
        self.file.seek(offset)
        return self.file.read(length).decode("utf-8", "surrogatepass")

    def lines(self) -> Iterator[str]:
        for index in range(len(self.offsets)):
            yield self.line(index)


def event_from_json(data: dict[str, Any]) -> AuditEvent:
    """An event back from its JSON object (what every report but evidence reads)."""
    fields = dict(data)
    fields["path"] = fields.pop("file")
    fields["reviewers"] = [ReviewerRecord(**reviewer) for reviewer in fields["reviewers"]]
    return AuditEvent(**fields)
