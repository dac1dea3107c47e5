"""The command line: parse options, call one library function, report, exit.

Exit status: 0 no error findings, 1 error findings, 2 usage or environment
error (bad config, not a repository, unknown revision), 3 an internal error.
Heavy modules are imported inside each command so `--help` stays fast.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import click

from agentpolicy import __version__

EXIT_USAGE = 2
EXIT_INTERNAL = 3
REPORT_URL = "https://github.com/agentpolicy/agentpolicy/issues"


def _echo(text: str, *, err: bool = False, nl: bool = True, runner_safe: bool = False) -> None:
    """Print text that may hold repository strings. In a GitHub Actions step the runner reads
    every printed line for workflow commands: none of ours may pass for one (`runner_safe`:
    the text is a `--format github` report, neutralised already, whose annotations must stay)."""
    if not runner_safe and os.environ.get("GITHUB_ACTIONS") == "true":
        from agentpolicy.report.safe import github_log

        text = github_log(text)
    click.echo(text, err=err, nl=nl)


def _say(text: str, *, err: bool = False) -> None:
    """One line for a terminal: repository strings in it shown with their hidden characters escaped."""
    from agentpolicy.report.safe import visible

    _echo(visible(text), err=err)


def _error_text(exc: Any) -> str:
    """An AgentPolicyError as `str()` shows it, with what it quotes from the repository escaped."""
    from agentpolicy.report.safe import visible_message

    where = (f"{exc.path}:{exc.line}: " if exc.line else f"{exc.path}: ") if exc.path else ""
    text = visible_message(f"{where}{exc.message}")
    return text + (f"\n  fix: {visible_message(exc.hint)}" if exc.hint else "")


@contextlib.contextmanager
def error_handler() -> Iterator[None]:
    """Turn every failure into a message and an exit status; never a traceback."""
    from agentpolicy.errors import AgentPolicyError

    try:
        yield
    except AgentPolicyError as exc:
        _echo(f"agentpolicy: error: {_error_text(exc)}", err=True)
        sys.exit(EXIT_USAGE)
    except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
        raise
    except OSError as exc:
        from agentpolicy.environment import EnvironmentFault, detach_stdout, from_os_error

        fault = from_os_error(exc)
        if isinstance(fault, EnvironmentFault):
            _echo(f"agentpolicy: error: {_error_text(fault)}", err=True)
            sys.exit(EXIT_USAGE)
        if fault is not None:  # the reader closed the pipe: nothing more to say to anyone
            detach_stdout()
            sys.exit(EXIT_USAGE)
        _internal_error(exc)
    except Exception as exc:
        if type(exc).__module__.startswith(("pygit2", "_pygit2")):
            _echo(
                f"agentpolicy: error: cannot read the git repository: {_visible_exc(exc)}\n"
                "  fix: the repository may be damaged: run `git fsck` and restore the missing objects",
                err=True,
            )
            sys.exit(EXIT_USAGE)
        _internal_error(exc)


def _internal_error(exc: Exception) -> None:
    """A bug: say so, with where to report it (the traceback with AGENTPOLICY_DEBUG=1)."""
    _echo(
        f"agentpolicy: internal error: {type(exc).__name__}: {_visible_exc(exc)}\n"
        f"  This is a bug. Please report it at {REPORT_URL} with the command you ran.\n"
        "  Set AGENTPOLICY_DEBUG=1 to see the traceback.",
        err=True,
    )
    if os.environ.get("AGENTPOLICY_DEBUG"):
        raise exc
    sys.exit(EXIT_INTERNAL)


def _visible_exc(exc: BaseException) -> str:
    from agentpolicy.report.safe import visible_message

    return visible_message(str(exc))


def _color(stream_is_tty: bool) -> bool:
    return stream_is_tty and "NO_COLOR" not in os.environ


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="agentpolicy", message="%(prog)s %(version)s")
def main() -> None:
    """Keep each AI agent's five production answers in the repo, and gate changes on signed reviews.

    \b
    The five questions, one YAML file per agent (see `agentpolicy schema`):
      1. owner           one accountable person, not a team
      2. autonomy        what it does alone, what a person confirms
      3. monitoring      how we find out something is wrong
      4. undo            a rollback, or a human checkpoint before irreversible actions
      5. change_control  how the next version gets approved

    \b
    Typical use:
      agentpolicy check                      policy + change gate, working tree vs HEAD
      agentpolicy check --staged             what the pre-commit hook runs
      agentpolicy check --base origin/main   the pull-request check
      agentpolicy approve billing-cycle      write a signed review entry
    """


def _outputs_option(example: str) -> Any:
    return click.option(
        "-o",
        "--output-to",
        "outputs",
        multiple=True,
        metavar="FORMAT=PATH",
        help=f"Also write FORMAT to PATH (repeatable), e.g. {example}.",
    )


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=True))
@click.option("--staged", is_flag=True, help="Check the index (what is about to be committed) against HEAD.")
@click.option("--base", metavar="REV", help="Check the range merge-base(REV, HEAD)..HEAD (pull requests).")
@click.option(
    "--head",
    metavar="REV",
    default="HEAD",
    show_default=True,
    help="Head of the range, with --base.",
)
@click.option(
    "--pushed",
    is_flag=True,
    help="Check the range being pushed (PRE_COMMIT_FROM_REF..PRE_COMMIT_TO_REF; the pre-push hook).",
)
@click.option(
    "--ci",
    is_flag=True,
    help="Take the range from the CI environment (GitHub Actions, GitLab CI), pick its output "
    "format, and write the job summary.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github", "sarif", "junit", "gitlab"]),
    default=None,
    help="Output format (default: text; github under --ci on GitHub Actions).",
)
@_outputs_option("-o sarif=agentpolicy.sarif -o junit=report.xml")
def check(
    paths: tuple[str, ...],
    staged: bool,
    base: str | None,
    head: str,
    pushed: bool,
    ci: bool,
    fmt: str | None,
    outputs: tuple[str, ...],
) -> None:
    """Check agent definitions against policy, and changes against the review gate.

    \b
    agentpolicy check agents/              policy check of those files (folders are searched)
    agentpolicy check                      the working tree against HEAD: policy on every
                                           agent, and every governed change needs a matching
                                           review entry
    agentpolicy check --staged             the index against HEAD (the pre-commit hook)
    agentpolicy check --base origin/main   merge-base(origin/main, --head) against --head (CI)
    agentpolicy check --ci                 the pull request or push, found from the CI's
                                           variables (GitHub Actions, GitLab CI)

    With a before side, .agentpolicy.yaml and the allowed signers are read from
    that side: a change cannot relax the rules it is judged by.

    \b
    Formats: text, json (stable, documented), github (annotations), sarif
    (code scanning), junit (test reports), gitlab (Code Quality).

    Exit status: 0 passed (warnings allowed), 1 error findings, 2 usage or
    environment error.
    """
    extra = _parse_outputs(outputs, CHECK_FORMATS)
    with error_handler(), _error_documents(fmt, extra), _ci_stop_to_runner(ci):
        from agentpolicy.checking import PATHS, RANGE, STAGED, WORKTREE, CheckRequest, run_check
        from agentpolicy.report import render_check

        flags = (
            ("PATHS", bool(paths)),
            ("--staged", staged),
            ("--base", bool(base)),
            ("--pushed", pushed),
            ("--ci", ci),
        )
        chosen = [name for name, on in flags if on]
        if len(chosen) > 1:
            raise click.UsageError(f"{' and '.join(chosen)} cannot be combined; pick one mode")
        if head != "HEAD" and not base:
            raise click.UsageError("--head needs --base")
        summary_path = range_note = None
        if ci:
            from agentpolicy.ci import choose_range, detect
            from agentpolicy.gitrepo import Repo

            found = detect()
            ci_range = choose_range(Repo(), found)
            base, range_note = ci_range.base, ci_range.note
            summary_path = found.summary_path
            fmt = fmt or found.default_format
        if pushed:
            base, head = _pushed_range()
        fmt = fmt or "text"
        if fmt == "github" and base and not (ci or pushed):  # the Action's `base` input: a summary too
            summary_path = os.environ.get("GITHUB_STEP_SUMMARY") or None
        mode = PATHS if paths else STAGED if staged else RANGE if (base or pushed) else WORKTREE
        result = run_check(CheckRequest(mode=mode, paths=paths, base=base, head=head))
        if range_note:
            result.notes.insert(0, range_note)
        report = render_check(result, fmt, color=fmt == "text" and _color(sys.stdout.isatty()))
        _echo(report, nl=False, runner_safe=fmt == "github")
        for name, path in extra:
            _write_report(path, render_check(result, name))
        if summary_path:
            from agentpolicy.report.github import step_summary

            with open(summary_path, "a", encoding="utf-8", errors="backslashreplace") as handle:
                handle.write(step_summary(result))
        sys.exit(result.exit_code)


CHECK_FORMATS = ("text", "json", "github", "sarif", "junit", "gitlab")


def _parse_outputs(outputs: tuple[str, ...], formats: tuple[str, ...]) -> list[tuple[str, str]]:
    parsed = []
    for spec in outputs:
        name, sep, path = spec.partition("=")
        if not sep or not path or name not in formats:
            raise click.BadParameter(
                f"{spec!r} is not FORMAT=PATH with FORMAT one of {', '.join(formats)}", param_hint="-o"
            )
        parsed.append((name, path))
    return parsed


def _write_report(path: str, text: str) -> None:
    from agentpolicy.atomic import replace_file

    replace_file(path, text.encode("utf-8", "backslashreplace"))


@contextlib.contextmanager
def _error_documents(fmt: str | None, extra: list[tuple[str, str]], command: str = "check") -> Iterator[None]:
    """On exit 2, a machine format still gets a valid document that states the error (a consumer
    parsing stdout, or the -o file, must not meet an empty stream or a passing report)."""
    from agentpolicy.errors import AgentPolicyError

    try:
        yield
    except (AgentPolicyError, click.UsageError) as exc:
        from agentpolicy.report.tool_error import MACHINE_FORMATS, render_tool_error

        if isinstance(exc, AgentPolicyError):
            message, hint = exc.message, exc.hint
        else:
            message, hint = exc.format_message(), "see agentpolicy --help"
        if fmt in MACHINE_FORMATS:
            _echo(render_tool_error(fmt, message, hint, command=command), nl=False)
        for name, path in extra:
            if name in MACHINE_FORMATS:
                with contextlib.suppress(AgentPolicyError):
                    _write_report(path, render_tool_error(name, message, hint))
        raise


@contextlib.contextmanager
def _ci_stop_to_runner(active: bool) -> Iterator[None]:
    """When `--ci` cannot run on GitHub Actions, say so where a reviewer looks: an ::error
    annotation (whatever --format) and a line in the job summary. The exit status stays 2."""
    from agentpolicy.errors import AgentPolicyError

    try:
        yield
    except (AgentPolicyError, click.UsageError) as exc:
        if active and os.environ.get("GITHUB_ACTIONS") == "true":
            from agentpolicy.report.github import stop_annotation, stop_summary

            if isinstance(exc, AgentPolicyError):
                message, hint = _error_text(exc).partition("\n  fix: ")[::2]
            else:
                message, hint = exc.format_message(), "see agentpolicy check --help"
            click.echo(stop_annotation(message, hint), err=True, nl=False)
            summary = os.environ.get("GITHUB_STEP_SUMMARY")
            if summary:
                with (
                    contextlib.suppress(OSError),
                    open(summary, "a", encoding="utf-8", errors="backslashreplace") as handle,
                ):
                    handle.write(stop_summary(message, hint))
        raise


def _pushed_range() -> tuple[str, str]:
    """The range pre-commit's pre-push stage hands over, with a trusted base (see `ci.pushed_range`)."""
    if not os.environ.get("PRE_COMMIT_TO_REF") and not os.environ.get("PRE_COMMIT_LOCAL_BRANCH"):
        raise click.UsageError(
            "--pushed reads PRE_COMMIT_FROM_REF/PRE_COMMIT_TO_REF, which pre-commit sets in the pre-push "
            "stage; outside it, use --base REV --head REV"
        )
    from agentpolicy.ci import pushed_range
    from agentpolicy.gitrepo import Repo

    found = pushed_range(Repo())
    return found.base, found.head


