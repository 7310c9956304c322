"""Record a job through the proxy in front of the mock, then replay it offline.

Each provider's job is recorded once (module scope: the render is the slow part): the proxy
runs on a loopback port in front of the mock on another, both on the mock's virtual clock.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conformance_helpers import CANARY, LIFECYCLES, Life, live_job, proxy_in_front, serving

from mockserver.conformance import cassettes
from mockserver.conformance.proxy import ContractProxy
from mockserver.http.app import create_app
from mockserver.testing import SoraMock, test_config

PROVIDERS = sorted(LIFECYCLES)


@dataclass
class Recording:
    provider: str
    directory: Path
    life: Life
    direct: list[httpx.Response]
    proxy: ContractProxy
    console: str


@pytest.fixture(scope="module")
def upstream() -> Iterator[SoraMock]:
    app = create_app(test_config(fps=2))  # a few frames: the render is the slow part
    with serving(app) as base:
        mock = SoraMock(app, host=base)
        yield mock
        mock.check()


@pytest.fixture(scope="module")
def recordings(
    upstream: SoraMock, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Recording]:
    """Each provider's job recorded once per module, on first use."""
    made: dict[str, Recording] = {}

    def get(provider: str) -> Recording:
        if provider not in made:
            made[provider] = _record(provider, upstream, tmp_path_factory)
        return made[provider]

    return get


@pytest.fixture(params=PROVIDERS)
def recording(request: pytest.FixtureRequest, recordings: Callable[[str], Recording]) -> Recording:
    return recordings(request.param)


def _record(
    provider: str, upstream: SoraMock, tmp_path_factory: pytest.TempPathFactory
) -> Recording:
    import io

    api = LIFECYCLES[provider]
    directory = tmp_path_factory.mktemp(f"cassettes-{provider}")
    console = io.StringIO()
    with proxy_in_front(
        provider,
        upstream.base_url(api.provider),
        record_dir=directory,
        clock=upstream.now,
        out=console,
    ) as (base, proxy):
        with httpx.Client(base_url=base, timeout=30) as client:
            life = live_job(client, api, upstream.advance)
    # the same reads straight from the mock, at the same clock time (nothing moved since)
    with httpx.Client(base_url=upstream.base_url(api.provider), timeout=30) as direct:
        headers = {"Authorization": f"Bearer {CANARY}"}
        last = 2 if api.name.endswith("-videos") else 1  # the final status (and the video)
        again = [direct.get(_path(r), headers=headers) for r in life.responses[-last:]]
    return Recording(provider, directory, life, again, proxy, console.getvalue())


def _path(response: httpx.Response) -> str:
    return response.request.url.raw_path.decode()


def replay_app(directory: Path, **overrides: object) -> SoraMock:
    return SoraMock(create_app(test_config(replay_dir=directory, **overrides)))


# --------------------------------------------------------------------------- the proxy


def test_a_lifecycle_passes_through_the_proxy_unchanged(recording: Recording) -> None:
    life = recording.life
    assert all(r.headers["X-Contract-Violations"] == "0" for r in life.responses)
    assert all(entry["violations"] == [] for entry in recording.proxy.journal)
    # the last status read and the download are byte for byte what the mock answers
    last = life.responses[-len(recording.direct) :]
    for proxied, direct in zip(last, recording.direct, strict=True):
        assert proxied.status_code == direct.status_code
        assert proxied.headers["content-type"] == direct.headers["content-type"]
        assert proxied.content == direct.content
    assert life.words[-1] == "completed"
    assert life.media[4:8] == b"ftyp"


def test_one_cassette_per_job_with_every_poll_and_the_media(recording: Recording) -> None:
    files = list(cassettes.iter_files(recording.directory))
    assert len(files) == 1
    data = json.loads(files[0].read_text())
    assert data["job_id"] == recording.life.job_id
    polls = data["polls"]
    assert len(polls) == len(recording.life.words) - 1
    offsets = [p["offset"] for p in polls]
    assert offsets == sorted(offsets) and offsets[0] == pytest.approx(2.0)
    assert all(p["verdict"] == {"ok": True, "problems": []} for p in polls)
    media = [p.name for p in (recording.directory / "media").iterdir()]
    assert len(media) == 1 and media[0].endswith(".mp4")
    stored = (recording.directory / "media" / media[0]).read_bytes()
    assert stored == recording.life.media
    request = data["create"]["request"]
    assert "authorization" not in request["headers"]
    # images are replaced by their hash
    assert "base64" not in json.dumps(request["body"])


