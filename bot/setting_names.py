"""Settings that look like ours but aren't: `PAYMENTMODE=approval` is read by nothing, and
the shop silently stays in wallet mode. `check-config` warns with a did-you-mean.

Every name in `.env` is meant for the bot, so any unknown one is reported. The process
environment holds everything else on the machine too (PATH, HOME, …): there, only a
name close to one of ours is.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from dotenv import dotenv_values

from bot.config import Settings

# Read by the demo and the test stack, not by the bot's settings.
OTHER_KNOWN = frozenset({"DEMO_FAST", "DEMO_WORKDIR"})


def known_setting_names() -> set[str]:
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names.add((alias if isinstance(alias, str) else name).upper())
    return names


def _squashed(name: str) -> str:
    return name.replace("_", "").upper()


def _closest(name: str, known: Iterable[str], cutoff: float) -> str | None:
    known = sorted(known)
    by_squash = {_squashed(k): k for k in known}
    if _squashed(name) in by_squash:  # PAYMENTMODE, payment_mode, PAYMENT__MODE
        return by_squash[_squashed(name)]
    close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=cutoff)
    return close[0] if close else None


def unknown_setting_warnings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> list[str]:
    """One line per name that isn't a setting: every unknown name in `.env`, and names in
    the environment close to a setting's."""
    environ = os.environ if environ is None else environ
    known = known_setting_names()
    warnings: list[str] = []
    seen: set[str] = set()
    if env_file is not None and env_file.is_file():
        try:
            from_file = dotenv_values(env_file, encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            from_file = {}
        for name in from_file:
            upper = name.upper()
            if upper in known or upper in OTHER_KNOWN or upper in seen:
                continue
            seen.add(upper)
            guess = _closest(upper, known, cutoff=0.6)
            hint = f" (did you mean {guess}?)" if guess else ""
            warnings.append(f"{env_file}: {name} is not a setting, so nothing reads it{hint}")
    for name in environ:
        upper = name.upper()
        if upper in known or upper in OTHER_KNOWN or upper in seen:
            continue
        guess = _closest(upper, known, cutoff=0.85)
        if guess is not None:
            seen.add(upper)
            warnings.append(
                f"environment: {name} is not a setting, so nothing reads it (did you mean {guess}?)"
            )
    return warnings


def catalog_path_anyway(
    environ: Mapping[str, str] | None = None, env_file: Path = Path(".env")
) -> Path:
    """Where the catalog is, read the way the settings would, for reporting its problems
    alongside the settings' when the settings themselves are unusable."""
    environ = os.environ if environ is None else environ
    for name, value in environ.items():
        if name.upper() == "CATALOG_PATH" and value:
            return Path(value)
    if env_file.is_file():
        try:
            for name, found in dotenv_values(env_file, encoding="utf-8").items():
                if name.upper() == "CATALOG_PATH" and found:
                    return Path(found)
        except (OSError, UnicodeDecodeError):
            pass
    default = Settings.model_fields["catalog_path"].default
    assert isinstance(default, Path)
    return default
