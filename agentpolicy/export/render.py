"""The export formats, as documents (pure data: nothing here reads git or writes files).

One agent gives one document; several give a JSON array of them, in the
order asked (OPA's bundle holds them all: see ``opa``).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from typing import Any

from agentpolicy.runtime.boundary import Boundary

FORMATS = ("boundary", "opa", "mcp", "a2a")

# MCP `_meta` keys take a reverse-DNS prefix; `io.github.agentpolicy/` is ours and not reserved.
MCP_PREFIX = "io.github.agentpolicy/"
A2A_EXTENSION_URI = (
    "https://github.com/agentpolicy/agentpolicy/blob/main/docs/runtime.md#a2a-boundary-extension-v1"
)


def mcp_document(boundary: Boundary) -> dict[str, Any]:
    """MCP tool annotations for each action, to merge into the server's `tools/list` entries.

    `destructiveHint` is true for an irreversible action and left out otherwise (a
    reversible action may still destroy; clients then assume the spec's default,
    true). `readOnlyHint` is never set: the boundary does not say what an action reads.
    """
    tools = []
    for entry in (*boundary.autonomous, *boundary.requires_confirmation):
        tools.append(
            {
                "name": entry.action,
                "annotations": {"destructiveHint": True} if entry.irreversible else {},
                "_meta": {
                    MCP_PREFIX + "decision": boundary.decide(entry.action),
                    MCP_PREFIX + "irreversible": entry.irreversible,
                },
            }
        )
    return {
        "format_version": 1,
        "agent": boundary.agent,
        "tools": sorted(tools, key=lambda tool: tool["name"]),
        "_meta": {MCP_PREFIX + "boundary": boundary.to_json()},
    }


def a2a_document(boundary: Boundary) -> dict[str, Any]:
    """The part of an A2A AgentCard that declares our extension, with the boundary as its params."""
    return {
        "capabilities": {
            "extensions": [
                {
                    "uri": A2A_EXTENSION_URI,
                    "description": "Autonomy boundary approved in git (agentpolicy): which actions "
                    "the agent takes alone, which need a person's confirmation; anything else is denied.",
                    "required": False,
                    "params": boundary.to_json(),
                }
            ]
        }
    }


_DOCUMENTS = {"boundary": Boundary.to_json, "mcp": mcp_document, "a2a": a2a_document}


def render_json(boundaries: Sequence[Boundary], fmt: str) -> str:
    """The ``boundary``, ``mcp`` or ``a2a`` export as JSON text."""
    from agentpolicy.report.safe import json_text

    documents = [_DOCUMENTS[fmt](boundary) for boundary in boundaries]
    payload: Any = documents[0] if len(documents) == 1 else documents
    return json_text(json.dumps(payload, indent=2, ensure_ascii=False)) + "\n"


def write_bundle(folder: str, files: dict[str, str]) -> None:
    """A new folder holding ``files``: complete, or not there at all; an existing path is refused."""
    from agentpolicy.errors import AlreadyExists, WriteError
    from agentpolicy.files.atomic import write_new

    try:
        os.mkdir(folder)  # the umask applies, as to any folder the user makes
    except FileExistsError:
        raise AlreadyExists(
            f"{folder} already exists; it was not changed",
            "choose another folder name, or remove it yourself",
            path=folder,
        ) from None
    except OSError as exc:
        raise WriteError(f"cannot create {folder}: {exc.strerror}", "check the path", path=folder) from exc
    written = []
    try:
        for name, text in files.items():
            write_new(os.path.join(folder, name), text.encode("utf-8"))
            written.append(os.path.join(folder, name))
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                os.unlink(path)
        with contextlib.suppress(OSError):
            os.rmdir(folder)
        raise
