"""The dashboard in a real browser: Debian's Chromium driven by Playwright.

One mock on a loopback port (virtual clock) and one headless Chromium for the module; each test
opens a fresh page, and fails on any console error or uncaught exception the page logged.
`make test` installs Chromium (`/usr/bin/chromium`) when it is missing; never `playwright
install`. `SCREENSHOT_DIR=docs make screenshots` refreshes docs/dashboard.png.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from PIL import Image

from mockserver.app import create_app
from mockserver.sample import sample_image
from mockserver.testing import SoraMock, _ServerThread, test_config

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(
        f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium package",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def app() -> Flask:
    # 6 fps keeps the one video a test plays cheap to render
    return create_app(test_config(fps=6))


@pytest.fixture(scope="module")
def server(app: Flask) -> Iterator[SoraMock]:
    thread = _ServerThread(app)
    thread.start()
    try:
        yield SoraMock(app, host=f"http://127.0.0.1:{thread.port}")
    finally:
        thread.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: SoraMock) -> Iterator[Any]:
    server.reset()
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    page.goto(server.host + "/?poll=200", wait_until="domcontentloaded")
    yield page
    context.close()
    server.check()
    assert problems == [], "the page logged errors:\n" + "\n".join(problems)


def client(server: SoraMock, key: str = "sk-script") -> httpx.Client:
    return httpx.Client(
        base_url=server.host, headers={"Authorization": f"Bearer {key}"}, timeout=10.0
    )


def create_from_page(page: Any, api: str = "gptge-videos", **fields: str) -> str:
    """Fill the New job form and send it; the id of the job the provider answered."""
    page.get_by_label("Provider API").select_option(api)
    for label, value in fields.items():
        page.get_by_label(label, exact=True).select_option(value)
    page.get_by_role("button", name="Create job").click()
    link = page.locator("#create-result a")
    expect(link).to_be_visible()
    job_id: str = link.inner_text()
    return job_id


def job_row(page: Any, job_id: str) -> Any:
    return page.locator(f'#jobs-body tr[data-id="{job_id}"]')


def test_job_created_with_the_sample_image_completes_under_the_virtual_clock(
    page: Any, server: SoraMock
) -> None:
    job_id = create_from_page(page, Size="720x1280", Seconds="4")
    row = job_row(page, job_id)
    expect(row.locator("td.status")).to_have_text("queued")
    expect(row.locator("progress")).to_have_attribute("value", "0")

    page.get_by_label("Advance by").fill("3")
    page.get_by_role("button", name="Advance", exact=True).click()
    expect(row.locator("td.status")).to_have_text("in progress")
    progress = float(row.locator("progress").get_attribute("value") or 0)
    assert 0 < progress < 1

    row.get_by_role("link").focus()  # select the row, as a keyboard user does
    page.get_by_role("button", name="Run the selected job to completion").click()
    expect(row.locator("td.status")).to_have_text("completed")
    expect(row.locator(".pct")).to_have_text("100 %")

    # the provider got the built-in sample as the reference image, byte for byte
    job = server.service.store.get(job_id)
    assert job is not None and (job.width, job.height, job.seconds) == (720, 1280, 4)
    assert server.service.image_of(job) == sample_image(720, 1280)
    with client(server) as http:
        status = http.get(f"/gptge/v1/videos/{job_id}").json()
    assert status["status"] == "completed"


def test_the_video_plays_inline_at_the_size_and_duration_asked(page: Any, server: SoraMock) -> None:
    job_id = create_from_page(page, Size="1280x720", Seconds="4")
    page.locator("#create-result a").click()
    expect(page.locator("#job-heading")).to_have_text(f"Job {job_id}")
    expect(page.locator("#job-heading")).to_be_focused()
    page.get_by_role("button", name="Run to completion").click()

    video = page.locator("#job-video")
    expect(video).to_be_visible()
    video.evaluate(
        """v => new Promise((ok, bad) => {
            if (v.readyState >= 1) return ok();
            v.addEventListener('loadedmetadata', ok);
            v.addEventListener('error', () => bad(new Error(v.error && v.error.message)));
        })"""
    )
    meta = video.evaluate("v => ({d: v.duration, w: v.videoWidth, h: v.videoHeight})")
    assert (meta["w"], meta["h"]) == (1280, 720)
    assert meta["d"] == pytest.approx(4.0, abs=0.2)
    played = video.evaluate(
        """v => v.play().then(() => new Promise(ok => {
            const check = () =>
                v.currentTime > 0 ? ok(v.currentTime) : requestAnimationFrame(check);
            check();
        }))"""
    )
    assert played > 0
    assert video.evaluate("v => v.paused") is False

    for name in ("Thumbnail", "Spritesheet"):
        image = page.get_by_role("img", name=f"{name} of {job_id}")
        expect(image).to_be_visible()
        assert image.evaluate("i => i.complete && i.naturalWidth") > 0
    # the provider's own view of the job, and a curl that fetches it
    expect(page.locator("pre.json")).to_contain_text('"status": "completed"')
    expect(page.locator(".snippet code").first).to_contain_text(f"/gptge/v1/videos/{job_id}")
    journal = page.locator("#job-body table.journal tbody tr")
    expect(journal.first).to_contain_text(f"/gptge/v1/videos/{job_id}")
    expect(page.locator("#job-body table.journal")).to_contain_text("POST /gptge/v1/videos")


def test_a_scenario_switched_on_in_the_page_fails_the_next_request_and_the_journal_says_why(
    page: Any, server: SoraMock
) -> None:
    page.get_by_label("Scenario", exact=True).select_option("insufficient_balance")
    page.get_by_label("Times (empty: until cleared)").fill("1")
    page.get_by_label("Applies to", exact=True).select_option("key")
    page.get_by_label("Key it applies to").fill("sk-poor")
    page.get_by_role("button", name="Switch on").click()
    expect(page.locator("#rules")).to_contain_text("insufficient_balance")
    expect(page.locator("#rules")).to_contain_text("1 more")

    with client(server, "sk-poor") as http:
        refused = http.get("/vtrix/model/v1/generation/task/video_nothing")
        after = http.get("/vtrix/model/v1/generation/task/video_nothing")
    assert refused.status_code == 403
    message = refused.json()["error"]["error_message"]
    assert "Insufficient balance" in message
    assert after.status_code == 404  # used once, as asked

    row = page.locator("#journal-body tr", has_text="403")
    expect(row).to_contain_text("/vtrix/model/v1/generation/task/video_nothing")
    expect(row).to_contain_text("insufficient_balance")
    expect(row.locator("td.message")).to_have_text(message)
    expect(page.locator("#journal-body")).not_to_contain_text("sk-poor")
    expect(page.locator("#rules")).to_contain_text("No scenario in force")


def test_the_fault_rate_set_in_the_page_applies_to_every_provider(
    page: Any, server: SoraMock
) -> None:
    page.get_by_label(re.compile("Random fault rate")).fill("1")
    page.get_by_label("Seed").fill("7")
    page.get_by_role("button", name="Apply fault rate").click()
    expect(page.locator("#toasts")).to_contain_text("Random fault rate: 100 %")
    with client(server) as http:
        assert http.get("/__mock/faults").json()["rate"] == 1.0
        statuses = {http.get(f"/{p}/v1/videos").status_code for p in ("gptge", "gptproto")}
        http.put("/__mock/faults", json={"rate": 0})
        assert http.get("/gptge/v1/videos").status_code == 200
    assert statuses <= {429, 500} and statuses


def test_failed_jobs_show_their_code_and_the_filters_narrow_the_list(
    page: Any, server: SoraMock
) -> None:
    page.get_by_label("Scenario (this request)").select_option("generation_failed")
    failed = create_from_page(page, "vtrix-generation")
    page.get_by_label("Scenario (this request)").select_option("")
    ok = create_from_page(page, "gptproto-v3")
    page.get_by_role("button", name="+1 min").click()
    expect(job_row(page, failed).locator("td.status")).to_have_text("failed")
    expect(job_row(page, failed).locator("td.failure")).to_have_text("003000095")
    expect(job_row(page, failed).locator("td.scenario")).to_have_text("generation_failed")
    expect(job_row(page, ok).locator("td.status")).to_have_text("completed")

    page.get_by_label("Filter jobs by status").select_option("failed")
    expect(page.locator("#jobs-body tr")).to_have_count(1)
    expect(job_row(page, failed)).to_be_visible()
    page.get_by_label("Filter jobs by status").select_option("")
    page.get_by_label("Filter jobs by provider").select_option("gptproto")
    expect(page.locator("#jobs-body tr")).to_have_count(1)
    expect(job_row(page, ok)).to_be_visible()


def test_every_control_is_labelled_and_reachable_by_keyboard(page: Any) -> None:
    unlabelled = page.evaluate(
        """() => Array.from(document.querySelectorAll('input, select, textarea, button'))
            .filter(e => !e.closest('[hidden]'))
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                         && !(e.tagName === 'BUTTON' && e.textContent.trim()))
            .map(e => e.outerHTML.slice(0, 80))"""
    )
    assert unlabelled == []
    # the form works from the keyboard alone: focus the prompt, tab to the button, press Enter
    page.get_by_label("Prompt").focus()
    page.keyboard.type(" at dawn")
    page.get_by_role("button", name="Create job").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#create-result a")).to_be_visible()
    expect(page.locator("#jobs-body tr")).to_have_count(1)


def test_providers_show_base_urls_and_snippets_that_name_them(page: Any, server: SoraMock) -> None:
    for prefix in ("gptproto", "gptge", "vtrix"):
        card = page.locator("article.provider", has_text=f"{server.host}/{prefix}")
        expect(card.locator(".base-url code")).to_have_text(f"{server.host}/{prefix}")
        expect(card.locator('[role="tabpanel"]:not([hidden]) code')).to_contain_text(
            f"{server.host}/{prefix}"
        )
    openai_tab = page.get_by_role("tab", name="openai").first
    openai_tab.click()
    expect(openai_tab).to_have_attribute("aria-selected", "true")
    expect(page.locator('[role="tabpanel"]:not([hidden])').first).to_contain_text(
        "client.videos.create_and_poll"
    )


def test_screenshot_of_a_busy_dashboard(page: Any, server: SoraMock, tmp_path: Path) -> None:
    """The README's picture: several providers, every status, a refused request."""
    page.get_by_label("Prompt").fill("A cat in a hat strolls through a moonlit garden")
    create_from_page(page, "gptge-videos", Seconds="4")
    create_from_page(page, "vtrix-generation", Seconds="8")
    page.get_by_label("Scenario (this request)").select_option("generation_failed")
    create_from_page(page, "gptproto-videos", Seconds="8")
    page.get_by_label("Scenario (this request)").select_option("")
    page.get_by_role("button", name="+10 s").click()
    expect(page.locator("#jobs-body td.status", has_text="completed")).not_to_have_count(0)
    create_from_page(page, "gptproto-v3", Seconds="10")
    create_from_page(page, "gptge-videos", Size="1280x720", Seconds="12")
    page.get_by_label("Advance by").fill("3")
    page.get_by_role("button", name="Advance", exact=True).click()
    with client(server, "sk-poor") as http:
        http.get("/gptge/v1/videos", headers={"X-Mock-Scenario": "rate_limited"})
        http.get("/gptge/v1/v1/videos")
    expect(page.locator("#journal-body tr", has_text="429")).to_have_count(1)
    expect(page.locator("#jobs-body td.status", has_text="in progress")).not_to_have_count(0)
    page.locator("#toasts").evaluate("t => t.replaceChildren()")
    page.get_by_role("heading", name="New job").click()  # no focus ring in the picture

    directory = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "dashboard.png"
    page.screenshot(path=str(target), full_page=False)
    with Image.open(io.BytesIO(target.read_bytes())) as shot:
        assert shot.size == (1440, 1000)
        assert len(shot.convert("RGB").getcolors(maxcolors=1_000_000) or []) > 200


def test_the_page_is_also_at_the_admin_prefix_and_loads_nothing_from_elsewhere(
    page: Any, server: SoraMock
) -> None:
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(server.host + "/__mock/", wait_until="load")
    expect(page.get_by_role("heading", name="New job")).to_be_visible()
    expect(page.locator("#clock-kind")).to_have_text("virtual clock")
    assert requested and all(url.startswith(server.host + "/") for url in requested), requested
