"""Named points where a test can make the bot die on the spot, to prove that a crash
there loses nothing and doubles nothing.

Armed only by the environment variable ORDERBOT_TEST_CRASH_AT (a comma-separated list of
point names), which exists for the test suite: it is not a setting and the README does
not mention it. An armed point ends the process with `os._exit(CRASH_EXIT)` — no
cleanup, no flush of anything but the log line — as a power cut or kill -9 would.

Adding a point is one line where it belongs: `crash_point("area.moment")`. The points:

- `confirm.claimed`   the draft -> submitting claim is committed, nothing sent yet
- `create.sent`       a create request reached the provider; its answer is not read
- `create.answered`   the provider's answer is read; nothing of it is written
- `poll.read`         a poll found a status change; it is not written
- `payment.posted`    a debit or refund is written inside its status change's
                      transaction, not committed
- `dm.claimed`        a DM's outbox row is claimed; the DM is not sent
- `dm.sent`           the DM went out; that it did is not recorded
- `topup.event_stored` a verified webhook event is stored (and will be answered 2xx);
                      its credit is not written
- `topup.credited`    a top-up's credit (ledger row, state, DM owed) is written inside
                      its transaction, not committed
"""

from __future__ import annotations

import logging
import os
import sys

ENV = "ORDERBOT_TEST_CRASH_AT"
CRASH_EXIT = 70

log = logging.getLogger(__name__)

_ARMED = frozenset(p.strip() for p in os.environ.get(ENV, "").split(",") if p.strip())


def crash_point(name: str) -> None:
    if name in _ARMED:
        log.critical("crash point %s reached: exiting now (%s)", name, ENV)
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stderr.flush()
        os._exit(CRASH_EXIT)
