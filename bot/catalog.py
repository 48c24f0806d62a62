"""The shop's catalog: what can be bought, from which provider, at what price.

Read from a TOML file with stdlib `tomllib` and validated by pydantic. A bad catalog is
a `ConfigError` whose lines name the product and the field, so a shop owner can fix
it without reading a traceback.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.config import ConfigError
from bot.config_problems import decode_utf8
from bot.providers.registry import ADAPTERS
from core import i18n
from core.domain import Money, OrderKind, PaymentMode, known_currency
from core.i18n import _
from core.money import similar_currencies

# Providers that can place orders of each kind. Tracking-only providers (namefi,
# digital_shop) never appear in the catalog: their orders are linked by staff.
PROVIDERS_FOR_KIND: dict[str, frozenset[str]] = {
    "boost": frozenset({"boost"}),
    "digital": frozenset({"checkout"}),
}
PRODUCT_PROVIDERS = frozenset({"boost", "checkout"})
# The largest order total stored (SQLite integers are 64-bit; JSON numbers stay exact up
# to 2**53): a price that could overflow is a catalog mistake, not a buyer's error later.
MAX_TOTAL_MINOR = 2**53 - 1


class Product(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=300)
    provider: Literal["boost", "checkout"]
    kind: OrderKind
    unit_price: int = Field(gt=0, description="Integer minor units, e.g. cents or paise.")
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    min_quantity: int = Field(default=1, ge=1)
    max_quantity: int = Field(default=1, ge=1)
    enabled: bool = True
    # How this product is paid; unset = the shop's PAYMENT_MODE.
    payment: PaymentMode | None = None
    # Provider-specific fields, e.g. the checkout `type` (digital_goods | physical_goods).
    options: dict[str, Any] = Field(default_factory=dict)
    # The name and description in other languages the shop speaks, e.g.
    # `names = { hi = "गेम की (Steam)", bn = "গেম কী (Steam)" }`; English (`name`) is the
    # fallback for a language left out.
    names: dict[str, Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=dict
    )
    descriptions: dict[str, Annotated[str, Field(max_length=300)]] = Field(default_factory=dict)

    @field_validator("names", "descriptions")
    @classmethod
    def _languages(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(i18n.LANGUAGES))
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)} isn't a language the bot ships"
                f" (use {', '.join(i18n.LANGUAGES)})"
            )
        return value

    def display_name(self, language: str | None = None) -> str:
        """The name in `language` (default: the one being written), else English."""
        return self.names.get(language or i18n.current(), self.name)

    def display_description(self, language: str | None = None) -> str:
        return self.descriptions.get(language or i18n.current(), self.description)

    @model_validator(mode="after")
    def _consistent(self) -> Product:
        problems = cross_field_problems(self.model_dump())
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def price_for(self, quantity: int) -> Money:
        return Money(self.unit_price * quantity, self.currency)

    def check_quantity(self, quantity: int) -> str | None:
        """A friendly problem description, or None when the quantity is allowed."""
        if self.min_quantity <= quantity <= self.max_quantity:
            return None
        return _(
            "{product} can be ordered in quantities from {low} to {high}; you asked for"
            " {quantity}.",
            product=self.display_name(),
            low=i18n.number(self.min_quantity),
            high=i18n.number(self.max_quantity),
            quantity=i18n.number(quantity),
        )


class Catalog:
    def __init__(self, products: Iterable[Product]) -> None:
        self._products = {p.key: p for p in products}

    def __len__(self) -> int:
        return len(self._products)

    def get(self, key: str) -> Product | None:
        return self._products.get(key)

    def all(self) -> list[Product]:
        return list(self._products.values())

    def enabled(self, kind: OrderKind | None = None) -> list[Product]:
        return [
            p for p in self._products.values() if p.enabled and (kind is None or p.kind == kind)
        ]

    def find(self, wanted: str, kind: OrderKind) -> Product | None:
        """An enabled product of `kind` by its key, else by its name, ignoring case and
        extra spaces."""
        text = " ".join(wanted.split()).casefold()
        enabled = self.enabled(kind)
        for product in enabled:
            if product.key == text:
                return product
        for product in enabled:
            for name in (product.name, *product.names.values()):
                if " ".join(name.split()).casefold() == text:
                    return product
        return None

    def search(self, text: str, kind: OrderKind, limit: int = 25) -> list[Product]:
        """Autocomplete: enabled products of a kind whose key or name contains `text`."""
        needle = text.casefold().strip()
        hits = [
            p
            for p in self.enabled(kind)
            if needle in p.key
            or any(needle in name.casefold() for name in (p.name, *p.names.values()))
        ]
        return hits[:limit]

    def providers(self) -> set[str]:
        return {p.provider for p in self._products.values()}


def cross_field_problems(raw: Mapping[str, Any]) -> list[str]:
    """The rules between fields, checked on whatever fields are usable. Run on the raw
    table when a field is wrong too, so every problem is reported in one pass (pydantic
    skips a model's own cross-field check once a field has failed)."""
    problems: list[str] = []
    low, high = raw.get("min_quantity", 1), raw.get("max_quantity", 1)
    if _whole(low) and _whole(high) and low > high:
        problems.append(f"min_quantity ({low}) is more than max_quantity ({high})")
    price = raw.get("unit_price")
    if (
        isinstance(price, int)
        and isinstance(high, int)
        and price > 0
        and price * max(high, 1) > MAX_TOTAL_MINOR
    ):
        problems.append(
            "unit_price × max_quantity is more than any order can cost "
            f"(at most {MAX_TOTAL_MINOR:,} minor units)"
        )
    provider, kind = raw.get("provider"), raw.get("kind")
    if (
        isinstance(kind, str)
        and kind in PROVIDERS_FOR_KIND
        and isinstance(provider, str)
        and provider in PRODUCT_PROVIDERS
        and provider not in PROVIDERS_FOR_KIND[kind]
    ):
        fits = " or ".join(sorted(PROVIDERS_FOR_KIND[kind]))
        problems.append(f"a {kind} product must use provider {fits}, not {provider}")
    currency = raw.get("currency")
    if isinstance(currency, str) and re.fullmatch(r"[A-Z]{3}", currency):
        adapter = ADAPTERS.get(provider) if isinstance(provider, str) else None
        takes = adapter.currencies if adapter is not None else None
        if not known_currency(currency):
            close = similar_currencies(currency)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            problems.append(
                f"currency {currency} is not an ISO 4217 currency in use{hint}: use a "
                "three-letter code such as USD, EUR, INR, BHD or JPY"
            )
        elif takes is not None and currency not in takes:
            problems.append(
                f"{provider} products must be priced in {' or '.join(takes)} (the {provider} "
                f"API takes {' and '.join(takes)} only), not {currency}"
            )
    options = raw.get("options")
    if provider == "checkout" and isinstance(options, Mapping):
        goods = options.get("type", "digital_goods")
        if goods not in ("digital_goods", "physical_goods"):
            problems.append("options.type must be digital_goods or physical_goods")
    return problems


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# What a shop owner is told instead of pydantic's wording (a regex, a type name).
FIELD_HINTS = {
    "key": "key must be 1 to 64 lowercase letters, digits, - or _, starting with a letter "
    "or digit, such as game-key",
    "currency": "currency must be a three-letter code such as USD or INR",
    "provider": "provider must be " + " or ".join(sorted(PRODUCT_PROVIDERS)),
    "kind": "kind must be boost or digital",
    "payment": "payment must be wallet, approval or free",
    "unit_price": "unit_price must be a whole number of minor units above 0, such as 350 for $3.50",
    "min_quantity": "min_quantity must be a whole number, at least 1",
    "max_quantity": "max_quantity must be a whole number, at least 1",
    "name": "name must be text of 1 to 100 characters",
    "description": "description must be text of at most 300 characters",
    "enabled": "enabled must be true or false",
    "options": 'options must be a table, such as { type = "digital_goods" }',
    "names": 'names must be a table of names per language, such as { hi = "...", bn = "..." }',
    "descriptions": "descriptions must be a table of descriptions per language",
}


def _field_problem(err: Mapping[str, Any]) -> str:
    loc = [str(p) for p in err["loc"]]
    field = ".".join(loc) or "(product)"
    kind = err["type"]
    if kind == "missing":
        return f"{field} is missing"
    if kind == "extra_forbidden":
        known = ", ".join(Product.model_fields)
        close = difflib.get_close_matches(field, list(Product.model_fields), n=1)
        hint = f" (did you mean {close[0]}?)" if close else f" (known fields: {known})"
        return f"{field} is not a field a product can have{hint}"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    return FIELD_HINTS.get(loc[0], f"{field}: {err['msg']}") if loc else str(err["msg"])


TOP_LEVEL = ("products",)


def _unknown_top_level(data: dict[str, Any]) -> list[str]:
    """A `[[product]]` (singular) or `[shop]` table would otherwise vanish in silence,
    and the catalog would load without it."""
    problems = []
    for name, value in data.items():
        if name in TOP_LEVEL:
            continue
        close = difflib.get_close_matches(name, TOP_LEVEL, n=1, cutoff=0.6)
        hint = (
            " (did you mean [[products]]?)"
            if close
            else " (a catalog has [[products]] tables only)"
        )
        what = "table" if isinstance(value, dict | list) else "setting"
        problems.append(f"{name}: not a catalog {what}, so it would be ignored{hint}")
    return problems


def parse_catalog(data: dict[str, Any], source: str = "catalog") -> Catalog:
    unknown = _unknown_top_level(data)
    raw_products = data.get("products")
    if not isinstance(raw_products, list) or not raw_products:
        raise ConfigError(source, [*unknown, "there must be at least one [[products]] table"])
    problems: list[str] = list(unknown)
    products: list[Product] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_products):
        label = raw.get("key") if isinstance(raw, dict) else None
        label = (
            f"product '{label}'" if isinstance(label, str) and label else f"product #{index + 1}"
        )
        if not isinstance(raw, dict):
            problems.append(f"{label}: must be a [[products]] table")
            continue
        key = raw.get("key")
        if isinstance(key, str):
            if key in seen:
                problems.append(
                    f"{label}: key: the same key as product #{seen[key] + 1}; keys must differ"
                )
            else:
                seen[key] = index
        try:
            products.append(Product.model_validate(raw))
        except ValidationError as exc:
            found = [
                _field_problem(err) for err in exc.errors(include_url=False, include_input=False)
            ]
            if not any(err["type"] == "value_error" for err in exc.errors()):
                # The cross-field rules didn't run: check them on what is usable.
                found += cross_field_problems(raw)
            lines = [part for problem in found for part in problem.split("; ")]
            problems.extend(f"{label}: {line}" for line in dict.fromkeys(lines))
    problems.extend(_ambiguous_names(products))
    if problems:
        raise ConfigError(source, problems)
    return Catalog(products)


