"""Mistakes an owner makes in one pass, each caught instead of ignored in silence: a
`[[product]]` table or an unknown catalog key, a misspelt setting, and settings and
catalog problems reported together (issue 25, item 5). `check-config` as a real process."""

from __future__ import annotations

from pathlib import Path

from tests.bot.helpers import run_bot
from tests.support import REPO_ROOT

SHIPPED = (REPO_ROOT / "catalog.toml").read_text(encoding="utf-8")
EXTRA_PRODUCT = """
[[product]]
key = "forgotten"
name = "Left out in silence"
"""


def catalog(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")
    return {"CATALOG_PATH": str(path)}


def test_a_singular_product_table_is_refused_with_a_did_you_mean(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**bot_env, **catalog(tmp_path, SHIPPED + EXTRA_PRODUCT)}
    done = run_bot(["check-config"], env, tmp_path)
    assert done.returncode == 2, done.stdout
    assert (
        "  - product: not a catalog table, so it would be ignored (did you mean [[products]]?)"
        in done.stderr.splitlines()
    )
    assert "Traceback" not in done.stderr


def test_an_unknown_top_level_key_is_refused(bot_env: dict[str, str], tmp_path: Path) -> None:
    env = {**bot_env, **catalog(tmp_path, 'currency = "USD"\n' + SHIPPED)}
    done = run_bot(["check-config"], env, tmp_path)
    assert done.returncode == 2
    assert "currency: not a catalog setting, so it would be ignored" in done.stderr


def test_a_misspelt_setting_in_dotenv_is_named_with_the_one_meant(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("PAYMENTMODE=approval\nTOP_UP_INSTRUCTON=x\n", encoding="utf-8")
    done = run_bot(["check-config"], bot_env, tmp_path)
    assert done.returncode == 0, done.stderr  # a warning: the shop still runs as configured
    lines = done.stderr.splitlines()
    assert (
        "WARNING: .env: PAYMENTMODE is not a setting, so nothing reads it "
        "(did you mean PAYMENT_MODE?)"
    ) in lines
    assert any(
        "TOP_UP_INSTRUCTON is not a setting" in line and "TOP_UP_INSTRUCTIONS" in line
        for line in lines
    )
    assert "PAYMENT_MODE                     wallet" in done.stdout  # what it really runs as


def test_a_near_miss_in_the_environment_is_named_and_strangers_are_not(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**bot_env, "PAYMENT_MOD": "approval", "SOME_OTHER_TOOL_SETTING": "1"}
    done = run_bot(["check-config"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("WARNING:")]
    assert warnings == [
        "WARNING: environment: PAYMENT_MOD is not a setting, so nothing reads it "
        "(did you mean PAYMENT_MODE?)"
    ]


def test_settings_and_catalog_problems_come_in_one_pass(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    env = {k: v for k, v in bot_env.items() if k != "GUILD_ID"}
    env.update(catalog(tmp_path, SHIPPED + EXTRA_PRODUCT))
    for command in ("check-config", "run"):
        done = run_bot([command], env, tmp_path)
        assert done.returncode == 2, (command, done.stderr)
        assert "GUILD_ID is missing" in done.stderr
        assert "product: not a catalog table" in done.stderr, (command, done.stderr)
        assert "Traceback" not in done.stderr
