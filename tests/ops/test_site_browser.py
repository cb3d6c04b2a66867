"""End to end: the generated site in a real headless Chromium (Debian's chromium + chromium-driver).

No browser is downloaded: Selenium is pointed at /usr/bin/chromedriver, so Selenium Manager
never runs. A missing browser is a failure, not a skip: CI installs it (.ci/run).
Screenshots are kept under the test's tmp dir, and copied to artifacts/ at the repository
root when GITREG_TEST_ARTIFACTS is set.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from ops.test_site import demo_registry

CHROMIUM = Path(os.environ.get("GITREG_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("GITREG_TEST_CHROMEDRIVER", "/usr/bin/chromedriver"))
# Read at import: the hermetic test environment drops GITREG_* variables before each test.
KEEP_ARTIFACTS = bool(os.environ.get("GITREG_TEST_ARTIFACTS"))
ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "artifacts"
INSTALL = "install it with `apt-get install -y chromium chromium-driver` and `pip install selenium`"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not exe.is_file():
            pytest.fail(f"{exe} not found: the browser test needs Debian's chromium; {INSTALL}")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail(f"selenium is not installed; {INSTALL}")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-extensions", "--no-first-run", "--no-default-browser-check",
                "--hide-scrollbars", "--force-device-scale-factor=1",
                f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER),
                      service_args=[f"--log-path={tmp_path / 'chromedriver.log'}"])
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.set_window_size(1280, 900)
        yield driver
    finally:
        driver.quit()


def screenshot(driver: Any, path: Path) -> Path:
    """A full-page screenshot: grow the window to the page's height first."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    chrome = driver.execute_script("return window.outerHeight - window.innerHeight")
    driver.set_window_size(1280, min(int(height) + int(chrome), 6000))
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if KEEP_ARTIFACTS:
        ARTIFACTS_DIR.mkdir(exist_ok=True)
        shutil.copy2(path, ARTIFACTS_DIR / path.name)
    return path


def severe_console_errors(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_dashboard_renders_in_chromium_and_links_to_the_model_page(
        browser: Any, tmp_path_factory: pytest.TempPathFactory, _template: Path, session_home: Path,
        tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    demo = demo_registry(tmp_path_factory, _template, session_home)
    index = demo["site"] / "index.html"
    browser.get(index.as_uri())

    # the stylesheet loaded through its relative link (the header is dark only if it did)
    header = browser.find_element(By.CSS_SELECTOR, "header.top")
    assert header.value_of_css_property("background-color") == "rgba(36, 41, 47, 1)"
    # the model table: a row per model, the production and staging holders shown
    rows = browser.find_elements(By.CSS_SELECTOR, "table#models tbody tr")
    assert [r.get_attribute("data-model") for r in rows] == ["churn", "fraud-detector"]
    churn = rows[0]
    assert churn.is_displayed() and churn.size["height"] > 20
    prod = churn.find_element(By.CSS_SELECTOR, 'td[data-stage="production"]')
    assert prod.text.strip() == "1.0.0"
    spark = churn.find_element(By.CSS_SELECTOR, "svg.spark")
    assert spark.size["width"] > 50 and spark.size["height"] > 10
    screenshot(browser, tmp_path / "dashboard.png")

    # follow the link to the model page
    churn.find_element(By.LINK_TEXT, "churn").click()
    assert browser.current_url == (demo["site"] / "models" / "churn" / "index.html").as_uri()
    assert browser.find_element(By.TAG_NAME, "h1").text == "churn"
    charts = browser.find_elements(By.CSS_SELECTOR, "#charts svg.chart")
    assert [c.get_attribute("data-metric") for c in charts][:2] == ["accuracy", "f1"]
    for chart in charts:
        assert chart.is_displayed()
        assert chart.size["width"] > 200 and chart.size["height"] > 100, chart.size
    # the points render with real geometry, and production/staging are marked
    accuracy = charts[0]
    points = accuracy.find_elements(By.CSS_SELECTOR, "circle.point")
    assert len(points) == 3 and all(p.size["width"] > 4 for p in points)
    ys = {p.get_attribute("data-version"): p.rect["y"] for p in points}
    assert ys["2.0.0"] < ys["1.1.0"] < ys["1.0.0"]  # higher accuracy is drawn higher
    marks = accuracy.find_elements(By.CSS_SELECTOR, "line.stage-mark")
    assert sorted(m.get_attribute("data-stage") for m in marks) == ["production", "staging"]
    timeline = browser.find_elements(By.CSS_SELECTOR, "ol.timeline li")
    assert len(timeline) == len(demo["reg"].history("churn")["events"])
    screenshot(browser, tmp_path / "model-page.png")

    # and on to a version page
    browser.find_element(By.CSS_SELECTOR, 'tr[data-version="1.0.0"] a').click()
    assert browser.current_url.endswith("/models/churn/1.0.0.html")
    assert "version: 1.0.0" in browser.find_element(By.CSS_SELECTOR, "pre.manifest").text
    assert severe_console_errors(browser) == []  # nothing failed to load, on any page
