"""What the documentation shows, run as a user would, against one real ``sora-mock serve``
(virtual clock) shared by the module:

- the README: every shell command (fenced ``sh`` blocks, and inline commands: curl, make,
  python, ``.venv/bin/...``) and every Python block. A command runs unless ``SKIPPED`` names it
  with the reason it cannot run here, so a new command is run by default; a listed command the
  README no longer has fails ``test_every_skipped_command_is_still_in_the_readme``;
- the dashboard: every snippet on every provider card (curl, ``openai``, ``sora_client``) and
  on the page of a job of every model of every provider API (status and download curl), read
  from the page in Chromium as it shows them; only their key comes from the test (``API_KEY``,
  which the job page's curl names).

A failure names the README line or the dashboard snippet. How commands run (scratch directory,
``.curlrc``, only loopback, the clock driven while a command waits): ``tests/docs_run.py``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from docs_run import (
    Block,
    Command,
    Runner,
    is_comment,
    prepare_workdir,
    readme_blocks,
    server_kind,
)
from served import Served, served

from mockserver.providers import registered

#: README commands that cannot run in a test, by a piece of their text, with the reason
SKIPPED = {
    "make serve": "builds .venv and serves on port 8000 in the foreground: the module's "
    "served mock (`sora-mock serve`, what it runs) stands in for it, and "
    "`.venv/bin/sora-mock serve --clock virtual` is run",
    "make test": "the whole suite (lint, type-check, every test), this file included",
    "make dev": "installs every development tool into .venv from a package index",
    "make bench": "the benchmarks: minutes of load on every core, never part of the tests",
    "python -m benchmarks": "the benchmarks (as `make bench`)",
    "make screenshots": "rewrites docs/dashboard.png",
    "tests/test_client_live.py --live": "the live providers: a paid create and a key",
    "make verify-live": "`sora-mock verify` against the live providers: paid keys and the network",
    ".venv/bin/pip install -e '.[openai]'": "installs into the venv from a checkout and a "
    "package index: the test venv has `openai` already",
    "GPTGE_API_KEY=sk-... .venv/bin/sora-mock verify": "the live provider "
    "(https://api.gpt.ge): needs a paid key and the network",
    "VTRIX_API_KEY=... .venv/bin/sora-mock verify": "the live provider (https://cloud.vtrix.ai), "
    "with an image on the user's CDN: needs a paid key and the network",
    "sora-mock proxy --provider gptge --record cassettes/": "forwards to the live provider "
    "(https://api.gpt.ge); the block 'Try it without a provider' runs the same proxy with the "
    "mock as its upstream",
    "make image": "builds the container image (minutes on a cold machine): "
    "tests/test_container_image.py builds it and drives a whole job in it",
    "docker run": "needs a Docker engine (none here): tests/test_container_image.py runs the "
    "same image with podman",
    "docker compose up": "needs a Docker engine (none here): tests/test_compose.py checks "
    "compose.yaml's structure",
    "run it once with GPTGE_API_KEY set": "records from the live provider on its first run: "
    "tests/test_pytest_record.py runs this example in a project of its own, with a mock as "
    "the provider, then again with no upstream",
    'curl http://127.0.0.1:8001/v1/videos -H "Authorization: Bearer $GPTGE_API_KEY"': "sent "
    "through the live proxy above; run through the mock-backed proxy where the README says "
    "'requests to http://127.0.0.1:8001 as above'",
}

#: README commands run with one more option than the README shows, and why
ADJUSTED = {
    "--base-url http://127.0.0.1:8000/gptge  # on the mock": (
        " --poll-interval 0.2",
        "verify sleeps --poll-interval (10 s) of wall time between two polls of its job, "
        "whatever the mock's clock says; the test completes the job on the virtual clock",
    ),
}


def flat(text: str) -> str:
    return " ".join(text.split())


def skip_reason(command: Command) -> str | None:
    for key, reason in SKIPPED.items():
        if flat(key) in flat(command.text):
            return reason
    return None


def adjusted(command: Command) -> Command:
    for key, (extra, _why) in ADJUSTED.items():
        if flat(key) in flat(command.text):
            head, _, comment = command.text.partition("  #")
            return Command(command.line, head.rstrip() + extra + "  #" + comment, command.kind)
    return command


def reads_cassettes(block: Block) -> bool:
    runnable = [c.text for c in block.commands if not skip_reason(c) and not is_comment(c)]
    text = "\n".join(runnable)
    return "cassettes/" in text and "--record" not in text


def blocks() -> list[Block]:
    """README order, except that a block reading ``cassettes/`` without recording them comes
    after the block that records them (the README shows recording a live provider first)."""
    return sorted(readme_blocks(), key=reads_cassettes)


BLOCKS = blocks()


@pytest.fixture(scope="module")
def mock() -> Iterator[Served]:
    with served("--clock", "virtual", "--quiet", workers=1) as server:
        yield server


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("readme")
    prepare_workdir(path)
    return path


@pytest.fixture
def runner(mock: Served, workdir: Path) -> Iterator[Runner]:
    runner = Runner(mock, workdir)
    yield runner
    runner.close()


def commands_for(url: str) -> list[Command]:
    """The README's commands sending to ``url`` (what a comment's "as above" points at)."""
    return [
        command
        for block in readme_blocks()
        for command in block.commands
        if url in command.text and not is_comment(command) and not server_kind(command.text)
    ]


def records_cassettes(block: Block) -> bool:
    return any("--record" in c.text for c in block.commands if not skip_reason(c))


def run_block(runner: Runner, block: Block) -> list[str]:
    """Run the block's commands in order; the skipped ones, with their reasons."""
    if reads_cassettes(block) and not (runner.workdir / "cassettes").is_dir():
        # run on its own (-k): the cassettes come from the block that records them
        for recording in filter(records_cassettes, BLOCKS):
            run_block(runner, recording)
    skipped: list[str] = []
    runnable = [c for c in block.commands if not is_comment(c) and not skip_reason(c)]
    runner.map_server_ports(runnable)
    with ExitStack() as background:
        for command in block.commands:
            if is_comment(command):
                above = re.search(r"(http://127\.0\.0\.1:\d+)\S* as above", command.text)
                for earlier in commands_for(above.group(1)) if above else []:
                    check(runner, earlier)
                if re.search(r"\bstop (both|them|it)\b", command.text):
                    background.close()
                continue
            reason = skip_reason(command)
            if reason:
                skipped.append(f"{command.name}: {reason}")
            elif server_kind(command.text) and command.text.rstrip().endswith("&"):
                background.enter_context(runner.server(command))
            elif server_kind(command.text):
                with runner.server(command):
                    pass  # it serves: that is all a foreground server command does
            else:
                check(runner, adjusted(command))
    return skipped


