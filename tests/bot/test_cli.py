"""`python -m bot` as a user runs it: a real subprocess, real settings, real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.helpers import run_bot
from tests.support import (
    REPO_ROOT,
    TEST_BOOST_KEY,
    TEST_CHECKOUT_KEY,
    TEST_DIGITAL_KEY,
    TEST_DISCORD_TOKEN,
    TEST_NAMEFI_TOKEN,
)

SECRETS = [
    TEST_DISCORD_TOKEN,
    TEST_BOOST_KEY,
    TEST_CHECKOUT_KEY,
    TEST_NAMEFI_TOKEN,
    TEST_DIGITAL_KEY,
]


def assert_no_secrets(output: str, extra: list[str] = ()) -> None:  # type: ignore[assignment]
    for secret in [*SECRETS, *extra]:
        assert secret not in output


def test_check_config_prints_masked_summary(bot_env: dict[str, str], tmp_path: Path) -> None:
    result = run_bot(["check-config"], bot_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout
    assert "server-boost" in result.stdout and "$3.50 USD" in result.stdout
    assert "set (hidden)" in result.stdout
    assert_no_secrets(result.stdout + result.stderr, [bot_env["DELIVERY_ENCRYPTION_KEY"]])


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"GUILD_ID": "not-a-number"}, "GUILD_ID"),
        ({"DELIVERY_ENCRYPTION_KEY": "short-and-wrong-SECRET"}, "python -m bot gen-key"),
        ({"STAFF_CHANNEL_ID": None}, "STAFF_CHANNEL_ID is missing"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"BOOST_API_BASE_URL": "not a url"}, "BOOST_API_BASE_URL"),
    ],
)
def test_bad_env_exits_2_naming_the_field(
    bot_env: dict[str, str], tmp_path: Path, changes: dict[str, str | None], expected: str
) -> None:
    env = dict(bot_env)
    for key, value in changes.items():
        if value is None:
            env.pop(key)
        else:
            env[key] = value
    for command in (["check-config"], ["run"]):
        result = run_bot(command, env, tmp_path)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert expected in result.stderr
        assert "Traceback" not in result.stderr
        assert_no_secrets(result.stdout + result.stderr, ["short-and-wrong-SECRET"])


def test_bad_values_in_dotenv_file_are_reported(bot_env: dict[str, str], tmp_path: Path) -> None:
    env = {k: v for k, v in bot_env.items() if k not in ("GUILD_ID", "STAFF_ROLE_ID")}
    (tmp_path / ".env").write_text("GUILD_ID=abc\nSTAFF_ROLE_ID=-5\n", encoding="utf-8")
    result = run_bot(["check-config"], env, tmp_path)
    assert result.returncode == 2
    assert "GUILD_ID" in result.stderr and "STAFF_ROLE_ID" in result.stderr
    assert "2 problem(s)" in result.stderr


def test_missing_encryption_key_says_how_to_make_one(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(bot_env)
    env.pop("DELIVERY_ENCRYPTION_KEY")
    result = run_bot(["check-config"], env, tmp_path)
    assert result.returncode == 2
    assert "DELIVERY_ENCRYPTION_KEY is missing" in result.stderr
    assert "python -m bot gen-key" in result.stderr


def test_provider_url_without_key_is_refused(bot_env: dict[str, str], tmp_path: Path) -> None:
    env = dict(bot_env)
    env.pop("NAMEFI_API_TOKEN")
    result = run_bot(["check-config"], env, tmp_path)
    assert result.returncode == 2
    assert "NAMEFI_API_TOKEN is required" in result.stderr


@pytest.mark.parametrize(
    ("catalog", "expected"),
    [
        (
            '[[products]]\nkey = "gems"\nname = "Gems"\nprovider = "checkout"\nkind = "digital"\n'
            'unit_price = -5\ncurrency = "INR"\n',
            "product 'gems': unit_price",
        ),
        (
            '[[products]]\nkey = "boosty"\nname = "B"\nprovider = "boost"\nkind = "boost"\n'
            'unit_price = 100\ncurrency = "USD"\nmin_quantity = 9\nmax_quantity = 2\n',
            "product 'boosty'",
        ),
        (
            '[[products]]\nkey = "cheap"\nname = "C"\nprovider = "checkout"\nkind = "digital"\n'
            'unit_price = 100\ncurrency = "USD"\n',
            "checkout products must be priced in INR (the checkout API takes INR only), not USD",
        ),
        (
            '[[products]]\nkey = "listy"\nname = "L"\nprovider = ["checkout"]\nkind = "digital"\n'
            'unit_price = 100\ncurrency = "USD"\n',
            "product 'listy': provider",
        ),
        (
            '[[products]]\nkey = "gulf"\nname = "G"\nprovider = "boost"\nkind = "boost"\n'
            'unit_price = 1250\ncurrency = "BDH"\n',
            "currency BDH is not an ISO 4217 currency in use (did you mean BHD or BDT?)",
        ),
        (
            '[[products]]\nkey = "typo"\nname = "T"\nprovider = "boost"\nkind = "boost"\n'
            'unit_price = 100\ncurrency = "USD"\nmax_quantty = 3\n',
            "product 'typo': max_quantty",
        ),
        ("[[products]\nkey = ", "not valid TOML"),
    ],
)
def test_bad_catalog_exits_2_naming_product_and_field(
    bot_env: dict[str, str], tmp_path: Path, catalog: str, expected: str
) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(catalog, encoding="utf-8")
    env = {**bot_env, "CATALOG_PATH": str(path)}
    result = run_bot(["check-config"], env, tmp_path)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


TWO_CURRENCIES = """\
[[products]]
key = "boost-bhd"
name = "Server Boost (Manama)"
provider = "boost"
kind = "boost"
unit_price = 1250
currency = "BHD"

