"""A replayed job on the dashboard, in a real browser (Debian's Chromium, as test_dashboard)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from providers import png

from mockserver.conformance import cassettes
from mockserver.http.app import create_app
from mockserver.testing import SoraMock, _ServerThread, test_config

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
EXAMPLE = Path(__file__).parent / "examples" / "cassettes"

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
TIMEOUT_MS = 10_000


@pytest.fixture
def server() -> Iterator[SoraMock]:
    app = create_app(test_config(replay_dir=EXAMPLE, replay_fallback="404"))
    thread = _ServerThread(app)
    thread.start()
    try:
        yield SoraMock(app, host=f"http://127.0.0.1:{thread.port}")
    finally:
        thread.stop()


def test_a_replayed_job_is_marked_with_its_cassette_on_the_dashboard(server: SoraMock) -> None:
    [name] = [p.name for p in cassettes.iter_files(EXAMPLE)]
    with httpx.Client(
        base_url=server.base_url("gptge"), headers={"Authorization": "Bearer sk-dash"}
    ) as client:
        created = client.post(
            "/v1/videos",
            data={"prompt": "A cat", "model": "sora-2", "seconds": "4", "size": "720x1280"},
            files={"input_reference": ("cat.png", png(720, 1280), "image/png")},
        )
    assert created.headers["X-Mock-Replay-Cassette"] == name
    job_id = created.json()["id"]
    server.advance(120)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            problems: list[str] = []
            page.on(
                "console",
                lambda m: problems.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.goto(server.host + "/?poll=200", wait_until="domcontentloaded")
            row = page.locator(f'#jobs-body tr[data-id="{job_id}"]')
            expect(row.locator("td.scenario")).to_have_text(f"replayed: {name}", timeout=TIMEOUT_MS)
            expect(row.locator("td.status")).to_have_text("completed", timeout=TIMEOUT_MS)
            row.get_by_role("link").click()
            replayed_from = page.locator("dl.facts dt", has_text="Replayed from")
            expect(replayed_from).to_be_visible(timeout=TIMEOUT_MS)
            expect(
                page.locator("dl.facts").get_by_text(f"cassette {name}", exact=True)
            ).to_be_visible()
            video: Any = page.locator("#job-video")
            expect(video).to_have_attribute("src", f"/__mock/media/{job_id}/video.mp4")
            assert problems == [], problems
        finally:
            browser.close()
    recorded = EXAMPLE / cassettes.MEDIA_DIR
    [mp4] = list(recorded.iterdir())
    with httpx.Client(base_url=server.host) as own:
        assert own.get(f"/__mock/media/{job_id}/video.mp4").content == mp4.read_bytes()
