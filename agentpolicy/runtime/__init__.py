"""The approved boundary at run time: ``from agentpolicy.runtime import Boundary``.

An agent loop asks ``boundary.decide(action)`` before each tool call and gets
``"allow"``, ``"confirm"`` or ``"deny"``. Importing this package costs only the
standard library (no click, jsonschema, pygit2 or PyYAML): a running agent
loads an exported JSON file with ``Boundary.load``; ``Boundary.from_repo``
reads the repository (and only then imports the git and audit machinery).
"""

from __future__ import annotations

from agentpolicy.runtime.boundary import (
    ALLOW,
    CONFIRM,
    DENY,
    Action,
    Approval,
    Boundary,
    BoundaryError,
    Decision,
    UnapprovedBoundary,
)

__all__ = [
    "ALLOW",
    "CONFIRM",
    "DENY",
    "Action",
    "Approval",
    "Boundary",
    "BoundaryError",
    "Decision",
    "UnapprovedBoundary",
]
