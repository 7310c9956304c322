"""Record once, replay forever (mockserver/plugin/pytest_record.py; issue 24): a project outside
this repository, written from the README alone, records its traffic on its first run and replays it
on its second with no upstream and no key; plus the modes' rules, exactly."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mockserver.plugin import pytest_record as rec
from mockserver.testing import SoraMock

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-recording-key-0123456789"


def readme_example() -> str:
    """The README's record-once example, as written there."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    (block,) = [b for b in blocks if 'record="once"' in b]
    return block


def run_pytest(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """pytest on ``project`` with the installed plugin, by its entry point's name (``-p
    sora_mock``); the other installed plugins are not loaded (every one of them, schemathesis
    and hypothesis among them, makes a start cost about 15 s on the shared machine)."""
    env = env | {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "sora_mock"]
        + ["-rfE", str(project)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_project_records_on_its_first_run_and_replays_on_its_second(
    tmp_path: Path, sora_mock_server: SoraMock
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n")
    example = readme_example()
    (project / "test_my_app.py").write_text(example)
    wrong = example.replace('model="sora-2", seconds="4"', 'model="sora-2-pro"')
    assert wrong != example
    (project / "test_wrong.py").write_text(wrong)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.pop(rec.UPSTREAM_ENV, None)

    # first run: no cassette, a key, an upstream (a mock standing in for api.gpt.ge)
    upstream = sora_mock_server.base_url("gptge")
    first = run_pytest(project, env | {"GPTGE_API_KEY": KEY, rec.UPSTREAM_ENV: upstream})
    assert "1 failed, 1 passed" in first.stdout, first.stdout + first.stderr
    # the wrong expectation shows what arrived instead
    near_miss = "POST /gptge/v1/videos -> 200 (gptge createVideo): model='sora-2' (wanted "
    assert near_miss + "'sora-2-pro')" in first.stdout, first.stdout
    sora_mock_server.assert_requested(operation="createVideo", times=2, model="sora-2")
    recorded = sorted((project / "cassettes").glob("*/*.json"))
    assert [p.parent.name for p in recorded] == [
        "test_my_app__test_my_app_creates_one_video",
        "test_wrong__test_my_app_creates_one_video",
    ]
    assert not any(KEY in p.read_text() for p in recorded)  # the key is never written

    # second run: no key, nothing listening where the upstream was
    (project / "test_none.py").write_text(
        example.replace('record="once"', 'record="none"').replace("test_my_app_", "test_none_")
    )
    (project / "test_new.py").write_text(example.replace("test_my_app_", "test_new_"))
    dead = f"http://127.0.0.1:{closed_port()}/gptge"
    second = run_pytest(project, env | {rec.UPSTREAM_ENV: dead})
    # a refusal is the fixture's: an error at set-up, before the test runs
    assert "1 failed, 1 passed, 2 errors" in second.stdout, second.stdout + second.stderr
    assert "FAILED test_wrong.py" in second.stdout and "test_my_app.py" not in second.stdout
    # the create was answered from its cassette (the near miss names it), then judged
    assert re.search(
        r"createVideo, replay gptge-0000-video_\w+\.json\): model='sora-2' "
        r"\(wanted 'sora-2-pro'\)",
        second.stdout,
    ), second.stdout
    assert "record='none'): no cassette in" in second.stdout
    assert "no GPTGE_API_KEY in the environment to record one" in second.stdout
    sora_mock_server.assert_requested(operation="createVideo", times=2)  # nothing new upstream


@pytest.mark.parametrize(
    ("mode", "cassette", "key", "action"),
    [
        ("none", True, None, "replay"),
        ("none", True, KEY, "replay"),
        ("none", False, KEY, "no-cassette"),
        ("once", True, KEY, "replay"),
        ("once", True, None, "replay"),
        ("once", False, KEY, "record"),
        ("once", False, None, "no-key"),
        ("new_episodes", True, None, "replay"),
        ("new_episodes", True, KEY, "record"),
        ("new_episodes", False, None, "no-key"),
        ("all", True, KEY, "record"),
        ("all", True, None, "no-key"),
        ("all", False, None, "no-key"),
    ],
)
def test_each_mode_replays_records_or_refuses(
    mode: str, cassette: bool, key: str | None, action: str
) -> None:
    try:
        got = rec.plan(mode, cassette, key)
    except rec.Refused as refused:
        got = str(refused)
    assert got == action


def test_cassette_directories_are_named_from_the_node_id_and_never_shared() -> None:
    name = rec.cassette_dir_name("tests/sub/test_a.py::TestB::test_c[x-1/ü]")
    assert name == "test_a__TestB__test_c_x-1_"
    long_a = rec.cassette_dir_name("t.py::test_" + "a" * 300 + "[1]")
    long_b = rec.cassette_dir_name("t.py::test_" + "a" * 300 + "[2]")
    assert len(long_a) <= rec.MAX_NAME and long_a != long_b
    assert rec.cassette_dir_name("t.py::test_x") != rec.cassette_dir_name("u.py::test_x")


class _Options:
    def __init__(self, **values: str | None) -> None:
        self.values = values

    def getoption(self, name: str, default: object = None) -> object:
        return self.values.get(name, default)


def test_the_command_line_mode_overrides_only_tests_that_keep_their_own_cassettes() -> None:
    once = pytest.mark.sora_replay(record="once", provider="gptge").mark
    old_style = pytest.mark.sora_replay("cassettes").mark
    rerecord = _Options(**{"--sora-record": "all"})
    assert rec.marker_mode(once, _Options()) == "once"  # type: ignore[arg-type]
    assert rec.marker_mode(once, rerecord) == "all"  # type: ignore[arg-type]
    assert rec.marker_mode(old_style, rerecord) is None  # type: ignore[arg-type]
    with pytest.raises(pytest.UsageError, match="use one of once, none, new_episodes, all"):
        rec.marker_mode(pytest.mark.sora_replay(record="sometimes").mark, _Options())  # type: ignore[arg-type]
