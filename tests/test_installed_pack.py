"""The built-in pack ships inside the wheel and is loaded from there, not from the source tree."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_policy_pack_is_loaded_from_an_installed_wheel(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    wheel = next(wheels.glob("git_agentpolicy-*.whl"))  # the distribution is git-agentpolicy
    names = zipfile.ZipFile(wheel).namelist()
    assert "agentpolicy/policies/schemas/agent.schema.json" in names
    assert "agentpolicy/policies/rules/AP110.yaml" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "import agentpolicy, agentpolicy.model.schemas as p\n"
        "from agentpolicy.rules import all_rules\n"
        "print(agentpolicy.__file__)\n"
        "print(p.builtin_pack())\n"
        "print(len(all_rules()), p.schema('agent')['title'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    module_file, pack_path, summary = done.stdout.splitlines()
    assert module_file.startswith(str(site))
    assert pack_path.startswith(str(site))
    count, title = summary.split(" ", 1)
    assert int(count) >= 20
    assert title.startswith("agentpolicy Agent definition")