@main.command()
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
    "--break-glass",
    "break_glass",
    is_flag=True,
    help="An emergency approval (needs break_glass.allowed in .agentpolicy.yaml, and --reason); "
    "regular approvals must follow.",
)
@click.option("--reason", metavar="TEXT", help="Why the glass was broken (with --break-glass; signed).")
@click.option(
    "--key",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="SSH key to sign with (a private key, or a .pub whose private half is in ssh-agent). "
    "Default: git's user.signingkey when gpg.format is ssh.",
)
def approve(
    agent: str | None,
    trust_root: bool,
    reviewer: str | None,
    decision: str,
    note: str | None,
    key: str | None,
    break_glass: bool = False,
    reason: str | None = None,
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
        from agentpolicy.approving import ApproveRequest
        from agentpolicy.approving import approve as write_approval

        if bool(agent) == trust_root:
            raise click.UsageError("name one AGENT to approve, or pass --trust-root (not both)")
        if break_glass and (trust_root or decision != "approve" or note):
            raise click.UsageError("--break-glass takes --reason, not --trust-root, --decision or --note")
        if reason and not break_glass:
            raise click.UsageError("--reason goes with --break-glass (use --note for a regular review)")
        if break_glass:
            decision, note = "break-glass", reason or ""
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
            _say(f"warning: {warning}", err=True)
        entry = result.entry
        _say(f"wrote {result.path}")
        _say(
            f"  {entry['decision']} {entry['agent']} {entry['version']} ({entry['digest'][:19]}...) "
            f"by {entry['reviewer']['name']} <{entry['reviewer']['email']}>"
            f"{', signed' if result.signed else ', UNSIGNED'}"
        )
        _say(f"next: git add {result.path}  (commit it with the change)")


@main.command()
@click.option(
    "--kind",
    type=click.Choice(["agent", "review", "config", "rule"]),
    default="agent",
    show_default=True,
    help="Which schema to print.",
)
def schema(kind: str) -> None:
    """Print a JSON Schema (draft 2020-12), e.g. for yaml-language-server in your editor.

    \b
    agentpolicy schema > agent.schema.json
    # then at the top of an agent file:
    # yaml-language-server: $schema=./agent.schema.json
    """
    with error_handler():
        from agentpolicy.pack import exported_schema_text

        click.echo(exported_schema_text(kind), nl=False)


def _worktree_config() -> Any:
    """The configuration of the work tree around the current folder, with its packs."""
    from agentpolicy.checking import find_worktree_config
    from agentpolicy.config import load_config
    from agentpolicy.snapshot import FolderSnapshot

    raw, where = find_worktree_config(".")
    return load_config(raw, os.path.relpath(where)).with_packs(FolderSnapshot(os.path.dirname(where)))


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="markdown is the reference page docs/rules.md is generated from.",
)
def rules(fmt: str) -> None:
    """List every rule: id, severity, what it checks and where it is defined.

    Rules come from the built-in pack and from the packs named under `policy:`
    in .agentpolicy.yaml; `from:` says which.
    """
    with error_handler():
        from agentpolicy.rules import all_rules

        known = sorted(
            [*all_rules(), *(rule.info for rule in _worktree_config().pack_rules)], key=lambda r: r.id
        )
        if fmt == "json":
            import json

            from agentpolicy.report.safe import json_text

            _echo(json_text(json.dumps([vars(rule) for rule in known], indent=2, ensure_ascii=False)))
            return
        if fmt == "markdown":
            from agentpolicy.report.rules_doc import render

            _echo(render(known), nl=False)
            return
        for rule in known:
            _say(f"{rule.id}  {rule.severity:<7}  {rule.name}")
            _say(f"       {rule.description}")
            _say(f"       fix: {rule.hint}")
            _say(f"       from: {rule.source}")


