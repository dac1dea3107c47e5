"""`agentpolicy test`: choose the packs named (or configured) and run their own examples.

A pack ships `tests/pass/*.yaml` and `tests/fail/*.yaml`; running them is how a pack's
author, and CI, knows its rules flag what they should and nothing else. Also reports
the patterns of a pack that could take super-linear time on a hostile value.
"""

from __future__ import annotations

import os

from agentpolicy.app.worktree_config import worktree_config
from agentpolicy.errors import ConfigError
from agentpolicy.files.snapshot import FolderSnapshot
from agentpolicy.results.pack_tests import PackTestRun
from agentpolicy.rules.pack_testing import pattern_warnings, run_pack_examples
from agentpolicy.rules.packs import Pack, builtin_pack, installed_pack, load_pack


def run_pack_tests(refs: tuple[str, ...]) -> list[PackTestRun]:
    """Each pack's run; with no ``refs``, the built-in pack and the work tree's configured ones."""
    packs = choose_packs(refs)
    return [PackTestRun(pack.source, pattern_warnings(pack), run_pack_examples(pack)) for pack in packs]


def choose_packs(refs: tuple[str, ...]) -> list[Pack]:
    """A PACK is a folder, or the name of an installed pack."""
    if not refs:
        return [builtin_pack(), *worktree_config().packs]
    chosen = []
    for ref in refs:
        if os.path.isdir(ref):
            chosen.append(load_pack(FolderSnapshot(os.path.abspath(ref), ref), "", f"pack {ref}"))
            continue
        found = installed_pack(ref)
        if found is None:
            raise ConfigError(
                f"no pack {ref!r}: not a folder, nor an installed pack",
                "pass the pack's folder, e.g. agentpolicy test policies/acme",
            )
        chosen.append(found)
    return chosen
