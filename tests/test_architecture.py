"""The package's shape is a contract (issue 16): one-way imports, no click below the command line,
no private names imported across modules, modules a newcomer can read in one sitting."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "agentpolicy"
GENERATED = {"model/builtin_validators.py"}
MAX_LINES = 350
# Modules allowed over the limit, with their size when the limit came in: they may only shrink.
# Empty since issue 16 split the last four: split a module that outgrows the limit, do not list it.
KNOWN_LARGE: dict[str, int] = {}


def modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)


def test_the_import_contract_holds() -> None:
    """`lint-imports` (import-linter) checks the layers in .importlinter, exactly as CI runs it."""
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert command, "import-linter is in the test extra: pip install -e '.[test]'"
    done = subprocess.run([command], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_no_private_name_is_imported_from_another_module() -> None:
    offenders = []
    for path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("agentpolicy"):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        offenders.append(f"{path.relative_to(ROOT)}: from {node.module} import {alias.name}")
    assert offenders == []


def test_every_module_is_small_enough_to_read_in_one_sitting() -> None:
    large = {
        str(path.relative_to(PACKAGE)): count
        for path in modules()
        if str(path.relative_to(PACKAGE)) not in GENERATED
        and (count := len(path.read_text(encoding="utf-8").splitlines()))
        > KNOWN_LARGE.get(str(path.relative_to(PACKAGE)), MAX_LINES)
    }
    assert large == {}, f"split these modules (over {MAX_LINES} lines): {large}"


def test_every_package_says_what_is_inside() -> None:
    for init in PACKAGE.glob("*/__init__.py"):
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), f"{init} has no docstring"


def test_every_rule_id_in_the_code_is_registered() -> None:
    """A finding with an unregistered id would have no documentation, no SARIF rule, no override."""
    import re

    from agentpolicy.rules import all_rules

    registered = {rule.id for rule in all_rules()}
    used: dict[str, str] = {}
    for path in modules():
        if str(path.relative_to(PACKAGE)) in GENERATED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and re.fullmatch(r"AP\d{3}", node.value)
            ):
                used.setdefault(node.value, str(path.relative_to(ROOT)))
    assert used, "no rule ids found: the scan is broken"
    unregistered = {rule: where for rule, where in used.items() if rule not in registered}
    assert unregistered == {}


MAX_COMMAND_LINES = 40


def test_every_command_is_thin() -> None:
    """A click command parses, calls one library function in app/, reports and exits: its body (the
    docstring aside) fits in 40 lines; anything longer is a use case hiding in the command line."""
    long = {}
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef) or not any(map(_is_click_command, node.decorator_list)):
                continue
            body = node.body[1:] if ast.get_docstring(node) else node.body
            lines = body[-1].end_lineno - body[0].lineno + 1 if body and body[-1].end_lineno else 0
            if lines > MAX_COMMAND_LINES:
                long[f"{path.relative_to(ROOT)}: {node.name}"] = lines
    assert long == {}, f"move the work into a use case in agentpolicy/app: {long}"


def _is_click_command(decorator: ast.expr) -> bool:
    """`@click.command(...)`, `@click.group(...)`, `@main.command(...)` and the like."""
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Attribute) and target.attr in ("command", "group")
