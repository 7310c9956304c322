"""The dashboard in a real browser: Debian's Chromium driven by Playwright.

One mock on a loopback port (virtual clock) and one headless Chromium for the module; each test
opens a fresh page, and fails on any console error or uncaught exception the page logged.
`make test` installs Chromium (`/usr/bin/chromium`) when it is missing; never `playwright
install`. `make screenshots` refreshes docs/dashboard.png (a laptop) and docs/dashboard-phone.png.
The layout is checked at every width in WIDTHS on one page reused, reloaded per width.
"""

from __future__ import annotations

import io
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from PIL import Image
from werkzeug.serving import make_server

from mockserver.http.app import create_app
from mockserver.sample import sample_image
from mockserver.state.store import Filters
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


def open_page(browser: Any, width: int = 1440, height: int = 1000) -> tuple[Any, Any, list[str]]:
    """A context and page at that size, and the list every console error lands in."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    return context, page, problems


@pytest.fixture(scope="module")
def reused(browser: Any) -> Iterator[tuple[Any, list[str]]]:
    """The module's one page: each test loads the dashboard in it afresh."""
    context, page, problems = open_page(browser)
    yield page, problems
    context.close()


@pytest.fixture
def page(reused: tuple[Any, list[str]], server: SoraMock) -> Iterator[Any]:
    page, problems = reused
    page.goto("about:blank")  # the last test's dashboard polls no more
    problems.clear()
    server.reset()
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(server.host + "/?poll=200", wait_until="domcontentloaded")
    yield page
    page.goto("about:blank")
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
    """The README's pictures, on a laptop and on a phone: several providers, every status, a
    refused request, a rule in force."""
    page.set_viewport_size({"width": 1280, "height": 800})
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
    server.set_scenario("server_error", provider="vtrix", times=2)
    expect(page.locator("#journal-body tr", has_text="429")).to_have_count(1)
    expect(page.locator("#rules .rule")).to_have_count(1)
    expect(page.locator("#jobs-body td.status", has_text="in progress")).not_to_have_count(0)
    page.locator("#toasts").evaluate("t => t.replaceChildren()")
    page.get_by_role("heading", name="New job").click()  # no focus ring in the picture

    directory = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    laptop = directory / "dashboard.png"
    page.screenshot(path=str(laptop), full_page=False)

    # the phone: its header (it stays on top), then the jobs list and the journal
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#jobs-section").evaluate(
        "s => window.scrollTo(0, s.getBoundingClientRect().top + scrollY - 130)"
    )
    expect(page.locator("#jobs-section .scroll-hint")).to_be_visible()
    phone = directory / "dashboard-phone.png"
    page.screenshot(path=str(phone), full_page=False)
    for target, size in ((laptop, (1280, 800)), (phone, (390, 844))):
        with Image.open(io.BytesIO(target.read_bytes())) as shot:
            assert shot.size == size
            assert len(shot.convert("RGB").getcolors(maxcolors=1_000_000) or []) > 200


def test_the_page_is_also_at_the_admin_prefix_and_loads_nothing_from_elsewhere(
    page: Any, server: SoraMock
) -> None:
    requested: list[str] = []

    def note(request: Any) -> None:
        requested.append(request.url)

    page.on("request", note)
    page.goto(server.host + "/__mock/", wait_until="load")
    expect(page.get_by_role("heading", name="New job")).to_be_visible()
    expect(page.locator("#clock-kind")).to_have_text("virtual clock")
    page.remove_listener("request", note)  # the page serves the next test
    assert requested and all(url.startswith(server.host + "/") for url in requested), requested


# ------------------------------------------------------------------ the layout at every width

#: a big monitor, the usual laptops, a small laptop or tablet landscape, a tablet, a phone
WIDTHS = (1920, 1440, 1280, 1024, 768, 390)


