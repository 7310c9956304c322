"""A job record for tests that build one directly (stores, the lifecycle, poisoned rows): a
valid gpt.ge job, with any field replaced."""

from __future__ import annotations

from typing import Any

from mockserver.state.lifecycle import Job


def make_job(**changes: Any) -> Job:
    base: dict[str, Any] = dict(
        id="video_1",
        api="gptge-videos",
        model="sora-2",
        prompt="p",
        width=720,
        height=1280,
        seconds=4,
        owner="key_x",
        created_at=100.0,
        queue_seconds=2.0,
        render_seconds=10.0,
    )
    return Job(**(base | changes))
