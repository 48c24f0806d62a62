"""What an alert may say about an order, as a Protocol: storage's OrderRecord has all of it,
and core may not import storage."""

from __future__ import annotations

from typing import Protocol

from core.domain import Money


class OrderFacts(Protocol):
    """What an alert may say about an order (storage's OrderRecord has all of it)."""

    @property
    def id(self) -> str: ...
    @property
    def user_id(self) -> int: ...
    @property
    def provider(self) -> str: ...
    @property
    def product_name(self) -> str: ...
    @property
    def quantity(self) -> int: ...
    @property
    def total(self) -> Money: ...
    @property
    def remote_id(self) -> str | None: ...
