"""The staff service against real SQLite and the real sandbox providers: the races the
end-to-end tests can't time reliably (two staff members at once), and the masks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.catalog import load_catalog
from bot.errors import UserFacingError
from bot.providers.registry import ProviderRegistry
from bot.services.ordering import OrderingService
from bot.services.staff_review import StaffReview
from bot.staff_presenters import mask_email_and_domain, mask_name, mask_phone_fixed_length
from core.crypto import DeliveryCipher
from core.domain import Delivery, OrderStatus
from sandbox.common import Fault
from sandbox.runner import SandboxCluster
from storage import notifications as outbox
from storage import orders as repo
from storage.database import Database
from tests.bot.helpers import BUYER, boost_draft, posts
from tests.payments import FREE_POLICY
from tests.support import REPO_ROOT

STAFF_A = 901
STAFF_B = 902


@pytest.fixture
async def ordering(
    db: Database, cipher: DeliveryCipher, adapters: ProviderRegistry
) -> AsyncIterator[OrderingService]:
    yield OrderingService(
        db, cipher, load_catalog(REPO_ROOT / "catalog.toml"), adapters, policy=FREE_POLICY
    )


@pytest.fixture
def staff(db: Database, cipher: DeliveryCipher, ordering: OrderingService) -> StaffReview:
    return StaffReview(db, cipher, ordering)


async def needs_review(ordering: OrderingService, cluster: SandboxCluster) -> repo.OrderRecord:
    cluster.state("boost").add_fault(Fault("server_error", method="POST"))
    draft = await boost_draft(ordering)
    outcome = await ordering.confirm(draft.id, BUYER)
    assert outcome.order is not None and outcome.order.status is OrderStatus.NEEDS_REVIEW
    return outcome.order


async def test_two_staff_resubmitting_at_once_send_one_request(
    staff: StaffReview, ordering: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    order = await needs_review(ordering, cluster)
    results = await asyncio.gather(
        staff.resubmit(order.id, STAFF_A), staff.resubmit(order.id, STAFF_B), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, UserFacingError)]
    assert len(refused) == 1 and "meanwhile" in refused[0].user_message
    assert len(posts(cluster, "boost")) == 2  # the first (5xx) and exactly one resubmission
    current = await repo.get_order(db, order.id)
    assert current is not None and current.status is OrderStatus.SUBMITTED


async def test_resolving_twice_is_refused_and_changes_nothing(
    staff: StaffReview, ordering: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    order = await needs_review(ordering, cluster)
    await staff.mark_failed(order.id, STAFF_A, "no stock")
    events = await repo.list_events(db, order.id)
    for attempt in (
        staff.resubmit(order.id, STAFF_B),
        staff.mark_placed(order.id, STAFF_B, "abc"),
        staff.mark_failed(order.id, STAFF_B, "again"),
    ):
        with pytest.raises(UserFacingError, match="not needs review"):
            await attempt
    assert await repo.list_events(db, order.id) == events
    assert len(posts(cluster, "boost")) == 1
    # The review DM (owed when it went to staff) and the one ending: nothing more.
    assert sorted(n.kind for n in await outbox.list_notifications(db, order.id)) == [
        "final",
        "review",
    ]


async def test_a_retry_after_a_final_dm_owes_the_new_outcome(
    staff: StaffReview, ordering: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    # Failed and told by DM (mark failed); then retried, placed and completed: the buyer
    # must hear about the new outcome too, so the first `final` row can't swallow it.
    order = await needs_review(ordering, cluster)
    await staff.mark_failed(order.id, STAFF_A, "provider down")
    outcome = await staff.retry_failed(order.id, STAFF_A)
    assert outcome.order is not None and outcome.order.status is OrderStatus.SUBMITTED
    placed = await repo.transition_order(
        db,
        order.id,
        repo.StatusChange(OrderStatus.COMPLETED, actor="provider", notify_kind="final"),
        staff.cipher,
    )
    assert placed.status is OrderStatus.COMPLETED
    kinds = sorted(n.kind for n in await outbox.list_notifications(db, order.id))
    # Staff are checking (review), the failure, the retry that went through ("placed":
    # the buyer had been told it failed), then the completion.
    assert kinds == ["final", "final-2", "placed", "review"]


async def test_deliver_is_a_compare_and_set(
    staff: StaffReview, ordering: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    order = await needs_review(ordering, cluster)
    first, second = await asyncio.gather(
        staff.deliver(order.id, STAFF_A, Delivery.from_text("key-A")),
        staff.deliver(order.id, STAFF_B, Delivery.from_text("key-B")),
        return_exceptions=True,
    )
    delivered = [r for r in (first, second) if isinstance(r, repo.OrderRecord)]
    assert len(delivered) == 1
    current = await repo.get_order(db, order.id)
    assert current is not None
    delivery = current.delivery(staff.cipher)
    assert delivery is not None and delivery.reveal() in ("key-A", "key-B")
    finals = [n for n in await outbox.list_notifications(db, order.id) if n.kind == "final"]
    assert len(finals) == 1


def test_masks_show_only_what_tells_buyers_apart() -> None:
    assert mask_phone_fixed_length("+919876543210") == "+91 ••••• ••210"
    assert "98765" not in mask_phone_fixed_length("+919876543210")
    assert mask_phone_fixed_length("+1") == "••••"
    assert mask_phone_fixed_length("+1234567") == "+•• ••••• •••67"  # short: two digits, no country
    assert mask_email_and_domain("asha.rao@example.com") == "a•••@e•••.com"
    assert mask_email_and_domain("nonsense") == "••••"
    assert mask_name("Asha Rao") == "A•• R••"


async def test_a_staff_retry_that_fails_again_is_dmed_to_the_buyer(
    staff: StaffReview, ordering: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    order = await needs_review(ordering, cluster)
    await staff.mark_failed(order.id, STAFF_A, "provider down")
    cluster.state("boost").add_fault(Fault("rejected", method="POST"))
    outcome = await staff.retry_failed(order.id, STAFF_A)
    assert outcome.order is not None and outcome.order.status is OrderStatus.FAILED
    kinds = sorted(n.kind for n in await outbox.list_notifications(db, order.id))
    assert kinds == ["final", "final-2", "review"]


async def test_stale_review_buttons_are_refused(
    staff: StaffReview, ordering: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    order = await needs_review(ordering, cluster)
    shown = order.updated_at
    cluster.state("boost").add_fault(Fault("server_error", method="POST"))
    again = await staff.resubmit(order.id, STAFF_A, shown)  # ambiguous again: needs review
    assert again.order is not None and again.order.status is OrderStatus.NEEDS_REVIEW
    with pytest.raises(UserFacingError, match="changed since these buttons were shown"):
        await staff.resubmit(order.id, STAFF_B, shown)
    assert len(posts(cluster, "boost")) == 2


async def test_set_status_refuses_a_sending_order_and_an_unpollable_open_status(
    staff: StaffReview, ordering: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    order = await needs_review(ordering, cluster)
    with pytest.raises(UserFacingError, match="Mark placed"):
        await staff.set_status(order.id, STAFF_A, OrderStatus.SUBMITTED, "it is there")
    sending = await repo.transition_order(
        db,
        order.id,
        repo.StatusChange(OrderStatus.SUBMITTING, actor=str(STAFF_A)),
        staff.cipher,
    )
    with pytest.raises(UserFacingError, match="being sent"):
        await staff.set_status(sending.id, STAFF_A, OrderStatus.CANCELLED, "stop")


async def test_mark_placed_tells_the_buyer_who_was_told_staff_are_checking(
    staff: StaffReview, ordering: OrderingService, cluster: SandboxCluster, db: Database
) -> None:
    order = await needs_review(ordering, cluster)
    remote = cluster.state("boost").create_order(inviteCode="shopdemo", amount=4)
    await staff.mark_placed(order.id, STAFF_A, remote)
    kinds = sorted(n.kind for n in await outbox.list_notifications(db, order.id))
    assert kinds == ["placed", "review"]  # the review DM is superseded, "placed" isn't
