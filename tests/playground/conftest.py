"""The playground's fixtures: one `orderbot playground` for the package, one Chromium, and a
fresh page per test that fails the test on any error the page's script hit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.playground.browser import (
    RunningPlayground,
    Trap,
    chromium_path,
    screenshot,
    start_playground,
)


@pytest.fixture(scope="package")
def trap() -> Iterator[Trap]:
    trap = Trap()
    yield trap
    trap.close()
    # Everything the journeys did stayed on 127.0.0.1 with the sandboxes: the owner's
    # settings (.env and the shell both point at this trap) were never used.
    assert trap.requests == [], f"the playground used the owner's settings: {trap.requests}"


@pytest.fixture(scope="package")
def playground(tmp_path_factory: pytest.TempPathFactory, trap: Trap) -> Iterator[RunningPlayground]:
    folder: Path = tmp_path_factory.mktemp("owner-shop")
    yield from start_playground(folder, trap)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        pytest.fail("No Chromium for the browser tests: apt-get install chromium (CI installs it)")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=path,
                args=[
                    "--no-sandbox",  # CI runs as root
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-gpu",
                    "--no-first-run",
                ],
            )
        except Exception as exc:
            pytest.fail(f"Chromium ({path}) could not start: {exc}")
        yield browser
        browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.stash[FAILED] = report.failed


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(
    request: pytest.FixtureRequest, browser: Browser, playground: RunningPlayground
) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(playground.url)
    page.wait_for_selector("#channels li")
    yield page
    if request.node.stash.get(FAILED, False):
        # What the page showed when the test failed, for a person to look at.
        screenshot(page, f"failed-{request.node.name}")
    context.close()
    assert not errors, f"the page's script failed: {errors}"
