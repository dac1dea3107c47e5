"""Hostile input to the inventory: repository paths that are not what they seem, agent fields that
carry HTML, spreadsheet formulas and terminal controls, git's variables from a hook, and the HTML
page rendered in a real browser (Chromium, as the audit report is)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import GitRepo, Key, chromium_dom, clean_env, guarded_repo
from tests.inventory_support import inventory, inventory_json

HOSTILE_OWNER = (
    '=HYPERLINK(\\"http://evil.example/x\\",\\"click\\") '
    "<img src=x onerror=\\\"document.title='pwned'\\\"> \\e]0;pwned\\a\\e[2J"
)
HOSTILE_EMAIL = "</script><script>document.title='pwned'</script>@example.com"
HOSTILE_AGENT = f"""\
apiVersion: agentpolicy/v1
kind: Agent
name: evil
version: 1.0.0
stage: pilot
owner:
  name: "{HOSTILE_OWNER}"
  email: "{HOSTILE_EMAIL}"
autonomy:
  autonomous: []
  requires_confirmation: []
undo:
  rollback: none
change_control:
  approvals_required: 1
"""


@pytest.fixture
def source(tmp_path: Path, home: Path, keys: dict[str, Key]) -> GitRepo:
    return guarded_repo(GitRepo(tmp_path / "source", home), keys)


def clone(source: GitRepo, target: Path) -> Path:
    subprocess.run(
        ["git", "clone", "-q", "--", str(source.path), os.fsencode(target)], check=True, env=source.env
    )
    return target


def hostile_repo(tmp_path: Path, home: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "hostile", home)
    repo.write("agents/evil.yaml", HOSTILE_AGENT)
    repo.write("agents/<img src=x onerror=alert(1)>.yaml", "not: [valid")
    repo.write("agents/=1+2\x1b[31m.yaml", "x: 1")
    repo.commit("hostile agents")
    return repo


def test_hostile_repository_paths_in_a_list_file_are_read_as_the_repositories_they_name(
    tmp_path: Path, home: Path, source: GitRepo
) -> None:
    names = [
        tmp_path / "-leading-dash",
        tmp_path / "new\nline",
        tmp_path / os.fsdecode(b"caf\xe9-latin1"),
        tmp_path / "# not a comment",
        tmp_path / "  spaced  ",
    ]
    for name in names:
        clone(source, name)
    listing = tmp_path / "repositories.list"
    listing.write_bytes(b"".join(os.fsencode(name) + b"\0" for name in names))
    code, document, err = inventory_json(tmp_path, home, "--from", str(listing), "--null")
    assert code == 0, err
    stored = {row["path"]: row["status"] for row in document["repositories"]}
    assert stored == {
        str(tmp_path / "-leading-dash"): "ok",
        str(tmp_path / "new\nline"): "ok",
        str(tmp_path) + "/caf\\xe9-latin1": "ok",
        str(tmp_path / "# not a comment"): "ok",
        str(tmp_path / "  spaced  "): "ok",
    }
    assert len(document["agents"]) == 5
    # one per line: a newline splits the name in two and neither half is a repository; a comment is one
    lines = tmp_path / "repositories.txt"
    lines.write_bytes(
        os.fsencode(f"{tmp_path}/new\nline\n# {tmp_path}/-leading-dash\n{tmp_path}/-leading-dash\n")
    )
    code, document, err = inventory_json(tmp_path, home, "--from", str(lines))
    assert code == 1
    assert {(Path(r["path"]).name, r["status"]) for r in document["repositories"]} == {
        ("new", "failed"),
        ("line", "failed"),
        ("-leading-dash", "ok"),
    }
    # on the command line, after `--`, a leading dash is a path too; the table shows the newline escaped
    done = inventory(
        tmp_path, home, "--format", "table", "--", "-leading-dash", "new\nline", "--db", "x.sqlite"
    )
    assert done.code == 1, done.text  # "--db" and "x.sqlite" are paths here: no such folders
    assert "new\\nline" in done.out and "new\nline" not in done.out
    assert "failed: " + str(tmp_path / "--db") + ": no such folder" in done.err


def test_payloads_in_agent_fields_are_neutralised_in_every_output(tmp_path: Path, home: Path) -> None:
    repo = hostile_repo(tmp_path, home)
    table = inventory(tmp_path, home, str(repo.path), "--format", "table")
    assert table.code == 0, table.text
    assert "\x1b" not in table.text and "\a" not in table.text
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in table.out
    spreadsheet = inventory(tmp_path, home, str(repo.path), "--format", "csv")
    cells = [cell for row in csv.reader(io.StringIO(spreadsheet.out)) for cell in row]
    assert not [cell for cell in cells if cell.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert "'=HYPERLINK(" in spreadsheet.out and "agents/=1+2\\x1b[31m.yaml" in spreadsheet.out
    assert "\x1b" not in spreadsheet.out
    document = json.loads(inventory(tmp_path, home, str(repo.path), "--format", "json").out)
    evil = next(agent for agent in document["agents"] if agent["name"] == "evil")
    assert evil["owner_email"] == HOSTILE_EMAIL  # JSON keeps the exact text; its reader escapes
    page = tmp_path / "inventory.html"
    assert inventory(tmp_path, home, str(repo.path), "--html", str(page)).code == 0
    html = page.read_text()
    assert "<img" not in html and "<script>document" not in html and "\x1b" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_gits_variables_from_a_hook_do_not_redirect_the_scan(
    tmp_path: Path, home: Path, source: GitRepo
) -> None:
    other = hostile_repo(tmp_path, home)
    env = clean_env(home, GIT_DIR=str(other.path / ".git"), GIT_WORK_TREE=str(other.path))
    done = inventory(tmp_path, home, str(source.path), "--format", "json", env=env)
    assert done.code == 0, done.text
    assert [agent["name"] for agent in json.loads(done.out)["agents"]] == ["billing-cycle"]


def test_the_html_page_filters_in_chromium_and_runs_nothing_from_a_repository(
    tmp_path: Path, home: Path, keys: dict[str, Key], source: GitRepo
) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    hostile = hostile_repo(tmp_path, home)
    page = tmp_path / "inventory.html"
    done = inventory(
        tmp_path, home, str(source.path), str(hostile.path), "--html", str(page), "--format", "csv"
    )
    assert done.code == 0, done.text
    html = page.read_text()
    assert (
        "http://" not in html.replace("http://evil.example", "") and "https://" not in html
    )  # self-contained

    def render(fragment: str) -> str:
        return chromium_dom(chromium, page.as_uri() + fragment, tmp_path / "profile")

    def shown(dom: str) -> list[str]:
        body = dom.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
        return [row for row in body.split("<tr ")[1:] if " hidden=" not in row.split(">", 1)[0]]

    everything = render("")
    assert "<title>Agent inventory</title>" in everything  # no injected script retitled the page
    assert len(shown(everything)) == 4 and 'id="shown">4<' in everything
    assert "<img" not in everything and "pwned</title>" not in everything
    production = shown(render("#stage=production"))
    assert len(production) == 1 and "billing-cycle" in production[0]
    unapproved = shown(render("#approval=no"))
    assert len(unapproved) == 3 and not any("billing-cycle" in row for row in unapproved)
    anna = shown(render("#owner=anna.nowak%40example.com&approval=yes"))
    assert len(anna) == 1 and "Anna Nowak" in anna[0]
    assert shown(render("#review=overdue")) == []  # no agent has a review date (yet)
    assert len(shown(render("#review=none&stage=pilot"))) == 1
    assert len(shown(render("#stage=no-such-stage"))) == 4  # an unknown value is ignored, not an empty page
