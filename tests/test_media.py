"""Tests for mockserver.media: image checks, MP4/WEBP/JPEG rendering and the asset cache."""

import base64
import io
import math
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from mockserver.media import (
    DEFAULT_FPS,
    ImageError,
    MediaCache,
    parse_data_url,
    probe_image,
    render_spritesheet,
    render_thumbnail,
    render_video,
)

#: each test renders from scratch: nothing another test left in the loop cache counts
pytestmark = pytest.mark.usefixtures("empty_render_caches")

W, H = 64, 112  # small portrait size used by most tests


# --------------------------------------------------------------------------------------------
# helpers


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    return buf.getvalue()


def solid(
    colour: tuple[int, int, int], size: tuple[int, int] = (40, 30), fmt: str = "PNG"
) -> bytes:
    return encode(Image.new("RGB", size, colour), fmt)


def pattern(size: tuple[int, int] = (300, 200)) -> bytes:
    """A JPEG with a grid and a disc, so motion changes pixels."""
    im = Image.new("RGB", size, (30, 90, 40))
    draw = ImageDraw.Draw(im)
    for x in range(0, size[0], 20):
        draw.line([(x, 0), (x, size[1])], fill=(250, 250, 0), width=2)
    for y in range(0, size[1], 20):
        draw.line([(0, y), (size[0], y)], fill=(250, 250, 0), width=2)
    r = min(size) // 4
    cx, cy = size[0] // 2, size[1] // 2
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(220, 30, 30))
    return encode(im, "JPEG", quality=90)


class Mp4:
    def __init__(self, data: bytes) -> None:
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.video[0]
            self.codec = stream.codec_context.name
            self.width = stream.width
            self.height = stream.height
            self.pix_fmt = stream.codec_context.pix_fmt
            assert stream.duration is not None
            self.duration = float(stream.duration * stream.time_base)
            self.frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]


def top_level_boxes(data: bytes) -> list[str]:
    boxes, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        boxes.append(kind.decode("latin-1"))
        if size < 8:
            break
        pos += size
    return boxes


def counting(data: bytes = b"asset") -> tuple[Callable[[], bytes], list[int]]:
    calls: list[int] = []
    lock = threading.Lock()

    def render() -> bytes:
        with lock:
            calls.append(1)
        return data

    return render, calls


def must_not_render() -> bytes:
    raise AssertionError("render() was called although the asset was cached")


# --------------------------------------------------------------------------------------------
# render_video


def test_video_is_h264_of_requested_size_frames_and_duration() -> None:
    data = render_video(solid((0, 0, 255)), W, H, 2)
    mp4 = Mp4(data)
    assert mp4.codec == "h264"
    assert mp4.pix_fmt == "yuv420p"
    assert (mp4.width, mp4.height) == (W, H)
    assert len(mp4.frames) == 2 * DEFAULT_FPS
    assert abs(mp4.duration - 2) <= 1 / DEFAULT_FPS
    assert mp4.frames[0].shape == (H, W, 3)


def test_video_is_faststart() -> None:
    boxes = top_level_boxes(render_video(None, W, H, 1))
    assert boxes[0] == "ftyp"
    assert boxes.index("moov") < boxes.index("mdat")


def test_frame_count_follows_fps_and_rounding() -> None:
    mp4 = Mp4(render_video(None, W, H, 1.3, fps=10))
    assert len(mp4.frames) == 13
    assert abs(mp4.duration - 1.3) <= 1 / 10


