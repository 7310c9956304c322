"""The pytest plugin (``mockserver.testing``) as a user meets it: polling code finishes under
the server fixtures without waiting, a failing polling test reports briefly, every fixture
explains itself in ``pytest --fixtures``, the plugin costs nothing until used, and the
examples it points to ship with the package."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
import tomllib
import types
from collections.abc import Callable, Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from mockserver.http.app import service_of
from mockserver.state.clock import RealClock
from mockserver.testing import CLOCK_START, EXTRA, MockError, SoraMock, _in_standard_library
from sora_client import AsyncSoraClient, SoraClient

pytest_plugins = ("pytester",)

ROOT = Path(__file__).resolve().parent.parent
#: the providers' real gpt.ge host: what code under sora_respx talks to
GPTGE = "https://api.gpt.ge"


def png(width: int = 720, height: int = 1280) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(buf, "PNG")
    return buf.getvalue()


# --- code under test: three ways of polling a gpt.ge job until it is done --------------------
def with_openai(base: str) -> str:
    client = openai.OpenAI(api_key="sk-poll", base_url=base + "/v1")
    video = client.videos.create_and_poll(
        model="sora-2",
        prompt="A cat in a hat",
        seconds="4",
        size="720x1280",
        input_reference=("cat.png", png(), "image/png"),
    )
    return video.status


def with_sora_client(base: str) -> str:
    with SoraClient("gptge", api_key="sk-poll", base_url=base) as client:
        job = client.create("A cat in a hat", image=png(), seconds=4, size="720x1280")
        return client.wait(job).status


def with_a_loop(base: str) -> str:
    with httpx.Client(base_url=base, headers={"Authorization": "Bearer sk-poll"}) as client:
        created = client.post(
            "/v1/videos",
            data={"prompt": "A cat in a hat", "model": "sora-2", "seconds": "4"},
            files={"input_reference": ("cat.png", png(), "image/png")},
        )
        video_id = created.json()["id"]
        for _ in range(100):
            status = str(client.get(f"/v1/videos/{video_id}").json()["status"])
            if status in ("completed", "failed"):
                return status
            time.sleep(2)
    raise TimeoutError(f"{video_id} is still {status}")


POLLERS: dict[str, Callable[[str], str]] = {
    "openai-create_and_poll": with_openai,
    "sora_client-wait": with_sora_client,
    "while-loop-time.sleep": with_a_loop,
}


@pytest.fixture
def real_sleeps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Stands in for the real ``time.sleep`` underneath the plugin's (request it first): a
    sleep of the test's thread that reaches it is recorded and fails the test at once,
    instead of waiting; other threads sleep as usual."""
    real = time.sleep
    owner = threading.get_ident()
    seen: list[float] = []

    def sleep(seconds: float) -> None:
        if threading.get_ident() != owner:
            real(seconds)
            return
        seen.append(seconds)
        raise AssertionError(f"the code under test really slept {seconds} s")

    async def async_sleep(delay: float, result: Any = None) -> Any:
        if threading.get_ident() == owner and delay != 0:  # 0: a virtual sleep's yield
            seen.append(delay)
            raise AssertionError(f"the code under test really slept {delay} s")
        return await real_async(delay, result)

    real_async = asyncio.sleep
    monkeypatch.setattr(time, "sleep", sleep)
    monkeypatch.setattr(asyncio, "sleep", async_sleep)
    yield seen


def mock_and_base(request: pytest.FixtureRequest, fixture: str) -> tuple[SoraMock, str]:
    value = request.getfixturevalue(fixture)
    if fixture == "sora_respx":
        return value.sora_mock, GPTGE
    return value, value.base_url("gptge")


@pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning")
@pytest.mark.parametrize("fixture", ["sora_mock_server", "sora_respx"])
@pytest.mark.parametrize("poller", list(POLLERS))
def test_polling_code_finishes_without_real_waiting(
    real_sleeps: list[float], request: pytest.FixtureRequest, fixture: str, poller: str
) -> None:
    mock, base = mock_and_base(request, fixture)
    assert POLLERS[poller](base) == "completed"
    assert real_sleeps == []
    # the job moved because the code slept on the mock's clock: a few seconds of it, not hours
    (job,) = mock.jobs()
    assert job.queue_seconds + job.render_seconds <= mock.now() - CLOCK_START < 60


@pytest.mark.asyncio
@pytest.mark.parametrize("fixture", ["sora_mock_server", "sora_respx"])
async def test_async_polling_code_finishes_without_real_waiting(
    real_sleeps: list[float], request: pytest.FixtureRequest, fixture: str
) -> None:
    mock, base = mock_and_base(request, fixture)
    async with AsyncSoraClient("gptge", api_key="sk-poll", base_url=base) as client:
        job = await client.create("A cat in a hat", image=png(), seconds=4, size="720x1280")
        assert (await client.wait(job)).status == "completed"
    assert real_sleeps == []
    (job,) = mock.jobs()
    assert job.queue_seconds + job.render_seconds <= mock.now() - CLOCK_START < 60


