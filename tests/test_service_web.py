"""The web page at ``/`` in real headless Chromium, against a real ``handocr serve`` process with the shipped models.

Chromium is driven by Selenium through the system chromedriver, named explicitly (Selenium Manager
never runs, nothing is downloaded); only 127.0.0.1 is used. The page is opened, an image is dropped
and then picked, read, and the overlay, the text and both downloads (JSON, ALTO) are checked.

Skipped when Chromium, chromedriver or Selenium is missing, except in CI (``CI=true``) or with
``HANDOCR_REQUIRE_SERVICE_TOOLS=1``, where that fails. ``scripts/test.sh`` installs Debian's
``chromium`` and ``chromium-driver``; ``HANDOCR_CHROMIUM`` / ``HANDOCR_CHROMEDRIVER`` point elsewhere.
Keep the screenshot of a run with ``pytest --basetemp=DIR`` (``DIR/.../web.png``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from test_service_support import ServeProcess, skip_or_fail

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "copiste_0212.jpg"
ALTO = "{http://www.loc.gov/standards/alto/ns-v4#}"
SUMMARY = re.compile(r"^\d+ page\(s\), \d+ line\(s\)(, read as [a-z, ]+)?$")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-default-browser-check",
    "--no-proxy-server",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
]


def chromium_binaries() -> tuple[str, str]:
    """Paths of the browser and of chromedriver, or skip (fail in CI) when one is missing."""
    if importlib.util.find_spec("selenium") is None:
        skip_or_fail("selenium is not installed (pip install -e '.[dev]')")
    browser = os.environ.get("HANDOCR_CHROMIUM") or next(
        filter(None, map(shutil.which, ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"])),
        None,
    )
    driver = os.environ.get("HANDOCR_CHROMEDRIVER") or (
        "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").is_file() else shutil.which("chromedriver")
    )
    if not browser or not driver:
        skip_or_fail("chromium and chromedriver are not installed (Debian: apt-get install chromium chromium-driver)")
    return browser, driver


@contextlib.contextmanager
def chromium(folder: Path, downloads: Path) -> Iterator[Any]:
    """Headless Chromium with a fresh profile, saving downloads into ``downloads``; quit afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    browser, driver = chromium_binaries()
    options = Options()
    options.binary_location = browser
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={folder / 'profile'}"]:
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "download.directory_upgrade": True,
            "safebrowsing.enabled": False,
        },
    )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=driver, log_output=str(folder / "chromedriver.log"))
    session = webdriver.Chrome(service=service, options=options)
    try:
        session.set_page_load_timeout(30)
        session.set_script_timeout(30)
        yield session
    finally:
        session.quit()


def wait_for(condition: Any, timeout_s: float, what: str) -> Any:
    """Poll ``condition()`` until it returns something truthy (returned), or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


def downloaded(folder: Path, name: str, timeout_s: float = 30) -> Path:
    """The file ``name`` once Chromium has finished saving it in ``folder``."""
    path = folder / name

    def done() -> bool:
        return path.is_file() and not list(folder.glob("*.crdownload")) and path.stat().st_size > 0

    wait_for(done, timeout_s, f"the download {name} (folder holds {sorted(p.name for p in folder.iterdir())})")
    return path


def status(session: Any) -> tuple[str, str]:
    """The page's status line and its class (``error`` on failure)."""
    element = session.find_element("id", "status")
    return element.text, element.get_attribute("class") or ""


# Draws the chosen file as the page does, without boxes, and compares it with the canvas: how many
# pixels differ overall, and which fraction of each line box's top edge was drawn over.
OVERLAY_SCRIPT = """
const boxes = arguments[0], done = arguments[arguments.length - 1];
const canvas = document.getElementById("canvas");
createImageBitmap(document.getElementById("file").files[0], {imageOrientation: "from-image"}).then((bitmap) => {
  const w = canvas.width, h = canvas.height;
  const plain = document.createElement("canvas");
  plain.width = w; plain.height = h;
  const p = plain.getContext("2d");
  p.fillStyle = "#fff"; p.fillRect(0, 0, w, h); p.drawImage(bitmap, 0, 0, w, h);
  const a = canvas.getContext("2d").getImageData(0, 0, w, h).data, b = p.getImageData(0, 0, w, h).data;
  const diff = (i) => Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]) > 30;
  const differs = (x, y) => diff(4 * (y * w + x));
  let changed = 0, dark = 0;
  for (let i = 0; i < a.length; i += 4) {
    if (diff(i)) changed++;
    if (b[i] + b[i + 1] + b[i + 2] < 600) dark++;
  }
  const edges = boxes.map(([x0, y0, x1]) => {
    let hit = 0;
    for (let x = x0; x < x1; x++) if (differs(x, y0)) hit++;
    return hit / Math.max(1, x1 - x0);
  });
  done({width: w, height: h, changed: changed / (w * h), image: dark / (w * h), edges});
}).catch((e) => done({error: String(e)}));
"""