def test_reference_image_appears_in_the_video() -> None:
    mp4 = Mp4(render_video(solid((255, 0, 0)), W, H, 1))
    r, g, b = mp4.frames[len(mp4.frames) // 2].reshape(-1, 3).mean(axis=0)
    assert r > 200 and g < 40 and b < 40


def test_reference_image_is_cover_fitted() -> None:
    # Landscape image, portrait video: the centre (red) fills the frame, the sides are cut.
    im = Image.new("RGB", (300, 100), (0, 0, 255))
    im.paste((255, 0, 0), (100, 0, 200, 100))
    frame = Mp4(render_video(encode(im, "PNG"), W, H, 1)).frames[0]
    r, g, b = frame.reshape(-1, 3).mean(axis=0)
    assert r > 200 and b < 40


def test_transparent_png_is_accepted() -> None:
    im = Image.new("RGBA", (32, 32), (0, 255, 0, 255))
    im.paste((0, 0, 0, 0), (0, 0, 16, 32))
    mp4 = Mp4(render_video(encode(im, "PNG"), W, H, 1))
    assert len(mp4.frames) == DEFAULT_FPS


def test_video_moves() -> None:
    # how it moves (gently, there and back, every loop): tests/test_media_loop.py
    frames = [f.astype(np.int16) for f in Mp4(render_video(pattern(), W, H, 2)).frames]
    assert np.abs(frames[len(frames) // 2] - frames[0]).mean() > 2


def test_placeholder_when_there_is_no_image() -> None:
    plain = Mp4(render_video(None, 128, 224, 1))
    captioned = Mp4(render_video(None, 128, 224, 1, caption="a red fox in the snow"))
    first = plain.frames[0].astype(np.float64)
    assert first.std() > 5  # gradient + text, not a flat colour
    assert first.max() > 230  # white text on a mid-tone gradient
    assert first.mean() < 200
    assert np.abs(captioned.frames[0].astype(np.float64) - first).mean() > 0.5


@pytest.mark.slow
def test_real_size_render() -> None:
    mp4 = Mp4(render_video(pattern((1024, 1536)), 720, 1280, 4))
    assert mp4.codec == "h264"
    assert (mp4.width, mp4.height) == (720, 1280)
    assert len(mp4.frames) == 4 * DEFAULT_FPS
    assert abs(mp4.duration - 4) <= 1 / DEFAULT_FPS


@settings(max_examples=10, deadline=None, database=None)
@given(
    width=st.integers(8, 128).map(lambda n: 2 * n),
    height=st.integers(8, 128).map(lambda n: 2 * n),
    seconds=st.sampled_from([1, 2, 4]),
    with_image=st.booleans(),
)
def test_any_even_size_gives_that_size_and_frame_count(
    width: int, height: int, seconds: int, with_image: bool
) -> None:
    image = pattern((90, 70)) if with_image else None
    mp4 = Mp4(render_video(image, width, height, seconds, caption="property test"))
    assert (mp4.width, mp4.height) == (width, height)
    assert len(mp4.frames) == seconds * DEFAULT_FPS


@pytest.mark.parametrize(
    ("width", "height", "seconds"),
    [
        (63, 112, 1),
        (64, 111, 1),
        (0, 112, 1),
        (64, -2, 1),
        (64, 112, 0),
        (64, 112, -1),
        (64, 112, math.nan),
        (64, 112, math.inf),
    ],
)
def test_render_rejects_bad_dimensions_and_durations(
    width: int, height: int, seconds: float
) -> None:
    with pytest.raises(ValueError):
        render_video(None, width, height, seconds)


def test_render_rejects_a_bad_image() -> None:
    with pytest.raises(ImageError):
        render_video(b"definitely not an image", W, H, 1)


# --------------------------------------------------------------------------------------------
# thumbnail and spritesheet


def test_thumbnail_is_webp_of_the_video_size() -> None:
    data = render_thumbnail(solid((255, 0, 0)), W, H)
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        assert im.format == "WEBP"
        assert im.size == (W, H)
        r, g, b = np.asarray(im.convert("RGB")).reshape(-1, 3).mean(axis=0)
    assert r > 200 and g < 40 and b < 40
    assert probe_image(render_thumbnail(None, W, H)) == (W, H, "image/webp")


def test_spritesheet_is_a_jpeg_grid() -> None:
    data = render_spritesheet(pattern(), W, H, 2)
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        assert im.format == "JPEG"
        # 10 tiles of 160 px on the long side (91 x 160 for 64 x 112), 5 per row
        assert im.size == (5 * 91, 2 * 160)
    with Image.open(io.BytesIO(render_spritesheet(None, 1280, 720, 0.25))) as im:
        assert im.size == (3 * 160, 90)  # only 3 frames in a 0.25 s clip


# --------------------------------------------------------------------------------------------
# probe_image and parse_data_url


@pytest.mark.parametrize(
    ("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_probe_image(fmt: str, mime: str) -> None:
    assert probe_image(solid((10, 20, 30), (48, 20), fmt)) == (48, 20, mime)


def test_probe_image_accepts_phone_camera_jpegs() -> None:
    im = Image.new("RGB", (30, 20), (200, 0, 0))
    data = encode(im, "MPO", save_all=True, append_images=[im])  # JPEG + MP extension
    assert probe_image(data) == (30, 20, "image/jpeg")


def test_probe_image_applies_exif_orientation() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways, displayed rotated by 90 degrees
    data = encode(Image.new("RGB", (40, 20)), "JPEG", exif=exif)
    assert probe_image(data) == (20, 40, "image/jpeg")


@pytest.mark.parametrize("data", [b"", b"garbage" * 20, b"\x89PNG\r\n\x1a\n" + b"\0" * 40])
def test_probe_rejects_undecodable_bytes(data: bytes) -> None:
    with pytest.raises(ImageError, match="image"):
        probe_image(data)


def test_probe_rejects_gif_naming_the_format() -> None:
    with pytest.raises(ImageError, match="GIF"):
        probe_image(solid((1, 2, 3), fmt="GIF"))


def test_probe_rejects_a_truncated_png() -> None:
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    data = encode(noisy, "PNG")
    with pytest.raises(ImageError, match="truncated|corrupt"):
        probe_image(data[: len(data) // 2])


@pytest.mark.parametrize(("limit", "kind"), [(3000, "warning"), (1000, "error")])
def test_decompression_bombs_are_image_errors(
    monkeypatch: pytest.MonkeyPatch, limit: int, kind: str
) -> None:
    # 64 x 64 = 4096 pixels: over the limit warns, over twice the limit is an error.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    with pytest.raises(ImageError, match="too large"):
        probe_image(solid((0, 0, 0), (64, 64)))


def test_parse_data_url_round_trip() -> None:
    png = solid((1, 2, 3))
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    assert parse_data_url(url) == png
    assert probe_image(parse_data_url(url))[2] == "image/png"
    wrapped = "DATA:image/jpeg;name=x.jpg;base64," + base64.encodebytes(png).decode()
    assert parse_data_url(wrapped) == png  # case, extra parameters and line breaks are fine


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/cat.png",
        "data:image/png;base64",
        "data:text/plain;base64,AAAA",
        "data:;base64,AAAA",
        "data:image/png,AAAA",
        "data:image/png;base64,",
        "data:image/png;base64,@@@@",
        "data:image/png;base64,AAA",
    ],
)
def test_parse_data_url_rejects_malformed_urls(url: str) -> None:
    with pytest.raises(ImageError):
        parse_data_url(url)


# --------------------------------------------------------------------------------------------
# MediaCache


def test_cache_renders_once_under_concurrency() -> None:
    calls: list[int] = []
    lock = threading.Lock()

    def render() -> bytes:
        with lock:
            calls.append(1)
        return render_video(None, W, H, 1)

    barrier = threading.Barrier(8)
    results: list[bytes] = []

    with MediaCache() as cache:

        def worker() -> None:
            barrier.wait()
            data = cache.get(("job_1", "video"), render)
            with lock:
                results.append(data)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert len(calls) == 1
    assert len(results) == 8 and len(set(results)) == 1


def test_cache_persists_to_a_directory(tmp_path: Path) -> None:
    key = ("video_123", "thumbnail")
    render, calls = counting(b"thumbnail bytes")
    with MediaCache(tmp_path) as first:
        assert first.get(key, render) == b"thumbnail bytes"
        assert first.get(key, render) == b"thumbnail bytes"
    assert calls == [1]
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].suffix == ".bin"  # no temp files left behind
    with MediaCache(tmp_path) as second:  # e.g. after a restart
        assert key in second
        assert second.get(key, must_not_render) == b"thumbnail bytes"


def test_cache_evicts_least_recently_used_under_a_budget() -> None:
    renders = {k: counting(k.encode() * 25) for k in "abc"}  # 25 bytes each
    with MediaCache(max_bytes=60) as cache:
        for k in "abc":
            cache.get(k, renders[k][0])
        assert cache.memory_bytes <= 60
        assert "a" not in cache  # oldest went first
        cache.get("b", must_not_render)  # b is now the most recent
        assert cache.get("a", renders["a"][0]) == b"a" * 25  # rendered again, evicts c
        cache.get("b", must_not_render)
        cache.get("c", renders["c"][0])
    assert [len(renders[k][1]) for k in "abc"] == [2, 1, 2]


def test_cache_does_not_keep_an_asset_larger_than_the_budget() -> None:
    render, calls = counting(b"x" * 100)
    with MediaCache(max_bytes=50) as cache:
        assert cache.get("big", render) == b"x" * 100
        assert cache.memory_bytes == 0


def test_get_waits_for_an_inflight_prerender() -> None:
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow() -> bytes:
        calls.append("background")
        started.set()
        assert release.wait(10)
        return b"from background"

    def foreground() -> bytes:
        calls.append("foreground")
        return b"from foreground"

    with MediaCache() as cache:
        future = cache.prerender("k", slow)
        assert cache.prerender("k", foreground) is future  # already queued
        assert started.wait(10)
        got: list[bytes] = []
        getter = threading.Thread(target=lambda: got.append(cache.get("k", foreground)))
        getter.start()
        release.set()
        getter.join(timeout=10)
        assert future.result(timeout=10) == b"from background"
        assert got == [b"from background"]
        assert cache.get("k", foreground) == b"from background"
        assert cache.prerender("k", foreground).result() == b"from background"
    assert calls == ["background"]


def test_get_retries_after_a_failed_prerender() -> None:
    def broken() -> bytes:
        raise RuntimeError("boom")

    with MediaCache() as cache:
        future = cache.prerender("k", broken)
        with pytest.raises(RuntimeError):
            future.result(timeout=10)
        assert cache.get("k", lambda: b"ok") == b"ok"


def test_discard_removes_memory_and_disk_copies(tmp_path: Path) -> None:
    render, calls = counting()
    with MediaCache(tmp_path) as cache:
        cache.get(("job", "video"), render)
        cache.discard(("job", "video"))
        cache.discard(("job", "never-rendered"))  # no error
        assert ("job", "video") not in cache
        assert list(tmp_path.iterdir()) == []
        cache.get(("job", "video"), render)
    assert calls == [1, 1]


def test_discard_cancels_queued_and_drops_running_prerenders(tmp_path: Path) -> None:
    started, release = threading.Event(), threading.Event()

    def blocking() -> bytes:
        started.set()
        assert release.wait(10)
        return b"running"

    queued, queued_calls = counting(b"queued")
    with MediaCache(tmp_path) as cache:
        running = cache.prerender("running", blocking)
        waiting = cache.prerender("queued", queued)
        assert started.wait(10)
        cache.discard("queued")
        assert waiting.cancelled()
        discarder = threading.Thread(target=cache.discard, args=("running",))
        discarder.start()
        release.set()
        discarder.join(timeout=10)
        assert running.result(timeout=10) == b"running"
        assert "running" not in cache
        assert list(tmp_path.iterdir()) == []
    assert queued_calls == []


def test_close_cancels_queued_work_without_hanging() -> None:
    started, release = threading.Event(), threading.Event()

    def blocking() -> bytes:
        started.set()
        assert release.wait(10)
        return b"done"

    cache = MediaCache()
    first = cache.prerender("first", blocking)
    rest = [cache.prerender(f"k{i}", must_not_render) for i in range(3)]
    assert started.wait(10)
    cache.close()
    release.set()
    assert first.result(timeout=10) == b"done"
    assert all(f.cancelled() for f in rest)
    with pytest.raises(RuntimeError):
        cache.prerender("late", must_not_render)
    assert cache.get("late", lambda: b"still works") == b"still works"


def test_the_same_image_is_decoded_once_however_often_it_is_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mockserver import media as media_module

    decoded: list[int] = []
    real = media_module._open_verified

    def counting(data: bytes) -> Any:
        decoded.append(len(data))
        return real(data)

    monkeypatch.setattr(media_module, "_open_verified", counting)
    monkeypatch.setattr(media_module, "_probes", type(media_module._probes)())
    image = solid((10, 200, 30), (37, 41))
    assert [media_module.probe_image(image) for _ in range(5)] == [(37, 41, "image/png")] * 5
    assert len(decoded) == 1
    broken = image[: len(image) // 2]
    for _ in range(3):  # a refused image stays refused, without a decode each time
        with pytest.raises(media_module.ImageError, match="truncated or corrupt"):
            media_module.probe_image(broken)
    assert len(decoded) == 2
    assert media_module.probe_image(solid((10, 200, 30), (41, 37))) == (41, 37, "image/png")
    assert len(decoded) == 3
