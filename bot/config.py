"""Settings, read once from the environment and `.env`.

Everything secret is a `SecretStr` so that a stray `repr()` or log line prints stars.
Invalid settings never produce a traceback: `load_settings` raises `ConfigError`
with one readable line per problem, naming the variable and never echoing its value.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Annotated, Any, TypeVar

from cryptography.fernet import Fernet
from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.config_payments import PaymentSettings
from bot.config_problems import (
    GEN_KEY_HINT,
    ConfigError,
    describe_validation_error,
    env_file_problem,
)
from bot.config_storage import StorageSettings
from core.domain import AmountError, PaymentMode, parse_amount
from core.timings import Timings, parse_timing_overrides

log = logging.getLogger(__name__)


# The providers the bot knows. Each has a base URL and a secret; a provider whose
# base URL is unset is simply disabled (and products that use it are refused).
PROVIDER_NAMES: tuple[str, ...] = ("boost", "checkout", "namefi", "digital_shop")

PositiveSeconds = Annotated[float, Field(gt=0)]


class Settings(PaymentSettings):
    """All configuration. Environment variable names are the field names upper-cased."""

    # --- Discord -----------------------------------------------------------------------
    # Optional here so that `check-config`, `migrate` and `gen-key` work without one;
    # `run` refuses to start without it.
    discord_token: SecretStr | None = None
    # A Discord REST proxy or the local emulator, e.g. http://127.0.0.1:8600. Unset = Discord.
    discord_api_base_url: AnyHttpUrl | None = None
    # Gateway URL; derived from DISCORD_API_BASE_URL (ws://HOST/gateway) when that is set.
    discord_gateway_url: str | None = None
    guild_id: int = Field(gt=0)
    staff_role_id: int = Field(gt=0)
    staff_channel_id: int = Field(gt=0)
    notice_channel_id: int = Field(gt=0)

    # --- Storage (DATABASE_PATH comes from StorageSettings) ---------------------------
    # One Fernet key, or several separated by commas (the first encrypts, all decrypt),
    # so a key can be rotated without losing old deliveries.
    delivery_encryption_key: SecretStr
    catalog_path: Path = Path("catalog.toml")

    # --- Providers ---------------------------------------------------------------------
    boost_api_base_url: AnyHttpUrl | None = None
    boost_api_key: SecretStr | None = None
    checkout_api_base_url: AnyHttpUrl | None = None
    checkout_api_key: SecretStr | None = None
    namefi_api_base_url: AnyHttpUrl | None = None
    namefi_api_token: SecretStr | None = None
    digital_shop_api_base_url: AnyHttpUrl | None = None
    digital_shop_api_key: SecretStr | None = None
    # The digital shop's contract names neither its path nor its auth header: these are
    # what the bot uses, and can be changed to what your shop's API expects.
    digital_shop_order_path: str = "/api/v1/orders/{id}"
    digital_shop_auth_header: str = "X-API-Key"
    # Put before the key in that header, e.g. Bearer (empty: the key alone).
    digital_shop_auth_prefix: str = ""
    provider_timeout_seconds: PositiveSeconds = 10.0
    provider_max_connections: int = Field(default=32, ge=1)

    # --- Polling and notifications ---------------------------------------------------
    poll_interval_seconds: PositiveSeconds = 1.0
    poll_batch_size: int = Field(default=200, ge=1, le=5000)
    # How long a claimed order belongs to the run polling it. Never shorter than the
    # slowest possible batch (the poller raises it to that), so no order is polled twice.
    poll_lease_seconds: PositiveSeconds = 120.0
    provider_concurrency: int = Field(default=8, ge=1, le=256)
    # Requests per second to each provider: all processes together on PostgreSQL.
    provider_rate_per_second: float = Field(default=20.0, gt=0)
    # The bot's REST requests to Discord per second, all processes together on
    # PostgreSQL (interaction responses aside). Discord's global limit is 50.
    discord_rate_per_second: float = Field(default=40.0, gt=0, le=50)
    breaker_threshold: int = Field(default=5, ge=1)
    breaker_cooldown_seconds: PositiveSeconds = 30.0
    notify_interval_seconds: PositiveSeconds = 1.0
    # A DM claimed for sending this long ago and still not recorded was interrupted (a
    # crash, a failed write): Discord's history is checked, then it is sent or settled.
    dm_reconcile_after_seconds: PositiveSeconds = 60.0
    # When the checkout API (idempotent: the same request can't order twice) didn't
    # answer, the same request is sent again after these waits; then staff get it.
    resubmit_delays_seconds: str = "5,15,45,120,300"
    # Internal waits (core.timings.Timings), "name=seconds,…": for tests and experts.
    # Not in .env.example: a shop has no reason to change them.
    timing_overrides: str = Field(default="", validation_alias="TIMINGS")

    # --- Behaviour ---------------------------------------------------------------------
    order_cooldown_seconds: float = Field(default=10.0, ge=0)
    # An order still open this long gets one staff alert (0 switches it off).
    stuck_order_minutes: float = Field(default=120.0, ge=0)

    # Phone numbers typed without a country code are read as numbers of this region
    # (ISO 3166 code, e.g. IN, US, GB). The checkout API takes INR, so India by default.
    default_phone_region: str = "IN"

    # --- Languages (en, hi, bn) ----------------------------------------------------------
    # What a buyer reads when they chose no language with /language and Discord's
    # language isn't one the shop has (Discord has no Bengali: Bengali readers choose it).
    default_language: str = "en"
    # What staff read: alerts, the staff log and the staff console's replies.
    staff_language: str = "en"

    # --- Payments and buyer limits -----------------------------------------------------
    # How products without their own `payment` in the catalog are paid: wallet (store
    # credit, debited at Confirm), approval (staff check the payment, then approve) or
    # free (nothing is asked of the buyer: only for servers that trust every member).
    payment_mode: PaymentMode = PaymentMode.WALLET
    # What a buyer whose balance is short is told to do, e.g. "Pay by UPI to shop@upi,
    # then open a ticket with the receipt."
    top_up_instructions: str = Field(
        default="Ask the shop's staff how to add store credit.", max_length=500
    )
    # Only members with this role may order (unset: every member).
    buyer_role_id: int | None = Field(default=None, gt=0)
    # Orders one buyer may have open at once, awaiting approval included (unset: no limit).
    max_open_orders: int | None = Field(default=None, ge=1)
    # What one buyer may spend per UTC day, per currency, e.g. "USD 100, INR 5000".
    daily_spend_limits: str = ""

    @field_validator("resubmit_delays_seconds")
    @classmethod
    def _resubmit_delays(cls, value: str) -> str:
        try:
            delays = [float(part) for part in value.split(",") if part.strip()]
        except ValueError:
            raise ValueError("must be seconds separated by commas, e.g. 5,15,45,120,300") from None
        if not delays or any(not 0 < d <= 3600 for d in delays) or len(delays) > 20:
            raise ValueError("must be 1 to 20 waits, each over 0 and at most 3600 seconds")
        return value

    @field_validator("timing_overrides")
    @classmethod
    def _timing_overrides(cls, value: str) -> str:
        parse_timing_overrides(value)
        return value

    @field_validator("default_phone_region")
    @classmethod
    def _phone_region(cls, value: str) -> str:
        import phonenumbers

        value = value.strip().upper()
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("must be a two-letter country code such as IN, US or GB")
        return value

    @field_validator("default_language", "staff_language")
    @classmethod
    def _language(cls, value: str) -> str:
        from core.i18n import LANGUAGES, UnknownLanguage, check_language

        try:
            return check_language(value)
        except UnknownLanguage:
            raise ValueError(f"must be one of {', '.join(LANGUAGES)}") from None

    @field_validator("digital_shop_order_path")
    @classmethod
    def _order_path(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith("/") or value.count("{id}") != 1 or any(c in value for c in " ?#"):
            raise ValueError(
                "must be a path starting with / and containing {id} once, e.g. /api/v1/orders/{id}"
            )
        return value

    @field_validator("digital_shop_auth_header")
    @classmethod
    def _header_name(cls, value: str) -> str:
        value = value.strip().rstrip(":").strip()
        if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", value):
            raise ValueError("must be a header name such as X-API-Key or Authorization")
        return value

    @field_validator("digital_shop_auth_prefix")
    @classmethod
    def _auth_prefix(cls, value: str) -> str:
        value = value.strip()
        if not re.fullmatch(r"[A-Za-z0-9-]{0,32}", value):
            raise ValueError("must be one word such as Bearer, or empty")
        return value

    @field_validator("daily_spend_limits")
    @classmethod
    def _daily_spend_limits(cls, value: str) -> str:
        parse_spend_limits(value)
        return value

    @property
    def spend_limits(self) -> dict[str, int]:
        return parse_spend_limits(self.daily_spend_limits)

    @property
    def resubmit_delays(self) -> tuple[float, ...]:
        return tuple(
            float(part) for part in self.resubmit_delays_seconds.split(",") if part.strip()
        )

    @property
    def timings(self) -> Timings:
        """Every wait the bot makes: the owner's settings, then TIMINGS, then defaults."""
        return Timings(
            poll_interval=self.poll_interval_seconds,
            notify_interval=self.notify_interval_seconds,
            resubmit_delays=self.resubmit_delays,
            dm_reconcile_after=self.dm_reconcile_after_seconds,
            breaker_cooldown=self.breaker_cooldown_seconds,
            poll_lease=self.poll_lease_seconds,
        ).replace(**parse_timing_overrides(self.timing_overrides))

    @field_validator("delivery_encryption_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr) -> SecretStr:
        return check_fernet_keys(value)

    @model_validator(mode="after")
    def _provider_credentials(self) -> Settings:
        missing = [
            f"{name.upper()}_API_{_secret_suffix(name)} is required when "
            f"{name.upper()}_API_BASE_URL is set"
            for name in PROVIDER_NAMES
            if self.provider_base_url(name) is not None and self.provider_secret(name) is None
        ]
        if missing:
            raise ValueError("; ".join(missing))
        return self

    # --- Helpers used by the rest of the bot ---------------------------------------------
    def provider_base_url(self, name: str) -> str | None:
        """The provider's base URL as the adapter needs it: the adapter adds each
        request's path, so a base pasted with the start of that path (the Namefi
        contract's `…/v-next`, a boost `…/order`, a digital shop `…/api/v1`) is cut back
        to the host part. `check-config` shows the URL actually used."""
        url = getattr(self, f"{name}_api_base_url")
        if url is None:
            return None
        return strip_route(str(url), self.provider_route(name))

    def provider_route(self, name: str) -> str:
        """The path every request to this provider starts with (before the order id)."""
        if name == "digital_shop":
            return self.digital_shop_order_path.split("{id}", 1)[0]
        return PROVIDER_ROUTES[name]

    def provider_secret(self, name: str) -> SecretStr | None:
        return getattr(self, f"{name}_api_{_secret_suffix(name).lower()}")

    def enabled_providers(self) -> list[str]:
        return [n for n in PROVIDER_NAMES if self.provider_base_url(n) is not None]

    def gateway_url(self) -> str | None:
        """The gateway the bot connects to: DISCORD_GATEWAY_URL, else derived from
        DISCORD_API_BASE_URL (bot.discord_endpoint.discord_endpoints says how)."""
        if self.discord_api_base_url is None:
            return self.discord_gateway_url or None
        from bot.discord_endpoint import discord_endpoints

        return discord_endpoints(str(self.discord_api_base_url), self.discord_gateway_url)[1]

    def secret_values(self) -> list[str]:
        """Every secret's plaintext, for the log redaction filter. Never log this list."""
        secrets: list[str] = []
        for value in self.__dict__.values():
            if isinstance(value, SecretStr):
                raw = value.get_secret_value()
                secrets.append(raw)
                secrets.extend(part.strip() for part in raw.split(",") if part.strip())
        return [s for s in secrets if len(s) >= 4]

    def masked_summary(self) -> dict[str, str]:
        """What `check-config` prints: every setting, secrets masked."""
        out: dict[str, str] = {}
        for name, field_info in type(self).model_fields.items():
            value = getattr(self, name)
            # A field read from another variable is printed under that variable's name.
            alias = field_info.validation_alias
            name = alias.lower() if isinstance(alias, str) else name
            if isinstance(value, SecretStr):
                out[name] = "set (hidden)"
            elif value is None:
                out[name] = "not set"
            else:
                out[name] = str(value)
        for provider in PROVIDER_NAMES:
            used = self.provider_base_url(provider)
            if used is not None and used != str(getattr(self, f"{provider}_api_base_url")):
                out[f"{provider}_api_base_url"] += f" (uses {used})"
        if self.discord_api_base_url is not None and not self.discord_gateway_url:
            out["discord_gateway_url"] = f"derived: {self.gateway_url()}"
        return out


# The start of every request path of each provider (the adapters add it).
PROVIDER_ROUTES = {"boost": "/order", "checkout": "/orders", "namefi": "/v-next/orders"}


def strip_route(url: str, route: str) -> str:
    """https://x/v-next with the route /v-next/orders -> https://x: a base URL pasted
    with the first segments of the route loses them, so they aren't sent twice."""
    import yarl

    parsed = yarl.URL(url.strip())
    path = parsed.path.rstrip("/")
    segments = [s for s in route.split("/") if s]
    for count in range(len(segments), 0, -1):
        suffix = "/" + "/".join(segments[:count])
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    # Only the path is ever cut: a host named `orders` stays a host.
    return str(parsed.with_path(path or "/", encoded=False)).rstrip("/")


def parse_spend_limits(text: str) -> dict[str, int]:
    """`USD 100, INR 5000` -> {"USD": 10000, "INR": 500000} (minor units), exactly."""
    limits: dict[str, int] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        try:
            money = parse_amount(part)
        except AmountError as exc:
            raise ValueError(
                f"{exc} Write each limit with its currency, e.g. USD 100, INR 5000"
            ) from None
        if money.currency in limits:
            raise ValueError(f"{money.currency} has two limits")
        limits[money.currency] = money.minor
    return limits


def _secret_suffix(provider: str) -> str:
    return "TOKEN" if provider == "namefi" else "KEY"


S = TypeVar("S", bound=StorageSettings)


def _build(cls: type[S], overrides: dict[str, Any]) -> S:
    """`cls(**overrides)` or ConfigError: one line per invalid setting, or one line saying
    why the .env file can't be read."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        raise ConfigError("settings", describe_validation_error(exc, env_style=True)) from None
    except (UnicodeDecodeError, OSError) as exc:
        problem = env_file_problem(cls, overrides, exc)
        if problem is None:
            raise
        raise ConfigError("settings", [problem]) from None


def load_settings(**overrides: Any) -> Settings:
    """Build settings or raise ConfigError listing every problem (values never shown)."""
    return _build(Settings, overrides)


class _TokenProbe(StorageSettings):
    discord_token: SecretStr | None = None


def discord_token_configured() -> bool:
    """Whether a token is set at all, checked before the rest so that `python -m bot`
    on a fresh clone explains the demo instead of listing unrelated settings."""
    try:
        token = _TokenProbe().discord_token
    except (ValidationError, UnicodeDecodeError, OSError):
        return True  # something else is wrong; let the full validation report it
    return token is not None and bool(token.get_secret_value().strip())


def check_fernet_keys(value: SecretStr) -> SecretStr:
    keys = [k.strip() for k in value.get_secret_value().split(",") if k.strip()]
    if not keys:
        raise ValueError(f"is empty; {GEN_KEY_HINT}")
    for key in keys:
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            # Never include the value: it is a secret even when malformed.
            raise ValueError(
                f"is not a valid Fernet key (32 url-safe base64 bytes); {GEN_KEY_HINT}"
            ) from None
    return value


class KeySettings(StorageSettings):
    """What `rotate-key` needs: the database and the keys."""

    delivery_encryption_key: SecretStr

    @field_validator("delivery_encryption_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr) -> SecretStr:
        return check_fernet_keys(value)


def load_key_settings(**overrides: Any) -> KeySettings:
    return _build(KeySettings, overrides)


def load_storage_settings(**overrides: Any) -> StorageSettings:
    return _build(StorageSettings, overrides)