DROP_SCRIPT = """
const data = new DataTransfer();
data.items.add(new File([new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10])], "dropped.png", {type: "image/png"}));
const drop = document.getElementById("drop");
for (const type of ["dragenter", "dragover", "drop"]) {
  drop.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true, cancelable: true}));
}
"""


def severe_messages(session: Any) -> list[str]:
    """Console errors since the last call (CSP violations, script errors, failed loads)."""
    return [entry["message"] for entry in session.get_log("browser") if entry["level"] == "SEVERE"]


def test_web_page_reads_a_page_in_chromium(tmp_path: Path):
    chromium_binaries()  # skip (or fail in CI) before starting anything
    key = "web-" + secrets.token_hex(12)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with (
        ServeProcess(tmp_path / "serve.log", {"HANDOCR_API_KEYS": key}, timeout_s=120) as server,
        chromium(tmp_path, downloads) as page,
    ):
        page.get(server.url + "/")
        assert page.title == "handocr"
        go = page.find_element("id", "go")
        assert not go.is_enabled()
        assert severe_messages(page) == []  # the page, its script and style load under the CSP

        # Dropping a file chooses it; without the key the service answers 401, shown as an error.
        page.execute_script(DROP_SCRIPT)
        assert page.find_element("css selector", "#drop span").text == "dropped.png"
        assert "over" not in (page.find_element("id", "drop").get_attribute("class") or "")
        assert go.is_enabled()
        go.click()
        text, css = wait_for(lambda: (s := status(page))[0] not in ("", "Reading…") and s, 30, "the 401")
        assert css == "error" and text.startswith("401 "), text
        assert any("401" in message for message in severe_messages(page))  # the console log is read

        # The recognizer's languages, from /readyz; read the page as French.
        def languages() -> list[str]:
            return [o.get_attribute("value") for o in page.find_elements("css selector", "#language option")]

        wait_for(lambda: len(languages()) > 1, 30, "the language list")
        assert languages() == ["", "any", "fr", "en"]
        page.find_element("css selector", "#language option[value='fr']").click()

        # Pick the real page, give the key, read it.
        page.find_element("id", "file").send_keys(str(EXAMPLE))
        assert page.find_element("css selector", "#drop span").text == EXAMPLE.name
        page.find_element("id", "key").send_keys(key)
        go.click()
        text, css = wait_for(lambda: (s := status(page))[0] not in ("", "Reading…", text) and s, 90, "the reading")
        assert css == "" and SUMMARY.match(text), text
        shown = page.find_element("id", "text").get_attribute("textContent")

        # JSON download: the Document that was shown.
        page.find_element("id", "download").click()
        document = json.loads(downloaded(downloads, "copiste_0212.json").read_text())
        lines = document["pages"][0]["lines"]
        assert document["source"] == EXAMPLE.name
        assert text == f"1 page(s), {len(lines)} line(s), read as fr"
        assert document["pages"][0]["language"] == "fr"
        assert len(lines) >= 5
        assert [line["text"] for line in lines if line["text"] and line["text"] not in shown] == []
        assert shown.strip()

        # The overlay: the page image with every line box drawn over it, at the page's size.
        overlay = page.execute_async_script(OVERLAY_SCRIPT, [line["box"] for line in lines])
        assert "error" not in overlay, overlay
        assert (overlay["width"], overlay["height"]) == (document["pages"][0]["width"], document["pages"][0]["height"])
        assert overlay["image"] > 0.01  # the scan was drawn, not a blank canvas
        assert 0.002 < overlay["changed"] < 0.5  # boxes drawn on it, not a different picture
        assert min(overlay["edges"]) > 0.5, overlay["edges"]  # each line's box is there

        # ALTO download: the same page read again with ?format=alto.
        page.find_element("id", "download-alto").click()
        alto = ET.parse(downloaded(downloads, "copiste_0212.alto.xml")).getroot()
        assert alto.tag == f"{ALTO}alto"
        assert alto.findtext(f"{ALTO}Description/{ALTO}sourceImageInformation/{ALTO}fileName") == EXAMPLE.name
        text_lines = alto.findall(f".//{ALTO}TextLine")
        assert len(text_lines) == len(lines)
        assert {block.get("LANG") for block in alto.iter(f"{ALTO}TextBlock")} == {"fr"}  # read in the same language
        wait_for(lambda: status(page)[0] == text, 30, "the status after the ALTO download")

        page.save_screenshot(str(tmp_path / "web.png"))
        assert severe_messages(page) == []
