"""`fanout serve` in a real headless browser (Debian's chromium, driven by selenium through chromedriver): the page
loads, the app's form is drawn, ctrl+r typed into the page starts a run against the loopback server, and its
streamed text reaches the browser. What the browser received is read by wrapping the page's WebSocket before the
page's own script runs: the terminal draws on a canvas, so its text is not in the DOM."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="chromium and chromium-driver are not installed")]

RECORD = """
window.__seen = "";
const Native = window.WebSocket;
window.WebSocket = function (...args) {
  const ws = new Native(...args);
  const decoder = new TextDecoder("utf-8");
  ws.addEventListener("message", (e) => {
    if (typeof e.data !== "string") window.__seen += decoder.decode(new Uint8Array(e.data), {stream: true});
  });
  return ws;
};
window.WebSocket.prototype = Native.prototype;
"""
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fanout_home(tmp_path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def served(loopback_thread, fanout_home):
    port = free_port()
    env = {**os.environ, "FANOUT_HOME": str(fanout_home)}
    # research by name: the app's default recipe plans first, which the loopback server's answers are not
    proc = subprocess.Popen([sys.executable, "-m", "fanout", "serve", "research", "--port", str(port), "--base-url",
                             f"{loopback_thread.base_url}/v1", "--model", "m"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"fanout serve did not listen: {proc.stderr.read()}")
    yield f"http://127.0.0.1:{port}", proc
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD})
    yield driver
    driver.quit()


def seen(driver) -> str:
    return ANSI.sub("", driver.execute_script("return window.__seen"))


def wait(predicate, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def test_the_app_in_a_browser_runs_and_streams(served, browser, loopback_thread, fanout_home, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, _ = served
    loopback_thread.token_interval, loopback_thread.tokens = 0.01, 20
    browser.get(url)
    assert "fanout" in browser.page_source  # textual-serve's page, titled for the app
    wait(lambda: "research" in seen(browser) and "topic" in seen(browser).lower(), "the form")
    requests_before = len(loopback_thread.requests)
    typing = browser.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea")
    ActionChains(browser).click(typing).key_down(Keys.CONTROL).send_keys("r").key_up(Keys.CONTROL).perform()
    wait(lambda: len(loopback_thread.requests) >= requests_before + 6, "the run's six calls", timeout=90)
    words = re.compile(r"\b(alpha|beta|gamma|delta|epsilon|zeta|theta|kappa|lambda|sigma|omega)-[0-9a-f]{3}\b")
    wait(lambda: words.search(seen(browser)) is not None, "streamed text in the browser")
    wait(lambda: any(fanout_home.glob("sessions/*.jsonl")), "the session")
    browser.save_screenshot(str(tmp_path / "served.png"))
    assert (tmp_path / "served.png").stat().st_size > 10_000  # a drawn page, not a blank one


def test_serving_beyond_this_machine_warns_first(tmp_path):
    from fanout.cli.parser import build_parser
    from fanout.cli.serve import app_command, is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")
    args = build_parser().parse_args(["serve", "research", "--base-url", "http://x/v1", "--set", "topic=a b"])
    command = app_command(args)
    assert command.endswith("tui research --base-url http://x/v1 --set 'topic=a b'")
    env = {**os.environ, "FANOUT_HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "fanout", "serve", "--host", "0.0.0.0", "--port",
                             str(free_port())], env=env, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert "warning: serving on 0.0.0.0" in line and "spend your API credit" in line
    finally:
        proc.terminate()
        proc.wait(timeout=20)
