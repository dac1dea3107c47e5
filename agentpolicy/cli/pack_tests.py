"""`agentpolicy test`: run rule packs' own pass/fail examples."""

from __future__ import annotations

import sys

import click

from agentpolicy.cli.output import echo, error_handler


@click.command(name="test")
@click.argument("packs", nargs=-1)
def test_packs(packs: tuple[str, ...]) -> None:
    """Run rule packs' own examples: tests/pass/*.yaml must pass, tests/fail/*.yaml must fail.

    With no argument: the built-in pack and every pack under `policy:` in
    .agentpolicy.yaml. A PACK is a folder, or the name of an installed pack.
    Exit status 1 names each example that misbehaves.
    """
    with error_handler():
        from agentpolicy.app.pack_tests import run_pack_tests
        from agentpolicy.report.pack_tests import render_pack_tests

        runs = run_pack_tests(packs)
        echo(render_pack_tests(runs), nl=False)
        sys.exit(1 if any(run.misbehaving for run in runs) else 0)
