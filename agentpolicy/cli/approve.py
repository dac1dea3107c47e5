"""`agentpolicy approve`: write a signed review entry."""

from __future__ import annotations

import click

from agentpolicy.cli.output import error_handler, say


@click.command()
@click.argument("agent", required=False)
@click.option(
    "--trust-root",
    is_flag=True,
    help="Approve the working tree's .agentpolicy.yaml and allowed/revoked signers instead of an agent.",
)
@click.option(
    "--reviewer",
    metavar='"NAME <EMAIL>"',
    help="Who reviews (default: git user.name and user.email).",
)
@click.option(
    "--decision",
    type=click.Choice(["approve", "reject", "retire"]),
    default="approve",
    show_default=True,
    help="The decision; a deleted agent gets a retire entry.",
)
@click.option("--note", metavar="TEXT", help="A short note kept in the entry (and signed).")
@click.option(
    "--key",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="SSH key to sign with (a private key, or a .pub whose private half is in ssh-agent). "
    "Default: git's user.signingkey when gpg.format is ssh.",
)
@click.option(
    "--break-glass",
    "break_glass",
    is_flag=True,
    help="An emergency approval (needs break_glass.allowed in .agentpolicy.yaml, and --reason); "
    "regular approvals must follow.",
)
@click.option("--reason", metavar="TEXT", help="Why the glass was broken (with --break-glass; signed).")
def approve(
    agent: str | None,
    trust_root: bool,
    reviewer: str | None,
    decision: str,
    note: str | None,
    key: str | None,
    break_glass: bool,
    reason: str | None,
) -> None:
    """Record a signed review of AGENT's current content in the reviews folder.

    The entry binds the agent's name, version and a digest of its governed
    content (name, version, stage, owner, autonomy, undo, change_control), so
    it counts for exactly that content. Nothing is staged or committed: add the
    printed file to the commit that makes the change.

    A change to .agentpolicy.yaml or to the signers files is approved the same
    way, by a signer who is already trusted: agentpolicy approve --trust-root.

    \b
    Example:
      agentpolicy approve billing-cycle --note "numbers checked with finance"
      git add reviews/ && git commit
    """
    with error_handler():
        from agentpolicy.app.approve import ApproveRequest
        from agentpolicy.app.approve import approve as write_approval

        if bool(agent) == trust_root:
            raise click.UsageError("name one AGENT to approve, or pass --trust-root (not both)")
        decision, note = _emergency(break_glass, reason, trust_root, decision, note)
        result = write_approval(
            ApproveRequest(
                agent=agent or "",
                reviewer=reviewer,
                decision=decision,
                note=note,
                key=key,
                trust_root=trust_root,
            )
        )
        for warning in result.warnings:
            say(f"warning: {warning}", err=True)
        entry = result.entry
        say(f"wrote {result.path}")
        say(
            f"  {entry['decision']} {entry['agent']} {entry['version']} ({entry['digest'][:19]}...) "
            f"by {entry['reviewer']['name']} <{entry['reviewer']['email']}>"
            f"{', signed' if result.signed else ', UNSIGNED'}"
        )
        say(f"next: git add {result.path}  (commit it with the change)")


def _emergency(
    break_glass: bool, reason: str | None, trust_root: bool, decision: str, note: str | None
) -> tuple[str, str | None]:
    """`--break-glass --reason TEXT` is a `break-glass` entry whose note is the reason."""
    if break_glass and (trust_root or decision != "approve" or note):
        raise click.UsageError("--break-glass takes --reason, not --trust-root, --decision or --note")
    if reason and not break_glass:
        raise click.UsageError("--reason goes with --break-glass (use --note for a regular review)")
    return ("break-glass", reason or "") if break_glass else (decision, note)
