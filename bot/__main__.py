"""Entry point: `orderbot [run|init|check-config|migrate|migrate-data|gen-key|rotate-key|backup|restore|demo|playground]`,
also `python -m bot …` from a clone.

Exit status 0 on success, 2 when settings or the catalog are unusable (one readable
message listing every problem, never a traceback or a secret), 1 on a runtime failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bot.catalog import load_catalog
from bot.cli_output import (
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_RUNTIME,
    clear_leftovers,
    config_failure,
    in_use,
    say,
)
from bot.config import (
    ConfigError,
    Settings,
    discord_token_configured,
    load_settings,
)
from bot.logging_setup import (
    SecretRedactingFilter,
    add_log_file,
    configure_logging,
)
from core.crypto import DeliveryCipher
from core.kinds import ProcessRole
from storage import lock as database_lock
from storage.database import DatabaseUnusable
from storage.lock import DatabaseLockError

if TYPE_CHECKING:
    from bot.app import OrderBot

log = logging.getLogger("bot")


# Not a password; the word "TOKEN" trips the hard-coded-secret lint.
NO_TOKEN_HELP = """\
No DISCORD_TOKEN is set, so there is no Discord bot to connect as.

  Try it offline first:   make demo            (from a clone)
                          {prog} demo       (installed with pip)
      (starts the sandbox providers, a local Discord emulator and this bot,
       then walks a buyer and a staff member through the shop)
  Or by hand, in a browser: make playground  /  {prog} playground --catalog catalog.toml

  Go live:
      1. Create an application and bot at https://discord.com/developers/applications
      2. Write the settings: `{prog} init` puts a .env and an example catalog.toml in
         this folder (from a clone: cp .env.example .env). Fill in DISCORD_TOKEN,
         GUILD_ID, the staff role and channel ids, your provider keys and a
         DELIVERY_ENCRYPTION_KEY (`{prog} gen-key` prints one)
      3. `{prog} check-config --online` checks them against Discord and the providers
      4. `{prog} run` (from a clone: make run)
