"""The job page shows what each request about the job carried (app.js `showJobRequests`,
from GET /__mock/requests), in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockserver.http.app import create_app
from mockserver.sample import sample_image
from mockserver.testing import SoraMock, _ServerThread, test_config

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
KEY = "sk-dashboard-secret-0123456789"


@pytest.fixture(scope="module")
def server() -> Iterator[SoraMock]:
    app = create_app(test_config())
    thread = _ServerThread(app)
    thread.start()
    try:
        yield SoraMock(app, host=f"http://127.0.0.1:{thread.port}")
    finally:
        thread.stop()


def test_the_job_page_shows_each_requests_fields_and_image_hash(server: SoraMock) -> None:
    image = sample_image(720, 1280)
    with httpx.Client(
        base_url=server.base_url("gptge"), headers={"Authorization": f"Bearer {KEY}"}
    ) as client:
        created = client.post(
            "/v1/videos",
            data={"prompt": "A heron", "model": "sora-2", "seconds": "8", "size": "720x1280"},
            files={"input_reference": ("ref.png", image, "image/png")},
        )
        video_id = created.json()["id"]
    problems: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            # the dashboard first, then the job's link (opening /#job/ID directly throws
            # before the clock has loaded: a page error of the dashboard, not of this part)
            page.goto(f"{server.host}/?poll=200", wait_until="domcontentloaded")
            sync_api.expect(page.locator(f"a[href='#job/{video_id}']").first).to_be_visible(
                timeout=10_000
            )
            page.evaluate(f"window.location.hash = '#job/{video_id}'")
            section = page.locator("#job-requests")
            sync_api.expect(section).to_be_visible(timeout=10_000)
            # newest first: the dashboard's own status read, then the create
            summary = section.locator("summary").filter(has_text="createVideo")
            sync_api.expect(summary).to_contain_text("POST /gptge/v1/videos → 200 · createVideo")
            sync_api.expect(summary).to_contain_text(
                f"image {len(image)} B, sha256 {hashlib.sha256(image).hexdigest()[:12]}"
            )
            summary.click()
            carried = section.locator("details").filter(has_text="createVideo").locator("pre")
            sync_api.expect(carried).to_contain_text('"seconds": "8"')
            text = section.inner_text()
        finally:
            browser.close()
    assert problems == []
    assert KEY not in text and "authorization" not in text.lower()
