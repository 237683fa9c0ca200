"""The web page in a real headless Chromium: upload a crop drawn by our generator, read its text off the page."""

from __future__ import annotations

import shutil

import pytest

from recognizer.serve.config import load_serve_config
from serve_fixtures import png, reading_model, running_server

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="Debian's chromium and chromium-driver are not installed "
                                "(./run test installs them from tests/packages.txt when it runs as root with apt)")


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1200,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def test_the_page_reads_an_uploaded_crop(tmp_path, small_config, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    checkpoint, crops = reading_model(small_config, tmp_path)
    image, text = crops[2]
    crop = tmp_path / "crop.png"
    crop.write_bytes(png(image))
    with running_server(checkpoint, load_serve_config(None, [])) as (url, _):
        browser.get(url + "/")
        WebDriverWait(browser, 30).until(lambda driver: "characters" in driver.find_element(By.ID, "model").text)
        browser.find_element(By.ID, "files").send_keys(str(crop))
        item = WebDriverWait(browser, 30).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#results li")))
        assert item.find_element(By.CLASS_NAME, "text").text == text
        band = item.find_element(By.CSS_SELECTOR, ".band").text
        assert band in ("keep", "check", "drop") and "confidence" in item.text
        assert browser.find_element(By.ID, "status").text.startswith("read 1 crop")
        browser.save_screenshot(str(tmp_path / "page.png"))
        assert not [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