def test_only_the_tests_own_thread_sleeps_on_the_mocks_clock(
    real_sleeps: list[float], sora_mock_server: SoraMock
) -> None:
    def nap() -> None:  # called from here, not from threading's own code (which sleeps real)
        time.sleep(0.001)

    other = threading.Thread(target=nap)
    other.start()
    other.join()
    assert sora_mock_server.now() == CLOCK_START  # the other thread's sleep was its own
    time.sleep(3.5)
    assert sora_mock_server.now() == CLOCK_START + 3.5
    assert real_sleeps == []


@pytest.fixture
def slept_for_real(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Records the sleeps of the test's thread that reach the real ``time.sleep`` underneath
    the plugin's (request it first), and lets them sleep."""
    real = time.sleep
    owner = threading.get_ident()
    seen: list[float] = []

    def sleep(seconds: float) -> None:
        if threading.get_ident() == owner:
            seen.append(seconds)
        real(seconds)

    monkeypatch.setattr(time, "sleep", sleep)
    return seen


def test_the_standard_librarys_own_sleeps_stay_real(
    slept_for_real: list[float], sora_mock_server: SoraMock
) -> None:
    # subprocess.run with a timeout polls the child with time.sleep: a virtual sleep would
    # spin a core, and run the mock's clock on, while the child works
    child = "import time; time.sleep(0.05)"  # long enough to be polled
    subprocess.run([sys.executable, "-c", child], timeout=60, check=True)
    assert slept_for_real and sora_mock_server.now() == CLOCK_START
    waited = len(slept_for_real)
    time.sleep(1)  # the test's own: virtual
    assert len(slept_for_real) == waited and sora_mock_server.now() == CLOCK_START + 1


def test_installed_packages_are_not_the_standard_library() -> None:
    # a Python without a venv keeps site-packages inside the standard library's directory:
    # openai's sleeps there must stay virtual
    stdlib = sysconfig.get_paths()["stdlib"]
    assert _in_standard_library(subprocess.__file__)
    assert _in_standard_library(os.path.join(stdlib, "asyncio", "tasks.py"))
    assert not _in_standard_library(os.path.join(stdlib, "site-packages", "openai", "x.py"))
    assert not _in_standard_library(os.path.join(stdlib, "dist-packages", "openai", "x.py"))
    assert not _in_standard_library(__file__)


@pytest.mark.parametrize("fixture", ["sora_mock_server", "sora_respx"])
def test_an_app_on_the_real_clock_keeps_real_sleeps(
    request: pytest.FixtureRequest,
    sora_mock_app: Any,
    monkeypatch: pytest.MonkeyPatch,
    fixture: str,
) -> None:
    # a user who overrides sora_mock_app with clock="real" gets the fixtures, and real time
    monkeypatch.setattr(service_of(sora_mock_app), "clock", RealClock())
    real = time.sleep
    mock, _ = mock_and_base(request, fixture)
    assert time.sleep is real
    assert mock.service.clock.kind == "real"


def test_virtual_sleep_ends_with_its_block(sora_mock: SoraMock) -> None:
    real, real_async = time.sleep, asyncio.sleep
    with sora_mock.virtual_sleep():
        assert time.sleep is not real and asyncio.sleep is not real_async
        time.sleep(7)
        with pytest.raises(ValueError, match="sleep length must be non-negative"):
            time.sleep(-1)  # still time.sleep's own refusal
    assert time.sleep is real and asyncio.sleep is real_async
    assert sora_mock.now() == CLOCK_START + 7


def test_virtual_sleep_needs_the_virtual_clock(sora_mock: SoraMock) -> None:
    sora_mock.service.clock, virtual = (
        type("Real", (), {"now": time.time})(),
        sora_mock.service.clock,
    )
    try:
        with pytest.raises(MockError, match="clock is real"), sora_mock.virtual_sleep():
            pass
    finally:
        sora_mock.service.clock = virtual


def run_inner(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest in this process on the files ``pytester`` made, with the plugin as installed."""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)


# --- a failing polling test reports briefly ------------------------------------------------
POLLING_FOREVER = """
import httpx

def test_polls_the_wrong_id(FIXTURE):
    base = "BASE"
    with httpx.Client(base_url=base, headers={"Authorization": "Bearer sk-x"}) as client:
        for _ in range(60):
            if client.get("/v1/videos/video_nope").status_code == 200:
                return
    raise TimeoutError("video_nope never appeared")
"""


@pytest.mark.parametrize("fixture", ["sora_mock_server", "sora_respx"])
def test_a_polling_test_that_times_out_fails_in_a_few_lines(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sora_mock_app: Any, fixture: str
) -> None:
    base = {"sora_respx": GPTGE, "sora_mock_server": "{}"}[fixture]
    source = POLLING_FOREVER.replace("FIXTURE", fixture).replace("BASE", base)
    if fixture == "sora_mock_server":
        source = source.replace('"{}"', 'sora_mock_server.base_url("gptge")')
    pytester.makepyfile(source)
    # the inner session serves this session's app (building one costs a second or two)
    monkeypatch.setitem(
        sys.modules, "_outer_sora_mock_app", types.SimpleNamespace(app=sora_mock_app)
    )
    pytester.makeconftest(
        "import sys, pytest\n\n"
        "@pytest.fixture(scope='session')\n"
        "def sora_mock_app():\n"
        "    return sys.modules['_outer_sora_mock_app'].app\n"
    )
    result = run_inner(pytester, "--log-level=INFO")
    result.assert_outcomes(failed=1)
    output = result.stdout.str() + result.stderr.str()
    assert "TimeoutError: video_nope never appeared" in output
    assert len(output.splitlines()) < 60, output[-3000:]  # today's plugin: 148 for these 60 polls
    # what the mock saw, in brief: how many requests, the last few
    result.stdout.fnmatch_lines(
        [
            "*sora-mock requests*",
            "the mock answered 60 requests in this test; the last 5:",
            "  GET /gptge/v1/videos/video_nope -> 404 (Video with id 'video_nope' not found.)",
        ]
    )
    assert output.count("GET /gptge/v1/videos/video_nope") == 5


REPLAYED_FROM_ELSEWHERE = """
import pytest

@pytest.mark.sora_replay("cassettes", fallback="404")
def test_replays(sora_replay):
    with sora_replay.client("gptge") as client:
        assert client.get("/v1/videos/nothing").status_code == 404
"""


def test_a_replay_cassette_is_found_beside_the_file_the_test_is_written_in(
    pytester: pytest.Pytester,
) -> None:
    # a user collects a shipped example with `from mockserver.examples.x import *`: its
    # cassettes are beside the example, not beside the user's file
    shipped = pytester.mkpydir("shipped")
    (shipped / "replayed.py").write_text(REPLAYED_FROM_ELSEWHERE)
    shutil.copytree(EXAMPLES / "cassettes", shipped / "cassettes")
    pytester.makepyfile(test_user="from shipped.replayed import *  # noqa\n")
    run_inner(pytester).assert_outcomes(passed=1)


# --- pytest --fixtures -----------------------------------------------------------------------
def test_every_fixture_of_the_plugin_has_a_docstring(pytester: pytest.Pytester) -> None:
    result = run_inner(pytester, "--fixtures", "-v")
    lines = result.stdout.lines
    start = next(
        i for i, line in enumerate(lines) if "fixtures defined from mockserver.testing" in line
    )
    section = []
    for line in lines[start + 1 :]:
        if line.startswith("-") or line.startswith("="):
            break
        section.append(line)
    names = [line.split()[0] for line in section if line and not line.startswith(" ")]
    assert sorted(names) == sorted(
        [
            "sora_mock_app",
            "sora_mock",
            "sora_mock_server",
            "_sora_mock_server_session",
            "sora_replay",
            "sora_respx",
        ]
    )
    assert not [line for line in section if "no docstring available" in line], section


# --- the plugin's cost and its extra -----------------------------------------------------------
HEAVY = ("flask", "werkzeug", "httpx", "respx", "PIL", "av", "numpy", "yaml", "openapi_core")


def test_loading_the_plugin_imports_nothing_heavy_and_needs_no_respx() -> None:
    # what every pytest run pays once the package is installed, fixtures used or not
    code = (
        "import sys; sys.modules['respx'] = None\n"  # as if respx were not installed
        "import mockserver.testing, json\n"
        "loaded = [m for m, module in sys.modules.items() if module is not None]\n"
        f"print(json.dumps([m for m in loaded if m.split('.')[0] in {HEAVY!r}]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout) == []


def test_sora_respx_without_respx_names_the_extra(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile("def test_it(sora_respx):\n    pass\n")
    # `import respx` fails as if it were not installed (and so does respx's own plugin: off)
    monkeypatch.setitem(sys.modules, "respx", None)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = run_inner(pytester, "-p", "mockserver.testing")
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert f"the sora_respx fixture needs respx: pip install '{EXTRA}'" in output
    assert "Traceback" not in output and "During handling" not in output
    assert EXTRA == "sora-mock[pytest]"
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(dep.startswith("respx") for dep in extras["optional-dependencies"]["pytest"])


# --- the examples ship with the package and run in the suite --------------------------------
EXAMPLES = ROOT / "mockserver" / "examples"


def test_every_shipped_example_is_collected_by_the_suite() -> None:
    shipped = sorted(p.name for p in EXAMPLES.glob("test_*.py"))
    collected = sorted(p.name for p in (ROOT / "tests" / "examples").glob("test_*.py"))
    assert shipped == collected
    for name in collected:
        text = (ROOT / "tests" / "examples" / name).read_text()
        assert f"from mockserver.examples.{name.removesuffix('.py')} import *" in text


def test_every_file_the_examples_read_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["mockserver"]
    data = [
        p.relative_to(EXAMPLES.parent).as_posix()
        for p in EXAMPLES.rglob("*")
        if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts
    ]
    assert data  # the replay example's cassette and its video
    assert [f for f in data if not any(fnmatch(f, pattern) for pattern in patterns)] == []
