"""`agentpolicy test`: run rule packs' own pass/fail examples."""

from __future__ import annotations

import os
import sys

import click

from agentpolicy.cli.output import error_handler, say, worktree_config


@click.command(name="test")
@click.argument("packs", nargs=-1)
def test_packs(packs: tuple[str, ...]) -> None:
    """Run rule packs' own examples: tests/pass/*.yaml must pass, tests/fail/*.yaml must fail.

    With no argument: the built-in pack and every pack under `policy:` in
    .agentpolicy.yaml. A PACK is a folder, or the name of an installed pack.
    Exit status 1 names each example that misbehaves.
    """
    with error_handler():
        from agentpolicy.errors import ConfigError
        from agentpolicy.files.snapshot import FolderSnapshot
        from agentpolicy.rules.pack_testing import pattern_warnings, run_pack_examples
        from agentpolicy.rules.packs import builtin_pack, installed_pack, load_pack

        chosen = []
        if not packs:
            chosen = [builtin_pack(), *worktree_config().packs]
        for ref in packs:
            if os.path.isdir(ref):
                chosen.append(load_pack(FolderSnapshot(os.path.abspath(ref), ref), "", f"pack {ref}"))
            else:
                found = installed_pack(ref)
                if found is None:
                    raise ConfigError(
                        f"no pack {ref!r}: not a folder, nor an installed pack",
                        "pass the pack's folder, e.g. agentpolicy test policies/acme",
                    )
                chosen.append(found)
        bad = total = 0
        for pack in chosen:
            for warning in pattern_warnings(pack):
                shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in warning.pattern)
                click.echo(
                    f"warning  {warning.source}: pattern {shown} at {warning.pointer} can take "
                    f"super-linear time on a hostile value: {warning.reason}"
                )
            results = run_pack_examples(pack)
            if not results:
                say(f"{pack.source}: no examples (add tests/pass/*.yaml and tests/fail/*.yaml)")
            for example in results:
                total += 1
                if example.ok:
                    say(f"ok    {pack.source}: {example.path} (expected to {example.expected})")
                    continue
                bad += 1
                if example.expected == "pass":
                    say(f"FAIL  {pack.source}: {example.path} should pass but gives:")
                    for finding in example.errors:
                        where = f"{finding.path}:{finding.line}:{finding.column}"
                        say(f"        {where}: {finding.rule} {finding.message}")
                else:
                    say(f"FAIL  {pack.source}: {example.path} should fail, but no rule of the pack flags it")
        click.echo(f"{total} example(s), {bad} misbehaving.")
        sys.exit(1 if bad else 0)
