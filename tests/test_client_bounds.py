"""The client's bounds on what a server sends: encoded answers inflated step by step (a
1.7 kB ``gzip, gzip`` body that inflates to 128 MiB never exists whole in memory), codings it
did not ask for refused, and downloads capped in size with nothing left on disk."""

from __future__ import annotations

import gzip
import os
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_helpers import (
    RESPX_BASE,
    Feed,
    Flavor,
    flavor_fixture,  # noqa: F401  (fixtures)
    job_body,
    mp4_bytes,
    transport,
)

from sora_client import ProtocolError, ResponseTooLargeError, SoraClient
from sora_client._decoding import STEP, Inflater

#: what a bounded read may hold at once, far below what the bombs inflate to (128 MiB)
HELD = 48 * 1024 * 1024


def _gzip(chunks: Iterator[bytes], level: int) -> bytes:
    packer = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    out = [packer.compress(chunk) for chunk in chunks]
    out.append(packer.flush())
    return b"".join(out)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """128 MiB of zeros, gzipped twice: 1.7 kB on the wire (the finding's was 1 GiB)."""
    once = _gzip((bytes(1 << 20) for _ in range(128)), 1)
    return _gzip(iter([once]), 9)


class Endless(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body with no end in sight: 64 KiB chunks as long as they are read (``pulled``), up
    to 4 MiB (so that a client without a limit ends the test instead of filling the disk)."""

    def __init__(self) -> None:
        self.pulled = 0

    def __iter__(self) -> Iterator[bytes]:
        while self.pulled < 64:
            self.pulled += 1
            yield b"\0" * 65536

    async def __aiter__(self) -> Any:  # type: ignore[override]
        for chunk in self:
            yield chunk


def _peak(action: Any) -> tuple[BaseException | None, int]:
    """Run ``action``; the exception it raised, and the most memory Python held meanwhile."""
    tracemalloc.start()
    try:
        action()
    except BaseException as exc:  # noqa: BLE001 - returned to the test
        return exc, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return None, 0


# ---------------------------------------------------------------------- the inflater


def test_layers_are_removed_in_reverse_order_of_application() -> None:
    body = b"hello " * 1000
    layered = zlib.compress(gzip.compress(body))  # gzip first, then deflate: "gzip, deflate"
    inflater = Inflater("gzip, deflate")
    assert b"".join([*inflater.feed(layered), *inflater.flush()]) == body


def test_no_piece_is_larger_than_one_step(bomb: bytes) -> None:
    inflater = Inflater("gzip, gzip")
    sizes = []
    for piece in inflater.feed(bomb):
        sizes.append(len(piece))
        if len(sizes) == 600:
            break
    assert max(sizes) <= STEP and sum(sizes) > 32 * 1024 * 1024


def test_raw_deflate_without_its_zlib_header_is_read() -> None:
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    raw = packer.compress(b"plain text" * 50) + packer.flush()
    inflater = Inflater("deflate")
    assert b"".join([*inflater.feed(raw), *inflater.flush()]) == b"plain text" * 50


def test_a_corrupt_body_is_a_decoding_error() -> None:
    with pytest.raises(httpx.DecodingError, match="gzip body is corrupt"):
        list(Inflater("gzip").feed(b"\x1f\x8b\x08\x00garbage-garbage"))


# ---------------------------------------------------------------------- API answers


def test_a_gzip_gzip_bomb_answer_is_refused_without_inflating_it(
    flavor: Flavor, bomb: bytes
) -> None:
    head = {"content-type": "application/json", "content-encoding": "gzip, gzip"}
    mock, seen = transport(httpx.Response(200, headers=head, stream=Feed([bomb])))
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, max_retries=0) as c:
        error, peak = _peak(lambda: c.get("video_1"))
    assert isinstance(error, ResponseTooLargeError), error
    assert "larger than 33554432 bytes" in str(error)
    assert peak < HELD, f"held {peak} bytes while reading a 1.7 kB answer"
    assert len(seen) == 1


def test_api_calls_ask_only_for_codings_the_client_inflates(flavor: Flavor) -> None:
    body = job_body("gptge", "queued", "video_1")
    mock, seen = transport(httpx.Response(200, json=body))
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        c.get("video_1")
    assert seen[0].headers["accept-encoding"] == "gzip, deflate"


def test_a_gzip_answer_is_read(flavor: Flavor) -> None:
    body = job_body("gptge", "queued", "video_1")
    packed = gzip.compress(httpx.Response(200, json=body).content)
    head = {"content-type": "application/json", "content-encoding": "gzip"}
    mock, _ = transport(httpx.Response(200, headers=head, stream=Feed([packed])))
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        assert c.get("video_1").status == "queued"


@pytest.mark.parametrize("coding", ["br", "zstd", "gzip, br"])
def test_a_coding_not_asked_for_is_refused_by_name(flavor: Flavor, coding: str) -> None:
    head = {"content-type": "application/json", "content-encoding": coding}
    mock, _ = transport(httpx.Response(200, headers=head, stream=Feed([b"\x00\x01\x02"])))
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, max_retries=0) as c:
        with pytest.raises(ProtocolError, match=f"encoded with '{coding.split(', ')[-1]}'"):
            c.get("video_1")


# ---------------------------------------------------------------------- downloads


def _video(stream: Any, **headers: str) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "video/mp4", **headers}, stream=stream)


def test_an_endless_video_stops_at_the_download_limit_and_leaves_no_file(
    flavor: Flavor, tmp_path: Path
) -> None:
    endless = Endless()
    mock, _ = transport(_video(endless))
    with flavor.client(
        "gptge", transport=mock, base_url=RESPX_BASE, max_download_size=1 << 20
    ) as c:
        with pytest.raises(ResponseTooLargeError, match="larger than max_download_size") as info:
            c.download("video_1", tmp_path / "v.mp4")
    assert info.value.limit == 1 << 20
    assert endless.pulled <= 17, "read on past the limit"
    assert list(tmp_path.iterdir()) == [], "a partial file was left"


def test_a_video_announced_over_the_limit_is_refused_before_reading(
    flavor: Flavor, tmp_path: Path
) -> None:
    endless = Endless()
    mock, _ = transport(_video(endless, **{"content-length": str(2 << 20)}))
    with flavor.client(
        "gptge", transport=mock, base_url=RESPX_BASE, max_download_size=1 << 20
    ) as c:
        with pytest.raises(ResponseTooLargeError, match=f"announced {2 << 20} bytes"):
            c.download("video_1", tmp_path / "v.mp4")
    assert endless.pulled == 0 and list(tmp_path.iterdir()) == []


def test_a_compressed_video_counts_its_decoded_bytes_against_the_limit(
    flavor: Flavor, tmp_path: Path, bomb: bytes
) -> None:
    mock, _ = transport(_video(Feed([bomb]), **{"content-encoding": "gzip, gzip"}))
    with flavor.client(
        "gptge", transport=mock, base_url=RESPX_BASE, max_download_size=4 << 20
    ) as c:
        error, peak = _peak(lambda: c.download("video_1", tmp_path / "v.mp4"))
    assert isinstance(error, ResponseTooLargeError), error
    assert peak < HELD and list(tmp_path.iterdir()) == []


def test_a_video_at_the_limit_is_saved(flavor: Flavor, tmp_path: Path) -> None:
    data = mp4_bytes()
    mock, _ = transport(_video(Feed([data]), **{"content-length": str(len(data))}))
    with flavor.client(
        "gptge", transport=mock, base_url=RESPX_BASE, max_download_size=len(data)
    ) as c:
        assert c.download("video_1", tmp_path / "v.mp4").read_bytes() == data


def test_media_is_asked_for_unencoded(flavor: Flavor, tmp_path: Path) -> None:
    data = mp4_bytes()
    mock, seen = transport(_video(Feed([data])))
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        c.download("video_1", tmp_path / "v.mp4")
    assert seen[0].headers["accept-encoding"] == "identity"


def test_a_partial_file_of_a_dead_process_is_removed_and_a_live_ones_kept(
    flavor: Flavor, tmp_path: Path
) -> None:
    dead = os.fork()
    if dead == 0:  # pragma: no cover - the child only exits
        os._exit(0)
    os.waitpid(dead, 0)
    orphan = tmp_path / f".v.mp4.{dead}.x1y2z3.part"
    alive = tmp_path / f".v.mp4.{os.getppid()}.a1b2c3.part"
    other = tmp_path / f".w.mp4.{dead}.q1w2e3.part"
    for path in (orphan, alive, other):
        path.write_bytes(b"partial")
    data = mp4_bytes()
    mock, _ = transport(_video(Feed([data])))
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        c.download("video_1", tmp_path / "v.mp4")
    assert not orphan.exists(), "a dead process's partial file stayed"
    assert alive.exists() and other.exists()


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_download_size must be positive"):
        SoraClient("gptge", "k", base_url=RESPX_BASE, max_download_size=0)
