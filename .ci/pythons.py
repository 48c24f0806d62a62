"""Run the test suite on every Python the project claims, side by side.

The claimed versions are pyproject's ``Programming Language :: Python :: 3.X`` classifiers,
so adding a version there adds it here. For each one this finds an interpreter (``python3.X``
on PATH, else pyenv's newest ``3.X.*``), builds ``.venvs/3.X`` from nothing when pyproject
changed, then runs pytest in all of them at once: the suite mostly waits on sockets and
subprocesses, so two cores run three Pythons in about the time of one.

A Python that can't be found is skipped with a line saying so, unless REQUIRE_ALL_PYTHONS=1
(set by ``.ci/run``): then it is an error, because CI must prove every claimed version.

Standard library only: it runs before any venv exists. Exit status: 0 when every Python
that ran passed, 1 otherwise, 2 when a required Python is missing.
"""

from __future__ import annotations

import concurrent.futures
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import chromium
from postgres import PostgresServer, PostgresUnavailable, ensure_installed

ROOT = Path(__file__).resolve().parents[1]
VENVS = ROOT / ".venvs"


def claimed_versions() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = []
    for classifier in project.get("classifiers", []):
        match = re.fullmatch(r"Programming Language :: Python :: (3\.\d+)", classifier)
        if match:
            found.append(match.group(1))
    if not found:
        sys.exit("pyproject.toml claims no 'Programming Language :: Python :: 3.X' versions")
    return sorted(found, key=lambda v: int(v.split(".")[1]))


def _version_key(path: str) -> tuple[int, ...]:
    match = re.search(r"/(\d+)\.(\d+)\.(\d+)/", path)
    return tuple(int(x) for x in match.groups()) if match else (0,)


def find_interpreter(version: str) -> str | None:
    # Every python3.X on PATH, skipping pyenv's shims (they answer for whichever version
    # is selected, not necessarily this one).
    candidates = [
        found
        for folder in os.environ.get("PATH", "").split(os.pathsep)
        if folder and "/shims" not in folder
        for found in [shutil.which(f"python{version}", path=folder)]
        if found
    ]
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    # Final releases only (3.12.1, not 3.12.0rc1 or 3.12-dev).
    pyenv = [
        p
        for p in glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}")
        if re.search(rf"/{re.escape(version)}\.\d+/bin/", p)
    ]
    candidates += sorted(pyenv, key=_version_key, reverse=True)
    for candidate in candidates:
        probe = subprocess.run(
            [candidate, "-c", "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


def uv_binary() -> str | None:
    """uv (from PyPI) in ``.venvs/tools``: it installs the project into a venv in seconds
    where pip takes minutes, which is most of a fresh ``make test``. None when it can't be
    installed; pip is used then."""
    for made in (ROOT / ".venv" / "bin" / "uv", VENVS / "tools" / "bin" / "uv"):
        if made.exists():  # `make venv` installs it into .venv
            return str(made)
    tools = VENVS / "tools"
    uv = tools / "bin" / "uv"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(tools)], check=True)
        subprocess.run(
            [
                str(tools / "bin" / "python"),
                "-m",
                "pip",
                "--quiet",
                "--disable-pip-version-check",
                "install",
                "uv>=0.4",
            ],
            check=True,
        )
    except subprocess.CalledProcessError:
        print("uv could not be installed; building the venvs with pip", flush=True)
        shutil.rmtree(tools, ignore_errors=True)
        return None
    return str(uv)


def build_venv(version: str, interpreter: str, uv: str | None = None) -> Path:
    """``.venvs/3.X`` with the project installed."""
    venv = VENVS / version
    stamp = venv / ".installed"
    # Rebuilt when pyproject changes or another interpreter of this version is found.
    digest = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + interpreter.encode()
    ).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and (venv / "bin" / "python").exists():
        return venv
    print(f"[{version}] building {venv.relative_to(ROOT)} with {interpreter}", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    if uv is not None:
        subprocess.run([uv, "venv", "--quiet", "--python", interpreter, str(venv)], check=True)
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(venv / "bin" / "python"),
                "-e",
                f"{ROOT}[dev]",
            ],
            check=True,
            cwd=ROOT,
        )
    else:
        subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "install", "-e", f"{ROOT}[dev]"], check=True, cwd=ROOT)
    stamp.write_text(digest)
    return venv


