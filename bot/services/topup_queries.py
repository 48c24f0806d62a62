"""What staff read of online top-ups (/admin payments), whether or not a payment provider
is configured now: the rows stay the shop's record of money that came in."""

from __future__ import annotations

from bot.errors import UserFacingError, clip
from core.i18n import _
from storage import topups
from storage.database import Database
from storage.notifications import Notification, topup_notifications
from storage.topups import Topup, TopupState


class TopupQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(
        self, *, state: TopupState | None, user_id: int | None, limit: int, offset: int
    ) -> list[Topup]:
        return await topups.list_topups(
            self.db, state=state, user_id=user_id, limit=limit, offset=offset
        )

    async def counts(self, *, user_id: int | None) -> dict[str, int]:
        return await topups.count_by_state(self.db, user_id=user_id)

    async def get(self, topup_id: str) -> Topup:
        found = await topups.get(self.db, topup_id.strip().upper())
        if found is None:
            raise UserFacingError(_("There is no top-up `{topup_id}`.", topup_id=clip(topup_id)))
        return found

    async def dms(self, topup_id: str) -> list[Notification]:
        return await topup_notifications(self.db, topup_id)