def check(runner: Runner, command: Command, env: dict[str, str] | None = None) -> None:
    outcome = runner.run(command, env)
    assert outcome.code == 0, (
        f"{command.name}\nran as: {outcome.text}\nexited {outcome.code}:\n{outcome.output}"
    )


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_readme_block_runs(runner: Runner, block: Block) -> None:
    skipped = run_block(runner, block)
    if skipped and len(skipped) == sum(not is_comment(c) for c in block.commands):
        pytest.skip("; ".join(skipped))


def test_every_skipped_command_is_still_in_the_readme() -> None:
    commands = [c for b in readme_blocks() for c in b.commands if not is_comment(c)]
    for key in [*SKIPPED, *ADJUSTED]:
        matches = [c.name for c in commands if flat(key) in flat(c.text)]
        assert matches, f"{key!r} names no README command"


def test_the_readme_has_the_commands_this_file_runs() -> None:
    """The parser finds the README's commands (a broken parser would run nothing)."""
    names = [c.name for b in readme_blocks() for c in b.commands]
    assert any("sora-mock sample-image --size 720x1280" in n for n in names)
    assert any("curl -X POST localhost:8000/__mock/scenarios" in n for n in names)
    python = [c for b in readme_blocks() for c in b.commands if c.kind == "python"]
    assert len(python) >= 2 and all("\n" in c.text for c in python)
    assert not any("10:02:11 POST" in n for n in names)  # console output is not a command


