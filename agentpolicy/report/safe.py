"""Neutralise strings from the repository under review for the consumer that reads them.

Reviewer names, notes, agent fields, file names and pack rule texts are written
by whoever can push a branch. Each output format has a reader that gives some
characters a meaning (a terminal, the GitHub runner, a Markdown renderer, a
spreadsheet, an XML or JSON parser, a browser), so each gets one function here
that keeps the text readable and takes that meaning away. Escaping is for
output only: nothing here is ever used as a key or compared.
"""

from __future__ import annotations

import re
import unicodedata
from html import escape as _html_escape

# Characters a reader never sees but a terminal or renderer acts on: C0, DEL and C1 controls
# (ANSI/OSC escapes start with ESC or CSI), format characters (bidi overrides and isolates,
# zero-width characters, tag characters), lone surrogates (undecodable bytes of a file name,
# kept by surrogateescape) and the line and paragraph separators.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_NONCHARACTERS = frozenset({"\ufffe", "\uffff"})  # illegal in XML 1.0
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _hidden(char: str) -> bool:
    return unicodedata.category(char) in _HIDDEN_CATEGORIES or char in _NONCHARACTERS


def _escaped(char: str) -> str:
    """Python's own escape notation; a byte that was not UTF-8 shows as that byte (``\\xff``)."""
    point = ord(char)
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    if 0xDC80 <= point <= 0xDCFF:
        return f"\\x{point - 0xDC00:02x}"
    if point < 0x100:
        return f"\\x{point:02x}"
    return f"\\u{point:04x}" if point < 0x10000 else f"\\U{point:08x}"


def visible(text: str) -> str:
    """One line of plain text safe on a terminal: hidden characters shown as escapes, newlines too."""
    if text.isprintable():  # the common case, at C speed
        return text
    return "".join(_escaped(char) if _hidden(char) else char for char in text)


def visible_lines(text: str) -> str:
    """Like `visible`, but the newlines of a multi-line text of our own are kept."""
    return "\n".join(visible(line) for line in text.split("\n"))


def visible_message(text: str, indent: str = "    ") -> str:
    """A message that may span lines: hidden characters escaped, and every line after the
    first indented, so no line a message carries can pass for an output line of its own."""
    first, *rest = text.split("\n")
    return "\n".join([visible(first), *(indent + visible(line) for line in rest)])


# -- GitHub Actions runner ----------------------------------------------------
def github_data(value: str) -> str:
    """The message part of a workflow command, escaped as the runner unescapes it (and with
    no legacy ``##[`` command in it, should the runner ever fall back to that form)."""
    escaped = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return escaped.replace("##[", "##%5B")


def github_property(value: str) -> str:
    """A property value of a workflow command (``file=``, ``title=``)."""
    return github_data(value).replace(":", "%3A").replace(",", "%2C")


def github_log_line(line: str) -> str:
    """A plain line of a step's log that the runner will not take for a command.

    The runner trims a line and reads it as a command when it starts with ``::``,
    and, in the legacy form, when ``##[`` appears anywhere in it.
    """
    line = line.replace("##[", "##%5B")
    stripped = line.lstrip()
    if stripped.startswith("::"):
        line = line[: len(line) - len(stripped)] + "%3A" + stripped[1:]
    return line


def github_log(text: str) -> str:
    """Every line of a text printed into a step's log, neutralised (see `github_log_line`)."""
    if "::" not in text and "##[" not in text:
        return text
    return "\n".join(github_log_line(line) for line in text.split("\n"))


# -- Markdown (job summaries, audit/status --format markdown, rules docs) -------
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()|~!#{}])")
_MENTION = re.compile(r"(?<![\w`])@[\w-]+")
_SCHEME = re.compile(r"(?i)(?<=[a-z0-9])://")
_WWW = re.compile(r"(?i)\bwww\.")
_MARKDOWN_TRIGGER = re.compile(r"(?i)[\\`*_\[\]()|~!#{}<>&@]|://|www\.")


def markdown_text(text: str) -> str:
    """Inline Markdown text, rendered exactly as written: no HTML, no links or images,
    no emphasis or code, no table cell breaks, no autolinks and no @mention pings."""
    if text.isprintable() and not _MARKDOWN_TRIGGER.search(text):
        return text
    text = visible(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    text = _SCHEME.sub(r"\\://", text)  # `https\://` is not autolinked, and reads the same
    text = _WWW.sub(lambda match: match.group(0)[:3] + "\\.", text)
    return _MENTION.sub(r"`\g<0>`", text)  # GitHub links and pings no @name inside code


# -- CSV opened in a spreadsheet ----------------------------------------------
# OWASP's list (= + - @ tab CR), and their full-width forms, which some spreadsheets fold.
_FORMULA_STARTS = tuple("=+-@\t\r\uff1d\uff0b\uff0d\uff20")


def csv_cell(text: str) -> str:
    """A cell a spreadsheet shows as text: a formula start gets a leading `'` (OWASP)."""
    text = visible(text)
    if text != "-" and text.lstrip(" ").startswith(_FORMULA_STARTS):
        return "'" + text
    return text


# -- JSON, SARIF, GitLab: valid UTF-8 whatever the strings hold -----------------
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_text(serialized: str) -> str:
    """Serialized JSON (``ensure_ascii=False``) that encodes as UTF-8: a lone surrogate, an
    undecodable byte of a file name, becomes the visible text ``\\xff`` inside its string."""
    if serialized.isascii():
        return serialized
    return _SURROGATE.sub(lambda match: "\\" + _escaped(match.group(0)), serialized)


def sarif_text(text: str) -> str:
    """A SARIF plain-text message: brackets escaped, so no text reads as an embedded link."""
    return visible(text).replace("[", "\\[").replace("]", "\\]")


# -- XML and HTML ---------------------------------------------------------------
def xml_text(text: str) -> str:
    """Text legal in XML 1.0 (ElementTree escapes the markup characters itself)."""
    return visible(text)


def html_text(text: str) -> str:
    """Text for HTML element content and quoted attribute values."""
    return _html_escape(visible(text), quote=True)
