"""Example: pure httpx code that talks to the real provider URL, served by the mock through
respx: no server, no base URL to change."""

from __future__ import annotations

import httpx


# --- the code under test, hard-wired to Vtrix's real host ---------------------------------
def create_task(prompt: str) -> dict:
    with httpx.Client(
        base_url="https://cloud.vtrix.ai", headers={"Authorization": "Bearer sk-x"}
    ) as c:
        response = c.post(
            "/model/v1/generation", json={"model": "sora_2_pro_i2v", "prompt": prompt}
        )
        response.raise_for_status()
        return dict(response.json())


def task(task_id: str) -> dict:
    with httpx.Client(
        base_url="https://cloud.vtrix.ai", headers={"Authorization": "Bearer sk-x"}
    ) as c:
        return dict(c.get(f"/model/v1/generation/task/{task_id}").json())


# --- the test -----------------------------------------------------------------------------
def test_task_completes_with_a_video_url(sora_respx) -> None:  # type: ignore[no-untyped-def]
    created = create_task("A lighthouse keeper climbs the stairs")
    assert created["status"] == "pending"
    sora_respx.sora_mock.advance(60)
    done = task(created["id"])
    assert done["status"] == "completed"
    assert done["output"][0]["content"][0]["url"].endswith("/video.mp4")
    assert sora_respx.calls.call_count == 2
