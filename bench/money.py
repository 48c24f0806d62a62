"""(e) Money through Babel (issue 25) against the hand-written table it replaced.

- format: `Money.format()` (Babel: CLDR decimals, symbol, grouping) vs the former
  six-currency formatter, kept here as the baseline, over the same amounts in USD, INR,
  JPY and BDT (currencies both know), after a warm-up; medians of ROUNDS alternating
  rounds of CALLS calls each, in this process.
- parse: `parse_amount` of what format printed, the same way. The baseline is the former
  parser's cost, measured on the same texts with the former table.
- start: in fresh processes, the import time of `bot.app` (everything the bot imports at
  start, Babel included) and of Babel's part of it (`-X importtime`), plus the first
  format, which loads the English locale data.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from core.money import Money, parse_amount

CALLS = 20_000
ROUNDS = 5
RESULTS = Path(__file__).with_name("results") / "money.json"

# The table and formatter core/domain.py had before issue 25: the baseline.
_OLD: dict[str, tuple[int, str]] = {
    "USD": (2, "$"),
    "EUR": (2, "€"),
    "GBP": (2, "£"),
    "INR": (2, "₹"),
    "BDT": (2, "৳"),
    "JPY": (0, "¥"),
}
_OLD_AMOUNT = re.compile(r"^(?P<whole>\d{1,12})(?:\.(?P<frac>\d{1,4}))?$")


def old_format(minor: int, currency: str) -> str:
    exponent, symbol = _OLD.get(currency, (2, ""))
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exponent) if exponent else (abs(minor), 0)
    text = f"{whole:,}" + (f".{frac:0{exponent}d}" if exponent else "")
    return f"{sign}{symbol}{text} {currency}"


def old_parse(text: str) -> tuple[int, str]:
    body, code = text, None
    for iso, (_, symbol) in _OLD.items():
        for marker in (iso, symbol):
            if body.upper().endswith(marker.upper()):
                body, code = body[: -len(marker)].strip(), iso
            if body.upper().startswith(marker.upper()):
                body, code = body[len(marker) :].strip(), iso
    assert code is not None
    match = _OLD_AMOUNT.match(body)
    assert match is not None
    exponent = _OLD[code][0]
    frac = match["frac"] or ""
    return int(match["whole"]) * 10**exponent + int(frac.ljust(exponent, "0") or "0"), code


def amounts() -> list[tuple[int, str]]:
    currencies = ("USD", "INR", "JPY", "BDT")
    return [(1 + (i * 7919) % 10**9, currencies[i % 4]) for i in range(CALLS)]


def timed(fn: object, items: list[object]) -> float:
    start = time.perf_counter()
    for item in items:
        fn(*item) if isinstance(item, tuple) else fn(item)  # type: ignore[operator]
    return time.perf_counter() - start


def per_call(seconds: list[float]) -> float:
    return statistics.median(seconds) / CALLS * 1e6  # µs


def start_figures() -> dict[str, float]:
    code = (
        "import time; t=time.perf_counter(); import bot.app; t1=time.perf_counter(); "
        "from core.money import Money; Money(1250, 'BHD').format(); "
        "print(t1 - t, time.perf_counter() - t1)"
    )
    imports, first = [], []
    babel = []
    for _ in range(ROUNDS):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code],
            capture_output=True,
            text=True,
            check=True,
        )
        a, b = (float(x) for x in out.stdout.split())
        imports.append(a)
        first.append(b)
        cumulative = [
            int(line.split("|")[1])
            for line in out.stderr.splitlines()
            if line.count("|") == 2 and line.split("|")[2].strip() in ("babel", "babel.numbers")
        ]
        babel.append(sum(cumulative) / 1e6)
    return {
        "bot_import_s": statistics.median(imports),
        "babel_import_s": statistics.median(babel),
        "first_format_s": statistics.median(first),
    }


def main() -> None:
    items = amounts()
    texts = [Money(m, c).format().replace(",", "") for m, c in items]
    old_texts = [old_format(m, c).replace(",", "") for m, c in items]
    assert [old_parse(t) for t in old_texts[:100]] == items[:100]
    for _ in range(2):  # warm-up: caches, locale data
        timed(lambda m, c: Money(m, c).format(), items[:2000])  # type: ignore[arg-type]
    fmt_new, fmt_old, parse_new, parse_old = [], [], [], []
    for _ in range(ROUNDS):
        fmt_old.append(timed(old_format, items))  # type: ignore[arg-type]
        fmt_new.append(timed(lambda m, c: Money(m, c).format(), items))  # type: ignore[arg-type]
        parse_old.append(timed(old_parse, old_texts))  # type: ignore[arg-type]
        parse_new.append(timed(parse_amount, texts))  # type: ignore[arg-type]
    start = start_figures()
    result = {
        "format_old_us": per_call(fmt_old),
        "format_babel_us": per_call(fmt_new),
        "format_ratio": statistics.median(fmt_new) / statistics.median(fmt_old),
        "parse_old_us": per_call(parse_old),
        "parse_babel_us": per_call(parse_new),
        "parse_ratio": statistics.median(parse_new) / statistics.median(parse_old),
        **start,
        "babel_share_of_bot_import": start["babel_import_s"] / start["bot_import_s"],
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        f"format: {result['format_babel_us']:.1f} µs vs {result['format_old_us']:.1f} µs "
        f"({result['format_ratio']:.1f}×); parse: {result['parse_babel_us']:.1f} µs vs "
        f"{result['parse_old_us']:.1f} µs ({result['parse_ratio']:.1f}×); bot import "
        f"{start['bot_import_s'] * 1000:.0f} ms, Babel's part {start['babel_import_s'] * 1000:.0f} "
        f"ms ({result['babel_share_of_bot_import']:.0%}); first format "
        f"{start['first_format_s'] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
