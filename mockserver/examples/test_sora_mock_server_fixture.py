"""Example: code that is not httpx-based (here the official `openai` package) against the mock
on a real loopback port. Only `base_url` changes.

`create_and_poll` sleeps between its polls (`time.sleep`, as long as the mock's
`openai-poll-after-ms` says): under `sora_mock_server` each of those sleeps moves the mock's
virtual clock instead of waiting, so the job completes after a few polls and the test takes
well under a second. Nothing in the SDK is patched.
"""

from __future__ import annotations

import io

import openai
import pytest
from PIL import Image

from mockserver.testing import SoraMock

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning")


def test_openai_package_makes_a_video(sora_mock_server: SoraMock) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (1280, 720), "teal").save(buf, "PNG")
    client = openai.OpenAI(
        api_key="sk-example", base_url=sora_mock_server.base_url("gptge") + "/v1"
    )
    video = client.videos.create_and_poll(
        prompt="Waves at dusk",
        size="1280x720",
        input_reference=("ref.png", buf.getvalue(), "image/png"),
    )
    assert video.status == "completed"
    assert client.videos.download_content(video.id).read()[4:8] == b"ftyp"  # an MP4