@main.command(name="test")
@click.argument("packs", nargs=-1)
def test_packs(packs: tuple[str, ...]) -> None:
    """Run rule packs' own examples: tests/pass/*.yaml must pass, tests/fail/*.yaml must fail.

    With no argument: the built-in pack and every pack under `policy:` in
    .agentpolicy.yaml. A PACK is a folder, or the name of an installed pack.
    Exit status 1 names each example that misbehaves.
    """
    with error_handler():
        from agentpolicy.errors import ConfigError
        from agentpolicy.pack_testing import pattern_warnings, run_pack_examples
        from agentpolicy.packs import builtin_pack, installed_pack, load_pack
        from agentpolicy.snapshot import FolderSnapshot

        chosen = []
        if not packs:
            chosen = [builtin_pack(), *_worktree_config().packs]
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
                _say(f"{pack.source}: no examples (add tests/pass/*.yaml and tests/fail/*.yaml)")
            for example in results:
                total += 1
                if example.ok:
                    _say(f"ok    {pack.source}: {example.path} (expected to {example.expected})")
                    continue
                bad += 1
                if example.expected == "pass":
                    _say(f"FAIL  {pack.source}: {example.path} should pass but gives:")
                    for finding in example.errors:
                        where = f"{finding.path}:{finding.line}:{finding.column}"
                        _say(f"        {where}: {finding.rule} {finding.message}")
                else:
                    _say(f"FAIL  {pack.source}: {example.path} should fail, but no rule of the pack flags it")
        click.echo(f"{total} example(s), {bad} misbehaving.")
        sys.exit(1 if bad else 0)


