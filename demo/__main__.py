"""`make demo`: the real bot, offline, on embedded defaults.

Starts the sandbox providers, the Discord emulator and `python -m bot run` as a
subprocess, then a scripted buyer and staff member walk the shop's journeys while a
readable transcript is printed. Exits 0 when every journey worked, 1 with the reason
otherwise. Nothing here needs a token, an account or the network.

DEMO_FAST=1 runs the bot with the test suite's short timings (its jobs and polls come
round sooner; what it does is the same): the test of `make demo` sets it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from bot.catalog import Catalog, load_catalog
from bot.config import ConfigError
from core import i18n
from demo.journeys import demo_payments, set_the_scene, stack_env, walk
from demo.stack import LocalStack
from demo.transcript import Transcript


def shipped_catalog() -> Path:
    """The example catalog: a clone's ./catalog.toml, or the copy an installed package
    carries for `orderbot init` (the same file: tests/bot/test_install.py)."""
    in_clone = Path(__file__).resolve().parents[1] / "catalog.toml"
    if in_clone.is_file():
        return in_clone
    return Path(str(files("bot").joinpath("templates", "catalog.toml")))


SHIPPED_CATALOG = shipped_catalog()


async def run(
    workdir: Path,
    catalog_path: Path,
    catalog: Catalog,
    *,
    keep: bool,
    in_process: bool = False,
    fast: bool = False,
    language: str = "en",
) -> int:
    """Walk the journeys. `keep`: the work directory stays afterwards (always on failure).
    `in_process` and `fast` are LocalStack's: the bot in this event loop, the short
    test timings."""
    out = Transcript()
    stack = LocalStack(
        workdir,
        env=stack_env(catalog_path),
        in_process=in_process,
        fast=fast,
        payments=demo_payments(),
    )
    out.say("Starting the sandbox providers, the Discord emulator and the bot…")
    out.say(f"Catalog: {catalog_path} ({len(catalog)} product(s))")
    await stack.sandbox.start()
    assert stack.payments is not None
    await stack.payments.start()
    set_the_scene(stack)
    await stack.emulator.start()
    out.world = stack.emulator.world
    failed = False
    try:
        await stack.start_bot()
        kept = (
            "kept"
            if keep
            else "removed at the end unless something fails, all but the stats chart "
            "(--workdir DIR keeps them)"
        )
        out.say(
            f"Bot online (pid {stack.process.pid if stack.process else os.getpid()}); its "
            f"database and log are in {workdir} ({kept})"
        )
        await stack.let_staff_see_admin()
        out.note(
            "the shop owner lets the staff role see /admin "
            "(Server Settings → Integrations → the bot → /admin)"
        )
        await walk(stack, out, catalog, language)
    except Exception as exc:  # whatever went wrong, the work folder is kept to look at
        failed = True
        print(f"\nDEMO FAILED: {exc}", file=sys.stderr)
        print("--- last bot log lines ---", file=sys.stderr)
        print(stack.bot_log()[-3000:], file=sys.stderr)
        return 1
    finally:
        await stack.stop()
        if failed or keep:
            print(f"The database and the bot's log are kept in {workdir}", file=sys.stderr)
        else:
            remove_all_but_the_chart(workdir)
    out.say(f"\nAll journeys worked in {out.elapsed():.1f}s. Demo finished.")
    return 0


def remove_all_but_the_chart(workdir: Path) -> None:
    """The database and the log go; the /admin stats chart stays, for the owner to open
    (the transcript said where it is)."""
    for entry in workdir.iterdir():
        if entry.suffix == ".png":
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def main(
    argv: Sequence[str] | None = None, *, in_process: bool = False, fast: bool | None = None
) -> int:
    """`python -m demo [--workdir DIR] [--catalog FILE] [--language en|hi|bn]`. For the tests: `in_process`, the
    bot in this process; `fast`, the short test timings (by default, DEMO_FAST=1)."""
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workdir", type=Path, help="keep the database and the bot's log in this folder"
    )
    parser.add_argument(
        "--catalog",
        type=Path,
        default=SHIPPED_CATALOG,
        help="walk the journeys with your own catalog.toml (default: the shipped example)",
    )
    parser.add_argument(
        "--language",
        choices=i18n.LANGUAGES,
        default="en",
        help="the language the buyers read: hi (their Discord is in Hindi) or bn (they"
        " choose it with /language); staff stay in English",
    )
    args = parser.parse_args(argv)
    try:
        # The catalog's own words for its problems, before anything starts.
        catalog = load_catalog(args.catalog, setting="--catalog")
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    if args.workdir is not None:
        try:
            args.workdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = "it is a file" if args.workdir.exists() else exc.strerror or str(exc)
            print(
                f"--workdir {args.workdir} can't be used as a folder ({reason}): "
                "give a folder, or a path where one can be made",
                file=sys.stderr,
            )
            return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="orderbot-demo-"))
    if fast is None:
        fast = os.environ.get("DEMO_FAST") == "1"
    return asyncio.run(
        run(
            workdir,
            args.catalog.resolve(),
            catalog,
            keep=args.workdir is not None,
            in_process=in_process,
            fast=fast,
            language=args.language,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