def populate(server: SoraMock) -> None:
    """A mock with jobs of every status, a failure code, a rule and journal errors."""
    server.reset()
    image = sample_image(720, 1280)
    form = {"prompt": "A cat in a hat", "model": "sora-2", "seconds": "4", "size": "720x1280"}
    with client(server, "sk-demo") as http:
        for prefix, scenario in (("gptge", ""), ("gptproto", "generation_failed"), ("gptge", "")):
            created = http.post(
                f"/{prefix}/v1/videos",
                data=form,
                files={"input_reference": ("cat.png", image, "image/png")},
                headers={"X-Mock-Scenario": scenario} if scenario else {},
            )
            assert created.status_code == 200, created.text
        http.post("/__mock/clock/advance", json={"seconds": 30}).raise_for_status()
        queued = {"model": "sora_2_pro_i2v", "prompt": "A cat", "size": "720x1280", "seconds": "4"}
        http.post("/vtrix/model/v1/generation", json=queued).raise_for_status()
        rule = {"scenario": "rate_limited", "provider": "gptproto", "times": 3}
        http.post("/__mock/scenarios", json=rule).raise_for_status()
        http.get("/gptge/v1/videos", headers={"X-Mock-Scenario": "rate_limited"})
        http.get("/vtrix/model/v1/generation/task/video_0123456789abcdef0123456789abcdef")


#: every rule of the layout, measured in the page; the problems found, in words
LAYOUT_RULES = """({wide, journal, jobs}) => {
    const out = [];
    const box = (e) => e.getBoundingClientRect();
    const shown = (e) => { const r = box(e); return r.width > 0 && r.height > 0; };
    const overlap = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5
        && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
    const page = document.documentElement;
    if (page.scrollWidth > innerWidth)
        out.push(`the page is ${page.scrollWidth} px wide in ${innerWidth}`);

    // the header holds its controls
    const header = box(document.querySelector('.topbar'));
    for (const e of document.querySelectorAll('.topbar a, .topbar button, .topbar .pill')) {
        const r = box(e);
        if (r.top < header.top || r.bottom > header.bottom || r.left < 0 || r.right > innerWidth)
            out.push(`${e.id || e.textContent.trim()} sits outside the header`);
    }

    // no Copy button over the text it copies (the text as painted: clipped to its box)
    for (const button of document.querySelectorAll('button.copy')) {
        if (!shown(button)) continue;
        for (const text of button.parentElement.querySelectorAll('code')) {
            const clip = box(text.closest('pre') || text);
            const range = document.createRange();
            range.selectNodeContents(text);
            for (const r of range.getClientRects()) {
                const seen = {
                    left: Math.max(r.left, clip.left), right: Math.min(r.right, clip.right),
                    top: Math.max(r.top, clip.top), bottom: Math.min(r.bottom, clip.bottom),
                };
                const painted = seen.right > seen.left && seen.bottom > seen.top;
                if (painted && overlap(box(button), seen)) {
                    out.push(`${button.getAttribute('aria-label')} covers its text`);
                    break;
                }
            }
        }
    }

    // tables keep the columns that matter in sight; the rest scroll inside, with a cue
    // (the cells of the first row: a narrow journal is a list with no header row)
    const keep = {[journal]: ['td.time', 'td.request', 'td.status']};
    const jobColumns = ['td.id', 'td.status'].concat(wide ? ['td.scenario', 'td.failure'] : []);
    if (jobs) keep['table.jobs'] = jobColumns;
    for (const [table, columns] of Object.entries(keep)) {
        const wrap = document.querySelector(table).closest('.table-wrap');
        const inside = box(wrap);
        for (const column of columns) {
            const cell = document.querySelector(`${table} tbody tr ${column}`);
            const r = box(cell);
            if (r.width === 0 || r.left < inside.left - 1 || r.right > inside.right + 1)
                out.push(`${table}: the ${column} of the first row is out of sight`);
        }
        if (wrap.scrollWidth > wrap.clientWidth + 1) {
            const hint = wrap.nextElementSibling;
            if (!wrap.classList.contains('more-right') || !hint || !shown(hint))
                out.push(`${table} scrolls sideways with no cue`);
        }
    }

    // a journal path breaks after a slash, never inside a segment
    for (const path of document.querySelectorAll(`${journal} .path`)) {
        if (!shown(path)) continue;
        for (const node of path.childNodes) {
            if (node.nodeType !== Node.TEXT_NODE) continue;
            const range = document.createRange();
            range.selectNodeContents(node);
            const lines = new Set(Array.from(range.getClientRects(), (r) => Math.round(r.top)));
            if (lines.size > 1) out.push(`"${node.textContent}" is cut over ${lines.size} lines`);
        }
    }
    return out;
}"""


