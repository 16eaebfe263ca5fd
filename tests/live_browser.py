"""A headless Chromium per test module (not per session): Playwright's sync API keeps an event loop
running in the main thread while it is open, and later tests call ``asyncio.run``."""

from __future__ import annotations

import os
from typing import Any, Iterator

import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, missing, need


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    sync_api = need("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()
