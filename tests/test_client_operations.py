"""The client covers every operation of the contracts (issue 12): list (a paginating
iterator), delete, remix, content variants, for the providers that have them, and
UnsupportedOperation naming the provider otherwise; no key needed on loopback;
``job.video_url`` for /v1/videos providers; every validation problem named."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from client_helpers import (
    KEY,
    Flavor,
    client_app_fixture,  # noqa: F401  (fixtures)
    flavor_fixture,  # noqa: F401  (fixtures)
    good_create,
    image,
    mock_fixture,  # noqa: F401  (fixtures)
)
from flask import Flask

from mockserver.testing import SoraMock
from sora_client import (
    ConfigurationError,
    InvalidRequestError,
    Job,
    NotFoundError,
    SoraClient,
    UnsupportedOperation,
)

VIDEOS = ["gptproto-videos", "gptge"]


def collect(flavor: Flavor, c: Any, **kwargs: Any) -> list[Job]:
    """Read client.list() to its end, sync or async."""
    if not flavor.is_async:
        iterator: Iterator[Job] = c.list(**kwargs)
        return list(iterator)

    async def gather(jobs: AsyncIterator[Job]) -> list[Job]:
        return [job async for job in jobs]

    runner: asyncio.Runner = c.runner
    return runner.run(gather(c.list(**kwargs)))


def list_requests(mock: SoraMock) -> list[dict[str, Any]]:
    return [e for e in mock.journal if e["operation"] == "listVideos"]


@pytest.mark.parametrize("provider", VIDEOS)
def test_list_walks_every_page_newest_first(
    flavor: Flavor, client_app: Flask, mock: SoraMock, provider: str
) -> None:
    with flavor.client(provider, app=client_app) as c:
        made = [c.create(f"shot {i}", **good_create(provider)).id for i in range(5)]
        mock.advance(1)
        seen = collect(flavor, c, limit=2)
    assert [j.id for j in seen] == made[::-1]
    assert len(list_requests(mock)) == 3, "five jobs at two a page are three pages"
    assert all(j.provider == provider for j in seen)


@pytest.mark.parametrize("provider", VIDEOS)
def test_delete_removes_the_job(
    flavor: Flavor, client_app: Flask, mock: SoraMock, provider: str
) -> None:
    with flavor.client(provider, app=client_app) as c:
        job = c.create("a cat", **good_create(provider))
        assert c.delete(job) is True
        with pytest.raises(NotFoundError):
            c.get(job.id)
        assert collect(flavor, c) == []


@pytest.mark.parametrize("provider", [*VIDEOS, "vtrix"])
def test_remix_makes_a_new_job_from_a_completed_one(
    flavor: Flavor, client_app: Flask, mock: SoraMock, provider: str
) -> None:
    with flavor.client(provider, app=client_app) as c:
        source = c.create("a cat", **good_create(provider))
        mock.advance(600)
        remixed = c.remix(source, "the same cat, at night")
    assert remixed.id != source.id and remixed.status == "queued"
    raw = remixed.raw
    named = raw.get("remixed_from_video_id") or raw.get("metadata", {}).get("remix_video_id")
    assert named == source.id


@pytest.mark.parametrize(
    ("variant", "magic"), [("thumbnail", b"RIFF"), ("spritesheet", b"\xff\xd8")]
)
def test_download_saves_a_content_variant(
    flavor: Flavor, client_app: Flask, mock: SoraMock, tmp_path: Path, variant: str, magic: bytes
) -> None:
    with flavor.client("gptge", app=client_app) as c:
        job = c.create("a cat", **good_create("gptge"))
        mock.advance(600)
        path = c.download(job, tmp_path, variant=variant)
    assert path.read_bytes().startswith(magic)
    assert path.suffix == {"thumbnail": ".webp", "spritesheet": ".jpg"}[variant]


@pytest.mark.parametrize("provider", ["gptproto-v3", "gptproto-chat", "vtrix"])
def test_operations_a_provider_lacks_raise_unsupported_naming_it(
    flavor: Flavor, client_app: Flask, tmp_path: Path, provider: str
) -> None:
    with flavor.client(provider, app=client_app) as c:
        calls = [
            lambda: c.list(),
            lambda: c.delete("video_1"),
            lambda: c.download("video_1", tmp_path, variant="thumbnail"),
        ]
        if provider != "vtrix":
            calls.append(lambda: c.remix("video_1", "again"))
        for call in calls:
            with pytest.raises(UnsupportedOperation, match=provider):
                call()
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_variant_is_refused_by_the_contract(flavor: Flavor, client_app: Flask) -> None:
    with flavor.client("gptge", app=client_app) as c:
        with pytest.raises(InvalidRequestError, match="variant"):
            c.download("video_1", "x.bin", variant="poster")


# --------------------------------------------------------------------- loopback, no key


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:8000/gptge", "http://localhost:8000/gptge", "http://[::1]:8000/gptge"],
)
def test_a_loopback_base_url_needs_no_key_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, base_url: str
) -> None:
    monkeypatch.delenv("GPTGE_API_KEY", raising=False)
    with caplog.at_level(logging.WARNING, logger="sora_client"):
        client = SoraClient("gptge", base_url=base_url)
    client.close()
    assert client.placeholder_key
    assert "placeholder" in caplog.text and "loopback" in caplog.text


@pytest.mark.parametrize(
    "base_url", [None, "https://api.gpt.ge", "http://127.0.0.1.example.com/", "http://10.0.0.1/"]
)
def test_any_other_base_url_still_needs_a_key(
    monkeypatch: pytest.MonkeyPatch, base_url: str | None
) -> None:
    monkeypatch.delenv("GPTGE_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="GPTGE_API_KEY"):
        SoraClient("gptge", base_url=base_url)


def test_the_mock_on_loopback_works_without_a_key(
    flavor: Flavor, client_app: Flask, mock: SoraMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GPTGE_API_KEY", raising=False)
    with flavor.client("gptge", app=client_app, base_url="http://127.0.0.1/gptge", api_key="") as c:
        job = c.create("a cat", **good_create("gptge"))
    assert job.status == "queued"


# --------------------------------------------------------------------- video_url, problems


@pytest.mark.parametrize("provider", VIDEOS)
def test_a_completed_videos_job_names_its_content_url(
    flavor: Flavor, client_app: Flask, mock: SoraMock, tmp_path: Path, provider: str
) -> None:
    with flavor.client(provider, app=client_app) as c:
        job = c.create("a cat", **good_create(provider))
        assert job.video_url is None
        mock.advance(600)
        done = c.get(job.id)
        assert done.video_url is not None
        path = c.download(done, tmp_path / "v.mp4")
    if provider == "gptge":
        assert done.video_url.endswith(f"/gptge/v1/videos/{job.id}/content")
    assert path.stat().st_size > 0


def test_a_validation_error_names_every_problem(flavor: Flavor, client_app: Flask) -> None:
    with flavor.client("gptge", app=client_app) as c:
        with pytest.raises(InvalidRequestError) as info:
            c.create("a cat", image=image(720, 1280), size="1792x1024", seconds=5)
    error = info.value
    assert len(error.problems) >= 3
    text = str(error)
    assert "more problem" not in text
    for field, rule in error.problems:
        assert rule in text and (field is None or field in text)
    assert "720x1280" in text and "1792x1024" in text and "5" in text
    assert KEY not in text
