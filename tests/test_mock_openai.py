"""The official ``openai`` package works unchanged against the mock: only ``base_url`` changes.

It talks to the mock over a real loopback socket (``sora_mock_server``), the way a user's
application would. Its polling sleeps are turned into advances of the mock's virtual clock.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import openai
import pytest
from providers import png

from mockserver.testing import SoraMock

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning")


@pytest.fixture(params=["gptge", "gptproto"])
def client(request: pytest.FixtureRequest, sora_mock_server: SoraMock) -> openai.OpenAI:
    client = openai.OpenAI(
        api_key="sk-openai-sdk-test",
        base_url=sora_mock_server.base_url(request.param) + "/v1",
        max_retries=0,
    )
    # create_and_poll sleeps between polls: advance the virtual clock instead of waiting
    client.videos._sleep = sora_mock_server.advance  # type: ignore[method-assign]
    return client


def test_create_and_poll_then_download_a_playable_mp4(
    client: openai.OpenAI, tmp_path: Path
) -> None:
    video = client.videos.create_and_poll(
        model="sora-2",
        prompt="A cat in a hat",
        seconds="4",
        size="720x1280",
        input_reference=("cat.png", png(720, 1280), "image/png"),
    )
    assert video.status == "completed" and video.progress == 100
    target = tmp_path / "cat.mp4"
    client.videos.download_content(video.id).write_to_file(target)
    with av.open(str(target)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (720, 1280)
        assert stream.codec_context.name == "h264"


def test_retrieve_list_remix_delete(client: openai.OpenAI, sora_mock_server: SoraMock) -> None:
    first = client.videos.create(
        prompt="one", input_reference=("a.png", png(720, 1280), "image/png")
    )
    assert first.status == "queued"
    sora_mock_server.advance(60)
    assert client.videos.retrieve(first.id).status == "completed"
    second = client.videos.remix(first.id, prompt="one, at night")
    assert second.remixed_from_video_id == first.id
    page = client.videos.list(limit=1)
    assert [v.id for v in page.data] == [second.id]
    all_ids = [v.id for v in client.videos.list(limit=1)]  # auto-pagination follows `after`
    assert all_ids == [second.id, first.id]
    deleted = client.videos.delete(first.id)
    assert deleted.deleted is True and deleted.id == first.id
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(first.id)


@pytest.mark.parametrize("variant", ["thumbnail", "spritesheet"])
def test_download_variants(client: openai.OpenAI, sora_mock_server: SoraMock, variant: str) -> None:
    video = client.videos.create(prompt="p", input_reference=("a.png", png(720, 1280), "image/png"))
    sora_mock_server.advance(60)
    content = client.videos.download_content(video.id, variant=variant)  # type: ignore[arg-type]
    from PIL import Image

    Image.open(io.BytesIO(content.read())).load()


@pytest.mark.parametrize(
    ("scenario", "exception"),
    [
        ("unauthorized", openai.AuthenticationError),
        ("forbidden", openai.PermissionDeniedError),
        ("rate_limited", openai.RateLimitError),
        ("server_error", openai.InternalServerError),
        ("content_policy", openai.BadRequestError),
    ],
)
def test_errors_arrive_as_the_packages_own_exceptions(
    client: openai.OpenAI, scenario: str, exception: type[Exception]
) -> None:
    with pytest.raises(exception) as caught:
        client.videos.create(
            prompt="p",
            input_reference=("a.png", png(720, 1280), "image/png"),
            extra_headers={"X-Mock-Scenario": scenario},
        )
    assert caught.value.request_id and caught.value.request_id.startswith("req_")  # type: ignore[attr-defined]


def test_a_size_mismatch_is_the_documented_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="Inpaint image must match"):
        client.videos.create(
            prompt="p", size="1280x720", input_reference=("a.png", png(720, 1280), "image/png")
        )


def test_failed_generation_is_reported_by_create_and_poll(client: openai.OpenAI) -> None:
    video = client.videos.create_and_poll(
        prompt="p",
        input_reference=("a.png", png(720, 1280), "image/png"),
        extra_headers={"X-Mock-Scenario": "generation_failed"},
    )
    assert video.status == "failed"
    assert video.error is not None and video.error.code
