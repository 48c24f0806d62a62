"""The layer rules of docs/architecture.md, as import-linter contracts (pyproject.toml).

core ← storage ← bot ← cogs: a module imports only from layers below its own, and cogs
reach storage only through the services. The second test plants a forbidden import in a
copy of the tree and proves the check catches it, so the first can't pass vacuously.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("core", "storage", "bot", "cogs")
LINT = (
    "import sys; from importlinter.cli import lint_imports;"
    " sys.exit(lint_imports(no_cache=True, no_logo=True))"
)


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    # A fresh interpreter rooted at `tree`, so the copy below is analysed, not the
    # installed (editable) packages.
    return subprocess.run(
        [sys.executable, "-c", LINT],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def copy_tree(dest: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    for package in LAYERS:
        shutil.copytree(
            ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__")
        )


@pytest.mark.subprocess
def test_the_layer_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout
    assert result.stdout.count("KEPT") == 2, result.stdout


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        ("storage/audit.py", "import bot.app", "cogs -> bot -> storage -> core"),
        ("storage/audit.py", "import cogs.wallet", "cogs -> bot -> storage -> core"),
        ("core/domain.py", "import storage.database", "cogs -> bot -> storage -> core"),
        ("cogs/wallet.py", "import storage.wallet", "cogs reach storage only through"),
    ],
)
def test_a_planted_import_breaks_a_contract(
    tmp_path: Path, module: str, planted: str, contract: str
) -> None:
    copy_tree(tmp_path)
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{planted}  # planted by the test\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken
    assert planted.split()[-1] in broken
