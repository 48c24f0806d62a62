"""The settings of online top-ups (issue 28): which payment providers the shop uses, their
keys and webhook secrets, and where the optional webhook endpoint listens. `Settings`
(bot/config.py) inherits them; they are here because they are one feature's.

Keys and webhook secrets are `SecretStr`. Webhook secrets are a comma-separated list,
newest first: after rotating a secret at the provider, keep the old one listed until the
provider's retries signed with it are over (Razorpay retries for 24 hours, Stripe for 3
days).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from pydantic import AnyHttpUrl, SecretStr, field_validator, model_validator

from bot.config_storage import StorageSettings

# Where each payment provider's API lives (a sandbox URL replaces it in the demo/tests).
RAZORPAY_API = "https://api.razorpay.com"
STRIPE_API = "https://api.stripe.com"


def parse_listen(value: str) -> tuple[str, int]:
    """`127.0.0.1:8089` (or `[::1]:8089`) -> (host, port). Only an IP address: the
    endpoint sits behind the owner's reverse proxy, on an address they chose."""
    host, sep, port = value.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("must be host:port, e.g. 127.0.0.1:8089")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError("the host must be an IP address, e.g. 127.0.0.1:8089") from None
    return host, int(port)


def split_secrets(value: SecretStr | None) -> list[SecretStr]:
    if value is None:
        return []
    return [SecretStr(part.strip()) for part in value.get_secret_value().split(",") if part.strip()]


class PaymentSettings(StorageSettings):
    razorpay_key_id: str | None = None
    razorpay_key_secret: SecretStr | None = None
    razorpay_webhook_secrets: SecretStr | None = None
    razorpay_api_base_url: AnyHttpUrl = AnyHttpUrl(RAZORPAY_API)
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secrets: SecretStr | None = None
    stripe_api_base_url: AnyHttpUrl = AnyHttpUrl(STRIPE_API)
    # Where top-ups show buyers the link's expiry, and reconciliation polls; not a secret.
    payment_webhook_listen: str | None = None

    @field_validator("payment_webhook_listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)
        return value

    @model_validator(mode="after")
    def _razorpay_pairs(self) -> PaymentSettings:
        if (self.razorpay_key_id is None) != (self.razorpay_key_secret is None):
            missing = (
                "RAZORPAY_KEY_SECRET" if self.razorpay_key_secret is None else ("RAZORPAY_KEY_ID")
            )
            raise ValueError(f"Razorpay needs both its key id and key secret: set {missing}")
        if self.razorpay_key_id is not None and not self.razorpay_key_id.startswith("rzp_"):
            raise ValueError("RAZORPAY_KEY_ID starts with rzp_test_ or rzp_live_")
        key = self.stripe_secret_key.get_secret_value() if self.stripe_secret_key else None
        if key is not None and not key.startswith(("sk_test_", "sk_live_", "rk_test_", "rk_live_")):
            # A publishable key (pk_…) can't create sessions; say so before any call.
            raise ValueError(
                "STRIPE_SECRET_KEY starts with sk_test_ or sk_live_ (or rk_ for a restricted "
                "key): the secret key from Developers → API keys, not the publishable one"
            )
        return self

    @property
    def razorpay_enabled(self) -> bool:
        return self.razorpay_key_id is not None

    @property
    def stripe_enabled(self) -> bool:
        return self.stripe_secret_key is not None

    def top_up_currencies(self, sold: Iterable[str] = ()) -> dict[str, str]:
        """Which provider takes which currency: INR through Razorpay; through Stripe,
        every other currency the shop sells in (USD when it sells none yet)."""
        chosen: dict[str, str] = {}
        if self.razorpay_enabled:
            chosen["INR"] = "razorpay"
        if self.stripe_enabled:
            for currency in sorted({c.upper() for c in sold} or {"USD"}):
                chosen.setdefault(currency, "stripe")
        return chosen

    def webhook_secrets(self) -> dict[str, list[SecretStr]]:
        return {
            "razorpay": split_secrets(self.razorpay_webhook_secrets),
            "stripe": split_secrets(self.stripe_webhook_secrets),
        }

    def webhook_listen(self) -> tuple[str, int] | None:
        return parse_listen(self.payment_webhook_listen) if self.payment_webhook_listen else None