def test_the_canary_key_reaches_no_file_and_no_console(recording: Recording) -> None:
    written = [p for p in recording.directory.rglob("*") if p.is_file()]
    assert written
    for path in written:
        assert CANARY.encode() not in path.read_bytes(), path
    assert CANARY not in recording.console
    assert CANARY not in json.dumps(list(recording.proxy.journal))


# --------------------------------------------------------------------------- replay


def test_replay_gives_the_same_statuses_and_byte_identical_media(recording: Recording) -> None:
    replay = replay_app(recording.directory, replay_fallback="404")
    api = LIFECYCLES[recording.provider]
    with replay.client(api.provider, api_key="sk-other") as client:
        life = live_job(
            client,
            api,
            replay.advance,
            key="sk-other",
            media_client=httpx.Client(transport=replay.transport()),
        )
    assert life.words == recording.life.words
    assert life.media == recording.life.media
    # ids are rewritten consistently: a new id, and the recorded one appears nowhere
    assert life.job_id != recording.life.job_id
    assert all(recording.life.job_id not in r.text for r in life.responses[:-1])
    assert all(life.job_id in r.text for r in life.responses[:-1])
    assert all(
        r.headers["X-Mock-Replay-Cassette"] == _cassette_name(recording)
        for r in life.responses[:-1]
    )
    # listed as the replayed job it is, ended as the recording ended
    [job] = replay.jobs()
    assert (job.id, job.replay) == (life.job_id, _cassette_name(recording))
    assert replay.service.state(job).status.value == "completed"
    replay.check()


@pytest.mark.parametrize("recording", ["gptge", "vtrix"], indirect=True)
def test_replay_follows_speed(recording: Recording) -> None:
    replay = replay_app(recording.directory, speed=4.0)
    api = LIFECYCLES[recording.provider]
    with replay.client(api.provider) as client:
        life = live_job(
            client,
            api,
            replay.advance,
            key="sk-x",
            step=0.5,
            media_client=httpx.Client(transport=replay.transport()),
        )
    # a status recorded 2 s after the create is served 0.5 s after it at speed 4
    assert life.words == recording.life.words


@pytest.mark.parametrize("recording", ["gptproto-videos"], indirect=True)
def test_a_create_matching_nothing_falls_back(recording: Recording, tmp_path: Path) -> None:
    api = LIFECYCLES[recording.provider]
    headers = {"Authorization": "Bearer sk-x"}
    empty = tmp_path / "other"
    empty.mkdir()
    (empty / "media").mkdir()
    for path in recording.directory.glob("*.json"):
        data = json.loads(path.read_text())
        data["create"]["request"]["body_sha256"] = "0" * 64
        data["create"]["request"]["prompt"] = "something else"
        (empty / path.name).write_text(json.dumps(data))
    for path in (recording.directory / "media").iterdir():
        shutil.copy(path, empty / "media" / path.name)
    fallback_404 = replay_app(empty, replay_fallback="404")
    with fallback_404.client(api.provider) as client:
        assert api.create(client, headers).status_code == 200  # in order: the first unused
        refused = api.create(client, headers)
    assert refused.status_code == 404
    assert "No recorded job matches" in refused.text
    simulated = replay_app(empty, replay_fallback="mock")
    with simulated.client(api.provider) as client:
        api.create(client, headers)
        made = api.create(client, headers)
    assert made.status_code == 200
    # the first create was replayed, the second the simulated mock's job: both are listed
    [name] = [p.name for p in empty.glob("*.json")]
    assert sorted(str(j.replay) for j in simulated.jobs()) == sorted([name, "None"])