# ------------------------------------------------------------------------ the dashboard


CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 15_000
#: every provider card and every provider API, from the dialects the mock serves (declared
#: ones included: their cards and forms come from their declarations)
DIALECTS = registered()
PROVIDERS = sorted({d.prefix for d in DIALECTS.values()})
APIS = sorted(DIALECTS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists() and not os.environ.get("CI"):
        pytest.skip(f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium package")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, mock: Served) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    page.goto(mock.url + "/", wait_until="domcontentloaded")
    yield page
    context.close()
    assert problems == [], "the page logged errors:\n" + "\n".join(problems)


def shown_snippets(panel_root: Any, where: str) -> list[Command]:
    """The snippets under ``panel_root`` as the page shows them (hidden tabs too), named by
    where they are and what their copy button says."""
    out: list[Command] = []
    for code in panel_root.locator(".snippet code").all():
        text = code.text_content() or ""
        panel = code.locator("xpath=ancestor::*[contains(@class, 'snippet')][1]")
        # its copy button says what it is ("Copy gptge openai snippet", "Copy status curl")
        label = panel.locator("button.copy").get_attribute("aria-label") or "no copy button"
        label = label.removeprefix("Copy ")
        kind = "sh" if text.lstrip().startswith("curl") else "python"
        out.append(Command(0, text, kind, where=f"dashboard, {where}, {label}"))
    return out


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_snippet_on_a_provider_card_runs(page: Any, runner: Runner, provider: str) -> None:
    card = page.locator(f'article[aria-labelledby="provider-{provider}"]')
    card.locator(".snippet code").first.wait_for(state="attached")
    snippets = shown_snippets(card, f"{provider} card")
    assert snippets, f"the {provider} card shows no snippet"
    labels = {c.where.rsplit(", ", 1)[1] for c in snippets}
    assert {f"{provider} curl snippet", f"{provider} sora_client snippet"} <= labels, labels
    for snippet in snippets:
        check(runner, snippet)


@pytest.mark.parametrize("api", APIS)
def test_every_snippet_on_a_job_page_runs(
    page: Any, runner: Runner, mock: Served, api: str
) -> None:
    """For every model the form offers: a job made with the dashboard's form (the sample
    image), run to completion; its page's copy-as-curl snippets (the provider status, the
    video) run with the form's key."""
    page.get_by_label("Provider API").select_option(api)
    models = page.locator("#create-model option").all_text_contents()
    assert models, f"the form offers no model for {api}"
    for model in models:
        page.goto(mock.url + "/", wait_until="domcontentloaded")
        page.get_by_label("Provider API").select_option(api)
        page.get_by_label("Model", exact=True).select_option(model)
        page.get_by_role("button", name="Create job").click()
        result = page.locator("#create-result.ok, #create-result.error")
        result.wait_for()
        link = result.locator("a")
        assert link.count() == 1, f"dashboard form, {api} {model}: {result.inner_text()}"
        job_id = link.inner_text()
        runner.complete_pending()
        link.click()
        body = page.locator("#job-body")
        try:
            body.locator("video").wait_for()  # completed: the video and its download shown
        except Exception:
            job = runner.admin.get(f"/__mock/jobs/{job_id}").json()
            raise AssertionError(
                f"{api} {model}: the job page shows no video: {body.inner_text()!r}; {job}"
            ) from None
        snippets = shown_snippets(body, f"job page of a {api} {model} job")
        expected = 1 if api == "gptproto-chat" else 2  # chat mode has no status endpoint
        assert len(snippets) == expected, [c.text for c in snippets]
        key = page.locator("#create-key").input_value()
        for snippet in snippets:
            assert job_id in snippet.text or job_id.replace(":", "%3A") in snippet.text
            check(runner, snippet, env={"API_KEY": key})