def _date(value: str | None, flag: str) -> Any:
    if value is None:
        return None
    import datetime as dt

    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date; use YYYY-MM-DD or an ISO time", param_hint=flag
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _as_of(value: str | None) -> Any:
    """`--as-of DATE`: a day means its end (what stood, and was due, on that day)."""
    from agentpolicy.evidence.reattest import end_of

    parsed = _date(value, "--as-of")
    return end_of(parsed, value) if parsed is not None else None


def _emit(text: str, output: str | None) -> None:
    if output:
        from agentpolicy.atomic import replace_file

        replace_file(output, text.encode("utf-8", "backslashreplace"))
        _say(f"wrote {output}", err=True)
    else:
        _echo(text, nl=False)


@main.command()
@click.argument("agents", nargs=-1)
@click.option(
    "--rev",
    default="HEAD",
    show_default=True,
    metavar="REV|A..B",
    help="Walk the history of REV, or only the commits of the range A..B.",
)
@click.option("--since", metavar="DATE", help="Only events on or after DATE (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Only events on or before DATE.")
@click.option("--unapproved-only", is_flag=True, help="List only events without a valid approval.")
@click.option("--strict", is_flag=True, help="Exit 1 if any listed event is unapproved (for a nightly job).")
@click.option(
    "--all-parents",
    is_flag=True,
    help="Also list the changes made on merged side branches, each judged on its own tree.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "markdown", "html"]),
    default=None,
    help="Output format (default: table on a terminal, json otherwise).",
)
@click.option("--output", metavar="FILE", help="Write the report to FILE instead of standard output.")
@_outputs_option("-o html=audit.html -o csv=audit.csv")
@click.option(
    "--as-of",
    "as_of",
    metavar="DATE",
    help="Audit the branch as it stood on DATE; break-glass follow-up deadlines are judged then.",
)
def audit(
    agents: tuple[str, ...],
    rev: str,
    since: str | None,
    until: str | None,
    unapproved_only: bool,
    strict: bool,
    all_parents: bool,
    fmt: str | None,
    output: str | None,
    outputs: tuple[str, ...],
    as_of: str | None = None,
) -> None:
    """List every approval ever given, and every governed change that slipped through.

    Walks the first-parent history of the branch, offline, and lists each
    governed change of each agent (created, version, autonomy expanded or
    narrowed, owner, stage, retired, deleted) with its commit, date, author and
    the review entries that approve exactly that content. Each commit is
    judged as the pull-request check would judge it alone: with its parent's
    configuration and allowed signers, its own authors, at its committer date
    (never earlier than an ancestor's). Changes to the trust root are events
    too. An approval added after the change (before the content changed
    again) shows as "approved later".

    \b
    agentpolicy audit                             everything on this branch
    agentpolicy audit billing-cycle --since 2026-01-01
    agentpolicy audit --unapproved-only --strict --all-parents  a nightly job
    agentpolicy audit --format html --output report.html
    """
    chosen = fmt or ("table" if sys.stdout.isatty() and not output else "json")
    with error_handler(), _error_documents(None if output else chosen, [], "audit"):
        from agentpolicy.audit import AuditRequest, run_audit
        from agentpolicy.report.audit_report import render_audit

        progress = (
            (lambda n: click.echo(f"\r  {n} commits read...", err=True, nl=False))
            if sys.stderr.isatty()
            else None
        )
        result = run_audit(
            AuditRequest(
                agents=agents,
                rev=rev,
                since=_date(since, "--since"),
                until=_date(until, "--until"),
                unapproved_only=unapproved_only,
                all_parents=all_parents,
                progress=progress,
                as_of=_as_of(as_of),
            )
        )
        if progress:
            click.echo("\r" + " " * 40 + "\r", err=True, nl=False)
        extra = _parse_outputs(outputs, ("table", "json", "csv", "markdown", "html"))
        board = None
        if chosen == "html" or any(name == "html" for name, _ in extra):
            from agentpolicy.status import run_status

            board = (
                run_status(rev=rev.partition("..")[2] or "HEAD", as_of=result.as_of)
                if ".." in rev
                else run_status(rev=rev, audit=result, as_of=result.as_of)  # the same walk
            )
        if strict and result.history_cut:  # before any output: exit 2 prints only the error
            from agentpolicy.errors import GitError
            from agentpolicy.gitrepo import FETCH_FULL_HISTORY

            raise GitError(
                "this clone is shallow: --strict cannot vouch for the history it does not have",
                FETCH_FULL_HISTORY,
            )
        _emit(render_audit(result, chosen, board), output)
        for name, path in extra:
            _write_report(path, render_audit(result, name, board))
        sys.exit(1 if strict and (result.unapproved or result.follow_ups_overdue) else 0)


