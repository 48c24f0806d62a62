"""`orderbot init`: an example catalog.toml and a .env with a fresh key, in an empty folder."""

from __future__ import annotations

import os
from pathlib import Path

from core.crypto import DeliveryCipher

EXIT_OK = 0


TEMPLATES = {"catalog.toml": "catalog.toml", ".env": "env.example"}


def cmd_init(folder: Path, prog: str) -> int:
    """Write an example catalog.toml and a .env template; never overwrite either, and
    never write through a symlink. The .env (it gets a fresh DELIVERY_ENCRYPTION_KEY) is
    created readable by its owner only, before the key is in it."""
    from importlib.resources import files

    templates = files("bot") / "templates"
    for target, template in TEMPLATES.items():
        path = folder / target
        text = (templates / template).read_text(encoding="utf-8")
        if target == ".env":
            text = text.replace(
                "\nDELIVERY_ENCRYPTION_KEY=\n",
                f"\nDELIVERY_ENCRYPTION_KEY={DeliveryCipher.generate_key()}\n",
                1,
            )
            # The template doubles as a clone's .env.example; this copy *is* the .env, and
            # its reader runs the installed command.
            text = text.replace(
                "# Copy to .env and fill in.", "# Written by `orderbot init`: fill it in.", 1
            ).replace("`python -m bot ", f"`{prog} ")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(path, flags, 0o600 if target == ".env" else 0o644)
        except FileExistsError:
            print(f"{path} exists: left as it is")
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        print(f"wrote {path}")
    print(
        f"Next: fill in .env (DISCORD_TOKEN, GUILD_ID, the role and channel ids, provider "
        f"URLs and keys), edit catalog.toml, then `{prog} check-config --online` and "
        f"`{prog} run`."
    )
    return EXIT_OK
