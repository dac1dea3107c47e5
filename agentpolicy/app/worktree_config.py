"""The configuration of the work tree around the current folder, with its rule packs.

For the commands that read the policy as it is on disk rather than as a commit holds it
(`rules` lists the packs' rules, `test` runs the packs' examples): found the way `check`
finds it, without loading pygit2.
"""

from __future__ import annotations

import os

from agentpolicy.app.check import find_worktree_config
from agentpolicy.files.snapshot import FolderSnapshot
from agentpolicy.rules.config import Config, load_config


def worktree_config(start: str = ".") -> Config:
    raw, where = find_worktree_config(start)
    return load_config(raw, os.path.relpath(where)).with_packs(FolderSnapshot(os.path.dirname(where)))
