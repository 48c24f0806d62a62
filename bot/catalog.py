"""The shop's catalog: what can be bought, from which provider, at what price.

Read from a TOML file with stdlib `tomllib` and validated by pydantic. A bad catalog is
a `ConfigError` whose lines name the product and the field, so a shop owner can fix
it without reading a traceback.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.config import ConfigError
from bot.domain import Money, OrderKind, PaymentMode, known_currency

# Providers that can place orders of each kind. Tracking-only providers (namefi,
# digital_shop) never appear in the catalog: their orders are linked by staff.
PROVIDERS_FOR_KIND: dict[str, frozenset[str]] = {
    "boost": frozenset({"boost"}),
    "digital": frozenset({"checkout"}),
}


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

    @model_validator(mode="after")
    def _consistent(self) -> Product:
        if self.min_quantity > self.max_quantity:
            raise ValueError("min_quantity must not exceed max_quantity")
        if self.provider not in PROVIDERS_FOR_KIND[self.kind.value]:
            raise ValueError(f"provider '{self.provider}' cannot fulfil kind '{self.kind.value}'")
        if not known_currency(self.currency):
            raise ValueError(f"currency '{self.currency}' is not supported")
        if self.provider == "checkout":
            # The checkout contract allows INR only.
            if self.currency != "INR":
                raise ValueError("checkout products must be priced in INR")
            goods = self.options.get("type", "digital_goods")
            if goods not in ("digital_goods", "physical_goods"):
                raise ValueError("options.type must be digital_goods or physical_goods")
        return self

    def price_for(self, quantity: int) -> Money:
        return Money(self.unit_price * quantity, self.currency)

    def check_quantity(self, quantity: int) -> str | None:
        """A friendly problem description, or None when the quantity is allowed."""
        if self.min_quantity <= quantity <= self.max_quantity:
            return None
        return (
            f"{self.name} can be ordered in quantities from {self.min_quantity} "
            f"to {self.max_quantity}; you asked for {quantity}."
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

    def search(self, text: str, kind: OrderKind, limit: int = 25) -> list[Product]:
        """Autocomplete: enabled products of a kind whose key or name contains `text`."""
        needle = text.casefold().strip()
        hits = [p for p in self.enabled(kind) if needle in p.name.casefold() or needle in p.key]
        return hits[:limit]

    def providers(self) -> set[str]:
        return {p.provider for p in self._products.values()}


def parse_catalog(data: dict[str, Any], source: str = "catalog") -> Catalog:
    raw_products = data.get("products")
    if not isinstance(raw_products, list) or not raw_products:
        raise ConfigError(source, ["there must be at least one [[products]] table"])
    problems: list[str] = []
    products: list[Product] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_products):
        label = raw.get("key") if isinstance(raw, dict) else None
        label = f"product '{label}'" if label else f"product #{index + 1}"
        try:
            product = Product.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors(include_url=False, include_input=False):
                field = ".".join(str(p) for p in err["loc"]) or "(product)"
                msg = err["msg"].removeprefix("Value error, ")
                problems.append(f"{label}: {field}: {msg}")
            continue
        if product.key in seen:
            problems.append(f"{label}: key: duplicate key")
        seen.add(product.key)
        products.append(product)
    if problems:
        raise ConfigError(source, problems)
    return Catalog(products)


def load_catalog(path: Path, enabled_providers: Iterable[str] | None = None) -> Catalog:
    """Read and validate the catalog. With `enabled_providers`, refuse products whose
    provider has no base URL configured (they could never be fulfilled)."""
    source = f"catalog {path}"
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(source, ["file not found (set CATALOG_PATH)"]) from None
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
        if problems:
            raise ConfigError(source, problems)
    return catalog
