"""(f) Languages (issue 29): what writing in Hindi or Bengali costs against English.

- message: `_()` of a reply with three placeholders, in en (the baseline: the message id
  itself, gettext's NullTranslations) vs hi and bn (a compiled-catalog lookup, then the
  same `.format`); medians of ROUNDS alternating rounds of CALLS calls, in this process.
- money: `Money.format()` of the same amounts (USD, INR, BDT, JPY) in en vs hi and bn
  (bn adds its own digits).
- start: the first `_()` in a fresh process for hi and bn (opening and parsing the .mo).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from core import i18n
from core.i18n import _
from core.money import Money

CALLS = 20_000
ROUNDS = 5
RESULTS = Path(__file__).with_name("results") / "languages.json"
LANGUAGES = ("en", "hi", "bn")
AMOUNTS = [(m, c) for m in (350, 19_900, 15_000_000, 123_456) for c in ("USD", "INR", "BDT", "JPY")]


def timed(work: object) -> float:
    start = time.perf_counter()
    work()  # type: ignore[operator]
    return time.perf_counter() - start


def message_work() -> None:
    for i in range(CALLS):
        _(
            "Order `{order_id}` is placed for {amount}.",
            order_id="ORD-12AB34CD56",
            amount="₹199.00 INR",
        ) if i % 2 else _("Confirm your order")


def money_work() -> None:
    for i in range(CALLS):
        minor, code = AMOUNTS[i % len(AMOUNTS)]
        Money(minor, code).format()


def first_lookup_ms(language: str) -> float:
    code = (
        "import time; from core import i18n; from core.i18n import _;"
        f" i18n.use({language!r}); t = time.perf_counter(); _('Confirm your order');"
        " print((time.perf_counter() - t) * 1000)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return float(out.stdout.strip())


def main() -> None:
    for language in LANGUAGES:  # warm-up: catalogs and locale data loaded
        with i18n.speaking(language):
            message_work()
            money_work()
    message: dict[str, list[float]] = {lang: [] for lang in LANGUAGES}
    money: dict[str, list[float]] = {lang: [] for lang in LANGUAGES}
    for _round in range(ROUNDS):
        for language in LANGUAGES:
            with i18n.speaking(language):
                message[language].append(timed(message_work))
                money[language].append(timed(money_work))
    result: dict[str, float] = {}
    for language in LANGUAGES:
        result[f"message_{language}_us"] = statistics.median(message[language]) / CALLS * 1e6
        result[f"money_{language}_us"] = statistics.median(money[language]) / CALLS * 1e6
    for language in ("hi", "bn"):
        result[f"message_{language}_ratio"] = statistics.median(
            message[language]
        ) / statistics.median(message["en"])
        result[f"money_{language}_ratio"] = statistics.median(money[language]) / statistics.median(
            money["en"]
        )
        result[f"first_lookup_{language}_ms"] = first_lookup_ms(language)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        "message: "
        + ", ".join(f"{lang} {result[f'message_{lang}_us']:.2f} µs" for lang in LANGUAGES)
        + f" (hi {result['message_hi_ratio']:.2f}×, bn {result['message_bn_ratio']:.2f}× en);"
        + " money: "
        + ", ".join(f"{lang} {result[f'money_{lang}_us']:.1f} µs" for lang in LANGUAGES)
        + f" (hi {result['money_hi_ratio']:.2f}×, bn {result['money_bn_ratio']:.2f}× en);"
        + f" first lookup hi {result['first_lookup_hi_ms']:.1f} ms,"
        + f" bn {result['first_lookup_bn_ms']:.1f} ms"
    )


if __name__ == "__main__":
    main()
