"""`python -m bench [name ...]`: run the named benchmarks (default: all)."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = (
    "adapter_get_order",
    "confirm_latency",
    "poll_cycle",
    "poll_schedule",
    "bot_memory",
    "chart_library",
    "backup",
    "money",
    "languages",
    "migrate_data",
    "worker_polls",
    "worker_dm_latency",
)


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    for name in names:
        if name not in BENCHMARKS:
            print(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
            return 2
        print(f"== {name}", flush=True)
        importlib.import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
