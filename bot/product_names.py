"""Product names in the reader's language, for orders already recorded.

An order keeps the English name it was placed under (staff, alerts and the audit read
that). A buyer reading Hindi or Bengali sees the catalog's name in their language while
the product is still in the catalog; the name recorded on the order otherwise.
"""

from __future__ import annotations

from bot.catalog import Catalog
from core import i18n

_names: dict[str, dict[str, str]] = {}


def register(catalog: Catalog) -> None:
    """The catalog the bot loaded (bot/app.py): its per-language names."""
    _names.clear()
    _names.update({p.key: dict(p.names) for p in catalog.all()})


def product_name(key: str, recorded: str) -> str:
    return _names.get(key, {}).get(i18n.current(), recorded)
