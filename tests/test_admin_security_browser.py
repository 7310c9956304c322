"""The admin API's guards in a real browser (Debian's Chromium, driven by Playwright).

A page on another loopback origin (another port) sends what a hostile page would: a
``no-cors`` POST to ``/__mock/reset`` (which once emptied the mock), simple POSTs to the clock
and the scenarios, and a CORS read of the jobs. A page reached under a name that resolves to
127.0.0.1 (DNS rebinding, simulated with Chromium's ``--host-resolver-rules``) is same-origin
with the mock, and gets a 421 for everything. And the dashboard's own status read, on opening
a job page, is marked as the dashboard's. In-process tests of the same rules:
tests/test_admin_security.py.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flask import Flask

from mockserver.http.app import create_app, service_of
from mockserver.http.console import RequestLog
from mockserver.testing import SoraMock, _ServerThread, test_config
from tests.test_dashboard import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

#: a name an attacker would point at 127.0.0.1 once its page is loaded
REBOUND = "rebind.attacker.net"
HOSTILE_PAGE = b"<!doctype html><title>elsewhere</title><p>a page on another origin</p>"


@pytest.fixture(scope="module")
def app() -> Flask:
    app = create_app(test_config(fps=6))
    app.extensions["sora_mock_console"] = RequestLog("text", io.StringIO())
    return app


@pytest.fixture(scope="module")
def server(app: Flask) -> Iterator[SoraMock]:
    thread = _ServerThread(app)
    thread.start()
    try:
        yield SoraMock(app, host=f"http://127.0.0.1:{thread.port}")
    finally:
        thread.stop()


def _hostile(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", "70")])
    return [HOSTILE_PAGE.ljust(70)]


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[str]:
    """Another origin on this machine: the same address, another port."""
    thread = _ServerThread(_hostile)  # type: ignore[arg-type]
    thread.start()
    try:
        yield f"http://127.0.0.1:{thread.port}"
    finally:
        thread.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    rules = f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1"
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, rules]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: SoraMock) -> Iterator[Any]:
    server.reset()
    console = server.app.extensions["sora_mock_console"]
    console._stream = io.StringIO()
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    yield context.new_page()
    context.close()


def _one_job(server: SoraMock) -> str:
    with httpx.Client(base_url=server.host, headers={"Authorization": "Bearer sk-app"}) as c:
        created = c.post(
            "/vtrix/model/v1/generation", json={"model": "sora_2_pro_i2v", "prompt": "a cat"}
        )
    assert created.status_code == 200, created.text
    job_id: str = created.json()["id"]
    return job_id


ATTACK = """async (mock) => {
  const sent = [];
  for (const [path, body] of [
    ["/__mock/reset", undefined],
    ["/__mock/clock/advance", JSON.stringify({ seconds: 3600 })],
    ["/__mock/scenarios", JSON.stringify({ scenario: "server_error" })],
  ]) {
    const answer = await fetch(mock + path, { method: "POST", mode: "no-cors", body });
    sent.push(answer.type);  // "opaque": sent, and nothing of the answer readable
  }
  let read;
  try {
    const answer = await fetch(mock + "/__mock/jobs");
    read = "read " + (await answer.text()).length;
  } catch (error) {
    read = "blocked";
  }
  return { sent, read };
}"""


def test_a_page_on_another_port_can_neither_reset_nor_read(
    page: Any, server: SoraMock, elsewhere: str
) -> None:
    job = _one_job(server)
    clock = server.now()
    page.goto(elsewhere + "/")
    outcome = page.evaluate(ATTACK, server.host)
    assert outcome == {"sent": ["opaque", "opaque", "opaque"], "read": "blocked"}
    service = service_of(server.app)
    assert service.store.get(job) is not None, "the page reset the mock"
    assert server.now() == clock and service.store.rules() == []
    # the three POSTs reached the mock, and it refused them
    assert server.app.extensions["sora_mock_console"].flush()
    lines = server.app.extensions["sora_mock_console"]._stream.getvalue().splitlines()
    refused = [line.split()[2] for line in lines if " 403 " in line]
    assert refused == ["/__mock/reset", "/__mock/clock/advance", "/__mock/scenarios"]


def test_a_rebinding_page_gets_a_421_for_everything(page: Any, server: SoraMock) -> None:
    job = _one_job(server)
    port = server.host.rsplit(":", 1)[1]
    answer = page.goto(f"http://{REBOUND}:{port}/__mock/")
    assert answer is not None and answer.status == 421
    statuses = page.evaluate(
        """async (job) => [
          (await fetch("/__mock/jobs")).status,
          (await fetch("/__mock/files/x")).status,
          (await fetch("/vtrix/model/v1/generation/task/" + job,
                       { headers: { Authorization: "Bearer sk-app" } })).status,
          (await fetch("/__mock/reset",
                       { method: "POST", headers: { "X-Mock-Client": "x" } })).status,
        ]""",
        job,
    )
    assert statuses == [421, 421, 421, 421]
    assert service_of(server.app).store.get(job) is not None


def test_opening_a_job_page_marks_its_status_read_as_the_dashboards(
    page: Any, server: SoraMock
) -> None:
    job = _one_job(server)
    page.goto(f"{server.host}/?poll=200", wait_until="domcontentloaded")
    # opened from the list (a deep link to #job/ID renders before the clock is known and
    # fails: state.clock is null in renderJob, a dashboard bug of its own)
    page.locator(f'#jobs-body tr[data-id="{job}"] a.job-link').click()
    status_path = f"/vtrix/model/v1/generation/task/{job}"
    # the journal's line (the job page also lists what each request carried, below it)
    expect(page.get_by_text(f"GET {status_path} → 200", exact=True)).to_be_visible()
    journal = service_of(server.app).journal()
    reads = [(e["path"], e["client"]) for e in journal if e["path"] == status_path]
    assert reads and all(client == "dashboard" for _, client in reads)
    created = [e for e in journal if e["method"] == "POST"]
    assert [e["client"] for e in created] == [None]  # the app's own create stays the app's
    assert server.app.extensions["sora_mock_console"].flush()
    console = server.app.extensions["sora_mock_console"]._stream.getvalue()
    assert status_path not in console and "/vtrix/model/v1/generation " in console + " "


def test_the_dashboards_own_changes_still_go_through(page: Any, server: SoraMock) -> None:
    """The dashboard's reset is a simple POST (no body): it passes by its Origin (the origin
    served) and by its X-Mock-Client, each enough alone (a reverse proxy that rewrites Host
    leaves only the header)."""
    job = _one_job(server)
    page.goto(f"{server.host}/?poll=200", wait_until="domcontentloaded")
    expect(page.locator(f'#jobs-body tr[data-id="{job}"]')).to_be_visible()
    page.get_by_role("button", name="Reset mock").click()
    page.get_by_role("dialog").get_by_role("button", name="Reset everything").click()
    expect(page.get_by_text("The mock forgot every job")).to_be_visible()
    assert service_of(server.app).store.get(job) is None
