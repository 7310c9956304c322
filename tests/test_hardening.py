"""Regression tests for the faults an adversarial pass found (issue 10), one group per fault.

Each test failed before its fix; the real-server ones are in test_adversarial.py.
"""

from __future__ import annotations

import io
import json
import logging
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jobs import make_job
from PIL import ImageFile
from providers import data_url, png
from werkzeug.test import EnvironBuilder, run_wsgi_app

from mockserver import media
from mockserver.http.app import create_app, service_of
from mockserver.state.lifecycle import Job, key_fingerprint
from mockserver.testing import CLOCK_START, MockError, SoraMock, test_config

JSON_ENDPOINTS = [
    ("gptproto", "/gptproto/v1/chat/completions"),
    ("gptproto", "/gptproto/api/v3/openai/reverse/sora-2/image-to-video"),
    ("vtrix", "/vtrix/model/v1/generation"),
    ("admin", "/__mock/clock/advance"),
    ("admin", "/__mock/scenarios"),
]
AUTH = {"Authorization": "Bearer sk-test"}


def chat_body(image: str | None = None, stream: bool = True) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": "a cow dancing"}]
    if image:
        content.append({"type": "image_url", "image_url": {"url": image}})
    return {"model": "sora-2", "messages": [{"role": "user", "content": content}], "stream": stream}


def error_message(response: httpx.Response) -> str:
    error = response.json()["error"]
    return str(error.get("message") or error.get("error_message"))


def multipart(fields: dict[str, bytes], files: dict[str, bytes] | None = None) -> bytes:
    out = b""
    for name, value in fields.items():
        out += b'--x\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (
            name.encode(),
            value,
        )
    for name, value in (files or {}).items():
        out += (
            b'--x\r\nContent-Disposition: form-data; name="%s"; filename="a.png"\r\n'
            b"Content-Type: image/png\r\n\r\n%s\r\n" % (name.encode(), value)
        )
    return out + b"--x--\r\n"


@pytest.fixture
def raw(sora_mock: SoraMock) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sora_mock.host, transport=sora_mock.transport()) as client:
        yield client


# ---------------------------------------------------------------- 1: chat waits are bounded


def test_chat_completions_waiting_at_once_are_bounded_and_freed_on_close() -> None:
    mock = SoraMock(create_app(test_config(max_waiting_chats=2)))
    with mock.client("gptproto") as client:
        with client.stream("POST", "/v1/chat/completions", json=chat_body()) as first:
            with client.stream("POST", "/v1/chat/completions", json=chat_body()) as second:
                assert (first.status_code, second.status_code) == (200, 200)
                refused = client.post("/v1/chat/completions", json=chat_body())
                assert refused.status_code == 429, refused.text
                assert refused.headers["Retry-After"] == "1"
                assert "at most 2" in error_message(refused)
                assert refused.json()["error"]["type"]  # GPTProto's error shape
            # a stream closed unread gives its slot back
            with client.stream("POST", "/v1/chat/completions", json=chat_body()) as third:
                assert third.status_code == 200
    assert len(mock.jobs()) == 3  # the refused request created no job
    mock.check()


def test_a_plain_chat_completion_gives_its_slot_back_when_it_ends() -> None:
    mock = SoraMock(create_app(test_config(max_waiting_chats=1)))
    with mock.client("gptproto") as client, mock.stepping(1.0):
        for _ in range(3):
            done = client.post("/v1/chat/completions", json=chat_body(stream=False))
            assert done.status_code == 200, done.text
            assert done.json()["choices"][0]["finish_reason"] == "stop"
    mock.check()


def test_a_plain_chat_completion_never_waits_longer_than_the_limit() -> None:
    mock = SoraMock(create_app(test_config(chat_max_wait_seconds=0.2)))
    with mock.client("gptproto") as client:
        # the virtual clock never moves: the wait ends after 0.2 real seconds, not an hour
        late = client.post("/v1/chat/completions", json=chat_body(stream=False))
        assert late.status_code == 500
        assert "stopped waiting" in error_message(late)
        again = client.post("/v1/chat/completions", json=chat_body(stream=False))
        assert again.status_code == 500  # and its slot was given back


# ---------------------------------------------------------------- 2: errors, depth, size


