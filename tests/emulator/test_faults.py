"""The emulator's injected faults fire as often as asked: ``count`` requests, or every one
with ``count=FOREVER`` (-1). A fault that silently never fires makes the test that set it
up pass without testing anything, so a count that could never fire is refused."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest

from emulator import Emulator
from emulator.faults import FOREVER, Fault

from .minibot import TOKEN

AUTH = {"Authorization": f"Bot {TOKEN}"}
MANY = 25


def _messages_path(emu: Emulator) -> str:
    return rf"^/channels/{emu.world.staff_channel_id}/messages$"


INJECTIONS: dict[str, Callable[[Emulator, int], Fault]] = {
    "error": lambda emu, count: emu.inject_error(
        "POST", _messages_path(emu), 403, code=50013, count=count
    ),
    "rate_limit": lambda emu, count: emu.inject_rate_limit(
        "POST", _messages_path(emu), retry_after=0.1, count=count
    ),
    "store_then_fail": lambda emu, count: emu.inject_store_then_fail(
        "POST", _messages_path(emu), 502, count=count
    ),
}


async def _post_statuses(emu: Emulator, times: int) -> list[int]:
    url = f"{emu.api_base}/channels/{emu.world.staff_channel_id}/messages"
    statuses = []
    async with aiohttp.ClientSession() as session:
        for i in range(times):
            async with session.post(url, json={"content": f"m{i}"}, headers=AUTH) as resp:
                statuses.append(resp.status)
    return statuses


@pytest.mark.parametrize("kind", sorted(INJECTIONS))
async def test_a_forever_fault_answers_every_request_until_cleared(
    raw_emu: Emulator, kind: str
) -> None:
    fault = INJECTIONS[kind](raw_emu, FOREVER)

    statuses = await _post_statuses(raw_emu, MANY)

    assert statuses == [fault.status] * MANY
    assert fault.hits == MANY
    assert fault.remaining == FOREVER  # never counted down towards dead
    raw_emu.clear_faults()
    assert await _post_statuses(raw_emu, 1) == [200]


@pytest.mark.parametrize("kind", sorted(INJECTIONS))
async def test_a_counted_fault_answers_exactly_count_requests(raw_emu: Emulator, kind: str) -> None:
    fault = INJECTIONS[kind](raw_emu, 3)

    statuses = await _post_statuses(raw_emu, 5)

    assert statuses == [fault.status] * 3 + [200] * 2
    assert (fault.hits, fault.remaining) == (3, 0)


@pytest.mark.parametrize("kind", sorted(INJECTIONS))
@pytest.mark.parametrize("count", [0, -2])
def test_a_count_that_could_never_fire_is_refused(raw_emu: Emulator, kind: str, count: int) -> None:
    with pytest.raises(ValueError, match="forever"):
        INJECTIONS[kind](raw_emu, count)
    assert raw_emu.faults == []


async def test_the_control_api_takes_forever_too(raw_emu: Emulator) -> None:
    url = f"{raw_emu.base_url}/_emulator/faults/error"
    body = {"method": "POST", "path_regex": _messages_path(raw_emu), "status": 503}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={**body, "count": 0}) as resp:
            assert resp.status == 400
        async with session.post(url, json={**body, "count": FOREVER}) as resp:
            assert resp.status == 200
    assert await _post_statuses(raw_emu, MANY) == [503] * MANY