@pytest.mark.parametrize("width", WIDTHS)
def test_the_layout_holds_at_every_width(
    reused: tuple[Any, list[str]], server: SoraMock, width: int
) -> None:
    page, problems = reused
    page.goto("about:blank")  # the last width's job page polls no more
    problems.clear()
    populate(server)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(server.host + "/?poll=200", wait_until="domcontentloaded")
    expect(page.locator("#jobs-body tr")).to_have_count(4)
    expect(page.locator("#journal-body tr", has_text="404")).to_have_count(1)
    expect(page.locator("#rules .rule")).to_have_count(1)
    home = {"wide": width >= 768, "journal": "#journal-section table.journal", "jobs": True}
    assert page.evaluate(LAYOUT_RULES, home) == []
    # the header's links jump to a section that starts below the header (it stays on top)
    page.locator(".topbar nav").get_by_role("link", name="Journal").click()
    expect(page).to_have_url(re.compile("#journal-section$"))
    header = page.locator(".topbar").bounding_box()
    heading = page.locator("#journal-heading").bounding_box()
    assert header and heading and heading["y"] >= header["y"] + header["height"], (header, heading)

    # one click on a job id opens it: selecting the row moves nothing under the pointer
    job_id = page.locator("#jobs-body tr").last.get_attribute("data-id")
    page.locator(f'#jobs-body tr[data-id="{job_id}"] a.job-link').click()
    expect(page.locator("#job-heading")).to_have_text(f"Job {job_id}")
    expect(page.locator("#job-body h3", has_text="Copy as curl")).to_be_visible()
    # its heading, focused, is in sight below the header
    heading = page.locator("#job-heading").bounding_box()
    header = page.locator(".topbar").bounding_box()
    assert heading and header and heading["y"] >= header["y"] + header["height"]
    # the job page follows the same rules (its Copy buttons, its journal table)
    job_page = {"wide": False, "journal": "#job-body table.journal", "jobs": False}
    assert page.evaluate(LAYOUT_RULES, job_page) == []
    assert problems == [], "the page logged errors:\n" + "\n".join(problems)


# ------------------------------------------------------------------ the small things


def test_a_job_page_shows_no_null_whatever_the_status(page: Any, server: SoraMock) -> None:
    populate(server)  # a queued, a failed and two completed jobs
    server.service.store.clear_rules()  # the page's own status reads are not to be refused
    for job in server.service.store.page(Filters(), limit=10).jobs:
        page.goto(f"{server.host}/?poll=200#job/{job.id}")
        expect(page.locator("#job-body h3", has_text="Copy as curl")).to_be_visible()
        # every text the page wrote, but the provider's JSON (where null is a value)
        stray = page.locator("#job-body").evaluate(
            """body => {
                const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
                const found = [];
                for (let n = walker.nextNode(); n; n = walker.nextNode())
                    if (!n.parentElement.closest('pre.json')
                        && /\\b(null|undefined)\\b/.test(n.data)) found.push(n.data);
                return found;
            }"""
        )
        assert stray == [], (job.id, stray)


def test_counts_are_plural_only_when_they_are_many(page: Any, server: SoraMock) -> None:
    server.set_scenario("server_error", times=1)
    server.set_scenario("slow", times=2)
    expect(page.locator("#rules .rule")).to_have_count(2)
    expect(page.locator("#rules")).to_contain_text("1 more request ")
    expect(page.locator("#rules")).to_contain_text("2 more requests")
    expect(page.locator(".contracts li").first).to_be_visible()
    counts = page.locator(".contracts li").all_inner_texts()
    for text in counts:
        match = re.search(r"(\d+) (operations?)\b", text)
        assert match, text
        assert (match[2] == "operation") == (match[1] == "1"), text
    assert any(re.search(r"\b1 operation\b", t) for t in counts), counts