def run_suite(
    version: str,
    venv: Path,
    pytest_args: list[str],
    postgres: str = "",
    part: str = "",
    *,
    one_python: bool = True,
) -> tuple[str, int, float, Path]:
    log_path = venv / "pytest.log"
    # Bytecode is cached: the suite starts `python -m bot` about sixty times per Python, and
    # with PYTHONDONTWRITEBYTECODE (set on some machines, CI's included) each start compiled
    # discord.py, aiohttp and pydantic from source again: 2.4 s of CPU instead of 1.0.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if postgres:
        env["ORDERBOT_TEST_POSTGRES"] = postgres
    if part:
        env["ORDERBOT_TEST_POSTGRES_PART"] = part
    # Tests marked `one_python` run on one Python only (the newest: it carries no
    # [postgres] half).
    env["ORDERBOT_TEST_ONE_PYTHON"] = "1" if one_python else "0"
    started = time.monotonic()
    with log_path.open("w") as log:
        proc = subprocess.run(
            # No cache provider: the runs share the checkout and would race on .pytest_cache.
            # The 25 slowest tests are printed, and a JUnit XML per Python lets passed and
            # skipped tests be counted by id (.venvs/3.X/junit.xml).
            [
                str(venv / "bin" / "python"),
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                # Two workers per Python (pytest-xdist): a test waiting on a socket or
                # a bot process leaves the CPU to the other. PYTEST_WORKERS=0 runs
                # the suite in one process.
                "-n",
                os.environ.get("PYTEST_WORKERS", "2"),
                "--durations=25",
                f"--junitxml={venv / 'junit.xml'}",
                *pytest_args,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    return version, proc.returncode, time.monotonic() - started, log_path


def start_postgres(required: bool) -> PostgresServer | None:
    """The tests' PostgreSQL server, or None with a line saying why (CI: an error)."""
    if required:
        ensure_installed()
    try:
        return PostgresServer.start()
    except (PostgresUnavailable, subprocess.CalledProcessError, OSError) as exc:
        detail = exc.stderr if isinstance(exc, subprocess.CalledProcessError) else exc
        if required:
            print(
                f"ERROR: PostgreSQL could not be started for the tests: {detail}", file=sys.stderr
            )
        else:
            print(f"PostgreSQL half left out: {detail}", flush=True)
        return None


def main() -> int:
    pytest_args = sys.argv[1:]
    required = os.environ.get("REQUIRE_ALL_PYTHONS", "").lower() in ("1", "true", "yes")
    versions = claimed_versions()
    found: dict[str, str] = {}
    missing: list[str] = []
    for version in versions:
        interpreter = find_interpreter(version)
        if interpreter is None:
            missing.append(version)
        else:
            found[version] = interpreter
    if missing and required:
        print(
            f"ERROR: Python {', '.join(missing)} not found (looked for python3.X on PATH and "
            "in pyenv's versions). CI must test every version pyproject.toml claims.",
            file=sys.stderr,
        )
        return 2
    if not found:
        print(f"ERROR: none of Python {', '.join(versions)} is installed", file=sys.stderr)
        return 2

    # The playground's browser tests (-m browser) fail, never skip, without a browser.
    try:
        browser = chromium.ensure_installed() if required else chromium.find()
    except (subprocess.CalledProcessError, OSError) as exc:
        browser = None
        print(f"ERROR: Chromium could not be installed: {exc}", file=sys.stderr)
    if browser is None:
        print("No Chromium: the browser tests will fail (apt-get install chromium)", flush=True)
        if required:
            return 2
    else:
        os.environ["ORDERBOT_CHROMIUM"] = browser

    uv = uv_binary() if os.environ.get("ORDERBOT_NO_UV") != "1" else None
    venvs = {v: build_venv(v, interp, uv) for v, interp in found.items()}
    # One PostgreSQL server for the run; one Python (the oldest) runs the [postgres] half,
    # in a database of its own, and the others deselect it.
    server = start_postgres(required)
    if server is None and required:
        return 2
    postgres_for = {v: ("elsewhere", "") for v in venvs}
    if server is not None:
        # The [postgres] half goes to the two oldest Pythons, each in a database of its
        # own: the worker-process tests on the second, the rest on the first (one Python
        # alone runs both). Every test of the half runs once; the others deselect it.
        oldest = sorted(venvs, key=lambda v: tuple(int(p) for p in v.split(".")))[:2]
        parts = ["all"] if len(oldest) == 1 else ["engines", "workers"]
        for version, part in zip(oldest, parts, strict=True):
            dsn = server.create_database(f"orderbot_test_{version.replace('.', '_')}")
            postgres_for[version] = (dsn, part)
            print(f"PostgreSQL {server.bin.parent.name}: the [postgres] {part} on Python {version}")
    newest = max(venvs, key=lambda v: tuple(int(p) for p in v.split(".")))
    print(f"running the suite on Python {', '.join(venvs)} in parallel", flush=True)
    results = []
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(venvs)) as pool:
            futures = [
                pool.submit(
                    run_suite,
                    v,
                    venv,
                    pytest_args,
                    *(postgres_for[v] if server else ("", "")),
                    one_python=v == newest,
                )
                for v, venv in venvs.items()
            ]
            for future in concurrent.futures.as_completed(futures):
                version, code, seconds, log_path = future.result()
                results.append((version, code, seconds))
                print(f"\n===== Python {version}: exit {code} in {seconds:.0f}s =====", flush=True)
                print(log_path.read_text(), flush=True)
    finally:
        if server is not None:
            server.stop()

    print("\nsummary:")
    for version, code, seconds in sorted(results):
        print(f"  Python {version}: {'passed' if code == 0 else 'FAILED'} ({seconds:.0f}s)")
    for version in missing:
        print(f"  Python {version}: SKIPPED, not installed (CI requires it)")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
