"""Payment policies for tests that are about something else than paying.

Tests written before wallets existed place orders that nobody paid for; they run with the
explicit `free` mode. Tests about paying use the real default (wallet) or approval.
"""

from bot.services.ordering import ShopPolicy
from core.domain import PaymentMode

FREE_POLICY = ShopPolicy(default_payment=PaymentMode.FREE)