"""  # noqa: S105


def prog_name() -> str:
    """How the user started us, for help texts: `orderbot` (installed) or `python -m bot`."""
    return "python -m bot" if Path(sys.argv[0]).name == "__main__.py" else "orderbot"


# Programs of their own, handed everything after their name: argparse's REMAINDER
# refuses a first argument that looks like an option (`demo --workdir DIR`).
HANDED_OVER = {"demo": "demo_args", "playground": "playground_args"}
HANDED_OVER_HELP = {
    "demo": "try the shop offline: sandbox providers, a local Discord and this bot "
    "(`demo --help` for its options)",
    "playground": "try the shop in your browser, with your catalog: a local page that works "
    "like Discord (`playground --help` for its options)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog_name(), description="A Discord bot for ordering: boosts and digital goods."
    )
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="connect to Discord and serve the shop (default)")
    run.add_argument(
        "--no-workers",
        action="store_true",
        help="serve the gateway and interactions only; `worker` processes do the "
        "background work (PostgreSQL)",
    )
    sub.add_parser(
        "worker",
        help="run the background work (polls, DMs, staff alerts, recovery) beside a "
        "`run --no-workers`; any number may run (PostgreSQL)",
    )
    sub.add_parser(
        "init", help="write an example catalog.toml and a .env template here (never overwrites)"
    )
    check = sub.add_parser(
        "check-config", help="validate settings and catalog; print a masked summary"
    )
    check.add_argument(
        "--online",
        action="store_true",
        help="also check the token, guild, roles, channels, permissions and providers",
    )
    sub.add_parser("migrate", help="bring the database schema up to date")
    move = sub.add_parser(
        "migrate-data", help="move the shop from its SQLite file to PostgreSQL (checked)"
    )
    move.add_argument("--from", dest="source", help="sqlite:///FILE (default: DATABASE_PATH)")
    move.add_argument("--to", dest="target", help="postgresql://… (default: DATABASE_URL)")
    sub.add_parser("gen-key", help="print a new DELIVERY_ENCRYPTION_KEY")
    sub.add_parser(
        "rotate-key",
        help="re-encrypt every stored secret with the first DELIVERY_ENCRYPTION_KEY key",
    )
    backup = sub.add_parser(
        "backup",
        help="copy the database, safely beside a running bot, and check the copy",
    )
    backup.add_argument(
        "dest",
        help="a new file, or a folder (the copy is then named orderbot-<UTC time>.sqlite3)",
    )
    backup.add_argument(
        "--keep",
        type=int,
        metavar="N",
        help="with a folder: then delete all but the newest N backups in it",
    )
    restore = sub.add_parser(
        "restore",
        help="replace the database with a checked backup (the bot must be stopped)",
    )
    restore.add_argument("source", type=Path, help="the backup file to restore")
    for name, help_text in HANDED_OVER_HELP.items():
        # Listed here for --help; `parse` hands their arguments over before argparse.
        handed = sub.add_parser(name, help=help_text, add_help=False)
        handed.add_argument(HANDED_OVER[name], nargs=argparse.REMAINDER)
    return parser


def cmd_gen_key() -> int:
    print(DeliveryCipher.generate_key())
    return EXIT_OK


def _settings_failure(exc: ConfigError) -> int:
    """The settings' problems, and the catalog's beside them when it can be found: an
    owner fixes both in one pass instead of meeting the catalog's after the settings'."""
    say(exc.render())
    from bot.setting_names import catalog_path_anyway

    try:
        load_catalog(catalog_path_anyway())
    except ConfigError as catalog_problems:
        say(catalog_problems.render())
    return EXIT_CONFIG


def _warn_unknown_names() -> None:
    from bot.setting_names import unknown_setting_warnings

    for line in unknown_setting_warnings():
        say(f"WARNING: {line}")


def cmd_check_config(redactor: SecretRedactingFilter, *, online: bool = False) -> int:
    _warn_unknown_names()
    try:
        settings = load_settings()
    except ConfigError as exc:
        return _settings_failure(exc)
    redactor.add_secrets(settings.secret_values())
    try:
        catalog = load_catalog(
            settings.catalog_path,
            settings.enabled_providers(),
            limit_currencies=settings.spend_limits,
        )
    except ConfigError as exc:
        return config_failure(exc)
    print("Settings:")
    for name, value in settings.masked_summary().items():
        print(f"  {name.upper():32} {value}")
    print(f"Catalog: {len(catalog)} product(s) from {settings.catalog_path}")
    for product in catalog.all():
        state = "enabled" if product.enabled else "disabled"
        print(
            f"  {product.key:24} {product.kind.value:8} {product.provider:10} "
            f"{product.price_for(1).format():>14} each  "
            f"qty {product.min_quantity}-{product.max_quantity}  {state}"
        )
    if not online:
        if settings.discord_token is None:
            print(
                f"DISCORD_TOKEN is not set: `run` will refuse to start (`{prog_name()} run` says "
                "how to get one)."
            )
        print(f"OK (offline checks; `{prog_name()} check-config --online` also asks Discord)")
        return EXIT_OK
    from bot.self_check import check_online

    # Its own lines only: discord.py's intent and voice warnings and our INFO lines (where
    # REST goes, "logging in") would read like problems among the PROBLEM lines. A real
    # failure (ERROR) still shows.
    logging.getLogger().setLevel(logging.ERROR)
    logging.getLogger("discord").setLevel(logging.ERROR)
    found = asyncio.run(check_online(settings))
    for line in found.notes:
        print(line)
    for line in found.problems:
        print(f"PROBLEM: {line}", file=sys.stderr)
    for line in found.warnings:
        print(f"WARNING: {line}", file=sys.stderr)
    if found.problems:
        print(
            f"{len(found.problems)} problem(s): fix them before going live (`run` stops on a "
            "Discord problem, and keeps a refused provider's products closed).",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    print(
        "OK: Discord is set up as the settings say, and no provider refused its key"
        + (", with warnings" if found.warnings else "")
    )
    return EXIT_OK


async def _open_and_close(settings: Settings) -> None:
    from storage.database import open_database
    from storage.postgres import open_postgres

    url = settings.postgres_url()
    db = await (open_postgres(url) if url else open_database(settings.database_path))
    await db.close()


ROLE_COMMANDS = {ProcessRole.GATEWAY: "run --no-workers", ProcessRole.WORKER: "worker"}


def cmd_run(redactor: SecretRedactingFilter, role: ProcessRole = ProcessRole.ALL) -> int:
    if not discord_token_configured():
        print(NO_TOKEN_HELP.format(prog=prog_name()), file=sys.stderr)
        return EXIT_CONFIG
    try:
        settings = load_settings()
    except ConfigError as exc:
        return _settings_failure(exc)
    if settings.discord_token is None:
        print(NO_TOKEN_HELP.format(prog=prog_name()), file=sys.stderr)
        return EXIT_CONFIG
    redactor.add_secrets(settings.secret_values())
    logging.getLogger().setLevel(settings.log_level)
    if settings.log_file is not None:
        try:
            add_log_file(settings.log_file, redactor)
        except OSError as exc:
            print(
                f"LOG_FILE={settings.log_file} can't be written ({exc.strerror}): fix the "
                "path or its folder's permissions, or unset LOG_FILE to log to stderr only.",
                file=sys.stderr,
            )
            return EXIT_CONFIG
    postgres = settings.postgres_url()
    if postgres is None and role is not ProcessRole.ALL:
        say(
            f"`{prog_name()} {ROLE_COMMANDS[role]}` needs PostgreSQL (DATABASE_URL="
            f"postgresql://…): on SQLite one process does all the work, so use "
            f"`{prog_name()} run` (docs/scaling.md says when to move)."
        )
        return EXIT_CONFIG
    try:
        if postgres is not None:
            return asyncio.run(_serve_holding(postgres, settings, role))
        with database_lock.exclusive(settings.database_path):
            clear_leftovers(settings.database_path)
            return asyncio.run(serve(settings))
    except (DatabaseLockError, DatabaseUnusable) as exc:
        return in_use(exc)


async def _serve_holding(url: str, settings: Settings, role: ProcessRole) -> int:
    """On PostgreSQL a serving process holds the shop for its whole life: `run` (with or
    without workers) as the one gateway (two would both answer every interaction), a
    worker beside it; maintenance (`migrate`, …) is refused while any of them runs."""
    from storage.postgres import Holder, hold_database

    holder = Holder.WORKER if role is ProcessRole.WORKER else Holder.GATEWAY
    async with hold_database(url, what=ROLE_COMMANDS.get(role, "run"), holder=holder):
        return await serve(settings, role=role)


async def serve(
    settings: Settings,
    *,
    role: ProcessRole = ProcessRole.ALL,
    handle_signals: bool = True,
    on_created: Callable[[OrderBot], None] | None = None,
) -> int:
    """Run the bot until it stops; the exit status. The test stack runs this in its own
    event loop (no signal handlers there: the loop and the process are the test's) and
    stops the bot through ``on_created``'s handle, the way SIGTERM does."""
    import aiohttp
    import discord

    from bot.app import OrderBot
    from bot.discord_endpoint import redirect_discord
    from bot.online_topups import WebhookListenFailed
    from bot.self_check import SelfCheckFailed

    if settings.discord_api_base_url is not None:
        redirect_discord(str(settings.discord_api_base_url), settings.gateway_url())
    try:
        bot = OrderBot(settings, role=role)
    except ConfigError as exc:
        return config_failure(exc)
    # The database is opened (and migrated) here, before logging in to Discord: a file
    # that isn't a database, or one from a newer orderbot, is a settings problem to
    # report at once, not after a connection to Discord (which may itself fail first).
    try:
        await _open_and_close(settings)
    except DatabaseUnusable as exc:
        return in_use(exc)
    assert settings.discord_token is not None
    # SIGTERM (systemd, docker stop) and Ctrl-C stop the bot gracefully (OrderBot.close):
    # no new work, in-flight sends and DMs finish, then everything is closed. Exit 0.
    if handle_signals:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, lambda: bot.spawn_close())
    if on_created is not None:
        on_created(bot)
    async with bot:
        try:
            token = settings.discord_token.get_secret_value()
            if role.has_gateway:
                await bot.start(token)
            else:
                # A worker only talks REST (DMs, channel posts, histories): logged in,
                # set up, and working until it is stopped.
                await bot.login(token)
                await bot.closed.wait()
        except discord.LoginFailure:
            say(
                "Discord refused DISCORD_TOKEN: copy it again from your application's Bot tab "
                "at https://discord.com/developers/applications (Reset Token if you lost it)."
            )
            return EXIT_CONFIG
        except DatabaseUnusable as exc:
            return in_use(exc)
        except SelfCheckFailed as failed:
            for line in failed.problems:
                say(f"PROBLEM: {line}")
            say(
                f"The bot stopped: fix the {len(failed.problems)} problem(s) above "
                f"(`{prog_name()} check-config --online` checks again without starting)."
            )
            return EXIT_CONFIG
        except WebhookListenFailed as exc:
            say(f"PROBLEM: {exc}")
            return EXIT_CONFIG
        except (aiohttp.ClientConnectorError, OSError) as exc:
            log.error("the bot stopped: cannot reach Discord (%s)", exc)
            return EXIT_RUNTIME
        except Exception:
            log.exception("the bot stopped because of an error")
            return EXIT_RUNTIME
        finally:
            # The stop in progress (a signal's) must finish before the loop ends: discord.py
            # skips close() once its own part is closed, and a database left open keeps
            # its thread, and with it the process, alive.
            await bot.close()
    return EXIT_OK