def _ambiguous_names(products: list[Product]) -> list[str]:
    """Buyers may type a product's name instead of its key: among products of one kind,
    no name may be another's name or another's key (ignoring case and spaces)."""
    problems: list[str] = []
    for kind in OrderKind:
        owners: dict[str, Product] = {}
        same_kind = [p for p in products if p.kind is kind]
        for product in same_kind:
            owners.setdefault(product.key, product)
        for product in same_kind:
            name = " ".join(product.name.split()).casefold()
            other = owners.get(name)
            if other is not None and other is not product:
                word = "key" if other.key == name else "name"
                problems.append(
                    f"product '{product.key}': name: the same as the {word} of product "
                    f"'{other.key}'; a buyer typing it couldn't tell them apart"
                )
            else:
                owners[name] = product
    return problems


def read_catalog_text(path: Path, setting: str = "CATALOG_PATH") -> str:
    """The catalog file's text, or ConfigError with one line saying what is wrong with
    the file (a folder, missing, unreadable, not UTF-8) and what to do. `setting` is how
    the user named the file: the CATALOG_PATH setting, or the demo's --catalog option."""
    # CATALOG_PATH=/x for a setting, --catalog /x for a command-line option.
    named = f"{setting} {path}" if setting.startswith("-") else f"{setting}={path}"
    source = "catalog"  # each line names the file
    try:
        if path.is_dir():
            raise ConfigError(source, [f"{named} is a folder: point it at your catalog.toml file"])
        if path.exists() and not path.is_file():
            raise ConfigError(
                source,
                [f"{named} is not a regular file: point it at your catalog.toml file"],
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        if path.is_symlink():
            problem = (
                f"{named} is a symbolic link to {os.readlink(path)}, which doesn't exist: "
                "point it at your catalog.toml file"
            )
        else:
            problem = f"{named}: no such file: point {setting} at your catalog.toml file"
        raise ConfigError(source, [problem]) from None
    except PermissionError:
        raise ConfigError(
            source,
            [f"{named} can't be read (permission denied): let the bot's user read it"],
        ) from None
    except OSError as exc:
        raise ConfigError(source, [f"{named} can't be read ({exc.strerror or exc})"]) from None
    return decode_utf8(raw, source, named)


def load_catalog(
    path: Path,
    enabled_providers: Iterable[str] | None = None,
    *,
    setting: str = "CATALOG_PATH",
    limit_currencies: Iterable[str] = (),
) -> Catalog:
    """Read and validate the catalog. With `enabled_providers`, refuse products whose
    provider has no base URL configured (they could never be fulfilled). A currency in
    `limit_currencies` (DAILY_SPEND_LIMITS) that no product is priced in is refused too:
    that limit would never apply (`$100` reads as USD in a shop that sells in CAD).
    `setting` names where the path came from, for the messages (read_catalog_text)."""
    source = f"catalog {path}"
    text = read_catalog_text(path, setting)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None
    catalog = parse_catalog(data, source)
    if enabled_providers is not None:
        enabled = set(enabled_providers)
        problems = [
            f"product '{p.key}': provider: '{p.provider}' is not configured "
            f"(set {p.provider.upper()}_API_BASE_URL)"
            for p in catalog.all()
            if p.enabled and p.provider not in enabled
        ]
        priced = sorted({p.currency for p in catalog.all()})
        problems += [
            f"DAILY_SPEND_LIMITS sets a limit in {code}, but no product is priced in {code}, "
            f"so it would never apply: write the code of a currency you sell, e.g. "
            f"`{priced[0] if priced else 'USD'} 100`"
            for code in sorted(set(limit_currencies))
            if code not in priced
        ]
        if problems:
            raise ConfigError(source, problems)
    return catalog
