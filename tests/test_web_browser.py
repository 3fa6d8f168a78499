"""The web chat in a real browser: Debian's chromium driven by playwright, at a phone's
viewport, with JavaScript on and off, an accessibility check with axe-core
(tests/assets/axe.min.js), and the answer in the export next to a Telegram answer.

Without /usr/bin/chromium these tests skip with the reason; under CI=true they fail instead
(.ci/run installs chromium)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from bot.app.web_command import web_app_for
from bot.domain.clock import system_clock
from bot.ops.export import full_export
from tests.harness import ROOT, Harness
from tests.web_client import served

pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]

CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "tests" / "assets" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "screenshots" / "web"
PHONE = {"width": 360, "height": 740}


def browser_missing() -> None:
    reason = f"no browser: {CHROMIUM} is missing (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        browser_missing()
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        browser_missing()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def site(harness: Harness) -> AsyncIterator[TestServer]:
    assert harness.bot.app is not None
    async with served(web_app_for(harness.bot.app)) as server:
        yield server


def address(site: TestServer) -> str:
    """By the name "localhost": browsers keep a Secure cookie from there over plain http."""
    return f"http://localhost:{site.port}/"


class Walk:
    """One person's walk through the dialog, a screenshot after each step."""

    def __init__(self, page: Any, name: str) -> None:
        self.page = page
        self.folder = SCREENSHOTS / name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.shots = 0

    async def shot(self, step: str) -> None:
        self.shots += 1
        await self.page.screenshot(
            path=str(self.folder / f"{self.shots:02d}-{step}.png"), full_page=True
        )

    async def press(self, label: str) -> None:
        await self.page.get_by_role("button", name=label).click()
        await self.page.wait_for_load_state()

    async def now(self) -> str:
        text: str = await self.page.locator("#now").inner_text()
        return text


async def walk_the_dialog(page: Any, base: str, name: str) -> Walk:
    walk = Walk(page, name)
    if page.url != base:
        await page.goto(base)
    await walk.shot("willkommen")
    await walk.press("Mitmachen")
    await page.get_by_text("Themen (bis zu 3)").wait_for()
    await walk.shot("themen")
    await page.get_by_label("Grüne Infrastruktur").check()
    await page.get_by_label("Talentschulen & Bildung").check()
    await page.get_by_role("button", name="Weiter").click()
    await page.get_by_label("Ihre Idee").wait_for()
    await walk.shot("idee")
    await page.get_by_label("Ihre Idee").fill("Trinkbrunnen in allen Parks der Innenstädte.")
    await walk.press("Idee senden")
    await page.get_by_text("Thema der Idee").wait_for()
    await page.get_by_label("Grüne Infrastruktur").check()
    await walk.press("Auswählen")
    await page.get_by_role("button", name="Absenden").wait_for()
    await walk.shot("pruefen")
    await walk.press("Absenden")
    await page.get_by_text("Danke! Ihre Stimme ist gespeichert.").wait_for()
    await walk.shot("danke")
    return walk


async def test_whole_dialog_with_javascript(
    chromium: Any, site: TestServer, harness: Harness
) -> None:
    await harness.citizen(2001).take_part(["Mobilität"])
    context = await chromium.new_context(viewport=PHONE, locale="de-DE")
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    base = address(site)
    await page.goto(base)
    # Set once: a reload (a plain form submit) would lose it; the script updates in place.
    await page.evaluate("window.stayed = true")
    walk = await walk_the_dialog(page, base, "js")
    assert await page.evaluate("window.stayed === true"), "the page was reloaded"
    assert not problems, problems  # no CSP violation, no script error
    assert all(url.startswith(base) for url in requests), requests  # nothing from elsewhere
    # Focus moved to the new message, for keyboard and screen reader users.
    assert await page.evaluate("document.activeElement.id") == "now"
    assert walk.shots == 5

    assert harness.bot.app is not None
    data = await full_export(harness.settings, harness.bot.app.database, system_clock(), [])
    assert data["participants_by_channel"] == {"telegram": 1, "web": 1}
    assert {(v["topic"], v["channel"]) for v in data["votes"]} == {
        ("mobilitaet", "telegram"),
        ("gruen", "web"),
        ("bildung", "web"),
    }
    assert [i["channel"] for i in data["impulses"]] == ["web"]
    await context.close()


async def test_whole_dialog_without_javascript(
    chromium: Any, site: TestServer, harness: Harness
) -> None:
    context = await chromium.new_context(viewport=PHONE, locale="de-DE", java_script_enabled=False)
    page = await context.new_page()
    await walk_the_dialog(page, address(site), "no-js")
    assert harness.bot.app is not None
    data = await full_export(harness.settings, harness.bot.app.database, system_clock(), [])
    assert data["participants_by_channel"] == {"web": 1}
    await context.close()


async def test_keyboard_only(chromium: Any, site: TestServer) -> None:
    """Tab to "Mitmachen", Enter; a checkbox takes Space; the focus is always visible."""
    context = await chromium.new_context(viewport=PHONE, locale="de-DE")
    page = await context.new_page()
    await page.goto(address(site))
    for _ in range(10):
        await page.keyboard.press("Tab")
        name = await page.evaluate("document.activeElement.textContent")
        if name == "Mitmachen":
            break
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), "no visible focus"
    await page.keyboard.press("Enter")
    await page.get_by_text("Themen (bis zu 3)").wait_for()
    await page.get_by_label("Talentschulen & Bildung").focus()
    await page.keyboard.press("Space")
    assert await page.get_by_label("Talentschulen & Bildung").is_checked()
    await context.close()


# German in `make test`; the other languages (the same page, other words) with the slow tests.
@pytest.mark.parametrize(
    "locale",
    ["de", *(pytest.param(code, marks=pytest.mark.slow) for code in ("en", "tr", "de_LS"))],
)
async def test_no_serious_accessibility_violation(
    chromium: Any, site: TestServer, locale: str
) -> None:
    context = await chromium.new_context(viewport=PHONE, locale="de-DE")
    page = await context.new_page()
    base = address(site)
    await page.goto(base)
    await page.locator("#locale").select_option(locale)
    await page.locator("form.languages button").click()
    await page.wait_for_load_state()
    expected = "de" if locale == "de_LS" else locale
    await page.wait_for_function(f"document.documentElement.lang === '{expected}'")
    pages = {"willkommen": None, "themen": "button.primary", "ergebnisse": "results"}
    for step, action in pages.items():
        if action == "button.primary":
            await page.locator("button.primary").first.click()
            await page.locator("fieldset").wait_for()
        elif action == "results":
            await page.goto(base + "ergebnisse")
        violations = await axe(page)
        serious = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert not serious, f"{locale} {step}: {[(v['id'], v['help']) for v in serious]}"
    await context.close()


async def axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations of WCAG 2.x A and AA. Injected through the DevTools protocol, which
    the page's Content-Security-Policy does not govern."""
    await page.evaluate(AXE.read_text())
    result: dict[str, Any] = await page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations
