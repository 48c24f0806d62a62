"""The timings object: owner knobs through their own settings, the rest through TIMINGS,
every mistake refused with one line naming it."""

from __future__ import annotations

import pytest

from bot.config import Settings
from core.timings import Timings, parse_timing_overrides
from demo.stack import BOT_SETTING_PREFIXES, settings_from

BASE = {
    "GUILD_ID": "1",
    "STAFF_ROLE_ID": "2",
    "STAFF_CHANNEL_ID": "3",
    "NOTICE_CHANNEL_ID": "4",
    "DELIVERY_ENCRYPTION_KEY": "x7Rk6VbY1xkqM2qGvOQZ2l8o8wD5m3f6n9G0hJ4tLcE=",
}


def test_defaults_are_what_a_shop_runs_with() -> None:
    timings = settings_from(BASE).timings
    assert timings == Timings()
    assert (timings.first_poll_delay, timings.dm_retry_base, timings.shutdown_grace) == (2, 5, 10)


def test_owner_settings_and_timings_both_reach_the_object() -> None:
    env = {
        **BASE,
        "POLL_INTERVAL_SECONDS": "3",
        "RESUBMIT_DELAYS_SECONDS": "1,2",
        "TIMINGS": "staff_log_interval=0.1, first_poll_delay=0.25",
    }
    timings = settings_from(env).timings
    assert timings.poll_interval == 3 and timings.resubmit_delays == (1.0, 2.0)
    assert timings.staff_log_interval == 0.1 and timings.first_poll_delay == 0.25
    assert timings.prune_interval == Timings().prune_interval


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("poll_interval=0.1", "poll_interval is set with POLL_INTERVAL_SECONDS"),
        ("nap_time=1", "'nap_time' is not a timing"),
        ("staff_log_interval", "is not name=seconds"),
        ("staff_log_interval=soon", "must be a number of seconds"),
        ("staff_log_interval=0", "over 0 and at most 86400"),
        ("staff_log_interval=nan", "over 0 and at most 86400"),
        ("staff_log_interval=inf", "over 0 and at most 86400"),
    ],
)
def test_a_bad_timing_is_one_line_naming_it(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says) as raised:
        parse_timing_overrides(text)
    assert "\n" not in str(raised.value)
    # The list of what may be set leaves out the owner's own knobs.
    if "is not a timing" in says:
        assert "poll_interval" not in str(raised.value).replace("poll_interval=", "")


def test_every_setting_is_cleared_from_the_stacks_inherited_environment() -> None:
    """The stack strips the runner's own settings before starting a bot; a setting it
    doesn't know would leak a developer's shell into every test."""
    for name, field in Settings.model_fields.items():
        variable = field.validation_alias if isinstance(field.validation_alias, str) else name
        assert variable.upper().startswith(BOT_SETTING_PREFIXES), variable.upper()


def test_an_empty_variable_means_unset_in_process_as_in_a_process() -> None:
    settings = settings_from({**BASE, "BUYER_ROLE_ID": "", "DEFAULT_PHONE_REGION": ""})
    assert settings.buyer_role_id is None and settings.default_phone_region == "IN"