def test_a_chat_stream_is_recorded_event_by_event_and_replayed(
    upstream: SoraMock, tmp_path: Path
) -> None:
    from providers import data_url, png

    body = {
        "model": "sora-2",
        "stream": True,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "A cat in a hat"},
                    {"type": "image_url", "image_url": {"url": data_url(png(720, 1280))}},
                ],
            }
        ],
    }
    headers = {"Authorization": f"Bearer {CANARY}"}
    with proxy_in_front(
        "gptproto-chat", upstream.base_url("gptproto"), record_dir=tmp_path, clock=upstream.now
    ) as (base, proxy):
        with upstream.stepping(1.0):
            recorded = httpx.post(base + "/v1/chat/completions", json=body, headers=headers)
    assert recorded.headers["X-Contract-Violations"] == "0"
    assert proxy.journal[-1]["violations"] == []
    [cassette] = cassettes.load(tmp_path)
    assert cassette.problems == [] and len(cassette.data["create"]["events"]) >= 4
    assert cassette.data["media_urls"][0]["media"]["content_type"] == "video/mp4"
    replay = replay_app(tmp_path, replay_fallback="404")
    with replay.client("gptproto") as client, replay.stepping(1.0):
        replayed = client.post("/v1/chat/completions", json=body)
    events = [line for line in replayed.text.splitlines() if line.startswith("data: ")]
    assert _same_but_urls(events, recorded.text) and events[-1] == "data: [DONE]"
    url = re.search(r"\((http[^)]+)\)", replayed.text)
    assert url is not None and "/__mock/replay/media/" in url.group(1)
    stored = tmp_path / cassette.data["media_urls"][0]["media"]["file"]
    with httpx.Client(transport=replay.transport()) as media:
        assert media.get(url.group(1)).content == stored.read_bytes()
        # listed like the live mock's chat job, marked with its cassette, and its video is there
        [job] = replay.jobs()
        assert (job.api, job.replay, job.prompt) == (
            "gptproto-chat",
            cassette.name,
            "A cat in a hat",
        )
        assert job.id.startswith("chatcmpl-")
        assert replay.service.state(job).status.value == "completed"
        own = media.get(
            f"{replay.base_url('gptproto')[: -len('/gptproto')]}/__mock/media/{job.id}/video.mp4"
        )
        assert own.content == stored.read_bytes()
    for path in tmp_path.rglob("*"):
        assert not path.is_file() or CANARY.encode() not in path.read_bytes()


def _same_but_urls(replayed: list[str], recorded: str) -> bool:
    """The replayed events are the recorded ones, but for the video link (the mock's now)."""

    def strip(line: str) -> str:
        return re.sub(r"https?://[^)\s]+", "URL", line)

    original = [strip(x) for x in recorded.splitlines() if x.startswith("data: ")]
    return [strip(x) for x in replayed] == original


@pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning")
@pytest.mark.parametrize("recording", ["gptge"], indirect=True)
def test_the_openai_package_works_unchanged_against_a_replay(recording: Recording) -> None:
    from openai import OpenAI
    from providers import png

    replay = replay_app(recording.directory, replay_fallback="404")
    http = httpx.Client(transport=replay.transport())
    client = OpenAI(api_key="sk-x", base_url=replay.base_url("gptge") + "/v1", http_client=http)
    video = client.videos.create(
        model="sora-2",
        prompt="Put a hat on the cat",
        seconds="4",
        size="720x1280",
        input_reference=("cat.png", png(720, 1280), "image/png"),
    )
    words = [video.status]
    for _ in range(len(recording.life.words) - 1):
        replay.advance(2)
        words.append(client.videos.retrieve(video.id).status)
    content = client.videos.download_content(video.id).read()
    client.close()
    assert words == recording.life.words
    assert content == recording.life.media


@pytest.mark.parametrize("recording", ["vtrix"], indirect=True)
def test_workers_sharing_a_sqlite_store_agree_on_a_replayed_job(
    recording: Recording, tmp_path: Path
) -> None:
    store = f"sqlite:{tmp_path / 'mock.db'}"
    first = replay_app(recording.directory, store=store)
    second = replay_app(recording.directory, store=store)  # another worker process's app
    api = LIFECYCLES["vtrix"]
    with first.client("vtrix") as one, second.client("vtrix") as two:
        job_id = api.job_id(api.create(one, {}).json())
        first.advance(60)
        read = two.get(api.status_path(job_id))
        again = api.create(two, {})  # matched by its body hash again
    assert read.status_code == 200 and api.status(read.json()) == "completed"
    assert again.status_code == 200
    for mock in (first, second):
        mock.service.store.close()


def test_replay_reads_a_relative_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(Path(__file__).parent / "examples" / "cassettes", tmp_path / "cassettes")
    monkeypatch.chdir(tmp_path)
    replay = replay_app(Path("cassettes"))
    api = LIFECYCLES["gptge"]
    with replay.client("gptge") as client:
        job_id = api.job_id(api.create(client, {}).json())
        replay.advance(60)
        video = client.get(f"/v1/videos/{job_id}/content")
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"


# --------------------------------------------------------------------------- visible and honest


def _gptge_create(
    client: httpx.Client,
    *,
    prompt: str = "Put a hat on the cat",
    seconds: str = "4",
    image: bytes | None = None,
    filename: str = "cat.png",
) -> httpx.Response:
    from providers import png

    return client.post(
        "/v1/videos",
        data={"prompt": prompt, "model": "sora-2", "seconds": seconds, "size": "720x1280"},
        files={"input_reference": (filename, image or png(720, 1280), "image/png")},
    )