IS_POSIX = os.name == "posix"
POSIX_ONLY = (
    "orderbot runs on Linux (tested in CI) and other POSIX systems such as macOS. "
    "On Windows, run it under WSL: https://learn.microsoft.com/windows/wsl/"
)


def dispatch(args: argparse.Namespace, redactor: SecretRedactingFilter) -> int:
    if args.command == "demo":
        # The demo runs the bot as an owner would, from above it: handed over as its own
        # program rather than imported from down here.
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, "-m", "demo", *args.demo_args])  # noqa: S606 - our interpreter, no shell
    if args.command == "playground":
        sys.stdout.flush()
        os.execv(  # noqa: S606 - our interpreter, no shell
            sys.executable, [sys.executable, "-m", "demo.playground", *args.playground_args]
        )
    if args.command == "gen-key":
        return cmd_gen_key()
    if args.command == "init":
        from bot.init_command import cmd_init

        return cmd_init(Path.cwd(), prog_name())
    if args.command == "check-config":
        return cmd_check_config(redactor, online=args.online)
    if args.command == "migrate":
        from bot.database_commands import cmd_migrate

        return cmd_migrate()
    if args.command == "rotate-key":
        from bot.database_commands import cmd_rotate_key

        return cmd_rotate_key(redactor)
    if args.command == "migrate-data":
        from bot.migrate_data_command import cmd_migrate_data

        return cmd_migrate_data(args.source, args.target)
    if args.command == "backup":
        from bot.backup_commands import cmd_backup

        return cmd_backup(args.dest, keep=args.keep)
    if args.command == "restore":
        from bot.backup_commands import cmd_restore

        return cmd_restore(args.source)
    if args.command == "worker":
        return cmd_run(redactor, ProcessRole.WORKER)
    no_workers = getattr(args, "no_workers", False)
    return cmd_run(redactor, ProcessRole.GATEWAY if no_workers else ProcessRole.ALL)