@main.command()
@click.option("--rev", default="HEAD", show_default=True, help="The revision whose agents to show.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "markdown"]),
    default=None,
    help="Output format (default: table on a terminal, json otherwise).",
)
@click.option("--output", metavar="FILE", help="Write the board to FILE instead of standard output.")
@click.option("--strict", is_flag=True, help="Exit 1 if a production agent's re-attestation is overdue.")
@click.option("--as-of", "as_of", metavar="DATE", help="The board as it stood on DATE (what was due then).")
def status(
    rev: str, fmt: str | None, output: str | None, strict: bool = False, as_of: str | None = None
) -> None:
    """One line per agent: stage, version, owner, approval, and the questions still open.

    The board a team looks at to see what stands between each agent and
    production. "approved" is the audit's verdict on the change that produced
    the agent's current content: enough valid, signed review entries, judged
    with that change's before side (so it never disagrees with the audit).
    """
    chosen = fmt or ("table" if sys.stdout.isatty() and not output else "json")
    with error_handler(), _error_documents(None if output else chosen, [], "status"):
        from agentpolicy.report.audit_report import render_rows
        from agentpolicy.status import STATUS_HEADERS, run_status

        board = run_status(rev=rev, as_of=_as_of(as_of))
        payload = {"format_version": 1, "agents": [entry.to_json() for entry in board]}
        if not board and chosen == "table":
            _emit("No agents found.\n", output)
            return
        _emit(render_rows(STATUS_HEADERS, [entry.row() for entry in board], chosen, payload), output)
        overdue = [entry for entry in board if entry.review_overdue and entry.stage == "production"]
        sys.exit(1 if strict and overdue else 0)


