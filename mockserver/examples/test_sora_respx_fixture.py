"""Example: pure httpx code that talks to the real provider URL, served by the mock through
respx: no server, no base URL to change.

The code under test polls with `time.sleep` as it would in production: under `sora_respx`
each sleep moves the mock's virtual clock instead of waiting, so the job finishes on the
schedule the code would see for real, and the test does not wait.
"""

from __future__ import annotations

import time

import httpx

from mockserver.testing import SoraMock

VTRIX = "https://cloud.vtrix.ai"
HEADERS = {"Authorization": "Bearer sk-x"}


# --- the code under test, hard-wired to Vtrix's real host ---------------------------------
def create_task(prompt: str) -> dict:
    with httpx.Client(base_url=VTRIX, headers=HEADERS) as c:
        response = c.post(
            "/model/v1/generation", json={"model": "sora_2_pro_i2v", "prompt": prompt}
        )
        response.raise_for_status()
        return dict(response.json())


def task(task_id: str) -> dict:
    with httpx.Client(base_url=VTRIX, headers=HEADERS) as c:
        return dict(c.get(f"/model/v1/generation/task/{task_id}").json())


def wait_for_video(task_id: str, every: float = 2.0, attempts: int = 150) -> str:
    """Poll every `every` seconds, for five minutes at most; the video's URL."""
    for _ in range(attempts):
        current = task(task_id)
        if current["status"] == "completed":
            return str(current["output"][0]["content"][0]["url"])
        if current["status"] == "failed":
            raise RuntimeError(current["error"])
        time.sleep(every)
    raise TimeoutError(f"task {task_id} still {current['status']} after {attempts} polls")


# --- the tests ----------------------------------------------------------------------------
def test_task_completes_with_a_video_url(sora_respx) -> None:
    created = create_task("A lighthouse keeper climbs the stairs")
    assert created["status"] == "pending"
    sora_respx.sora_mock.advance(60)  # or drive the clock yourself
    done = task(created["id"])
    assert done["status"] == "completed"
    assert done["output"][0]["content"][0]["url"].endswith("/video.mp4")
    assert sora_respx.calls.call_count == 2


def test_polling_code_finishes_without_waiting(sora_respx) -> None:
    mock: SoraMock = sora_respx.sora_mock
    started = mock.now()
    url = wait_for_video(create_task("A lighthouse keeper climbs the stairs")["id"])
    assert url.endswith("/video.mp4")
    # the job took a few seconds of the mock's time: the code slept them, nobody waited
    polls = sora_respx.calls.call_count - 1
    assert mock.now() - started == (polls - 1) * 2.0
