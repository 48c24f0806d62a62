"""The ordering service: shop switch, validation, drafts, confirmation and staff-linked
tracking. Cogs call this; it never touches Discord. Sending and recording the answer is
`bot.services.submission`.

Exactly-once, step by step:
1. A validated request becomes a `draft` row whose idempotency key is derived from the
   interaction that produced it, so a redelivered interaction finds the same draft.
2. Confirm builds and checks the provider request, then a compare-and-set
   `draft -> submitting` that freezes it, committed BEFORE the provider is called. A
   second press (or a redelivered press) loses the CAS and creates nothing.
3. The Submitter sends the frozen request and records the answer (see its docstring).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.catalog import Catalog, Product
from bot.errors import (
    InvalidInput,
    NotAllowed,
    NotEnoughCredit,
    ProviderBusy,
    ProviderClosed,
    ShopPaused,
    UserFacingError,
    clip,
)
from bot.providers.base import ProviderAdapter
from bot.providers.errors import ProviderError, ProviderRejected
from bot.providers.models import PreparedCreate, ProviderOrder
from bot.providers.registry import ProviderRegistry
from bot.services.outcomes import ConfirmOutcome, ConfirmResult
from bot.services.recovery import Recovery
from bot.services.submission import Submitter, create_request
from core import alerts, i18n
from core.crash_points import crash_point
from core.crypto import DecryptionError, DeliveryCipher
from core.domain import (
    STATUS_LABELS,
    Money,
    OrderKind,
    OrderSource,
    OrderStatus,
    PaymentMode,
    known_currency,
    new_order_id,
)
from core.i18n import N_, _
from core.kinds import EventKind
from core.timings import Timings
from storage import orders as repo
from storage import payments, provider_health, shop_state, staff_alerts, wallet
from storage.database import Database
from storage.shop_state import PAUSED_KEY, PAUSED_REASON_KEY

log = logging.getLogger(__name__)

CONFIRMATION_TTL = 10 * 60.0  # seconds a confirmation stays valid
CANCELLED_MEANWHILE = N_(
    "This order was cancelled (or its confirmation expired), so nothing was ordered. "
    "Run the command again to order."
)


@dataclass(frozen=True, slots=True)
class ShopPolicy:
    """How the shop takes payment and what it allows one buyer (settings)."""

    default_payment: PaymentMode = PaymentMode.WALLET
    # The shop's own words (TOP_UP_INSTRUCTIONS); this default is translated where shown.
    top_up_instructions: str = N_("Ask the shop's staff how to add store credit.")
    limits: payments.BuyerLimits = field(default_factory=payments.BuyerLimits)


@dataclass(frozen=True, slots=True)
class PaymentPreview:
    """What the confirmation shows about paying: the mode, and for a wallet order the
    balance now and after Confirm."""

    mode: PaymentMode
    balance: Money | None = None


__all__ = [
    "CONFIRMATION_TTL",
    "ConfirmOutcome",
    "ConfirmResult",
    "OrderingService",
    "PaymentPreview",
    "ShopPolicy",
]


class OrderingService:
    def __init__(
        self,
        db: Database,
        cipher: DeliveryCipher,
        catalog: Catalog,
        providers: ProviderRegistry,
        *,
        clock: Callable[[], float] = time.time,
        timings: Timings | None = None,
        policy: ShopPolicy | None = None,
    ) -> None:
        self.policy = policy or ShopPolicy()
        self.db = db
        self.cipher = cipher
        self.catalog = catalog
        self.providers = providers
        self.clock = clock
        # Sending and recording answers; it reads this service's clock, so a test (or
        # anything) that sets `clock` here moves both.
        self.submitter = Submitter(
            db,
            cipher,
            catalog,
            providers,
            clock=lambda: self.clock(),
            timings=timings or Timings(),
        )
        # What each provider last said about our key; a refused key closes its products.
        self.keys = self.submitter.keys
        # Orders left `submitting`: due re-sends and crash leftovers.
        self.recovery = Recovery(self.submitter)
        # Whether a buyer can top up online in a currency (bot.app sets it when a payment
        # provider is configured): a short balance then gets a draft with a Top up button
        # instead of a refusal.
        self.tops_up_online: Callable[[str], bool] = lambda currency: False

    # --- shop switch ----------------------------------------------------------------------

    async def is_paused(self) -> bool:
        return await shop_state.get_value(self.db, PAUSED_KEY) == "1"

    async def ensure_open(self, product: Product | None = None) -> None:
        """Buyers can't start or confirm orders while staff have paused the shop, nor order
        a product whose provider refused our key. (Staff actions and re-sends of orders
        confirmed before go on.)"""
        if await self.is_paused():
            raise ShopPaused(await shop_state.get_value(self.db, PAUSED_REASON_KEY))
        if product is not None and await self.keys.is_refused(product.provider):
            raise ProviderClosed(product.display_name())

    async def closed_providers(self) -> set[str]:
        """Providers whose products buyers can't order now (their key was refused)."""
        return await provider_health.refused_keys(self.db)

    # --- validation -------------------------------------------------------------------------

    def boost_product(self, wanted: str | None = None) -> Product:
        """The boost product asked for (its key or its name), or the only one sold."""
        products = self.catalog.enabled(OrderKind.BOOST)
        if not products:
            raise UserFacingError(_("Boosts are not for sale in this shop right now."))
        if wanted is None:
            return products[0]
        found = self.catalog.find(wanted, OrderKind.BOOST)
        if found is None:
            names = ", ".join(f"**{p.display_name()}**" for p in products)
            raise InvalidInput(
                _(
                    "There is no boost `{wanted}`. This shop sells {names}.",
                    wanted=clip(wanted),
                    names=names,
                )
            )
        return found

    def digital_product(self, wanted: str) -> Product:
        """A product by its key or its name (any case): what autocomplete fills in, or
        what the buyer typed without picking."""
        product = self.catalog.find(wanted, OrderKind.DIGITAL)
        if product is None:
            raise InvalidInput(
                _(
                    "There is no product `{wanted}` for sale. Pick one from the list as you "
                    "type (names and keys both work).",
                    wanted=clip(wanted),
                )
            )
        return product

    def check_quantity(self, product: Product, quantity: int) -> None:
        problem = product.check_quantity(quantity)
        if problem:
            raise InvalidInput(problem)

    def adapter_for(self, product: Product) -> ProviderAdapter:
        adapter = self.providers.get(product.provider)
        if adapter is None or not adapter.capabilities.can_create:
            raise UserFacingError(
                _("{product} can't be ordered right now.", product=product.display_name())
            )
        return adapter

    def needs_contact(self, product: Product) -> bool:
        """Whether the buyer fills in the contact form first (the provider's adapter
        declares it: the checkout contract requires contact.phone_number)."""
        return self.providers.needs_contact(product.provider)

    # --- payment and limits -------------------------------------------------------------------

    def payment_for(self, product: Product) -> PaymentMode:
        return product.payment or self.policy.default_payment

    async def check_can_buy(self, user_id: int, product: Product, quantity: int) -> None:
        """The early, friendly refusal before a draft (or a contact form) exists: a short
        balance or a limit already reached. Confirm checks again, authoritatively, in
        the transaction that claims the order."""
        total = product.price_for(quantity)
        mode = self.payment_for(product)
        try:
            balance = await payments.check_can_buy(
                self.db,
                user_id=user_id,
                total=total,
                limits=self.policy.limits,
                now=self.clock(),
                wallet_paid=mode is PaymentMode.WALLET,
            )
        except payments.LimitReached as exc:
            raise NotAllowed(exc.message) from None
        if (
            balance is not None
            and balance.minor < total.minor
            and not self.tops_up_online(total.currency)
        ):
            raise self.not_enough_credit(balance, total, at_confirm=False)

    def not_enough_credit(
        self, balance: Money, price: Money, *, at_confirm: bool
    ) -> NotEnoughCredit:
        shortfall = Money(price.minor - balance.minor, price.currency)
        # The shop's own words, or the default in the buyer's language (_("") would be the
        # catalog's header, never the instructions).
        instructions = self.policy.top_up_instructions
        instructions = clip(_(instructions) if instructions else instructions, 500)
        if not at_confirm:
            message = _(
                "Your store credit is **{balance}** and this order costs **{price}**, so "
                "nothing was ordered or charged.\n**How to top up:** {instructions}",
                balance=balance.format(),
                price=price.format(),
                instructions=instructions,
            )
        elif self.tops_up_online(price.currency):
            message = _(
                "Your store credit is **{balance}** and this order costs **{price}**, so "
                "nothing was ordered or charged. Your order is kept until its confirmation "
                "expires: press **Confirm** again once your balance covers it.\n"
                "**How to top up:** press **Top up** below to pay the difference, {shortfall}, "
                "online.",
                balance=balance.format(),
                price=price.format(),
                shortfall=shortfall.format(),
            )
        else:
            message = _(
                "Your store credit is **{balance}** and this order costs **{price}**, so "
                "nothing was ordered or charged. Your order is kept until its confirmation "
                "expires: press **Confirm** again once your balance covers it.\n"
                "**How to top up:** {instructions}",
                balance=balance.format(),
                price=price.format(),
                instructions=instructions,
            )
        return NotEnoughCredit(message, shortfall=shortfall)

    async def payment_preview(self, order: repo.OrderRecord) -> PaymentPreview:
        mode = order.payment or PaymentMode.FREE
        if mode is not PaymentMode.WALLET:
            return PaymentPreview(mode)
        return PaymentPreview(
            mode, await wallet.balance(self.db, order.user_id, order.total.currency)
        )

    # --- drafts -------------------------------------------------------------------------------

    async def create_draft(
        self,
        *,
        product: Product,
        quantity: int,
        user_id: int,
        guild_id: int | None,
        interaction_key: str,
        details: Mapping[str, str] | None = None,
        contact: Mapping[str, str] | None = None,
        buyer_name: str | None = None,
    ) -> repo.OrderRecord:
        """Record a validated, unconfirmed order. A redelivered interaction (same key)
        returns the existing draft instead of creating a second one."""
        await self.ensure_open(product)
        self.check_quantity(product, quantity)
        self.adapter_for(product)
        await self.check_can_buy(user_id, product, quantity)
        new = repo.NewOrder(
            id=new_order_id(),
            user_id=user_id,
            guild_id=guild_id,
            product_key=product.key,
            product_name=product.name,
            provider=product.provider,
            kind=product.kind,
            quantity=quantity,
            unit_price=product.price_for(1),
            status=OrderStatus.DRAFT,
            idempotency_key=f"draft:{interaction_key}",
            details=dict(details or {}),
            contact=contact,
            buyer_name=buyer_name,
            payment=self.payment_for(product),
            # The buyer's language now: the order's DMs use it unless they choose one.
            language=i18n.current(),
        )
        try:
            return await repo.insert_order(self.db, new, self.cipher, actor=str(user_id))
        except repo.DuplicateOrder as dup:
            existing = await repo.get_order(self.db, dup.existing_id or "")
            if existing is None or existing.user_id != user_id:
                raise
            return existing

    async def cancel_draft(self, order_id: str, user_id: int) -> bool:
        return await repo.delete_draft(self.db, order_id, user_id)

    # --- confirmation and submission ----------------------------------------------------------

    async def confirm(self, order_id: str, user_id: int) -> ConfirmOutcome:
        order = await repo.get_order(self.db, order_id)
        if order is None:
            raise NotAllowed(_(CANCELLED_MEANWHILE))
        if order.user_id != user_id:
            # Say nothing about other members' orders.
            raise NotAllowed(_("Only the buyer who started this order can confirm it."))
        if order.status is not OrderStatus.DRAFT:
            return ConfirmOutcome(
                ConfirmResult.ALREADY, order, _already_confirmed(order.id, order.status)
            )
        if order.payment is None and order.source is OrderSource.PLACED:
            # (Only a draft written by an older version; migration 0008 removes them.)
            await repo.delete_draft(self.db, order.id, user_id)
            raise NotAllowed(_(CANCELLED_MEANWHILE))
        if self.clock() - order.created_at > CONFIRMATION_TTL:
            await repo.delete_draft(self.db, order.id, user_id)
            return ConfirmOutcome(
                ConfirmResult.EXPIRED,
                None,
                _("This confirmation expired. Nothing was ordered; run the command again."),
            )
        await self.ensure_open()
        if await self.keys.is_refused(order.provider):
            raise ProviderClosed(order.product_name)
        # A provider that answered 429 (to a poll or to another buyer's order) is not sent
        # anything until its Retry-After is over; the draft stays, so Confirm works later.
        held = await provider_health.hold_until(self.db, order.provider) - self.clock()
        if held > 0:
            raise ProviderBusy(held)
        # The request is built and checked now, before anything is claimed or sent, and
        # frozen with the claim: every re-send is this request, byte for byte.
        prepared = await self._prepare_at_confirm(order)
        if not self.submitter.reserve(order.id):
            return ConfirmOutcome(
                ConfirmResult.ALREADY,
                order,
                _(
                    "Order `{order_id}` was already confirmed; it is being sent right now.",
                    order_id=order.id,
                ),
            )
        approval = order.payment is PaymentMode.APPROVAL
        try:
            # The CAS that makes a second press harmless. Committed before any I/O, with
            # the wallet debit (storage.payments) and the buyer's limits in the same
            # transaction: no order is ever sent unpaid, and no debit exists without it.
            claimed = await repo.transition_order(
                self.db,
                order.id,
                repo.StatusChange(
                    OrderStatus.AWAITING_APPROVAL if approval else OrderStatus.SUBMITTING,
                    actor=str(user_id),
                    detail="confirmed by the buyer"
                    + ("; waiting for staff to approve the payment" if approval else ""),
                    expect=OrderStatus.DRAFT,
                    require_shop_open=True,
                    frozen_request=prepared.to_json(),
                    limits=self.policy.limits,
                    alert=alerts.approval_request(order) if approval else None,
                ),
                self.cipher,
            )
        except repo.ShopClosed:
            self.submitter.release(order.id)
            raise ShopPaused(await shop_state.get_value(self.db, PAUSED_REASON_KEY)) from None
        except wallet.InsufficientBalance as short:
            self.submitter.release(order.id)
            raise self.not_enough_credit(short.balance, short.needed, at_confirm=True) from None
        except payments.LimitReached as exc:
            self.submitter.release(order.id)
            raise NotAllowed(exc.message) from None
        except repo.OrderNotFound:
            # Cancel won the race: the draft is gone, and nothing was sent.
            self.submitter.release(order.id)
            raise NotAllowed(_(CANCELLED_MEANWHILE)) from None
        except repo.StaleStatus:
            self.submitter.release(order.id)
            current = await repo.get_order(self.db, order.id)
            return ConfirmOutcome(
                ConfirmResult.ALREADY,
                current,
                _already_confirmed(order.id, current.status if current else None),
            )
        except BaseException:
            self.submitter.release(order.id)
            raise
        if approval:
            self.submitter.release(order.id)
            return ConfirmOutcome(
                ConfirmResult.AWAITING_APPROVAL,
                claimed,
                _(
                    "Order `{order_id}` is waiting for staff to check your payment of "
                    "**{amount}**. Nothing is sent before they approve it; you'll "
                    "get a DM either way.",
                    order_id=order.id,
                    amount=order.total.format(),
                ),
            )
        crash_point("confirm.claimed")
        # The buyer sees this outcome in the interaction: no DM for it.
        outcome = await self.submitter.submit(claimed, buyer_watching=True, reserved=True)
        if outcome.result is ConfirmResult.FAILED and outcome.order is not None:
            back = await refunded_total(self.db, outcome.order)
            if back is not None:
                outcome = ConfirmOutcome(
                    outcome.result,
                    outcome.order,
                    _(
                        "{message} {amount} went back to your store credit.",
                        message=outcome.user_message,
                        amount=back.format(),
                    ),
                )
        return outcome

    async def _prepare_at_confirm(self, order: repo.OrderRecord) -> PreparedCreate:
        """The create request of a draft, or a friendly error. Nothing has been sent yet,
        so every refusal here can truthfully say that nothing was ordered."""
        adapter = self.providers.get(order.provider)
        if adapter is None or not adapter.capabilities.can_create:
            raise UserFacingError(
                _(
                    "{product} can't be ordered right now. Nothing was ordered.",
                    product=order.product_name,
                )
            )
        try:
            return adapter.prepare_create(create_request(order, self.catalog, self.cipher))
        except ProviderRejected as exc:
            # The same draft would be refused again: it goes, and the buyer starts afresh.
            await repo.delete_draft(self.db, order.id, order.user_id)
            if exc.user_message:
                message = _(
                    "{reason} Nothing was ordered; run the command again.",
                    reason=exc.user_message,
                )
            else:
                message = _(
                    "The provider would refuse this order. Nothing was ordered; run the "
                    "command again."
                )
            raise InvalidInput(message) from None
        except DecryptionError:
            await repo.delete_draft(self.db, order.id, order.user_id)
            await staff_alerts.raise_alert(self.db, alerts.draft_undecryptable(order.id))
            raise UserFacingError(
                _(
                    "We couldn't read the contact details saved with this order, so nothing "
                    "was ordered. Please start the order again."
                )
            ) from None

    # --- tracking (staff-linked orders) -------------------------------------------------------

    async def link_external_order(
        self,
        *,
        staff_id: int,
        member_id: int,
        guild_id: int | None,
        provider: str,
        remote_id: str,
        member_name: str | None = None,
    ) -> repo.OrderRecord:
        """Track an existing provider order for a member. Only staff may do this: a
        buyer attaching an arbitrary id could read someone else's credentials."""
        adapter = self.providers.get(provider)
        if adapter is None or not adapter.capabilities.can_link:
            names = ", ".join(a.name for a in self.providers.linkable())
            if not names:
                raise InvalidInput(
                    _(
                        "Orders of `{provider}` can't be linked. Linkable: none configured.",
                        provider=provider,
                    )
                )
            raise InvalidInput(
                _(
                    "Orders of `{provider}` can't be linked. Linkable: {names}.",
                    provider=provider,
                    names=names,
                )
            )
        remote_id = remote_id.strip()
        problem = adapter.check_remote_id(remote_id)
        if problem:
            raise InvalidInput(problem)
        existing = await repo.get_order_by_remote_id(self.db, provider, remote_id)
        if existing is not None:
            raise InvalidInput(
                _(
                    "That {provider} order is already linked as `{order_id}`.",
                    provider=provider,
                    order_id=existing.id,
                )
            )
        try:
            current = await adapter.get_order(remote_id)
        except ProviderRejected as exc:
            raise InvalidInput(
                _(
                    "{provider} doesn't know that order ({problem}).",
                    provider=provider,
                    problem=exc.user_message or exc.message,
                )
            ) from None
        except ProviderError as exc:
            raise UserFacingError(
                _(
                    "Couldn't reach {provider} to check the order: {problem}",
                    provider=provider,
                    problem=exc.message,
                )
            ) from None
        status = current.status or OrderStatus.SUBMITTED
        product_name = str(current.raw.get("data", {}).get("productName") or f"{provider} order")
        new = repo.NewOrder(
            id=new_order_id(),
            user_id=member_id,
            guild_id=guild_id,
            product_key=f"linked:{provider}",
            product_name=product_name[:100],
            provider=provider,
            kind=OrderKind.DIGITAL,
            quantity=1,
            unit_price=_zero_price(current),
            status=OrderStatus.SUBMITTED,
            source=OrderSource.LINKED,
            remote_id=remote_id,
            raw_status=current.raw_status,
            next_poll_at=self.clock(),  # poll right away; the poller records the status
            buyer_name=member_name,
        )
        try:
            order = await repo.insert_order(self.db, new, self.cipher, actor=str(staff_id))
        except repo.DuplicateOrder as dup:
            raise InvalidInput(
                _(
                    "That {provider} order is already linked as `{order_id}`.",
                    provider=provider,
                    order_id=dup.existing_id,
                )
            ) from None
        await repo.add_event(
            self.db,
            order.id,
            actor=str(staff_id),
            kind=EventKind.LINKED,
            detail=f"linked {provider} {remote_id} to member {member_id} (provider says {current.raw_status}, {STATUS_LABELS[status]})",
        )
        return order


def _already_confirmed(order_id: str, status: OrderStatus | None) -> str:
    """A second Confirm's answer; `status` None: the order is gone meanwhile."""
    if status is None:
        return _("Order `{order_id}` was already confirmed; it is **gone**.", order_id=order_id)
    return _(
        "Order `{order_id}` was already confirmed; it is **{status}**.",
        order_id=order_id,
        status=status.label,
    )


async def refunded_total(db: Database, order: repo.OrderRecord) -> Money | None:
    """What came back to the buyer's wallet for this order, if anything."""
    back = sum(
        e.amount.minor
        for e in await wallet.order_entries(db, order.id)
        if e.kind is wallet.EntryKind.REFUND
    )
    return Money(back, order.total.currency) if back > 0 else None


def _zero_price(current: ProviderOrder) -> Money:
    # We didn't sell a linked order, so it carries no price of ours.
    known = current.currency is not None and known_currency(current.currency)
    return Money(0, current.currency if known and current.currency else "USD")
