"""`make demo` is product code: it must walk every journey and exit 0.

One run is the real thing, `python -m demo` in a process of its own with the shipped
catalog (with DEMO_FAST=1: the bot's short test timings; the transcript reads the same).
What the journeys do with another catalog, and the catalog's own error, are the same
`main` run in this process (the bot in the test's event loop, the short timings)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from demo.__main__ import main
from demo.stack import REPO_ROOT


@pytest.mark.subprocess
def test_demo_walks_every_journey(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "demo", "--workdir", str(tmp_path)],
        cwd=REPO_ROOT,
        env={**os.environ, "DEMO_FAST": "1"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for heading in ("Journey 0b", "Journey 1", "Journey 2", "Journey 3", "Journey 3b", "Journey 4"):
        assert heading in result.stdout
    # The online top-up: the link, the pay, the credit DM, then the order.
    online = result.stdout.split("Journey 0b")[1].split("Journey 1")[0]
    for seen in ("[Pay ₹199.00 INR]", "[200]", "Store credit added", "is placed"):
        assert seen in online, (seen, online)
    assert "All journeys worked" in result.stdout
    # The public notice in the transcript carries no delivery data.
    notice = result.stdout.split("[bot → #notices")[1].split("[buyer2]")[0]
    assert "AAAA-BBBB" not in notice
    # It reads as Discord shows it: no raw markup.
    for markup in ("<t:", "<@", "<#", "-# ", "member:1"):
        assert markup not in result.stdout, markup
    assert "@Buyer One" in result.stdout and "expires in 9 minutes" in result.stdout
    assert "(small print) ref " in result.stdout and "Placed • 20" in result.stdout
    # --workdir keeps the database and the log, and the stats chart is there to open.
    assert (tmp_path / "bot.log").exists() and "kept in" in result.stderr
    (chart,) = re.findall(r"the chart is saved at (\S+\.png)", result.stdout)
    assert Path(chart).parent == tmp_path
    assert Path(chart).read_bytes().startswith(b"\x89PNG")


OWN_CATALOG = """\
[[products]]
key = "nitro-pack"
name = "Nitro Pack (3 months)"
provider = "boost"
kind = "boost"
unit_price = 1200
currency = "USD"
min_quantity = 1
max_quantity = 4

[[products]]
key = "vpn-year"
name = "VPN, one year"
provider = "checkout"
kind = "digital"
unit_price = 249900
currency = "INR"
"""


def run_demo(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`python -m demo ARGS`, with the bot in this process: (exit status, stdout, stderr)."""
    status = main(args, in_process=True, fast=True)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.one_python
def test_demo_walks_a_catalog_of_your_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "mine.toml"
    catalog.write_text(OWN_CATALOG, encoding="utf-8")
    status, out, err = run_demo(["--catalog", str(catalog)], capsys)
    assert status == 0, out[-3000:] + err[-3000:]
    assert "Nitro Pack (3 months)" in out and "VPN, one year" in out
    assert "Server Boost" not in out and "streaming-1m" not in out
    # Without --workdir, a run that worked leaves only the chart behind.
    assert "removed at the end" in out
    workdir = re.search(r"log are in (\S+) \(removed at the end", out)
    assert workdir is not None
    # The database and the log went; only the chart the transcript points at is left.
    assert [p.suffix for p in Path(workdir.group(1)).iterdir()] == [".png"]


GULF_AND_TOKYO = """\
[[products]]
key = "boost-bhd"
name = "Server Boost (Manama)"
provider = "boost"
kind = "boost"
unit_price = 1250
currency = "BHD"
min_quantity = 2
max_quantity = 30

[[products]]
key = "boost-jpy"
name = "Server Boost (Tokyo)"
provider = "boost"
kind = "boost"
unit_price = 480
currency = "JPY"
min_quantity = 2
max_quantity = 30
"""


@pytest.mark.one_python
def test_a_shop_in_bhd_and_jpy_prices_each_in_its_own_decimals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "gulf.toml"
    catalog.write_text(GULF_AND_TOKYO, encoding="utf-8")
    status, out, err = run_demo(["--catalog", str(catalog)], capsys)
    assert status == 0, out[-3000:] + err[-3000:]
    # Three decimals for the dinar, none for the yen: in the confirmation, the wallet
    # and the stats, exactly what the minor units say.
    assert "Price: 3 × 1.250 BHD = **3.750 BHD**" in out
    assert "Price: 2 × ¥480 JPY = **¥960 JPY**" in out
    assert "balance now 15.000 BHD" in out and "¥6,000 JPY" in out
    assert "Revenue (completed orders sold here): " in out
    assert not re.search(r"\d\.\d{2} BHD|¥\d+\.\d", out), "a BHD or JPY amount lost its decimals"


DIGITAL_ONLY = """\
[[products]]
key = "vpn-year"
name = "VPN, one year"
provider = "checkout"
kind = "digital"
unit_price = 249900
currency = "INR"
payment = "approval"

[[products]]
key = "ebook"
name = "Cookbook (PDF)"
provider = "checkout"
kind = "digital"
unit_price = 9900
currency = "INR"
"""


@pytest.mark.one_python
def test_a_catalog_without_boosts_and_with_approval_walks_what_it_sells(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No boosts (those journeys are skipped, and say so), a digital product staff must
    approve (the demo approves it), and one paid from store credit (the top-up uses it)."""
    catalog = tmp_path / "digital.toml"
    catalog.write_text(DIGITAL_ONLY, encoding="utf-8")
    status, out, err = run_demo(
        ["--catalog", str(catalog), "--workdir", str(tmp_path / "w")], capsys
    )
    assert status == 0, out[-3000:] + err[-3000:]
    assert "skipped: this catalog sells no boosts" in out
    # INR is paid online: the wallet-paid ebook gets [Top up] at its confirmation.
    assert "/buy product:ebook" in out and "[Pay ₹99.00 INR]" in out
    assert "presses [Approve]" in out and "VPN, one year" in out
    assert "did not ask for contact details" not in out + err


def test_an_invalid_catalog_gets_its_own_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "bad.toml"
    catalog.write_text(OWN_CATALOG.replace("unit_price = 1200", "unit_price = -3"), "utf-8")
    status, _, err = run_demo(["--catalog", str(catalog)], capsys)
    assert status == 2
    assert "product 'nitro-pack': unit_price must be a whole number" in err
    assert "Traceback" not in err and "BotProcessError" not in err


@pytest.mark.one_python
@pytest.mark.parametrize(
    ("language", "said", "money"),
    [
        # Discord in Hindi: the buyers' client sends `hi`.
        ("hi", "अपना ऑर्डर कन्फ़र्म करें", "₹199.00 INR"),
        # Bengali, chosen with /language: Bengali digits.
        ("bn", "আপনার অর্ডার কনফার্ম করুন", "১০.৫০US$ USD"),
    ],
)
def test_the_demo_walks_the_journeys_in_hindi_and_bengali(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], language: str, said: str, money: str
) -> None:
    status, out, err = run_demo(
        ["--workdir", str(tmp_path / "work"), "--language", language], capsys
    )
    assert status == 0, err[-3000:]
    assert "All journeys worked" in out
    assert said in out and money in out
    if language == "bn":
        assert "/language language:bn" in out
