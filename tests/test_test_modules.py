"""No test module imports another test module or a conftest (issue 23).

What several test modules share lives in helper modules that pytest does not collect
(tests/support.py, tests/payments.py, tests/bot/helpers.py, tests/storage/factories.py,
tests/emulator/minibot.py, tests/e2e/helpers.py, tests/e2e/journeys.py, ...). Importing
a test module runs its collection-time code again and ties two files' tests together;
importing a conftest bypasses how pytest loads it. Both are read here with `ast`, so every
form counts: `import a.b`, `from a import b`, relative imports, and imports inside a
function."""

from __future__ import annotations

import ast
from fnmatch import fnmatch
from pathlib import Path

from tests.support import REPO_ROOT

TESTS = REPO_ROOT / "tests"
TEST_FILES = ("test_*.py", "*_test.py")  # pytest's default python_files


def is_test_module(path: Path) -> bool:
    return any(fnmatch(path.name, pattern) for pattern in TEST_FILES)


def forbidden(path: Path) -> bool:
    """A module nothing under tests/ may import: a test module or a conftest."""
    return path.name == "conftest.py" or is_test_module(path)


def module_path(dotted: str) -> Path | None:
    """The file of a module in this repository, or None (a package, a third-party
    module, or a name imported from a module rather than a module)."""
    path = REPO_ROOT.joinpath(*dotted.split(".")).with_suffix(".py")
    return path if path.is_file() else None


def imported_modules(source: str, path: Path) -> list[tuple[int, str]]:
    """Every module that `source` (the file at `path`) imports, as (line, dotted name).
    For `from X import y`, both X and X.y are listed: y may be a submodule."""
    package = list(path.relative_to(REPO_ROOT).with_suffix("").parts[:-1])
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                kept = len(package) - (node.level - 1)
                base = [*package[: max(kept, 0)], *(node.module or "").split(".")]
                base = [part for part in base if part]
            else:
                base = (node.module or "").split(".")
            if base:
                found.append((node.lineno, ".".join(base)))
            found += [(node.lineno, ".".join([*base, alias.name])) for alias in node.names]
    return found


def offending_imports(source: str, path: Path) -> list[str]:
    """`file:line imports module` for each test module or conftest that `source` imports."""
    offences = []
    for line, dotted in imported_modules(source, path):
        target = module_path(dotted)
        if target is not None and forbidden(target):
            offences.append(f"{path.relative_to(REPO_ROOT)}:{line} imports {dotted}")
    return offences


def test_no_module_under_tests_imports_a_test_module_or_a_conftest() -> None:
    files = sorted(TESTS.rglob("*.py"))
    # The rule is about test modules; helper modules and conftests may not reach into
    # test modules or conftests either, or a helper could re-export a test module's code.
    assert sum(is_test_module(f) for f in files) > 20, files  # really looked at the suite
    offences = [offence for file in files for offence in offending_imports(file.read_text(), file)]
    assert offences == [], (
        "Move what these share into a helper module that is not a test module or conftest "
        "(e.g. tests/e2e/journeys.py, tests/bot/helpers.py, tests/support.py):\n"
        + "\n".join(offences)
    )


def test_the_check_sees_every_form_of_import() -> None:
    """The guard itself: each way of writing the import is caught; helper imports pass."""
    here = TESTS / "e2e" / "test_planted.py"
    planted = {
        "from tests.e2e.test_ordering import press": "tests.e2e.test_ordering",
        "from tests.e2e import test_ordering": "tests.e2e.test_ordering",
        "import tests.e2e.test_ordering as ordering": "tests.e2e.test_ordering",
        "from .test_admin import submit_modal": "tests.e2e.test_admin",
        "from . import test_admin": "tests.e2e.test_admin",
        "from ..bot.test_cli import SECRETS": "tests.bot.test_cli",
        "from tests.conftest import E2E": "tests.conftest",
        "from .conftest import stack": "tests.e2e.conftest",
        "from ..emulator import conftest": "tests.emulator.conftest",
        "def f():\n    from tests.storage.test_orders import pytest": "tests.storage.test_orders",
    }
    for source, module in planted.items():
        (offence,) = offending_imports(source, here)
        assert offence.endswith(f"imports {module}"), (source, offence)
    fine = [
        "from tests.e2e.helpers import button",
        "from .journeys import press",
        "from tests.support import REPO_ROOT",
        "from tests.emulator.minibot import MiniBot",
        "import pytest",
        "from demo.stack import LocalStack",
    ]
    for source in fine:
        assert offending_imports(source, here) == [], source
