"""The web front in a real browser: Debian's chromium, headless, driven by
its chromedriver, loads `conexion-web`, types a name into the TUI's start
screen and chats with a JSON user; and the visitor limit turns a browser
away with a page that says why. CI installs chromium from Debian
(`.ci/run`); a machine without it skips the browser test."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from conexion_web.server import ChatAddress, ChatWeb
from tests.tui.conftest import has_line, joined, make_app, send_line, wait_for

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
WAIT = 40.0  # seconds: a client process starts, draws, connects
# Where the test leaves the page as it looked (CI keeps the folder).
ARTIFACTS = Path(os.environ.get("CONEXION_ARTIFACTS", "test-artifacts"))
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-B]")

# Kept by the page: everything the web front's socket sends, as text, so
# the test reads what the terminal is given to draw (xterm.js draws on a
# canvas, which no DOM query can read).
RECORDER = """
window.__screen = [];
const Native = window.WebSocket;
window.WebSocket = function (url, protocols) {
  const socket = protocols ? new Native(url, protocols) : new Native(url);
  socket.addEventListener("message", async (event) => {
    const data = event.data;
    const text = typeof data === "string" ? data
      : new TextDecoder().decode(data instanceof Blob ? await data.arrayBuffer() : data);
    window.__screen.push(text);
  });
  return socket;
};
window.WebSocket.prototype = Native.prototype;
Object.assign(window.WebSocket, Native);
"""


@pytest.fixture
async def web(make_server) -> ChatWeb:
    chat = await make_server()
    front = ChatWeb(ChatAddress("127.0.0.1", chat.port), host="127.0.0.1", port=0, max_visitors=1)
    front.chat = chat  # type: ignore[attr-defined]
    await front.start()
    yield front
    await front.stop()


@pytest.fixture
def browser() -> Iterator[object]:
    if CHROMIUM is None or DRIVER is None:
        pytest.skip(
            "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1000,700"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORDER})
    try:
        yield driver
    finally:
        driver.quit()


async def screen_shows(driver, text: str, timeout: float = WAIT) -> None:
    """Wait until the terminal has been given `text` to draw."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                raw = await asyncio.to_thread(
                    driver.execute_script, "return window.__screen.join('')"
                )
                if text in ANSI.sub("", raw or ""):
                    return
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"the browser was never given {text!r}") from None


async def type_keys(driver, text: str) -> None:
    """Type into the terminal (its hidden text area, focused by a click)."""

    def send() -> None:
        from selenium.webdriver.common.by import By

        driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys(text)

    await asyncio.to_thread(send)


@pytest.mark.timeout(120)
async def test_a_browser_user_and_a_tui_user_chat(web: ChatWeb, browser) -> None:
    app = make_app(web.chat.port, "ana")  # type: ignore[attr-defined]
    async with app.run_test(size=(100, 30)) as pilot:
        await joined(pilot)
        await asyncio.to_thread(browser.get, web.public_url)
        await screen_shows(browser, "Your name")
        await type_keys(browser, "webby")
        await screen_shows(browser, "webby")  # in the name field, before Enter sends it
        await type_keys(browser, "\n")
        await screen_shows(browser, "f1 Help")  # the chat screen's footer
        await wait_for(pilot, lambda: has_line(app, "webby"), timeout=WAIT, what="webby's join")
        await type_keys(browser, "hello from a browser")
        await screen_shows(browser, "hello from a browser")
        await type_keys(browser, "\n")
        await wait_for(pilot, lambda: has_line(app, "webby: hello from a browser"), timeout=WAIT)
        await send_line(pilot, "hi webby, from the terminal")
        await screen_shows(browser, "hi webby, from the terminal")
        await asyncio.to_thread(ARTIFACTS.mkdir, exist_ok=True)
        await asyncio.to_thread(browser.save_screenshot, str(ARTIFACTS / "web-chat.png"))
        # The browser holds the only seat: a second visitor is turned away.
        assert web.visitors.full
        async with aiohttp.ClientSession() as http, http.get(web.public_url) as page:
            assert page.status == 503


async def test_a_full_web_front_says_so(web: ChatWeb) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(web.public_url) as page:
            assert page.status == 200
            policy = page.headers["Content-Security-Policy"]
            assert "default-src 'self'" in policy  # no fonts or scripts from elsewhere
        assert web.visitors.take()  # the only seat, as a visitor's socket holds it
        async with http.get(web.public_url) as page:
            assert page.status == 503
            assert page.headers["Retry-After"] == "60"
            assert "Conexion is full right now" in await page.text()
        async with http.get(web.public_url + "/ws") as refused:
            assert refused.status == 503
        web.visitors.give_back()
        async with http.get(web.public_url) as page:
            assert page.status == 200