[[products]]
key = "boost-jpy"
name = "Server Boost (Tokyo)"
provider = "boost"
kind = "boost"
unit_price = 480
currency = "JPY"
"""


def test_a_catalog_in_bhd_and_jpy_passes_with_each_priced_in_its_decimals(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(TWO_CURRENCIES, encoding="utf-8")
    result = run_bot(["check-config"], {**bot_env, "CATALOG_PATH": str(path)}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1.250 BHD" in result.stdout and "¥480 JPY" in result.stdout, result.stdout


def test_a_spend_limit_in_a_currency_nothing_is_priced_in_is_refused(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    """`¥5000` reads as JPY; a shop selling in USD and INR would have no limit at all."""
    env = {**bot_env, "DAILY_SPEND_LIMITS": "¥5000, USD 100"}
    result = run_bot(["check-config"], env, tmp_path)
    assert result.returncode == 2, result.stdout
    assert "DAILY_SPEND_LIMITS sets a limit in JPY, but no product is priced in JPY" in (
        result.stderr
    )
    assert "limit in USD" not in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_creates_and_then_is_a_no_op(bot_env: dict[str, str], tmp_path: Path) -> None:
    first = run_bot(["migrate"], bot_env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Applied migrations [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]" in first.stdout
    assert Path(bot_env["DATABASE_PATH"]).exists()
    second = run_bot(["migrate"], bot_env, tmp_path)
    assert second.returncode == 0
    assert "up to date" in second.stdout


def test_gen_key_prints_a_usable_key(bot_env: dict[str, str], tmp_path: Path) -> None:
    result = run_bot(["gen-key"], bot_env, tmp_path)
    key = result.stdout.strip()
    check = run_bot(["check-config"], {**bot_env, "DELIVERY_ENCRYPTION_KEY": key}, tmp_path)
    assert check.returncode == 0, check.stderr


def test_no_token_explains_demo_and_going_live(bot_env: dict[str, str], tmp_path: Path) -> None:
    env = dict(bot_env)
    env.pop("DISCORD_TOKEN")
    result = run_bot([], env, tmp_path)
    assert result.returncode == 2
    assert "make demo" in result.stderr and "make run" in result.stderr


def test_failing_run_logs_no_secrets(bot_env: dict[str, str], tmp_path: Path) -> None:
    """A real failure with known secrets configured: login to a Discord endpoint that
    refuses connections. The traceback is logged; no secret may be in it."""
    env = {**bot_env, "DISCORD_API_BASE_URL": "http://127.0.0.1:9", "LOG_LEVEL": "DEBUG"}
    result = run_bot(["run"], env, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "the bot stopped: cannot reach Discord" in output
    assert_no_secrets(output, [bot_env["DELIVERY_ENCRYPTION_KEY"]])


def test_redaction_filter_scrubs_messages_and_tracebacks() -> None:
    import logging

    from bot.logging_setup import REDACTED, SecretRedactingFilter

    redactor = SecretRedactingFilter([TEST_BOOST_KEY])
    try:
        raise RuntimeError(f"boom with {TEST_BOOST_KEY}")
    except RuntimeError:
        import sys

        record = logging.LogRecord(
            "t", logging.ERROR, __file__, 1, "key=%s", (TEST_BOOST_KEY,), sys.exc_info()
        )
    assert redactor.filter(record)
    assert TEST_BOOST_KEY not in record.getMessage() and REDACTED in record.getMessage()
    assert record.exc_text is not None and TEST_BOOST_KEY not in record.exc_text


def test_repo_root_has_the_documented_files() -> None:
    for name in ("README.md", ".env.example", "catalog.toml", "Makefile", ".ci/run"):
        assert (REPO_ROOT / name).exists(), name


def test_every_setting_is_documented() -> None:
    from bot.config import Settings
    from core.timings import Timings

    example = (REPO_ROOT / ".env.example").read_text(encoding="utf-8")
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    testing = (REPO_ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        if field.validation_alias == "TIMINGS":
            # Internal waits: not an owner's setting, so not in .env.example; the docs
            # say what it is for and name every timing it takes.
            assert "TIMINGS=" in testing and "TIMINGS" in readme
            for timing in Timings.names():
                assert timing in testing, f"timing {timing} missing from docs/testing.md"
            continue
        assert f"\n{name.upper()}=" in example, f"{name.upper()} missing from .env.example"
        assert name.upper() in readme, f"{name.upper()} missing from README"


FIVE_MISTAKES = """\
[[products]]
key = "Gems!"
name = "Gems"
provider = "checkout"
kind = "digital"
unit_price = 0
currency = "usd"

[[products]]
key = "boosty"
name = "B"
provider = "boost"
kind = "boost"
unit_price = 100
currency = "USD"
min_quantity = 9
max_quantity = 2
max_quantty = 3

[[products]]
key = "boosty"
name = "B2"
provider = "checkout"
kind = "digital"
unit_price = 100
currency = "INR"
"""


def test_every_catalog_mistake_is_reported_in_one_run_in_plain_words(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(FIVE_MISTAKES, encoding="utf-8")
    result = run_bot(["check-config"], {**bot_env, "CATALOG_PATH": str(path)}, tmp_path)
    assert result.returncode == 2
    for expected in (
        "product 'Gems!': key must be 1 to 64 lowercase letters",
        "product 'Gems!': unit_price must be a whole number of minor units above 0",
        "product 'Gems!': currency must be a three-letter code such as USD",
        "product 'boosty': max_quantty is not a field a product can have (did you mean "
        "max_quantity?)",
        "product 'boosty': min_quantity (9) is more than max_quantity (2)",
        "product 'boosty': key: the same key as product #2",
    ):
        assert expected in result.stderr, (expected, result.stderr)
    # No regex, no pydantic wording, no traceback.
    for leaked in ("^[", "String should match", "Input should", "Traceback"):
        assert leaked not in result.stderr


@pytest.mark.parametrize(
    ("products", "expected"),
    [
        (
            [("gold", "Premium"), ("basic", "Gold")],
            "product 'basic': name: the same as the key of product 'gold'",
        ),
        (
            [("a", "Game key"), ("b", "game  KEY")],
            "product 'b': name: the same as the name of product 'a'",
        ),
    ],
)
def test_names_a_buyer_could_confuse_are_refused(
    products: list[tuple[str, str]], expected: str
) -> None:
    from bot.catalog import parse_catalog
    from bot.config import ConfigError

    raw = [
        {
            "key": key,
            "name": name,
            "provider": "checkout",
            "kind": "digital",
            "unit_price": 100,
            "currency": "INR",
        }
        for key, name in products
    ]
    with pytest.raises(ConfigError) as refused:
        parse_catalog({"products": raw})
    assert any(expected in p for p in refused.value.problems), refused.value.problems


def test_a_price_no_order_could_store_is_refused() -> None:
    from bot.catalog import parse_catalog
    from bot.config import ConfigError

    huge = {
        "key": "x",
        "name": "X",
        "provider": "boost",
        "kind": "boost",
        "unit_price": 2**62,
        "currency": "USD",
        "max_quantity": 4,
    }
    with pytest.raises(ConfigError, match="more than any order can cost"):
        parse_catalog({"products": [huge]})