@pytest.mark.parametrize(("family", "path"), JSON_ENDPOINTS)
@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deep_json_is_a_400_naming_the_limit_on_every_json_endpoint(
    raw: httpx.Client, family: str, path: str, opener: str
) -> None:
    closer = "]" if opener == "[" else "}"
    body = opener * 400 + "1" + closer * 400
    response = raw.post(path, content=body, headers=AUTH | {"content-type": "application/json"})
    assert response.status_code == 400, response.text[:300]
    assert "64 levels" in error_message(response)


def test_a_json_body_over_its_size_limit_is_a_413_naming_the_limit() -> None:
    mock = SoraMock(create_app(test_config(max_json_bytes=1000)))
    with mock.client("vtrix") as client:
        big = client.post("/model/v1/generation", json={"prompt": "x" * 2000})
    assert big.status_code == 413
    assert "1000 bytes" in error_message(big)


def test_depth_scan_skips_brackets_inside_strings() -> None:
    from mockserver.http.guard import json_depth_exceeds

    assert not json_depth_exceeds(b'{"a": "[[[[[[[[[[[[\\"[[[[["}', 3)
    assert json_depth_exceeds(b'{"a": [[[1]]]}', 3)
    assert not json_depth_exceeds(b'{"a": [[1]]}', 3)


def failing_app(monkeypatch: pytest.MonkeyPatch, **config: Any) -> SoraMock:
    mock = SoraMock(create_app(test_config(**config)))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a planted bug")

    monkeypatch.setattr(mock.service.store, "jobs", broken)
    return mock