def _admin(mock: SoraMock) -> httpx.Client:
    """A client of the mock's own routes (``/__mock/...``)."""
    return httpx.Client(
        transport=mock.transport(), base_url=mock.base_url("gptge")[: -len("/gptge")]
    )


def _cassette_name(recording: Recording) -> str:
    [path] = cassettes.iter_files(recording.directory)
    return path.name


@pytest.mark.parametrize("recording", ["gptge"], indirect=True)
def test_a_replayed_job_is_listed_by_the_admin_api_and_the_provider(
    recording: Recording,
) -> None:
    replay = replay_app(recording.directory)  # unmatched creates: the simulated mock
    name = _cassette_name(recording)
    with replay.client("gptge", api_key="sk-lister") as client, _admin(replay) as own:
        replayed = _gptge_create(client).json()["id"]
        # another prompt, and the one recording is used: the simulated mock's job
        simulated = _gptge_create(client, prompt="Something else").json()["id"]
        admin = {j["id"]: j for j in own.get("/__mock/jobs").json()["data"]}
        assert admin[replayed]["replay"] == {"cassette": name}
        assert admin[simulated]["replay"] is None
        assert admin[replayed]["status"] == "queued"
        assert admin[replayed]["prompt"] == "Put a hat on the cat"
        assert (admin[replayed]["width"], admin[replayed]["height"]) == (720, 1280)
        replay.advance(120)
        admin = {j["id"]: j for j in own.get("/__mock/jobs").json()["data"]}
        assert admin[replayed]["status"] == "completed"
        assert admin[replayed]["progress"] == 1
        listed = client.get("/v1/videos")
        status = client.get(f"/v1/videos/{replayed}")
        with replay.client("gptge", api_key="sk-someone-else") as other:
            theirs = other.get("/v1/videos").json()["data"]
    items = {item["id"]: item for item in listed.json()["data"]}
    assert set(items) == {replayed, simulated}
    # the replayed item is the recorded status answer, as a status read gives it now
    assert items[replayed] == status.json()
    assert items[replayed]["id"] != recording.life.job_id
    assert recording.life.job_id not in listed.text
    assert items[simulated]["status"] == "completed" and items[simulated]["prompt"]
    assert theirs == []  # listed for the key that created it only, as a live job
    replay.check()


@pytest.mark.parametrize("recording", ["gptge"], indirect=True)
def test_the_dashboard_plays_a_replayed_job_s_recorded_video(recording: Recording) -> None:
    replay = replay_app(recording.directory, replay_fallback="404")
    with replay.client("gptge") as client, _admin(replay) as own:
        job_id = _gptge_create(client).json()["id"]
        early = own.get(f"/__mock/media/{job_id}/video.mp4")
        replay.advance(120)
        video = own.get(f"/__mock/media/{job_id}/video.mp4")
        thumbnail = own.get(f"/__mock/media/{job_id}/thumbnail.webp")
    assert early.status_code == 404 and "no video yet" in early.json()["error"]["message"]
    assert video.status_code == 200 and video.content == recording.life.media
    assert thumbnail.status_code == 404 and "was recorded" in thumbnail.json()["error"]["message"]


@pytest.mark.parametrize("recording", ["gptge"], indirect=True)
def test_a_replayed_answer_is_serialised_as_the_live_mock_answers(recording: Recording) -> None:
    replay = replay_app(recording.directory, replay_fallback="404")
    with replay.client("gptge") as client:
        job_id = _gptge_create(client).json()["id"]
        replay.advance(120)
        final = client.get(f"/v1/videos/{job_id}")
    direct = recording.direct[0]  # the same status, read from the mock itself
    assert final.content.replace(job_id.encode(), recording.life.job_id.encode()) == direct.content


def _console_app(directory: Path, **overrides: object) -> tuple[SoraMock, io.StringIO]:
    from mockserver.http.console import RequestLog

    mock = replay_app(directory, **overrides)
    out = io.StringIO()
    mock.app.extensions["sora_mock_console"] = RequestLog("text", out)
    return mock, out


@pytest.mark.parametrize("recording", ["gptge"], indirect=True)
def test_a_create_that_differs_from_its_recording_says_so(recording: Recording) -> None:
    from providers import png

    replay, console = _console_app(recording.directory)
    name = _cassette_name(recording)
    with replay.client("gptge") as client:
        answer = _gptge_create(
            client, prompt="A dog in a hat", seconds="8", image=png(720, 1280, (1, 2, 3))
        )
    assert answer.status_code == 200
    assert answer.headers["X-Mock-Replay-Mismatch"] == "prompt,seconds,image"
    assert answer.headers["X-Mock-Replay-Cassette"] == name
    assert replay.app.extensions["sora_mock_console"].flush()
    [line] = [x for x in console.getvalue().splitlines() if "POST" in x]
    assert f"[replay {name} differs: prompt,seconds,image]" in line
    again = replay_app(recording.directory)
    with again.client("gptge") as client:
        same = _gptge_create(client, filename="renamed.png")  # same image bytes, another name
    assert same.status_code == 200 and "X-Mock-Replay-Mismatch" not in same.headers
    assert same.headers["X-Mock-Replay-Cassette"] == name


