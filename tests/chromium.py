"""Headless Chromium driven by Selenium, as the browser tests and the parity bench start it."""

from __future__ import annotations

from tests.debian_packages import ensure

# WebGL 2 on the CPU, which Holistic needs and a server has no GPU for.
SOFTWARE_WEBGL = ("--enable-unsafe-swiftshader", "--use-angle=swiftshader")


def fake_camera(video) -> tuple[str, ...]:
    """Flags giving the page `video` (a .y4m or .mjpeg file) as its camera, without asking."""
    return ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}")


def headless_chromium(*flags: str, window: str = "1200,900", skip_marker: str = "not slow"):
    """A new headless Chromium with `flags` added, its console kept for the test to read.

    Debian's chromium and chromium-driver are installed when missing; where they cannot be, the
    test fails saying how to leave it out (`-m "<skip_marker>"`)."""
    ensure({"chromium": "chromium", "chromedriver": "chromium-driver"}, skip_marker)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={window}", *flags):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