def test_unexpected_errors_are_counted_logged_once_and_kept_bounded(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    mock = failing_app(monkeypatch, error_history=5)
    with mock.client("gptge") as client, caplog.at_level(logging.ERROR, "mockserver"):
        for _ in range(30):
            assert client.get("/v1/videos").status_code == 500
    service = mock.service
    assert service.error_count == 30
    assert len(service.errors) == 5
    assert list(service.error_kinds.values()) == [30]
    with_traceback = [r for r in caplog.records if r.exc_info]
    assert len(with_traceback) == 1  # the traceback once; then one line with the count
    assert "seen 30 times" in caplog.records[-1].getMessage()
    # the fixture's check still re-raises the latest error (and forgets them)
    with pytest.raises(MockError, match="a planted bug"):
        mock.check()
    assert not service.errors


# ---------------------------------------------------------------- 4: refused at the edge


VIDEO_FIELDS = {"prompt": b"a cat", "model": b"sora-2", "seconds": b"4", "size": b"720x1280"}


@pytest.mark.parametrize("field", ["prompt", "model"])
def test_invalid_utf8_in_a_multipart_field_is_a_400_and_stores_nothing(
    raw: httpx.Client, sora_mock: SoraMock, field: str
) -> None:
    fields = VIDEO_FIELDS | {field: b"\xff\xfe" + VIDEO_FIELDS[field]}
    response = raw.post(
        "/gptge/v1/videos",
        content=multipart(fields, {"input_reference": png(720, 1280)}),
        headers=AUTH | {"content-type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 400, response.text
    assert f"{field!r} is not valid UTF-8" in error_message(response)
    assert sora_mock.jobs() == []
    assert raw.get("/__mock/jobs").status_code == 200
    assert raw.get("/gptge/v1/videos", headers=AUTH).status_code == 200


def test_valid_multibyte_utf8_in_a_multipart_field_is_accepted(raw: httpx.Client) -> None:
    fields = VIDEO_FIELDS | {"prompt": "un chat qui bâille, 猫".encode()}
    response = raw.post(
        "/gptge/v1/videos",
        content=multipart(fields, {"input_reference": png(720, 1280)}),
        headers=AUTH | {"content-type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 200, response.text
    assert raw.get("/__mock/jobs").json()["data"][0]["prompt"] == "un chat qui bâille, 猫"


@pytest.mark.parametrize("text", ["a\\ud800b", "\\udfff", "a\\ud83d", "\\ude00\\ud83d"])
def test_a_lone_surrogate_in_a_json_string_is_a_400(
    raw: httpx.Client, sora_mock: SoraMock, text: str
) -> None:
    body = (
        f'{{"model": "sora_2_pro_i2v", "prompt": "{text}", "size": "1280x720", "seconds": "4",'
        f' "input_reference": "{data_url(png(1280, 720))}"}}'
    )
    response = raw.post(
        "/vtrix/model/v1/generation",
        content=body,
        headers=AUTH | {"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert "surrogate" in error_message(response)
    assert sora_mock.jobs() == []


def test_a_surrogate_pair_is_valid_unicode_and_accepted(raw: httpx.Client) -> None:
    body = (
        '{"model": "sora_2_pro_i2v", "prompt": "smile \\ud83d\\ude00", "size": "1280x720",'
        f' "seconds": "4", "input_reference": "{data_url(png(1280, 720))}"}}'
    )
    response = raw.post(
        "/vtrix/model/v1/generation",
        content=body,
        headers=AUTH | {"content-type": "application/json"},
    )
    assert response.status_code == 200, response.text


def poisoned_job(owner: str) -> Job:
    return make_job(
        id="video_poisoned",
        prompt="stored before the edge refused it: \ud800",
        owner=owner,
        created_at=CLOCK_START,
        queue_seconds=1.0,
        render_seconds=1.0,
    )


def assert_reads_work(mock: SoraMock) -> None:
    with mock.client("gptge") as client:
        assert client.get("/v1/videos").status_code == 200
        assert client.get("/v1/videos/video_poisoned").status_code == 200
    with httpx.Client(base_url=mock.host, transport=mock.transport()) as admin:
        jobs = admin.get("/__mock/jobs")
        assert jobs.status_code == 200
        assert jobs.json()["data"][0]["id"] == "video_poisoned"
        assert admin.get("/__mock/jobs/video_poisoned").status_code == 200


def test_a_stored_record_that_is_no_valid_unicode_never_breaks_a_read(tmp_path: Path) -> None:
    store = f"sqlite:{tmp_path / 'mock.db'}"
    first = SoraMock(create_app(test_config(store=store, strict=False)))
    first.service.store.add(poisoned_job(key_fingerprint("sk-test")))
    assert_reads_work(first)
    first.service.store.close()
    restarted = SoraMock(create_app(test_config(store=store, strict=False)))
    assert_reads_work(restarted)
    restarted.service.store.close()


def test_an_unreadable_stored_row_is_skipped_not_a_500_for_every_list(tmp_path: Path) -> None:
    import sqlite3

    store = f"sqlite:{tmp_path / 'mock.db'}"
    mock = SoraMock(create_app(test_config(store=store)))
    mock.service.store.add(poisoned_job(key_fingerprint("sk-test")))
    with sqlite3.connect(tmp_path / "mock.db") as db:
        for job_id, body in (("video_torn", '{"id": "video_tor'), ("video_old", '{"id": 1}')):
            db.execute(
                "INSERT INTO jobs (id, api, owner, body) VALUES (?, 'gptge-videos', ?, ?)",
                (job_id, key_fingerprint("sk-test"), body),
            )
    with mock.client("gptge") as client:
        listed = client.get("/v1/videos")
        assert listed.status_code == 200
        assert [v["id"] for v in listed.json()["data"]] == ["video_poisoned"]
        assert client.get("/v1/videos/video_torn").status_code == 404
    with httpx.Client(base_url=mock.host, transport=mock.transport()) as admin:
        assert [j["id"] for j in admin.get("/__mock/jobs").json()["data"]] == ["video_poisoned"]
    mock.service.store.close()


# ---------------------------------------------------------------- 5: admin numbers are finite


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
def test_the_clock_refuses_numbers_that_are_not_finite(
    raw: httpx.Client, sora_mock: SoraMock, number: str
) -> None:
    before = sora_mock.now()
    response = raw.post(
        "/__mock/clock/advance",
        content=f'{{"seconds": {number}}}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert "finite" in error_message(response)
    assert sora_mock.now() == before
    with sora_mock.client("vtrix") as client:
        created = client.post(
            "/model/v1/generation",
            json={
                "model": "sora_2_pro_i2v",
                "prompt": "still works",
                "size": "1280x720",
                "seconds": "4",
                "input_reference": data_url(png(1280, 720)),
            },
        )
    assert created.status_code == 200, created.text


def test_the_virtual_clock_itself_refuses_a_non_finite_step(sora_mock: SoraMock) -> None:
    with pytest.raises(ValueError, match="finite"):
        sora_mock.advance(float("nan"))


def test_the_admin_contract_says_numbers_are_finite() -> None:
    import contracts

    spec = contracts.load("mock-admin").spec
    assert "NaN" in spec["info"]["description"]
    advance = spec["paths"]["/__mock/clock/advance"]["post"]["requestBody"]
    seconds = advance["content"]["application/json"]["schema"]["properties"]["seconds"]
    assert "finite" in seconds["description"]


# ---------------------------------------------------------------- 6: images, header first


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height``; its pixels are missing."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize(("width", "height"), [(9400, 9400), (7000, 7000), (12001, 100)])
def test_an_image_over_the_pixel_budget_is_refused_before_any_decode(
    monkeypatch: pytest.MonkeyPatch, width: int, height: int
) -> None:
    def no_decode(self: Any) -> Any:
        raise AssertionError("an oversized image was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    with pytest.raises(media.ImageError, match="megapixels"):
        media.probe_image(png_header_only(width, height))


def test_an_oversized_image_is_a_400_in_chat_mode(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptproto") as client:
        response = client.post(
            "/v1/chat/completions",
            json=chat_body(image=data_url(png_header_only(9400, 9400)), stream=False),
        )
    assert response.status_code == 400, response.text
    assert "megapixels" in error_message(response)
    assert sora_mock.jobs() == []


def test_no_lock_is_held_while_an_image_is_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """While one request decodes a big image, another probes its own image."""
    other_done = threading.Event()
    waited: list[bool] = []
    original = ImageFile.ImageFile.load

    def slow_load(self: Any) -> Any:
        if threading.current_thread().name == "big-decode":
            waited.append(other_done.wait(timeout=3))
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", slow_load)
    big = threading.Thread(target=media.probe_image, args=(png(64, 64),), name="big-decode")
    big.start()
    assert media.probe_image(png(32, 32))[:2] == (32, 32)
    other_done.set()
    big.join(timeout=5)
    assert waited and all(waited), "the second probe waited for the first decode to finish"


def test_an_uploaded_file_is_probed_once_not_on_every_read(
    raw: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    uploaded = raw.post("/__mock/files", content=png(40, 30), headers={"content-type": "image/png"})
    assert uploaded.status_code == 201, uploaded.text

    def no_probe(data: bytes) -> Any:
        raise AssertionError("the upload was decoded again")

    monkeypatch.setattr(media, "probe_image", no_probe)
    for _ in range(3):
        served = raw.get(f"/__mock/files/{uploaded.json()['id']}")
        assert served.status_code == 200
        assert served.headers["content-type"] == "image/png"
        assert served.content == png(40, 30)


# ---------------------------------------------------------------- 8: body limits


class Exploding(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the body of an over-long request was read")


class Endless(io.RawIOBase):
    def __init__(self) -> None:
        self.sent = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        buffer[:] = b"[" * len(buffer)
        self.sent += len(buffer)
        return len(buffer)


BODY_PATHS = [
    ("/gptge/v1/videos", "multipart/form-data; boundary=x", "message"),
    ("/vtrix/model/v1/generation", "application/json", "error_message"),
    ("/__mock/files", "image/png", "message"),
]


@pytest.mark.parametrize(("path", "content_type", "message_key"), BODY_PATHS)
def test_a_declared_length_over_the_limit_is_a_413_before_the_body_is_read(
    sora_mock_app: Any, path: str, content_type: str, message_key: str
) -> None:
    env = EnvironBuilder(
        path=path, method="POST", headers=AUTH | {"Content-Type": content_type}
    ).get_environ()
    env["CONTENT_LENGTH"] = str(500 * 1024 * 1024)
    env["wsgi.input"] = Exploding()
    body, status, _ = run_wsgi_app(sora_mock_app, env)
    assert status.startswith("413")
    error = json.loads(b"".join(body))["error"]
    assert f"{32 * 1024 * 1024} bytes" in error[message_key]


@pytest.mark.parametrize(("path", "content_type", "message_key"), BODY_PATHS)
def test_a_streamed_body_is_cut_at_the_limit_never_passed_on_truncated(
    path: str, content_type: str, message_key: str
) -> None:
    app = create_app(test_config(max_body_bytes=200_000))
    env = EnvironBuilder(
        path=path, method="POST", headers=AUTH | {"Content-Type": content_type}
    ).get_environ()
    env.pop("CONTENT_LENGTH", None)
    env["HTTP_TRANSFER_ENCODING"] = "chunked"
    env["wsgi.input_terminated"] = True
    source = Endless()
    env["wsgi.input"] = io.BufferedReader(source, buffer_size=4096)
    body, status, _ = run_wsgi_app(app, env)
    assert status.startswith("413"), b"".join(body)[:200]
    assert "200000 bytes" in json.loads(b"".join(body))["error"][message_key]
    assert source.sent <= 200_000 + 64 * 1024 + 4096


def test_a_streamed_body_under_the_limit_is_passed_on_whole() -> None:
    app = create_app(test_config())
    payload = png(30, 20)
    env = EnvironBuilder(
        path="/__mock/files", method="POST", headers={"Content-Type": "image/png"}
    ).get_environ()
    env.pop("CONTENT_LENGTH", None)
    env["HTTP_TRANSFER_ENCODING"] = "chunked"
    env["wsgi.input"] = io.BytesIO(payload)
    body, status, _ = run_wsgi_app(app, env)
    assert status.startswith("201"), b"".join(body)
    file_id = json.loads(b"".join(body))["id"]
    assert service_of(app).store.get_blob(f"file:{file_id}") == payload


# ---------------------------------------------------------------- 9: the clock survives restarts


def test_a_virtual_clock_never_advanced_keeps_its_time_across_a_restart(tmp_path: Path) -> None:
    store = f"sqlite:{tmp_path / 'mock.db'}"
    first = SoraMock(create_app(test_config(store=store)))
    with first.client("gptge") as client:
        created = client.post(
            "/v1/videos",
            data={"prompt": "a cat", "model": "sora-2", "seconds": "4", "size": "720x1280"},
            files={"input_reference": ("cat.png", png(720, 1280), "image/png")},
        )
    assert created.status_code == 200, created.text
    first.service.store.close()
    # a restart: its own start would be the wall clock (years after CLOCK_START)
    restarted = SoraMock(create_app(test_config(store=store, clock_start=None)))
    assert restarted.now() == CLOCK_START
    with restarted.client("gptge") as client:
        assert client.get(f"/v1/videos/{created.json()['id']}").json()["status"] == "queued"
    restarted.service.store.close()


def test_a_reset_brings_a_shared_virtual_clock_back_to_its_start(tmp_path: Path) -> None:
    store = f"sqlite:{tmp_path / 'mock.db'}"
    worker_a = SoraMock(create_app(test_config(store=store)))
    worker_b = SoraMock(create_app(test_config(store=store, clock_start=None)))
    worker_a.advance(100)
    assert worker_b.now() == CLOCK_START + 100
    worker_a.reset()
    assert worker_b.now() == worker_a.now() == CLOCK_START
    for mock in (worker_a, worker_b):
        mock.service.store.close()


# ---------------------------------------------------------------- 11: rules compose


def test_an_admin_rule_added_later_is_not_shadowed_by_a_start_up_rule(
    sora_mock: SoraMock, raw: httpx.Client
) -> None:
    slept: list[float] = []
    original = sora_mock.service.sleep
    sora_mock.service.sleep = slept.append
    try:
        sora_mock.set_scenario("slow", api_key="sk-test")  # as `--scenario slow@sk-test`
        added = raw.post(
            "/__mock/scenarios",
            json={"scenario": "server_error", "api_key": "sk-test", "times": 1},
        )
        assert added.status_code == 201
        with sora_mock.client("gptge") as client:
            assert client.get("/v1/videos").status_code == 500  # the newest rule first
            assert client.get("/v1/videos").status_code == 200  # then the older one again
        assert len(slept) == 1
    finally:
        sora_mock.service.sleep = original


def test_the_newest_global_rule_wins_and_a_key_rule_beats_a_global_one(
    sora_mock: SoraMock,
) -> None:
    sora_mock.set_scenario("forbidden")
    sora_mock.set_scenario("rate_limited", api_key="sk-test")
    sora_mock.set_scenario("server_error")
    with sora_mock.client("gptge") as mine, sora_mock.client("gptge", api_key="other") as other:
        assert mine.get("/v1/videos").status_code == 429
        assert other.get("/v1/videos").status_code == 500
