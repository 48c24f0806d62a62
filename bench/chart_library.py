"""(d) The chart library behind /admin stats: Pillow (what we ship) vs matplotlib.

Every measurement runs in a fresh subprocess, so imports are cold and peak RSS belongs
to one library. The baseline is a process that imports what the bot imports at start
(`bot.__main__`, `bot.app` and the cogs) and nothing else, measured in the same run on
the same interpreter as the library it is compared with.

- pillow: the baseline plus `import PIL.Image, PIL.ImageDraw, PIL.ImageFont`, then the
  real `render_chart` on a realistic 30-day `StatsFigures` (first render, then the
  median of RENDERS renders), PNG size, peak RSS.
- matplotlib: the same with matplotlib (Agg backend + pyplot) drawing the equivalent
  stacked bar chart (same data, 900x420 px, legend, optimized PNG). Needs an
  interpreter where matplotlib and the bot's dependencies are installed:
  `--matplotlib-python PATH` or BENCH_MATPLOTLIB_PYTHON=PATH (the repo is put on its
  PYTHONPATH); this interpreter is tried when neither is given. Skipped otherwise.
- installed size: the files (importlib.metadata) of the library and the dependencies it
  brings that the bot doesn't already install. The baseline is the bot's own runtime
  dependencies without Pillow.

One warm-up run of every process (it writes .pyc files and matplotlib's font cache, in
a temporary MPLCONFIGDIR), then ROUNDS alternating rounds; medians are reported.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROUNDS = 3
RENDERS = 20
DAYS = 30
LAST_DAY = "2026-11-22"  # fixed, so every process draws the same chart
REPO = Path(__file__).resolve().parents[1]
MATPLOTLIB_ENV = "BENCH_MATPLOTLIB_PYTHON"


# --- runs inside the child process -------------------------------------------------------


def _proc_status_kb(field: str) -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource  # not Linux: ru_maxrss is the peak either way (KB on Linux)

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _import_bot() -> float:
    """What the bot imports at start: its entry point, the Bot subclass and the cogs."""
    import importlib

    t0 = time.perf_counter()
    importlib.import_module("bot.__main__")
    app = importlib.import_module("bot.app")
    for cog in app.COGS:
        importlib.import_module(cog)
    return time.perf_counter() - t0


def build_figures() -> Any:
    """30 days of a busy small shop: 15-70 orders a day, a weekend bump, the usual mix
    of endings, and the last two days still partly open."""
    from datetime import UTC, datetime, timedelta

    from bot.services.stats import StatsFigures, Timing
    from core.domain import OrderStatus as S

    rng = random.Random(30)
    last = datetime.strptime(LAST_DAY, "%Y-%m-%d").replace(tzinfo=UTC)
    first = last - timedelta(days=DAYS - 1)
    ending = [
        (S.COMPLETED, 0.86),
        (S.PARTIALLY_COMPLETED, 0.03),
        (S.FAILED, 0.04),
        (S.REFUNDED, 0.02),
        (S.CANCELLED, 0.03),
        (S.NEEDS_REVIEW, 0.02),
    ]
    open_ = [(S.SUBMITTED, 0.5), (S.PROCESSING, 0.4), (S.SUBMITTING, 0.1)]
    per_day: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for i in range(DAYS):
        day = first + timedelta(days=i)
        n = rng.randint(15, 55) + (15 if day.weekday() >= 5 else 0)
        still_open = 0.6 if i == DAYS - 1 else 0.15 if i == DAYS - 2 else 0.0
        counts: dict[str, int] = {}
        for _ in range(n):
            mix = open_ if rng.random() < still_open else ending
            status = rng.choices([s for s, _ in mix], weights=[w for _, w in mix])[0]
            counts[status.value] = counts.get(status.value, 0) + 1
            totals[status.value] = totals.get(status.value, 0) + 1
        per_day[day.strftime("%Y-%m-%d")] = counts
    return StatsFigures(
        days=DAYS,
        first_day=first.strftime("%Y-%m-%d"),
        last_day=LAST_DAY,
        per_day=per_day,
        revenue={"USD": 1_234_500, "INR": 8_765_400},
        completion={
            "boost": Timing(42.0, 180.0, 400),
            "digital_shop": Timing(6.0, 95.0, 700),
        },
        dms=1180,
        dm_fallbacks=31,
        totals=totals,
    )


def render_matplotlib(figures: Any) -> bytes:
    """The chart `render_chart` draws, the way one would draw it with matplotlib."""
    import matplotlib.pyplot as plt

    from bot.services.stats import CHART_STATUSES

    days = list(figures.per_day)
    xs = range(len(days))
    fig, ax = plt.subplots(figsize=(9, 4.2), dpi=100)
    bottoms = [0] * len(days)
    for status, colour in CHART_STATUSES:
        values = [figures.per_day[day].get(status.value, 0) for day in days]
        ax.bar(
            xs,
            values,
            width=0.7,
            bottom=bottoms,
            color=tuple(c / 255 for c in colour),
            label=f"{status.label} ({figures.totals.get(status.value, 0)})",
        )
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    label_every = max(1, round(len(days) / 10))
    ax.set_xticks(list(xs)[::label_every], [day[5:] for day in days[::label_every]])
    ax.set_title(
        f"Orders per day by status, {figures.first_day} to {figures.last_day} (UTC)",
        loc="left",
        fontsize=10,
    )
    ax.yaxis.grid(True, color=(0.9, 0.9, 0.9))
    ax.set_axisbelow(True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8)
    fig.subplots_adjust(left=56 / 900, right=1 - 190 / 900, top=1 - 40 / 420, bottom=60 / 420)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=100, pil_kwargs={"optimize": True})
    plt.close(fig)
    return out.getvalue()


def child(mode: str) -> dict[str, Any]:
    bot_s = _import_bot()
    result: dict[str, Any] = {
        "python": sys.executable,
        "bot_import_s": bot_s,
        "chart_libs_loaded_at_start": sorted(
            {m.split(".")[0] for m in sys.modules if m.split(".")[0] in ("PIL", "matplotlib")}
        ),
    }
    if mode == "baseline":
        result["rss_after_import_kb"] = _proc_status_kb("VmRSS")
        result["peak_rss_kb"] = _proc_status_kb("VmHWM")
        return result
    figures = build_figures()
    t0 = time.perf_counter()
    if mode == "pillow":
        import PIL.Image
        import PIL.ImageDraw
        import PIL.ImageFont

        from bot.services.stats_chart import render_chart as render

        result["library_version"] = PIL.Image.__version__
    else:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot

        render = render_matplotlib
        result["library_version"] = matplotlib.__version__
    result["library_import_s"] = time.perf_counter() - t0
    result["rss_after_import_kb"] = _proc_status_kb("VmRSS")
    t0 = time.perf_counter()
    png = render(figures)
    result["first_render_s"] = time.perf_counter() - t0
    times = []
    for _ in range(RENDERS):
        t0 = time.perf_counter()
        png = render(figures)
        times.append(time.perf_counter() - t0)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    result["render_median_s"] = statistics.median(times)
    result["png_bytes"] = len(png)
    result["peak_rss_kb"] = _proc_status_kb("VmHWM")
    return result


def _dist_key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_closure(roots: list[str]) -> dict[str, int]:
    """Installed distributions `roots` need (extras left out) -> bytes of their files."""
    from importlib import metadata

    try:
        from packaging.requirements import Requirement
    except ImportError:  # then requirements with any marker but extras are followed
        Requirement = None  # type: ignore[assignment,misc]
    sizes: dict[str, int] = {}
    todo = list(roots)
    while todo:
        key = _dist_key(todo.pop())
        if key in sizes:
            continue
        try:
            dist = metadata.distribution(key)
        except metadata.PackageNotFoundError:
            continue
        total = 0
        for f in dist.files or []:
            path = Path(str(f.locate()))
            if path.is_file():
                total += path.stat().st_size
        sizes[key] = total
        for req in dist.requires or []:
            if Requirement is not None:
                parsed = Requirement(req)
                if parsed.marker and not parsed.marker.evaluate({"extra": ""}):
                    continue
                todo.append(parsed.name)
            elif "extra ==" not in req:
                todo.append(re.split(r"[\s;<>=!~\[(]", req, maxsplit=1)[0])
    return sizes


# --- runs in the benchmark process ------------------------------------------------------


def _env(mplconfig: str) -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": f"{REPO}{os.pathsep}{path}" if path else str(REPO),
        "MPLCONFIGDIR": mplconfig,
    }


def run_child(python: str, args: list[str], mplconfig: str) -> Any:
    out = subprocess.run(
        [python, "-m", "bench.chart_library", *args],
        cwd=REPO,
        env=_env(mplconfig),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{python} {' '.join(args)} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def matplotlib_skip_reason(python: str, mplconfig: str) -> str | None:
    try:
        probe = subprocess.run(
            [python, "-c", "import matplotlib, bot.app"],
            cwd=REPO,
            env=_env(mplconfig),
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    except OSError:
        return f"matplotlib not installed (no interpreter at {python})"
    if probe.returncode == 0:
        return None
    if "No module named 'matplotlib'" in probe.stderr:
        return "matplotlib not installed"
    last = probe.stderr.strip().splitlines()[-1:] or ["?"]
    return f"bot.app not importable in {python}: {last[0]}"


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            merged[key] = statistics.median(r[key] for r in runs)
    return merged


def installed(python: str, roots: list[str], already: set[str], mplconfig: str) -> dict[str, int]:
    sizes = run_child(python, ["--child", "sizes", *roots], mplconfig)
    return {k: v for k, v in sorted(sizes.items()) if k not in already}


def summarize(
    name: str, base: dict[str, Any], lib: dict[str, Any], sizes: dict[str, int]
) -> dict[str, Any]:
    return {
        "library": name,
        "version": lib["library_version"],
        "python": lib["python"],
        "baseline_bot_import_s": round(base["bot_import_s"], 4),
        "baseline_rss_after_import_mb": round(base["rss_after_import_kb"] / 1024, 1),
        "baseline_peak_rss_mb": round(base["peak_rss_kb"] / 1024, 1),
        "bot_import_s": round(lib["bot_import_s"], 4),
        "library_import_s": round(lib["library_import_s"], 4),
        "import_rss_delta_mb": round(
            (lib["rss_after_import_kb"] - base["rss_after_import_kb"]) / 1024, 1
        ),
        "first_render_s": round(lib["first_render_s"], 4),
        "render_median_s": round(lib["render_median_s"], 4),
        "png_bytes": int(lib["png_bytes"]),
        "peak_rss_mb": round(lib["peak_rss_kb"] / 1024, 1),
        "peak_rss_delta_mb": round((lib["peak_rss_kb"] - base["peak_rss_kb"]) / 1024, 1),
        "installed_mb": round(sum(sizes.values()) / 1e6, 1),
        "installed_dists": {k: round(v / 1e6, 2) for k, v in sizes.items()},
        "chart_libs_loaded_at_start": base["chart_libs_loaded_at_start"],
    }


def ratios(
    base_import: float, base_peak: float, base_installed: float, lib: dict[str, Any]
) -> dict[str, float]:
    return {
        "import_time": round((lib["bot_import_s"] + lib["library_import_s"]) / base_import, 2),
        "peak_rss": round(lib["peak_rss_mb"] / base_peak, 2),
        "installed_size": round((base_installed + lib["installed_mb"]) / base_installed, 2),
    }


def print_table(baseline: dict[str, Any], libs: list[dict[str, Any]]) -> None:
    rows = [
        ("bot start imports (s)", lambda d: f"{d['bot_import_s']:.3f}"),
        ("+ library import (s)", lambda d: f"{d['library_import_s']:.3f}"),
        ("RSS added by import (MB)", lambda d: f"{d['import_rss_delta_mb']:.1f}"),
        ("first render (ms)", lambda d: f"{d['first_render_s'] * 1000:.1f}"),
        (f"render, median of {RENDERS} (ms)", lambda d: f"{d['render_median_s'] * 1000:.1f}"),
        ("PNG (KB)", lambda d: f"{d['png_bytes'] / 1000:.1f}"),
        ("peak RSS (MB)", lambda d: f"{d['peak_rss_mb']:.1f}"),
        ("peak RSS vs baseline (MB)", lambda d: f"+{d['peak_rss_delta_mb']:.1f}"),
        ("installed (MB)", lambda d: f"{d['installed_mb']:.1f}"),
    ]
    base_col = {
        "bot start imports (s)": f"{baseline['bot_import_s']:.3f}",
        "peak RSS (MB)": f"{baseline['peak_rss_mb']:.1f}",
        "installed (MB)": f"{baseline['installed_mb']:.1f}",
    }
    header = ["", "baseline", *(d["library"] for d in libs)]
    table = [header]
    for label, cell in rows:
        table.append([label, base_col.get(label, "-"), *(cell(d) for d in libs)])
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        print(
            "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r))
        )


def run(matplotlib_python: str | None) -> dict[str, Any]:
    pillow_python = sys.executable
    with tempfile.TemporaryDirectory(prefix="bench-mplconfig-") as mplconfig:
        mpl_python = matplotlib_python or sys.executable
        skip = matplotlib_skip_reason(mpl_python, mplconfig)
        plan = [(pillow_python, "baseline"), (pillow_python, "pillow")]
        if skip is None:
            plan += [(mpl_python, "baseline"), (mpl_python, "matplotlib")]
        plan = list(dict.fromkeys(plan))  # one baseline when both run on this interpreter
        warmup = {f"{p}:{m}": run_child(p, ["--child", m], mplconfig) for p, m in plan}
        runs: dict[tuple[str, str], list[dict[str, Any]]] = {key: [] for key in plan}
        for _ in range(ROUNDS):
            for python, mode in plan:
                runs[(python, mode)].append(run_child(python, ["--child", mode], mplconfig))
        med = {key: median_of(value) for key, value in runs.items()}

        bot_deps = run_child(pillow_python, ["--child", "sizes", "orderbot"], mplconfig)
        bot_deps = {k: v for k, v in bot_deps.items() if k not in ("orderbot", "pillow")}
        already = set(bot_deps)
        baseline = {
            "python": pillow_python,
            "bot_import_s": round(med[(pillow_python, "baseline")]["bot_import_s"], 4),
            "peak_rss_mb": round(med[(pillow_python, "baseline")]["peak_rss_kb"] / 1024, 1),
            "installed_mb": round(sum(bot_deps.values()) / 1e6, 1),
            "chart_libs_loaded_at_start": med[(pillow_python, "baseline")][
                "chart_libs_loaded_at_start"
            ],
        }
        libs = [
            summarize(
                "pillow",
                med[(pillow_python, "baseline")],
                med[(pillow_python, "pillow")],
                installed(pillow_python, ["pillow"], already, mplconfig),
            )
        ]
        if skip is None:
            libs.append(
                summarize(
                    "matplotlib",
                    med[(mpl_python, "baseline")],
                    med[(mpl_python, "matplotlib")],
                    installed(mpl_python, ["matplotlib"], already, mplconfig),
                )
            )
            first_ever = warmup[f"{mpl_python}:matplotlib"]
            libs[-1]["first_ever_import_s_fresh_font_cache"] = round(
                first_ever["library_import_s"], 3
            )

    result: dict[str, Any] = {
        "rounds": ROUNDS,
        "renders": RENDERS,
        "days": DAYS,
        "baseline": baseline,
        "pillow": libs[0],
        "matplotlib": libs[1] if len(libs) > 1 else f"skipped: {skip}",
    }
    base_import = baseline["bot_import_s"]
    print_table(baseline, libs)
    pil = libs[0]
    result["ratios"] = {
        "pillow_vs_baseline": ratios(
            base_import, baseline["peak_rss_mb"], baseline["installed_mb"], pil
        )
    }
    if len(libs) > 1:
        mpl = libs[1]
        mpl_base_import = mpl["baseline_bot_import_s"]
        result["ratios"]["matplotlib_vs_baseline"] = ratios(
            mpl_base_import, mpl["baseline_peak_rss_mb"], baseline["installed_mb"], mpl
        )
        result["ratios"]["matplotlib_vs_pillow"] = {
            "library_import_time": round(mpl["library_import_s"] / pil["library_import_s"], 1),
            "render_time": round(mpl["render_median_s"] / pil["render_median_s"], 1),
            "first_render_time": round(mpl["first_render_s"] / pil["first_render_s"], 1),
            "peak_rss_delta": round(
                mpl["peak_rss_delta_mb"] / max(pil["peak_rss_delta_mb"], 0.1), 1
            ),
            "installed_size": round(mpl["installed_mb"] / pil["installed_mb"], 1),
            "png_size": round(mpl["png_bytes"] / pil["png_bytes"], 2),
        }
    else:
        print(f"matplotlib: skipped: {skip}")
    for name, values in result["ratios"].items():
        print(f"{name}: " + ", ".join(f"{k} {v}x" for k, v in values.items()))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.chart_library")
    parser.add_argument(
        "--matplotlib-python",
        default=os.environ.get(MATPLOTLIB_ENV) or None,
        help=f"interpreter with matplotlib and the bot's dependencies (or ${MATPLOTLIB_ENV})",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("roots", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args([] if argv is None else argv)
    if args.child == "sizes":
        print(json.dumps(dependency_closure(args.roots)))
        return
    if args.child:
        print(json.dumps(child(args.child)))
        return
    # Here, not at the top: the child processes import this module, and bench.common's
    # asyncio would then be loaded before the bot's imports are timed.
    from bench.common import write_result

    t0 = time.perf_counter()
    result = run(args.matplotlib_python)
    result["bench_seconds"] = round(time.perf_counter() - t0, 1)
    write_result("chart_library", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
