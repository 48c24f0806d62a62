"""Helpers shared by the bot's test modules: a boost draft placed through the ordering
service, the POSTs a sandbox provider received, and `python -m bot` run as a subprocess."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bot.services.ordering import OrderingService
from core.crypto import DeliveryCipher
from core.domain import Money, OrderKind, OrderSource, OrderStatus, new_order_id
from sandbox.runner import SandboxCluster
from storage import orders as repo
from storage.database import Database
from tests.support import PYTHON

BUYER = 111


async def boost_draft(
    service: OrderingService, key: str = "i-1", amount: int = 4
) -> repo.OrderRecord:
    return await service.create_draft(
        product=service.boost_product(),
        quantity=amount,
        user_id=BUYER,
        guild_id=1,
        interaction_key=key,
        details={"invite_code": "shopdemo"},
    )


def posts(cluster: SandboxCluster, name: str) -> list[object]:
    return [r for r in cluster.state(name).requests if r.method == "POST"]


def run_bot(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


async def track(
    db: Database, cipher: DeliveryCipher, provider: str, remote: str, now: float
) -> str:
    """A staff-linked order being tracked at `provider`, due for polling at `now`."""
    order = await repo.insert_order(
        db,
        repo.NewOrder(
            id=new_order_id(),
            user_id=7,
            guild_id=1,
            product_key=f"linked:{provider}",
            product_name="Tracked",
            provider=provider,
            kind=OrderKind.DIGITAL,
            quantity=1,
            unit_price=Money(0, "USD"),
            status=OrderStatus.SUBMITTED,
            source=OrderSource.LINKED,
            remote_id=remote,
            next_poll_at=now,
        ),
        cipher,
    )
    return order.id
