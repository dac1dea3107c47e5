"""Merge-conflict markers: a file git left half-merged is a conflict to resolve, not bad YAML."""

from __future__ import annotations

import re

_MARKERS = (
    re.compile(rb"^<{7}(?: |$)", re.M),
    re.compile(rb"^={7}$", re.M),
    re.compile(rb"^>{7}(?: |$)", re.M),
)


CONFLICT_HINT = (
    "keep the right lines between the <<<<<<< and >>>>>>> markers, delete the markers, "
    "then `git add {path}` to finish the merge"
)


def conflict_line(raw: bytes) -> int | None:
    """The line of the first `<<<<<<<` when ``raw`` holds a whole set of conflict markers
    (`<<<<<<<`, `=======`, `>>>>>>>` at line starts), else None. YAML would reject the file
    with a puzzling syntax error; the person needs to hear that a merge is unfinished."""
    if b"<<<<<<<" not in raw:  # the common case, found without a scan per marker
        return None
    found = [marker.search(raw) for marker in _MARKERS]
    if not all(found):
        return None
    start = found[0]
    assert start is not None
    return raw.count(b"\n", 0, start.start()) + 1