def parse(argv: list[str] | None) -> argparse.Namespace:
    given = sys.argv[1:] if argv is None else argv
    if given and given[0] in HANDED_OVER:
        return argparse.Namespace(command=given[0], **{HANDED_OVER[given[0]]: given[1:]})
    return build_parser().parse_args(given)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if not IS_POSIX:
        # flock(2), signals and file modes are POSIX; --help above works everywhere.
        print(POSIX_ONLY, file=sys.stderr)
        return EXIT_CONFIG
    # Everything the bot writes (database, backups, logs, lock) is its owner's only: the
    # database holds wallets and contacts. The modes are also set explicitly where it
    # matters; this covers the files SQLite and logging create on their own.
    os.umask(0o077)
    # `kill -USR1 <pid>` prints every thread's stack to stderr: how to see where a bot
    # that won't stop is waiting, without stopping it.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    # Configured once, here. Secrets are added to the redactor as soon as they are known.
    redactor = configure_logging("INFO")
    try:
        status = dispatch(args, redactor)
        # Flushed here, where a reader that went away is handled, not at exit.
        sys.stdout.flush()
        return status
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:
        # `orderbot backup … | head -1`: the reader went away. Nothing more can be said
        # on stdout, and Python's own flush at exit must not say it with a traceback.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_RUNTIME
    except Exception:
        # Last resort: a readable line; the traceback goes through the redacting handler.
        log.exception("unexpected error")
        return EXIT_RUNTIME


if __name__ == "__main__":
    sys.exit(main())