@main.command()
@click.option("--keep", is_flag=True, help="Keep the throwaway repository and print its path.")
def demo(keep: bool) -> None:
    """Watch the whole story on a throwaway repository, offline, in about ten seconds.

    The policy check passes; a commit that lets the billing agent submit to the
    client portal alone is refused by the pre-commit hook; a reviewer signs an
    approval; the commit goes through; the audit shows the history. Nothing is
    left behind unless you pass --keep.
    """
    with error_handler():
        from agentpolicy.demo import run_demo
        from agentpolicy.report.safe import visible, visible_lines

        for step in run_demo(keep=keep):
            click.secho(f"\n{visible(step.title)}", bold=True)
            _say(f"  {step.explanation}")
            if step.command:
                click.secho(f"  $ {visible(step.command)}", dim=True)
            if step.output:
                _echo("\n".join("    " + line for line in visible_lines(step.output).splitlines()))
            if step.command:
                click.echo(f"  (exit status {step.exit_code})")


def _print_plan(plan: Any, dry_run: bool) -> None:
    from agentpolicy.report.safe import visible_lines

    if dry_run:
        click.echo("Plan (nothing written, --dry-run):")
    for action in plan.actions:
        _say(f"  {action.describe()}")
    if not dry_run:
        plan.carry_out()
        changed = [a for a in plan.actions if a.verb != "skip"]
        click.echo("Nothing to do: already set up." if not changed else f"Done: {len(changed)} change(s).")
    for warning in plan.warnings:
        _say(f"warning: {warning}", err=True)
    if plan.next_steps:
        click.echo("Next steps:")
        for step in plan.next_steps:
            _echo("\n".join(f"  {line}" for line in visible_lines(step).split("\n")))