def test_each_rule_is_removed_on_its_own_and_names_its_status(page: Any, server: SoraMock) -> None:
    server.set_scenario("rate_limited", provider="gptproto", times=3)
    server.set_scenario("insufficient_balance", api_key="sk-poor")
    rules = page.locator("#rules .rule")
    expect(rules).to_have_count(2)
    limited = rules.filter(has_text="rate_limited")
    expect(limited).to_contain_text("429")
    expect(limited).to_contain_text("gptproto requests · 3 more requests")
    expect(rules.filter(has_text="insufficient_balance")).to_contain_text("403")

    limited.get_by_role("button", name=re.compile("^Remove the rate_limited rule")).click()
    expect(rules).to_have_count(1)
    expect(rules).to_contain_text("insufficient_balance")
    left = [r.scenario for r in server.service.store.rules()]
    assert left == ["insufficient_balance"]

    # the scenario pickers name each status as the admin API gives it
    with client(server) as http:
        listed = http.get("/__mock/scenarios").json()["scenarios"]
    for picker in ("#scenario-name", "#create-scenario"):
        for scenario in listed:
            option = page.locator(f'{picker} option[value="{scenario["name"]}"]')
            expect(option).to_have_text(f"{scenario['name']} · {scenario['summary']}")
    assert {s["name"]: s["summary"] for s in listed}["rate_limited"] == "429"


def test_reset_asks_first_and_cancel_keeps_everything(page: Any, server: SoraMock) -> None:
    job_id = create_from_page(page)
    expect(job_row(page, job_id)).to_be_visible()
    dialog = page.get_by_role("dialog", name="Reset the mock?")
    page.get_by_role("button", name="Reset mock").click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("1 job listed now")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Reset mock").click()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(job_row(page, job_id)).to_be_visible()
    assert server.service.store.get(job_id) is not None

    page.get_by_role("button", name="Reset mock").click()
    dialog.get_by_role("button", name="Reset everything").click()
    expect(page.locator("#jobs-body tr")).to_have_count(0)
    assert server.service.store.get(job_id) is None


def test_the_journal_filters_and_stays_one_screen_tall(page: Any, server: SoraMock) -> None:
    with client(server) as http:
        for _ in range(60):  # more than the journal shows (50)
            http.get("/gptge/v1/videos")
        http.get("/vtrix/model/v1/generation/task/video_nothing")  # 404
        http.get("/gptproto/v1/videos", headers={"X-Mock-Scenario": "rate_limited"})  # 429
        http.get("/gptge/v1/videos", headers={"X-Mock-Scenario": "server_error"})  # 500
    rows = page.locator("#journal-body tr")
    expect(rows).to_have_count(50)
    # fifty rows scroll inside the card: Providers stay a screen away
    journal = page.locator("#journal-section").bounding_box()
    assert journal is not None and journal["height"] < 700
    header = page.locator("#journal-section thead th").first
    page.locator(".journal-wrap").evaluate("w => w.scrollTo(0, w.scrollHeight)")
    header_box, wrap_box = header.bounding_box(), page.locator(".journal-wrap").bounding_box()
    assert header_box and wrap_box and header_box["y"] >= wrap_box["y"] - 1  # stays in sight

    page.get_by_label("Errors only").check()
    expect(rows).to_have_count(3)
    expect(page.locator("#journal-count")).to_have_text("3 of 50")
    page.get_by_label("Filter the journal by provider").select_option("vtrix")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("404")
    page.get_by_label("Filter the journal by provider").select_option("")
    page.get_by_label("Errors only").uncheck()
    # the statuses offered are the ones the journal holds
    status = page.get_by_label("Filter the journal by status")
    options = status.locator("option").all_inner_texts()
    assert options == ["all", "200", "404", "429", "500"]
    status.select_option("429")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("/gptproto/v1/videos")
    page.get_by_label("Filter the journal by provider").select_option("gptge")
    expect(rows).to_have_count(0)
    expect(page.locator("#journal-empty")).to_have_text("No request matches these filters.")


