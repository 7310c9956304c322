"""What the two drivers (``SoraClient`` and ``AsyncSoraClient``, ``sora_client._client``) do
with the actions the flows yield, seen from outside: an answer read whole stops at its size
limit and at the exchange's overall deadline (whether the transport hands the body over
read or streams it), sleeps go through the injected ``sleep`` and move the client's time,
a listing is read page by page along the cursors, ``generate`` runs create, wait and
download, callbacks and sleeps may be coroutines, and an httpx error that escapes a flow is
still translated."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_helpers import (  # noqa: F401  (never_really_sleep: a fixture)
    RESPX_BASE,
    Clock,
    Feed,
    Flavor,
    flavor_fixture,  # noqa: F401  (fixtures)
    image,
    job_body,
    never_really_sleep_fixture,
    transport,
)

import sora_client._base_client as base_client_module
import sora_client._client as client_module
from sora_client import (
    AsyncSoraClient,
    NetworkError,
    PollTimeoutError,
    ReadTimeoutError,
    ResponseTooLargeError,
    SoraClient,
)
from sora_client._flow import Now

KEY = "sk-test-DRIVERS-0f9d3e"
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4


def _body(status: str = "queued", job_id: str = "video_1", pad: int = 0) -> bytes:
    """A gptge job as JSON bytes, padded with spaces to ``pad`` bytes."""
    text = json.dumps(job_body("gptge", status, job_id)).encode()
    return text + b" " * max(0, pad - len(text))


pytestmark = pytest.mark.usefixtures("never_really_sleep")  # from client_helpers


# ---------------------------------------------------------------------- the size limit


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    limit = len(_body()) + 20
    monkeypatch.setattr(base_client_module, "MAX_BODY", limit)
    return limit


@pytest.mark.parametrize("streamed", [False, True], ids=["read", "streamed"])
def test_an_answer_at_the_limit_is_read(flavor: Flavor, small_limit: int, streamed: bool) -> None:
    data = _body(pad=small_limit)
    answer = (
        httpx.Response(200, stream=Feed([data[:40], data[40:]]))
        if streamed
        else httpx.Response(200, content=data)
    )
    mock, _ = transport(answer)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, api_key=KEY) as client:
        assert client.get("video_1").id == "video_1"


@pytest.mark.parametrize("streamed", [False, True], ids=["read", "streamed"])
def test_an_answer_over_the_limit_is_refused(
    flavor: Flavor, small_limit: int, streamed: bool
) -> None:
    data = _body(pad=small_limit + 1)
    feed = Feed([data[:40], data[40:]])
    answer = httpx.Response(200, stream=feed) if streamed else httpx.Response(200, content=data)
    mock, seen = transport(answer)
    with flavor.client(
        "gptge", transport=mock, base_url=RESPX_BASE, api_key=KEY, max_retries=0
    ) as client:
        with pytest.raises(ResponseTooLargeError) as caught:
            client.get("video_1")
    assert caught.value.limit == small_limit
    assert str(caught.value) == f"gptge sent an answer larger than {small_limit} bytes"
    assert len(seen) == 1
    # raised from httpx's kind of error, which names the request it broke
    assert caught.value.__cause__.request.url == f"{RESPX_BASE}/v1/videos/video_1"  # type: ignore[union-attr]


def test_a_streamed_answer_is_counted_chunk_by_chunk(flavor: Flavor, small_limit: int) -> None:
    """Each chunk under the limit, the sum over it: refused."""
    data = _body(pad=small_limit + 10)
    third = len(data) // 3 + 1
    feed = Feed([data[:third], data[third : 2 * third], data[2 * third :]])
    mock, _ = transport(httpx.Response(200, stream=feed))
    with flavor.client(
        "gptge", transport=mock, base_url=RESPX_BASE, api_key=KEY, max_retries=0
    ) as client:
        with pytest.raises(ResponseTooLargeError):
            client.get("video_1")


def test_a_streamed_answer_is_read_whole_and_in_order(flavor: Flavor) -> None:
    data = _body("in_progress", "video_7")
    feed = Feed([data[i : i + 7] for i in range(0, len(data), 7)])
    mock, _ = transport(httpx.Response(200, stream=feed))
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, api_key=KEY) as client:
        job = client.get("video_7")
    assert (job.id, job.status) == ("video_7", "in_progress")
    assert feed.closed


# ---------------------------------------------------------------------- the overall deadline


def _slow(clock: Clock, seconds_per_chunk: float, data: bytes) -> httpx.Response:
    def tick() -> None:
        clock.now += seconds_per_chunk

    half = len(data) // 2
    return httpx.Response(200, stream=Feed([data[:half], data[half:]], each=tick))


@pytest.mark.parametrize(
    ("timeout", "per_chunk", "late"),
    [
        (3.0, 2.0, True),
        (3.0, 1.5, False),
        (httpx.Timeout(60.0, connect=1.0), 25.0, False),
        (httpx.Timeout(60.0, connect=1.0), 31.0, True),
        (None, 1e6, False),
    ],
)
def test_an_answer_that_trickles_past_the_overall_deadline_is_a_timeout(
    flavor: Flavor, timeout: Any, per_chunk: float, late: bool
) -> None:
    clock = Clock()
    clock.now = 1000.0
    mock, _ = transport(_slow(clock, per_chunk, _body()))
    with flavor.client(
        "gptge",
        transport=mock,
        base_url=RESPX_BASE,
        api_key=KEY,
        clock=clock,
        timeout=timeout,
        max_retries=0,
    ) as client:
        if not late:
            assert client.get("video_1").id == "video_1"
            return
        with pytest.raises(ReadTimeoutError) as caught:
            client.get("video_1")
    assert caught.value.__cause__.request.url == f"{RESPX_BASE}/v1/videos/video_1"  # type: ignore[union-attr]
    limit = timeout.read if isinstance(timeout, httpx.Timeout) else timeout
    assert (
        f"the answer was not complete after {limit:g} s (the overall deadline of a request)"
    ) in str(caught.value)


def test_a_body_handed_over_late_by_the_transport_is_a_timeout(flavor: Flavor) -> None:
    clock = Clock()
    clock.now = 50.0

    def late(request: httpx.Request) -> httpx.Response:
        clock.now += 5.0
        return httpx.Response(200, content=_body())

    with flavor.client(
        "gptge",
        transport=httpx.MockTransport(late),
        base_url=RESPX_BASE,
        api_key=KEY,
        clock=clock,
        timeout=4.0,
        max_retries=0,
    ) as client:
        with pytest.raises(ReadTimeoutError):
            client.get("video_1")


# ---------------------------------------------------------------------- sleeping and time


def _polls(status: str = "in_progress", limit: int = 40) -> tuple[httpx.MockTransport, list[Any]]:
    seen: list[Any] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) > limit:
            raise AssertionError("the wait did not stop")
        return httpx.Response(200, content=_body(status))

    return httpx.MockTransport(answer), seen


def test_an_injected_sleep_moves_the_clients_time(flavor: Flavor) -> None:
    """No clock injected: the wait's deadline counts the fake sleeps (real time only
    shortens the last one, by far less than it is long)."""
    mock, seen = _polls()
    slept: list[float] = []
    with flavor.client(
        "gptge", transport=mock, base_url=RESPX_BASE, api_key=KEY, sleep=slept.append
    ) as client:
        with pytest.raises(PollTimeoutError):
            client.wait("video_1", timeout=1000, poll_interval=400)
    assert slept[:2] == [400, 400]
    assert 100 < slept[2] <= 200
    assert len(seen) == 4


def _sleeping_clock() -> tuple[Clock, list[float], Any]:
    clock = Clock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    return clock, slept, sleep


def test_a_short_sleep_is_slept(flavor: Flavor) -> None:
    clock, slept, sleep = _sleeping_clock()
    mock, _ = _polls()
    with flavor.client(
        "gptge", transport=mock, base_url=RESPX_BASE, api_key=KEY, sleep=sleep, clock=clock
    ) as client:
        with pytest.raises(PollTimeoutError):
            client.wait("video_1", timeout=2, poll_interval=0.5)
    assert slept == [0.5, 0.5, 0.5, 0.5]


def test_a_sleep_of_nothing_is_not_slept(flavor: Flavor) -> None:
    ticks = iter(range(1000))
    slept: list[float] = []
    mock, seen = _polls()
    with flavor.client(
        "gptge",
        transport=mock,
        base_url=RESPX_BASE,
        api_key=KEY,
        sleep=slept.append,
        clock=lambda: float(next(ticks)),
    ) as client:
        with pytest.raises(PollTimeoutError):
            client.wait("video_1", timeout=20, poll_interval=0)
    assert slept == []
    assert len(seen) >= 3


def test_without_an_injected_sleep_the_real_one_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(client_module.time, "sleep", slept.append)
    mock, _ = transport(
        httpx.Response(200, content=_body("in_progress")),
        httpx.Response(200, content=_body("completed")),
    )
    with SoraClient("gptge", KEY, base_url=RESPX_BASE, transport=mock) as client:
        assert client.wait("video_1", poll_interval=0.25).completed
    assert slept == [0.25]


def test_without_an_injected_sleep_the_async_client_awaits_asyncio(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(client_module.asyncio, "sleep", fake_sleep)
    mock, _ = transport(
        httpx.Response(200, content=_body("in_progress")),
        httpx.Response(200, content=_body("completed")),
    )

    async def run() -> bool:
        async with AsyncSoraClient("gptge", KEY, base_url=RESPX_BASE, transport=mock) as client:
            return (await client.wait("video_1", poll_interval=0.25)).completed

    assert asyncio.run(run())
    assert slept == [0.25]


def test_the_async_client_takes_coroutine_sleeps_and_callbacks() -> None:
    slept: list[float] = []
    shown: list[str] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def on_progress(job: Any) -> None:
        shown.append(job.status)

    mock, _ = transport(
        httpx.Response(200, content=_body("in_progress")),
        httpx.Response(200, content=_body("completed")),
    )

    async def run() -> None:
        async with AsyncSoraClient(
            "gptge", KEY, base_url=RESPX_BASE, transport=mock, sleep=sleep
        ) as client:
            await client.wait("video_1", poll_interval=1.5, on_progress=on_progress)

    asyncio.run(run())
    assert slept == [1.5]
    assert shown == ["in_progress", "completed"]


def test_a_progress_callback_gets_each_new_state(flavor: Flavor) -> None:
    mock, _ = transport(
        httpx.Response(200, content=_body("queued")),
        httpx.Response(200, content=_body("in_progress")),
        httpx.Response(200, content=_body("completed")),
    )
    shown: list[Any] = []
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, api_key=KEY) as client:
        client.wait("video_1", on_progress=shown.append)
    assert [job.status for job in shown] == ["queued", "in_progress", "completed"]


# ---------------------------------------------------------------------- listing


def _page(ids: list[str], more: bool, last: str | None) -> httpx.Response:
    body: dict[str, Any] = {
        "object": "list",
        "data": [job_body("gptge", "completed", i) for i in ids],
        "has_more": more,
    }
    if last is not None:
        body["last_id"] = last
    return httpx.Response(200, json=body)


def _listed(flavor: Flavor, answers: list[httpx.Response], **options: Any) -> tuple[Any, Any]:
    mock, seen = transport(*answers)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, api_key=KEY) as client:
        pages = client.list(**options)
        if flavor.is_async:

            async def collect() -> list[str]:
                return [job.id async for job in pages]

            ids = client.runner.run(collect())
        else:
            ids = [job.id for job in pages]
    return ids, seen


def test_a_listing_follows_the_cursor_page_by_page(flavor: Flavor) -> None:
    ids, seen = _listed(
        flavor,
        [_page(["v1", "v2"], True, "v2"), _page(["v3"], True, "v3"), _page(["v4"], False, None)],
        limit=2,
        order="asc",
        after="v0",
    )
    assert ids == ["v1", "v2", "v3", "v4"]
    assert [dict(r.url.params) for r in seen] == [
        {"limit": "2", "order": "asc", "after": "v0"},
        {"limit": "2", "order": "asc", "after": "v2"},
        {"limit": "2", "order": "asc", "after": "v3"},
    ]


def test_a_listing_stops_when_the_cursor_stops_moving(flavor: Flavor) -> None:
    ids, seen = _listed(flavor, [_page(["v1"], True, "v1"), _page(["v2"], True, "v2")], after="v1")
    assert ids == ["v1"]
    assert len(seen) == 1
    ids, seen = _listed(flavor, [_page([], True, None)])
    assert (ids, len(seen)) == ([], 1)


def test_a_bad_cursor_from_the_server_is_the_servers_fault(flavor: Flavor) -> None:
    from sora_client import UnexpectedResponseError

    mock, seen = transport(_page(["v1"], True, "bad cursor/with spaces"))
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, api_key=KEY) as client:
        pages = client.list()
        with pytest.raises(UnexpectedResponseError):
            if flavor.is_async:

                async def collect() -> list[str]:
                    return [job.id async for job in pages]

                client.runner.run(collect())
            else:
                list(pages)


def test_a_provider_without_a_listing_says_so_at_once(flavor: Flavor) -> None:
    from sora_client import UnsupportedOperation

    mock, seen = transport()
    with flavor.client("vtrix", transport=mock, base_url=RESPX_BASE, api_key=KEY) as client:
        with pytest.raises(UnsupportedOperation):
            client.list(limit=5)
    assert seen == []


# ---------------------------------------------------------------------- generate


def test_generate_creates_waits_and_downloads(flavor: Flavor, tmp_path: Path) -> None:
    mock, seen = transport(
        httpx.Response(200, content=_body("queued")),
        httpx.Response(200, content=_body("in_progress")),
        httpx.Response(200, content=_body("completed")),
        httpx.Response(200, content=VIDEO, headers={"content-type": "video/mp4"}),
    )
    shown: list[str] = []
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, api_key=KEY) as client:
        job = client.generate(
            "A cat in a hat",
            image(720, 1280),
            "sora-2-pro",
            8,
            "720x1280",
            path=tmp_path / "cat.mp4",
            timeout=100,
            on_progress=lambda j: shown.append(j.status),
        )
    assert job.completed and (tmp_path / "cat.mp4").read_bytes() == VIDEO
    assert shown == ["queued", "in_progress", "completed"]
    create = seen[0].content
    for field in (b"A cat in a hat", b"sora-2-pro", b'"seconds"\r\n\r\n8', b"720x1280"):
        assert field in create
    assert b'name="input_reference"' in create


def test_generate_gives_up_after_its_timeout(flavor: Flavor, tmp_path: Path) -> None:
    clock, slept, sleep = _sleeping_clock()
    mock, seen = _polls()
    with flavor.client(
        "gptge", transport=mock, base_url=RESPX_BASE, api_key=KEY, sleep=sleep, clock=clock
    ) as client:
        with pytest.raises(PollTimeoutError):
            client.generate("p", image(720, 1280), path=tmp_path / "v.mp4", timeout=7)
    assert slept == [5.0, 2.0]


# ---------------------------------------------------------------------- the safety net


def _escaping() -> Iterator[Any]:
    yield Now()
    raise httpx.ReadError("a flow let this through")


def test_an_httpx_error_a_flow_lets_through_is_still_translated() -> None:
    client = SoraClient("gptge", KEY, base_url=RESPX_BASE)
    with pytest.raises(NetworkError) as caught:
        client._run(_escaping())  # type: ignore[arg-type]
    assert str(caught.value) == "connection to gptge failed (ReadError): a flow let this through"
    assert isinstance(caught.value.__cause__, httpx.ReadError)

    async def run() -> None:
        async_client = AsyncSoraClient("gptge", KEY, base_url=RESPX_BASE)
        await async_client._run(_escaping())  # type: ignore[arg-type]

    with pytest.raises(NetworkError, match=r"^connection to gptge failed \(ReadError\)"):
        asyncio.run(run())


def _unknown() -> Iterator[Any]:
    yield "dance"


def test_an_unknown_action_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match=r"^unknown action 'dance'$"):
        SoraClient("gptge", KEY, base_url=RESPX_BASE)._run(_unknown())  # type: ignore[arg-type]

    async def run() -> None:
        await AsyncSoraClient("gptge", KEY, base_url=RESPX_BASE)._run(_unknown())  # type: ignore[arg-type]

    with pytest.raises(TypeError, match=r"^unknown action 'dance'$"):
        asyncio.run(run())


# ---------------------------------------------------------------------- what each method passes on


def test_create_sends_the_model_and_refuses_an_extra_field_by_name(flavor: Flavor) -> None:
    from sora_client import InvalidRequestError

    mock, seen = transport(httpx.Response(200, content=_body()))
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, api_key=KEY) as client:
        client.create("p", image(720, 1280), "sora-2-pro", 8, "720x1280")
        with pytest.raises(InvalidRequestError) as caught:
            client.create("p", image(720, 1280), quality="high")
    assert b'name="model"\r\n\r\nsora-2-pro' in seen[0].content
    assert caught.value.field == "quality"
    assert len(seen) == 1


def test_generate_refuses_a_size_or_field_the_request_cannot_have(
    flavor: Flavor, tmp_path: Path
) -> None:
    from sora_client import InvalidRequestError

    mock, seen = transport()
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, api_key=KEY) as client:
        with pytest.raises(InvalidRequestError) as wrong_size:
            client.generate("p", image(720, 1280), size="1280x720", path=tmp_path / "v.mp4")
        with pytest.raises(InvalidRequestError) as unknown:
            client.generate("p", image(720, 1280), path=tmp_path / "v.mp4", quality="high")
    assert "1280x720" in str(wrong_size.value)
    assert unknown.value.field == "quality"
    assert seen == []


def test_generate_raises_when_the_job_fails(flavor: Flavor, tmp_path: Path) -> None:
    from sora_client import GenerationFailedError

    mock, seen = transport(
        httpx.Response(200, content=_body("queued")),
        httpx.Response(200, content=_body("failed")),
    )
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, api_key=KEY) as client:
        with pytest.raises(GenerationFailedError):
            client.generate("p", image(720, 1280), path=tmp_path / "v.mp4")
    assert len(seen) == 2
    assert not (tmp_path / "v.mp4").exists()


def test_a_job_object_stands_for_its_id(flavor: Flavor) -> None:
    from sora_client import Job

    job = Job(id="video_9", provider="gptge", status="completed")
    mock, seen = transport(
        httpx.Response(200, content=_body("completed", "video_9")),
        httpx.Response(200, json={"id": "video_9", "object": "video.deleted", "deleted": True}),
        httpx.Response(200, content=_body("queued", "video_10")),
    )
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, api_key=KEY) as client:
        assert client.get(job).id == "video_9"
        assert client.delete(job) is True
        assert client.remix(job, "again").id == "video_10"
    assert [r.url.path for r in seen] == [
        "/api/v1/videos/video_9",
        "/api/v1/videos/video_9",
        "/api/v1/videos/video_9/remix",
    ]


def test_a_variant_download_asks_for_that_variant(flavor: Flavor, tmp_path: Path) -> None:
    mock, seen = transport(
        httpx.Response(200, content=b"RIFF-webp", headers={"content-type": "image/webp"})
    )
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, api_key=KEY) as client:
        saved = client.download("video_1", tmp_path / "t.webp", variant="thumbnail")
    assert saved.read_bytes() == b"RIFF-webp"
    assert seen[0].url.params["variant"] == "thumbnail"


def test_a_create_is_never_redirected_by_httpx_to_another_host(flavor: Flavor) -> None:
    from sora_client import AmbiguousCreateError

    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "provider.test":
            return httpx.Response(302, headers={"location": "https://elsewhere.test/v1/videos"})
        return httpx.Response(200, content=_body())

    with flavor.client(
        "gptge", transport=httpx.MockTransport(answer), base_url=RESPX_BASE, api_key=KEY
    ) as client:
        with pytest.raises(AmbiguousCreateError):
            client.create("p", image(720, 1280))
    assert [r.url.host for r in seen] == ["provider.test"]


def test_closing_the_client_closes_every_stream_its_jobs_still_own(flavor: Flavor) -> None:
    from client_helpers import chat_chunk, events

    feeds = [
        Feed(
            events(chat_chunk(f"> ⌛ Task queued (chatcmpl-{n}), waiting...\n\n", f"chatcmpl-{n}"))
        )
        for n in (1, 2)
    ]
    mock, _ = transport(
        *(
            httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=f)
            for f in feeds
        )
    )
    with flavor.client("gptproto-chat", transport=mock, base_url=RESPX_BASE, api_key=KEY) as client:
        first = client.create("a cat", image=image(720, 1280))
        second = client.create("a dog", image=image(720, 1280))
        assert (first.id, second.id) == ("chatcmpl-1", "chatcmpl-2")
        assert not any(feed.closed for feed in feeds), "a job owns its stream until it ends"
    assert all(feed.closed for feed in feeds)


def test_a_finished_jobs_stream_is_no_longer_held_by_the_client(flavor: Flavor) -> None:
    from client_helpers import chat_stream

    feed = Feed([event + b"\n\n" for event in chat_stream().split(b"\n\n") if event])
    mock, _ = transport(
        httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=feed)
    )
    with flavor.client("gptproto-chat", transport=mock, base_url=RESPX_BASE, api_key=KEY) as client:
        job = client.create("a cat", image=image(720, 1280))
        driver = client.client if flavor.is_async else client
        assert not job.done and len(driver._kept) == 1
        job = client.wait(job)
        assert job.completed and feed.closed
        assert driver._kept == {}, "the client still holds the stream of a finished job"


def test_a_read_follows_a_redirect(flavor: Flavor) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/video_1"):
            return httpx.Response(307, headers={"location": f"{RESPX_BASE}/v1/videos/video_2"})
        return httpx.Response(200, content=_body("in_progress", "video_2"))

    with flavor.client(
        "gptge", transport=httpx.MockTransport(answer), base_url=RESPX_BASE, api_key=KEY
    ) as client:
        assert client.get("video_1").id == "video_2"
    assert [r.url.path for r in seen] == ["/api/v1/videos/video_1", "/api/v1/videos/video_2"]
