"""The layers between apps (.importlinter) hold: an app imports only the apps below it, with
platform_site at the bottom. import-linter reads every import, those inside functions included, so
an import moved into a function cannot get round the contract."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path, config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), str(config), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
    )


def test_the_apps_keep_their_layers():
    run = lint_imports(ROOT, ROOT / ".importlinter")
    assert run.returncode == 0, run.stdout[-3000:]
    assert "0 broken" in run.stdout


def test_an_upward_import_inside_a_function_breaks_the_contract(tmp_path):
    # The same kind of contract on two throwaway packages: the check is real, not a formality.
    (tmp_path / "low").mkdir()
    (tmp_path / "low" / "__init__.py").write_text("def f():\n    from high import thing\n")
    (tmp_path / "high").mkdir()
    (tmp_path / "high" / "__init__.py").write_text("thing = 1\n")
    config = tmp_path / ".importlinter"
    config.write_text(
        textwrap.dedent(
            """
            [importlinter]
            root_packages =
                low
                high

            [importlinter:contract:layers]
            name = layers
            type = layers
            layers =
                high
                low
            """
        )
    )
    run = lint_imports(tmp_path, config)
    assert run.returncode != 0
    assert "low is not allowed to import high" in run.stdout
