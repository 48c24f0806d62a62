"""The DMs a top-up owes its buyer (storage.topups owes them in the transaction that
credits or ends it), composed as the notifier sends them: the credit with the balance
as it is now, and a link that ended unpaid."""

from __future__ import annotations

from bot.presenters import OutgoingDm
from bot.services.ordering import CONFIRMATION_TTL
from bot.topup_presenters import credited_embed, topup_fallback_notice, unpaid_embed
from core.kinds import NotificationKind
from storage import orders as repo
from storage import topups, wallet
from storage.database import Database
from storage.notifications import Notification


async def topup_dm(db: Database, note: Notification) -> OutgoingDm | None:
    """None when the top-up is gone (the row is given up)."""
    topup = await topups.get(db, note.order_id)
    if topup is None:
        return None
    notice = topup_fallback_notice(note.user_id, topup.id, note.kind)
    if NotificationKind.base_of(note.kind) is NotificationKind.UNPAID:
        return OutgoingDm(None, unpaid_embed(topup, note.kind), None, notice)
    credited = await topups.credited_for(db, topup, note.kind)
    currency = credited.currency if credited else topup.amount.currency
    balance = await wallet.balance(db, topup.user_id, currency)
    draft = await repo.get_order(db, topup.draft_id) if topup.draft_id else None
    embed = credited_embed(
        topup,
        note.kind,
        credited=credited or topup.paid or topup.amount,
        balance=balance,
        draft=draft,
        draft_expires_at=draft.created_at + CONFIRMATION_TTL if draft else None,
    )
    return OutgoingDm(None, embed, None, notice)
