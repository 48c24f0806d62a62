"""Issue 14, part 2: personal data stays private at any log level. The real bot runs at
LOG_LEVEL=DEBUG through a whole journey with recognisable contact details and
credentials: none of them reaches the log, the staff or notices channels, or any
plaintext column of the database."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from demo.stack import LocalStack
from sandbox.common import Fault
from tests.e2e.helpers import button, embed_text
from tests.e2e.journeys import link, open_buy_form, press, submit_modal

PHONE = "+919812345678"
NAME = "Zanzibar Quuxley"
EMAIL = "zq.private@example.org"
TYPED_CREDENTIAL = "pass: TYPED-SECRET-5150"
PROVIDER_CREDENTIAL = "login: PROVIDER-SECRET-7242"
PRIVATE = (PHONE, "9812345678", NAME, EMAIL, TYPED_CREDENTIAL, PROVIDER_CREDENTIAL)


# The DEBUG log of a real process, every library's included, is what is scanned.
pytestmark = pytest.mark.stack(process=True, env={"LOG_LEVEL": "DEBUG"})


def plaintext_columns(database: Path) -> str:
    """Every value of every column that isn't ciphertext (`*_enc`), as one string."""
    values: list[str] = []
    with sqlite3.connect(database) as raw:
        tables = [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [r[1] for r in raw.execute(f"PRAGMA table_info({table})")]
            readable = [c for c in columns if not c.endswith("_enc")]
            for row in raw.execute(f"SELECT {', '.join(readable)} FROM {table}"):  # noqa: S608
                values.extend(str(v) for v in row)
    return "\n".join(values)


async def test_debug_logging_keeps_contacts_and_credentials_private(stack: LocalStack) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    # A checkout order with contact details, refused once with the provider echoing them.
    echo = f'{{"code": 422, "message": "bad {PHONE} {EMAIL}", "errors": [{{"field": "contact.phone_number", "message": "{PHONE} for {NAME}"}}]}}'
    stack.sandbox.state("checkout").add_fault(Fault("raw", status=422, body=echo, method="POST"))
    for attempt in range(2):
        form = await open_buy_form(stack, buyer, "streaming-1m", 1)
        submitted = await emu.submit_modal(
            buyer,
            form.modal["custom_id"],
            {"contact:phone": PHONE, "contact:name": NAME, "contact:email": EMAIL},
            source_interaction=form,
        )
        await submitted.wait_for_response()
        confirmation = await submitted.wait_for_followup(timeout=10)
        pressed = await press(stack, buyer, confirmation, button(confirmation, "order:confirm:"))
        result = await pressed.wait_for_original(lambda m: not m.get("components"), timeout=15)
        if attempt == 0:
            assert "could not be placed" in embed_text(result)
    placed = embed_text(result)
    order_id = placed.split("`")[1]
    # Staff deliver credentials by hand; a tracked order delivers the provider's.
    opener, _ = await stack.admin("order deliver", {"order_id": order_id})
    done = await submit_modal(stack, opener, {"deliver:text": TYPED_CREDENTIAL})
    await done.wait_for_followup(timeout=15)
    remote = stack.sandbox.state("digital_shop").create_order(
        deliveryData=PROVIDER_CREDENTIAL, timeline=[{"after": 0, "status": "COMPLETED"}]
    )
    tracked = await link(stack, "digital_shop", remote, buyer)
    for wanted in (order_id, tracked):

        def names(message: dict[str, Any], wanted: str = wanted) -> bool:
            return wanted in embed_text(message)

        await emu.wait_for_dm(buyer, timeout=20, predicate=names)
    # The buyer got their credentials; nobody else did, and nothing kept them in clear.
    dms = "\n".join(m["content"] or "" for m in emu.dms(buyer))
    assert TYPED_CREDENTIAL in dms and PROVIDER_CREDENTIAL in dms
    log = stack.bot_log()
    assert "DEBUG" in log  # it really ran at DEBUG
    public = "\n".join(
        embed_text(m)
        for channel in (emu.world.staff_channel_id, emu.world.notice_channel_id)
        for m in emu.channel_messages(channel)
    )
    database = plaintext_columns(stack.database_path)
    tokens = [i.token for i in emu.interactions.values()]
    for where, text in (
        ("the log", log),
        ("a staff/notices channel", public),
        ("the database", database),
    ):
        for secret in PRIVATE:
            assert secret not in text, f"{secret!r} found in {where}"
    for token in tokens:
        assert token not in log, "an interaction token reached the log"
