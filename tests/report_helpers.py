"""Reading a search report: the data it embeds, and the page itself in real headless Chromium (Debian's ``chromium``
and ``chromium-driver``), driven by selenium.

Nothing is downloaded: selenium is given the installed browser and driver, so it never asks Selenium Manager for
either. Chromium starts with the flags that keep it from reaching for the network (which it cannot, here, and would
stall on)."""
from __future__ import annotations

import io
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

CHROMIUM = ("/usr/bin/chromium", "/usr/lib/chromium/chromium")
DRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000")


def _first(paths: tuple[str, ...], name: str) -> str | None:
    found = next((p for p in paths if os.access(p, os.X_OK)), None)
    return found or shutil.which(name)


def missing() -> str | None:
    """Why no browser test can run here (one line), or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    if _first(CHROMIUM, "chromium") is None or _first(DRIVER, "chromedriver") is None:
        return "headless Chromium is not installed (apt-get install chromium chromium-driver; .ci/run does)"
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    """A selenium driver of headless Chromium with an empty profile, its browser console log kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never try the network
    profile = tempfile.mkdtemp(prefix="eeea-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = _first(CHROMIUM, "chromium")
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=_first(DRIVER, "chromedriver")))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_report(driver: Any, path: Path, timeout: float = 60) -> None:
    """Load a report file and wait until its plots are drawn (or it says why they could not be)."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(Path(path).resolve().as_uri())
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script("return !!(window.eeeaReport && "
                                                                    "window.eeeaReport.ready)"))


def console_errors(driver: Any) -> list[str]:
    """The page's console errors and uncaught exceptions so far."""
    logged = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    return logged + list(driver.execute_script("return window.eeeaReport ? window.eeeaReport.errors : []"))


def screenshot_spread(driver: Any) -> float:
    """The standard deviation of the screenshot's grey levels: near 0 for a blank page."""
    import numpy as np
    from PIL import Image

    image = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("L")
    return float(np.asarray(image, dtype=float).std())


def report_data(path: Path) -> dict[str, Any]:
    """The data a report file embeds (what its page draws)."""
    import json
    import re

    text = Path(path).read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text, re.S)
    assert found, f"{path}: no report data"
    data = json.loads(found.group(1))
    data["records"] = [dict(zip(data["fields"], row)) for row in data["rows"]]
    return data