@pytest.mark.parametrize("recording", ["gptge"], indirect=True)
def test_strict_matching_refuses_a_create_naming_the_nearest_recording(
    recording: Recording, tmp_path: Path
) -> None:
    directory = tmp_path / "two"
    shutil.copytree(recording.directory, directory)
    [path] = cassettes.iter_files(directory)
    dog = json.loads(path.read_text())
    dog["sequence"] += 1
    dog["create"]["request"]["body"]["prompt"] = "A dog in a hat"
    dog["create"]["request"]["prompt"] = "A dog in a hat"
    dog["create"]["request"]["body"]["seconds"] = "8"
    dog["create"]["request"]["body_sha256"] = "0" * 64
    (directory / ("z-dog-" + path.name)).write_text(json.dumps(dog))
    replay, console = _console_app(directory, replay_match="strict")
    with replay.client("gptge") as client:
        refused = _gptge_create(client, prompt="A dog in a hat", seconds="12")
        refused_cat = _gptge_create(client, seconds="12")
        exact = _gptge_create(client)  # the cat, byte for byte
        dog_ok = _gptge_create(client, prompt="A dog in a hat", seconds="8")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "replay_mismatch"
    assert f"the nearest, z-dog-{path.name}, differs in seconds" in error["message"]
    assert refused.headers["X-Mock-Replay-Mismatch"] == "seconds"
    assert f"the nearest, {path.name}, differs in seconds" in refused_cat.json()["error"]["message"]
    assert exact.status_code == 200 and exact.headers["X-Mock-Replay-Cassette"] == path.name
    assert dog_ok.status_code == 200
    assert dog_ok.headers["X-Mock-Replay-Cassette"] == "z-dog-" + path.name
    assert "X-Mock-Replay-Mismatch" not in dog_ok.headers
    assert [j.replay for j in replay.jobs()] == [path.name, "z-dog-" + path.name]
    assert replay.app.extensions["sora_mock_console"].flush()
    assert "differs in seconds" in console.getvalue()  # the refusal's line names it too


def test_the_serve_banner_says_what_was_replayed(tmp_path: Path) -> None:
    from mockserver.http.serving import ServeOptions, _banner

    shutil.copytree(Path(__file__).parent / "examples" / "cassettes", tmp_path / "c")
    mock = replay_app(tmp_path / "c")
    text = _banner(
        mock.service.config,
        ServeOptions("127.0.0.1", 8000, 1, 8),
        8000,
        mock.app.extensions["sora_mock_replay"],
    )
    assert f"replaying 1 cassette (1 job) from {tmp_path / 'c'}" in text
    plain = _banner(mock.service.config, ServeOptions("127.0.0.1", 8000, 1, 8), 8000)
    assert "replaying" not in plain


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        (  # a /v1/videos multipart create: the file part compared by content, not name
            {
                "prompt": "A cat",
                "model": "sora-2",
                "size": "720x1280",
                "seconds": "4",
                "input_reference": {"sha256": "ab" * 32, "size": 3, "filename": "x.png"},
            },
            ["A cat", "sora-2", "720x1280", "4", json.dumps(["ab" * 32])],
        ),
        (  # GPTProto v3: orientation is part of the size, duration is the seconds
            {
                "prompt": "A cat",
                "size": "large",
                "orientation": "landscape",
                "duration": 15,
                "images": ["https://example.com/cat.png"],
            },
            ["A cat", None, "large landscape", "15", json.dumps([["https://example.com/cat.png"]])],
        ),
        (  # a chat create: the prompt is the messages' text, the images their URLs
            {
                "model": "sora-2",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "A cat"},
                            {"type": "image_url", "image_url": {"url": "data:image/png;sha256,cd"}},
                        ],
                    }
                ],
            },
            ["A cat", "sora-2", None, None, json.dumps(["data:image/png;sha256,cd"])],
        ),
        (None, [None, None, None, None, None]),
    ],
)
def test_what_a_create_is_compared_on(summary: object, expected: list[object]) -> None:
    from mockserver.conformance.replay_cassettes import FIELDS, request_fields

    assert [request_fields(summary)[name] for name in FIELDS] == expected
