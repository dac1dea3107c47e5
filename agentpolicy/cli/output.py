"""What every command shares: printing safely, the one error-to-exit-code mapping, report files."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click

EXIT_USAGE = 2

EXIT_INTERNAL = 3

REPORT_URL = "https://github.com/agentpolicy/agentpolicy/issues"


F = TypeVar("F", bound=Callable[..., Any])


def echo(text: str, *, err: bool = False, nl: bool = True, runner_safe: bool = False) -> None:
    """Print text that may hold repository strings. In a GitHub Actions step the runner reads
    every printed line for workflow commands: none of ours may pass for one (`runner_safe`:
    the text is a `--format github` report, neutralised already, whose annotations must stay)."""
    if not runner_safe and os.environ.get("GITHUB_ACTIONS") == "true":
        from agentpolicy.report.safe import github_log

        text = github_log(text)
    click.echo(text, err=err, nl=nl)


def say(text: str, *, err: bool = False) -> None:
    """One line for a terminal: repository strings in it shown with their hidden characters escaped."""
    from agentpolicy.report.safe import visible

    echo(visible(text), err=err)


def error_text(exc: Any) -> str:
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
        echo(f"agentpolicy: error: {error_text(exc)}", err=True)
        sys.exit(EXIT_USAGE)
    except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
        raise
    except OSError as exc:
        from agentpolicy.cli.environment import EnvironmentFault, detach_stdout, from_os_error

        fault = from_os_error(exc)
        if isinstance(fault, EnvironmentFault):
            echo(f"agentpolicy: error: {error_text(fault)}", err=True)
            sys.exit(EXIT_USAGE)
        if fault is not None:  # the reader closed the pipe: nothing more to say to anyone
            detach_stdout()
            sys.exit(EXIT_USAGE)
        internal_error(exc)
    except Exception as exc:
        # Last resort: the git package turns pygit2's failures into GitError at its boundary
        # (git/objects.py); one that escapes a path not yet wrapped is still no bug of ours.
        if type(exc).__module__.startswith(("pygit2", "_pygit2")):
            from agentpolicy.git.objects import damaged

            echo(f"agentpolicy: error: {error_text(damaged(str(exc)))}", err=True)
            sys.exit(EXIT_USAGE)
        internal_error(exc)


def internal_error(exc: Exception) -> None:
    """A bug: say so, with where to report it (the traceback with AGENTPOLICY_DEBUG=1)."""
    echo(
        f"agentpolicy: internal error: {type(exc).__name__}: {visible_exc(exc)}\n"
        f"  This is a bug. Please report it at {REPORT_URL} with the command you ran.\n"
        "  Set AGENTPOLICY_DEBUG=1 to see the traceback.",
        err=True,
    )
    if os.environ.get("AGENTPOLICY_DEBUG"):
        raise exc
    sys.exit(EXIT_INTERNAL)


def visible_exc(exc: BaseException) -> str:
    from agentpolicy.report.safe import visible_message

    return visible_message(str(exc))


def use_color(stream_is_tty: bool) -> bool:
    return stream_is_tty and "NO_COLOR" not in os.environ


def outputs_option(example: str) -> Callable[[F], F]:
    return click.option(
        "-o",
        "--output-to",
        "outputs",
        multiple=True,
        metavar="FORMAT=PATH",
        help=f"Also write FORMAT to PATH (repeatable), e.g. {example}.",
    )


def parse_outputs(outputs: tuple[str, ...], formats: tuple[str, ...]) -> list[tuple[str, str]]:
    parsed = []
    for spec in outputs:
        name, sep, path = spec.partition("=")
        if not sep or not path or name not in formats:
            raise click.BadParameter(
                f"{spec!r} is not FORMAT=PATH with FORMAT one of {', '.join(formats)}", param_hint="-o"
            )
        parsed.append((name, path))
    return parsed


def write_report(path: str, text: str) -> None:
    from agentpolicy.files.atomic import replace_file

    replace_file(path, text.encode("utf-8", "backslashreplace"))


@contextlib.contextmanager
def error_documents(fmt: str | None, extra: list[tuple[str, str]], command: str = "check") -> Iterator[None]:
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
            echo(render_tool_error(fmt, message, hint, command=command), nl=False)
        for name, path in extra:
            if name in MACHINE_FORMATS:
                with contextlib.suppress(AgentPolicyError):
                    write_report(path, render_tool_error(name, message, hint))
        raise


def parse_date(value: str | None, flag: str) -> Any:
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


def parse_as_of(value: str | None) -> Any:
    """`--as-of DATE`: a day means its end (what stood, and was due, on that day)."""
    from agentpolicy.app.reattest import end_of

    parsed = parse_date(value, "--as-of")
    return end_of(parsed, value) if parsed is not None else None


def emit(text: str, output: str | None) -> None:
    if output:
        from agentpolicy.files.atomic import replace_file

        replace_file(output, text.encode("utf-8", "backslashreplace"))
        say(f"wrote {output}", err=True)
    else:
        echo(text, nl=False)