@main.command()
@click.option("--dry-run", is_flag=True, help="Show what would be created or appended, and change nothing.")
@click.option(
    "--solo",
    is_flag=True,
    help="A single maintainer: set allow_self_approval: true in the new .agentpolicy.yaml (with a warning).",
)
def init(dry_run: bool, solo: bool) -> None:
    """Guard this repository: config, folders, allowed signers and the pre-commit hooks.

    Creates .agentpolicy.yaml with documented defaults, the agents/ and
    reviews/ folders, .agentpolicy/allowed_signers (seeded with your git SSH
    signing key when gpg.format is ssh, else it prints how to make one), and
    local pre-commit hooks for commit, merge and push in .pre-commit-config.yaml
    (appended to an existing one, every byte kept, or left untouched with the
    snippet to paste). Never overwrites a file, never writes into .git/hooks
    (run `pre-commit install` next); running it twice changes nothing.
    Working alone? --solo lets you approve your own changes (see the README).

    \b
    Example:
      agentpolicy init --dry-run
      agentpolicy init
      pre-commit install
    """
    with error_handler():
        from agentpolicy.scaffold import plan_init

        _print_plan(plan_init(solo=solo), dry_run)


@main.command()
@click.argument("agent")
@click.option("--path", metavar="FILE", help="Where to write it (default: agents/AGENT.yaml).")
@click.option("--dry-run", is_flag=True, help="Show the file that would be written.")
def new(agent: str, path: str | None, dry_run: bool) -> None:
    """Scaffold a new agent at stage pilot, with the five questions to answer.

    The owner is taken from git config. `agentpolicy check` then lists, as
    warnings, what to answer before production, and (AP201) that a reviewer
    must approve the new agent with `agentpolicy approve AGENT` before the
    commit that adds it.
    """
    with error_handler():
        from agentpolicy.scaffold import plan_new

        plan = plan_new(agent, path=path)
        if dry_run:
            from agentpolicy.report.safe import visible_lines

            _echo(visible_lines(plan.actions[0].content.decode()), nl=False)
        _print_plan(plan, dry_run)


from agentpolicy.cli_evidence import evidence as _evidence  # noqa: E402

main.add_command(_evidence)
