"""End to end: `streamlit run` on 127.0.0.1, every page opened in headless Chromium, a screenshot per page.

Needs Debian's chromium and chromium-driver (`make test` installs them). Without them the test is
skipped on a workstation and fails under CI=true, so CI cannot pass without having run it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from trialsim.dashboard import streamlit_command

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
START_TIMEOUT = 60  # seconds for streamlit to answer its health check
PAGE_TIMEOUT = 45  # seconds for a page to finish rendering
# url path, title, plotly charts the page draws with the results below
PAGES = [
    ("", "Overview", 0),
    ("power", "Power", 4),
    ("diversity", "Diversity", 4),
    ("explorer", "Trial explorer", 1),
    ("tradeoff", "Trade-off", 1),
    ("design", "Design details", 0),
]


def _require_browser():
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        message = f"{', '.join(missing)} not installed (apt-get install chromium chromium-driver; `make test` does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    pytest.importorskip("selenium", reason="selenium is in the test extras: pip install -e '.[test]'")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(results, grid_results, tmp_path):
    """The dashboard served by `streamlit run` on a free port of 127.0.0.1; always stopped at the end."""
    _require_browser()
    port = _free_port()
    dirs = [results["pfs"], results["binary"], results["dose"], grid_results]
    command = streamlit_command(dirs, "127.0.0.1", port)
    env = {k: v for k, v in os.environ.items() if k != "TRIALSIM_RESULTS"}
    env |= {"STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"}
    log = (tmp_path / "streamlit.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"streamlit exited with {process.returncode}:\n{(tmp_path / 'streamlit.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer within {START_TIMEOUT} s")
            time.sleep(0.25)
        yield url
    finally:
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(process.pid, sig)  # its own session: streamlit and nothing else
                process.wait(timeout=wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        log.close()


@pytest.fixture
def browser(tmp_path):
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1500,2000",
    ):
        options.add_argument(flag)
    service = Service(str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()


STATE = """
return {
  headings: Array.from(document.querySelectorAll("h1")).map(h => h.innerText.trim()),
  running: document.querySelectorAll('[data-testid="stStatusWidgetRunningIcon"], [data-testid="stSpinner"]').length,
  charts: Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'))
    .filter(chart => chart.querySelector(".js-plotly-plot .main-svg")).length,
};
"""


def _wait_rendered(driver, title: str, charts: int) -> None:
    """Wait until the page shows its title, its script has finished and its ``charts`` plotly charts are drawn."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(d):
        state = d.execute_script(STATE)
        return title in state["headings"] and not state["running"] and state["charts"] >= charts

    try:
        WebDriverWait(driver, PAGE_TIMEOUT, poll_frequency=0.25).until(ready)
    except TimeoutException:
        pytest.fail(f"{title!r} did not render {charts} chart(s) in {PAGE_TIMEOUT} s: {driver.execute_script(STATE)}")


def test_every_page_renders_in_chromium(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    shots = tmp_path / "screenshots"
    shots.mkdir()
    for path, title, charts in PAGES:
        browser.get(f"{server}/{path}")
        if path == "explorer":  # draw the trial's patients too: a Kaplan-Meier plot
            _wait_rendered(browser, title, charts)
            # The page's widgets may still be arriving when its charts are drawn (a loaded machine).
            toggle = WebDriverWait(browser, PAGE_TIMEOUT, poll_frequency=0.25).until(
                expected_conditions.element_to_be_clickable(
                    (By.XPATH, '//label[.//p[contains(., "Show this trial\'s patients")]]')
                )
            )
            toggle.click()
            charts += 1
        _wait_rendered(browser, title, charts)
        time.sleep(0.5)  # let plotly finish its transitions before the screenshot
        exceptions = browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
        assert not exceptions, f"{title}: {[e.text for e in exceptions]}"
        errors = [e.text for e in browser.find_elements(By.CSS_SELECTOR, '[data-testid="stAlertContentError"]')]
        assert not errors, f"{title}: {errors}"
        body = browser.find_element(By.TAG_NAME, "body").text
        assert "Traceback" not in body
        assert browser.save_screenshot(str(shots / f"{path or 'overview'}.png"))
    assert sorted(p.name for p in shots.iterdir()) == sorted(f"{p or 'overview'}.png" for p, _, _ in PAGES)
