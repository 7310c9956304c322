"""The same behavioural flow against a real provider: paid, so off unless asked for.

Run it with ``--live`` and the provider's key set, e.g.::

    SORA_LIVE_PROVIDER=gptge GPTGE_API_KEY=sk-... .venv/bin/pytest tests/test_client_live.py --live

At most one paid create per run (``SORA_LIVE_PROVIDER`` picks which provider; default gptge).
``SORA_LIVE_IMAGE`` may name a reference image (otherwise a 720x1280 PNG is drawn).
Never runs in CI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from client_helpers import png, read_mp4

from sora_client import (
    AuthenticationError,
    InvalidRequestError,
    Job,
    SoraClient,
    UnsupportedOperation,
)
from sora_client._providers import adapter_class

PROVIDER = os.environ.get("SORA_LIVE_PROVIDER", "gptge")
ENV_VAR = adapter_class(PROVIDER).env_var
MAX_PAID_CREATES = 1


def _why_skipped() -> str | None:
    if os.environ.get("CI"):
        return "live tests never run in CI"
    if not os.environ.get(ENV_VAR):
        return f"{ENV_VAR} is not set: no live test for provider {PROVIDER}"
    return None


pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(_why_skipped() is not None, reason=_why_skipped() or ""),
]


class PaidCreates:
    """Counts paid creates in this run and refuses the one over the cap."""

    def __init__(self) -> None:
        self.count = 0

    def take(self) -> None:
        if self.count >= MAX_PAID_CREATES:
            pytest.fail(f"more than {MAX_PAID_CREATES} paid create in one live run")
        self.count += 1


@pytest.fixture(scope="module")
def paid() -> PaidCreates:
    return PaidCreates()


@pytest.fixture(scope="module")
def client() -> Iterator[SoraClient]:
    with SoraClient(PROVIDER) as live:
        yield live


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("SORA_LIVE_IMAGE")
    if given:
        return Path(given)
    path = tmp_path_factory.mktemp("live") / "ref-720x1280.png"
    path.write_bytes(png(720, 1280, (230, 180, 60)))
    return path


@pytest.fixture(scope="module")
def finished(
    client: SoraClient, paid: PaidCreates, reference: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Job, Path]:
    """The one paid job of the run: created, waited for and downloaded."""
    out = tmp_path_factory.mktemp("live") / "live.mp4"
    paid.take()
    kwargs = {} if PROVIDER == "gptproto-chat" else {"size": "720x1280"}
    seconds = {"gptproto-v3": 10, "gptproto-chat": 5}.get(PROVIDER, 4)
    job = client.generate(
        "A slow dolly shot of a sunflower field at dawn",
        image=reference,
        seconds=seconds,
        path=out,
        timeout=1200,
        **kwargs,
    )
    return job, out


def test_live_refuses_invalid_input_without_paying(client: SoraClient, reference: Path) -> None:
    with pytest.raises(InvalidRequestError):
        client.create("x", image=reference, model="sora-2", seconds=25)


def test_live_wrong_key_is_an_authentication_error() -> None:
    with SoraClient(PROVIDER, api_key="sk-not-a-real-key-000000") as wrong:
        if PROVIDER == "gptproto-chat":
            pytest.skip("chat mode: a create with a wrong key would still be a create")
        with pytest.raises(AuthenticationError) as info:
            wrong.get("video_does_not_exist")
    assert "sk-not-a-real-key" not in str(info.value)


def test_live_generate_saves_a_playable_video(finished: tuple[Job, Path]) -> None:
    job, path = finished
    assert job.status == "completed" and job.progress == 1.0
    codec, width, height = read_mp4(path)
    assert codec == "h264" and width > 0 and height > 0


def test_live_a_finished_job_stays_retrievable(
    client: SoraClient, finished: tuple[Job, Path], tmp_path: Path
) -> None:
    job, path = finished
    try:
        again = client.get(job.id)
    except UnsupportedOperation:
        return  # chat mode has no status endpoint
    assert again.status == "completed"
    copy = client.download(again, tmp_path / "again.mp4")
    assert copy.stat().st_size == path.stat().st_size