class _Served(threading.Thread):
    """The mock on a loopback port of its own (the one given: served again where it was)."""

    def __init__(self, app: Flask, port: int = 0) -> None:
        super().__init__(name="sora-mock-served", daemon=True)
        self.server = make_server("127.0.0.1", port, app, threaded=True)
        self.port = self.server.server_port
        self.start()

    def run(self) -> None:
        self.server.serve_forever()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_clock_pill_says_disconnected_when_the_mock_stops_answering(
    browser: Any, app: Flask
) -> None:
    served = _Served(app)
    context, page, problems = open_page(browser)
    try:
        page.goto(f"http://127.0.0.1:{served.port}/?poll=100", wait_until="domcontentloaded")
        pill, kind = page.locator("#clock-pill"), page.locator("#clock-kind")
        expect(kind).to_have_text("virtual clock")
        connected_dot = pill.locator(".dot").evaluate("d => getComputedStyle(d).backgroundColor")

        served.stop()
        expect(kind).to_have_text("disconnected")
        expect(pill).to_have_class(re.compile(r"\bdisconnected\b"))
        dot = pill.locator(".dot").evaluate("d => getComputedStyle(d).backgroundColor")
        assert dot != connected_dot
        assert dot not in ("rgb(126, 226, 168)", "rgb(255, 214, 140)")  # neither green nor amber

        served = _Served(app, served.port)
        expect(kind).to_have_text("virtual clock")
        expect(pill).not_to_have_class(re.compile(r"\bdisconnected\b"))
    finally:
        context.close()
        served.stop()
    # what a browser logs for the requests the stopped mock refused, and nothing else
    assert problems and all("Failed to load resource: net::ERR_" in p for p in problems), problems


def test_a_job_page_opened_directly_by_its_address_loads(page: Any, server: SoraMock) -> None:
    """A job's address pasted into a new tab (or a reload on a job page): the page asks for
    the job before it has read the clock, and used to throw reading the clock's time."""
    job_id = create_from_page(page)
    page.goto("about:blank")
    page.goto(f"{server.host}/?poll=200#job/{job_id}", wait_until="domcontentloaded")
    expect(page.locator("#job-body h3", has_text="Copy as curl")).to_be_visible()
    expect(page.locator("#job-run")).to_be_visible()


def test_a_job_page_says_where_its_webhook_stands(page: Any, server: SoraMock) -> None:
    from test_webhooks import Receiver

    receiver = Receiver([500])
    try:
        with client(server) as http:
            created = http.post(
                "/openrouter/api/v1/videos",
                json={"model": "openai/sora-2-pro", "prompt": "p", "callback_url": receiver.url()},
            )
        job_id = created.json()["id"]
        page.goto(f"{server.host}/?poll=200#job/{job_id}", wait_until="domcontentloaded")
        webhook = page.locator("#job-webhook")
        expect(webhook).to_have_text(
            re.compile(r"^pending: POSTed to http://127\.0\.0\.1:\d+/hook")
        )
        server.advance(120)
        receiver.wait_for(1)
        expect(webhook).to_have_text(
            re.compile(
                r"^retrying: attempt 1 of 5 failed \(the receiver answered 500\); "
                r"next at \d\d:\d\d:\d\d"
            )
        )
        server.advance(10)
        receiver.wait_for(2)
        expect(webhook).to_have_text(
            re.compile(
                r"^delivered \(video\.generation\.completed\) to .*, attempt 2, answered 204$"
            )
        )
        rows = page.locator("#job-body table.journal tbody tr")
        expect(rows.filter(has_text="webhook #2")).to_have_count(1)
    finally:
        receiver.close()  # the module's server goes on (its next reset forgets the event)
