"""The recorder fetches the media URLs a job names under the remote-image address policy:
public addresses only, every redirect hop checked; loopback only when the upstream is loopback.

The recorder is fed exchanges directly (no proxy), so the upstream can be named anything: a
provider's public host, or a loopback server standing in for it. The media server is a loopback
WSGI app counting what reaches it.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conformance_helpers import serving
from werkzeug.datastructures import Headers

import contracts
from mockserver.conformance import cassettes
from mockserver.conformance.recorder import Observed, Recorder, media_policy

VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"v" * 40
JOB = "video_0123456789abcdef0123456789abcdef"


@dataclass
class MediaServer:
    base: str
    hits: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def media_server() -> Iterator[MediaServer]:
    server = MediaServer("")

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ["PATH_INFO"]
        server.hits.append(path)
        if path == "/to-private":
            start_response("302 Found", [("Location", "http://10.255.255.1/internal")])
            return [b""]
        if path == "/to-video":
            start_response("302 Found", [("Location", "/video.mp4")])
            return [b""]
        start_response("200 OK", [("Content-Type", "video/mp4; codecs=avc1")])
        return [VIDEO]

    with serving(app) as base:
        server.base = base
        yield server


@pytest.fixture(autouse=True)
def _fresh_hits(media_server: MediaServer) -> None:
    media_server.hits.clear()


def _observed(op_id: str, method: str, path: str, document: Any, **more: Any) -> Observed:
    contract = contracts.load(more.pop("contract", "gptge-videos"))
    return Observed(
        operation=contract.operation(op_id),
        method=method,
        path=path,
        query=[],
        request_headers=Headers({"Content-Type": "application/json"}),
        request_body=b'{"prompt": "a cat"}',
        started=more.pop("started", 1000.0),
        status=200,
        response_headers=Headers({"Content-Type": "application/json"}),
        document=document,
        **more,
    )


def _record_finished_job(directory: Path, upstream: str, url: str, **options: Any) -> dict:
    """A gptge job whose final status names ``url``; the cassette written for it."""
    recorder = Recorder(directory, "gptge", contracts.load("gptge-videos"), upstream, **options)
    recorder.record(_observed("createVideo", "POST", "/v1/videos", {"id": JOB, "status": "queued"}))
    done = {"id": JOB, "status": "completed", "video_url": url}
    recorder.record(_observed("getVideo", "GET", f"/v1/videos/{JOB}", done, started=1030.0))
    [path] = cassettes.iter_files(directory)
    return dict(json.loads(path.read_text()))


def _media_files(directory: Path) -> list[Path]:
    media = directory / cassettes.MEDIA_DIR
    return sorted(media.iterdir()) if media.is_dir() else []


def test_a_public_provider_naming_an_internal_url_gets_it_noted_never_fetched(
    tmp_path: Path, media_server: MediaServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = media_server.base + "/internal/secret.mp4?signature=SIG-CANARY"
    with caplog.at_level(logging.WARNING, logger="mockserver.recorder"):
        data = _record_finished_job(tmp_path, "https://api.gpt.ge", url)
    assert media_server.hits == []
    assert data["media_urls"] == [
        {
            "url": url,
            "note": "not fetched: the media URL's host is not allowed: the mock fetches only "
            "from public addresses",
        }
    ]
    assert _media_files(tmp_path) == []  # no partial file left either
    [line] = [r.getMessage() for r in caplog.records]
    assert "/internal/secret.mp4 not fetched" in line and "SIG-CANARY" not in line


def test_a_url_in_chat_event_text_is_held_to_the_same_policy(
    tmp_path: Path, media_server: MediaServer
) -> None:
    url = media_server.base + "/internal/chat.mp4"
    recorder = Recorder(
        tmp_path, "gptproto-chat", contracts.load("gptproto-chat"), "https://gptproto.com"
    )
    event = "data: " + json.dumps({"choices": [{"delta": {"content": f"[video]({url})"}}]})
    recorder.record(
        _observed(
            "createChatCompletion",
            "POST",
            "/v1/chat/completions",
            None,
            contract="gptproto-chat",
            events=[(1001.0, event + "\n\n")],
        )
    )
    [path] = cassettes.iter_files(tmp_path)
    entries = json.loads(path.read_text())["media_urls"]
    assert media_server.hits == []
    assert [e["url"] for e in entries] == [url] and "not allowed" in entries[0]["note"]


def test_a_loopback_upstream_may_name_loopback_media(
    tmp_path: Path, media_server: MediaServer
) -> None:
    data = _record_finished_job(
        tmp_path, media_server.base + "/gptge", media_server.base + "/to-video"
    )
    assert media_server.hits == ["/to-video", "/video.mp4"]  # a redirect on loopback: followed
    [entry] = data["media_urls"]
    assert entry["media"]["content_type"] == "video/mp4" and entry["media"]["size"] == len(VIDEO)
    assert (tmp_path / entry["media"]["file"]).read_bytes() == VIDEO
    assert entry["media"]["file"].endswith(".mp4")


def test_every_redirect_hop_is_checked_even_from_a_loopback_upstream(
    tmp_path: Path, media_server: MediaServer
) -> None:
    data = _record_finished_job(
        tmp_path, media_server.base + "/gptge", media_server.base + "/to-private"
    )
    assert media_server.hits == ["/to-private"]
    [entry] = data["media_urls"]
    assert "media" not in entry and "host is not allowed" in entry["note"]
    assert _media_files(tmp_path) == []


def test_media_over_the_cap_is_noted_not_kept(tmp_path: Path, media_server: MediaServer) -> None:
    cap = len(VIDEO) - 1
    data = _record_finished_job(
        tmp_path, media_server.base + "/gptge", media_server.base + "/video.mp4", media_cap=cap
    )
    [entry] = data["media_urls"]
    assert entry["note"] == f"not fetched: the media at the URL is larger than {cap} bytes"
    assert _media_files(tmp_path) == []


def test_no_media_fetch_when_it_is_switched_off(tmp_path: Path, media_server: MediaServer) -> None:
    data = _record_finished_job(
        tmp_path, media_server.base + "/gptge", media_server.base + "/video.mp4", fetch_media=False
    )
    assert media_server.hits == [] and data["media_urls"] == []


@pytest.mark.parametrize(
    ("upstream", "address", "allowed"),
    [
        ("https://api.gpt.ge", "127.0.0.1", False),
        ("https://api.gpt.ge", "::1", False),
        ("https://api.gpt.ge", "8.8.8.8", True),
        ("https://127.0.0.1.nip.io", "127.0.0.1", False),  # a name is not resolved: not loopback
        ("http://127.0.0.1:8000/gptge", "127.0.0.1", True),
        ("http://127.0.0.1:8000/gptge", "127.9.9.9", True),
        ("http://[::1]:8000", "::1", True),
        ("http://localhost:8000", "127.0.0.1", True),
        ("http://LOCALHOST.:8000", "::1", True),
        ("http://127.0.0.1:8000", "10.0.0.1", False),
        ("http://127.0.0.1:8000", "192.168.1.10", False),
        ("http://127.0.0.1:8000", "169.254.169.254", False),
        ("http://127.0.0.1:8000", "::ffff:10.0.0.1", False),
        ("http://127.0.0.1:8000", "8.8.8.8", True),
    ],
)
def test_the_address_rule(upstream: str, address: str, allowed: bool) -> None:
    assert media_policy(upstream)(ipaddress.ip_address(address)) is allowed


def test_the_console_warning_shows_no_key_looking_part_of_the_url(
    tmp_path: Path, media_server: MediaServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = media_server.base + "/u/sk-CANARY0123456789abcdefghijklmn/v.mp4?sig=SIG-CANARY"
    with caplog.at_level(logging.WARNING, logger="mockserver.recorder"):
        data = _record_finished_job(tmp_path, "https://api.gpt.ge", url)
    [line] = [r.getMessage() for r in caplog.records]
    assert "/u/" in line and "/v.mp4 not fetched" in line
    assert "CANARY" not in line
    assert "sk-CANARY" not in json.dumps(data)  # the cassette is redacted as ever
