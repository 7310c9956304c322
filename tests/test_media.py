"""Tests for mockserver.media: image checks, MP4/WEBP/JPEG rendering and the asset cache."""

import base64
import hashlib
import importlib
import io
import math
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from mockserver import media
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
from mockserver.media._lazy import Lazy

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
    real = media_module.images._open_verified

    def counting(data: bytes) -> Any:
        decoded.append(len(data))
        return real(data)

    monkeypatch.setattr(media_module.images, "_open_verified", counting)
    monkeypatch.setattr(media_module.images, "_probes", type(media_module.images._probes)())
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


# --------------------------------------------------------------------------------------------
# The pictures' own parts, without encoding a clip (tiny images, Pillow only)


class _CharFont:
    """A stand-in font whose every character is one unit wide."""

    def getlength(self, text: str) -> float:
        return float(len(text))


@pytest.mark.parametrize(
    ("text", "width", "lines", "expected"),
    [
        ("aaa bbb ccc", 7, 4, ["aaa bbb", "ccc"]),  # a line may be exactly the width
        ("abcd efg", 4, 4, ["abcd", "efg"]),  # a word that fits is never broken
        ("ab abcd", 4, 4, ["ab", "abcd"]),  # nor one as wide as a line, after a break
        ("abcdefghij", 4, 4, ["abcd", "efgh", "ij"]),  # a long word is hard-broken
        ("abcde", 4, 4, ["abcd", "e"]),  # as much as fits goes on the first line
        ("abc", 0.5, 4, ["a", "b", "c"]),  # not even a letter fits: one a line
        ("ab", 0.5, 4, ["a", "b"]),
        ("a1 a2 b1 b2 c1 c2", 5, 2, ["a1 a2", "b1..."]),  # the last line kept gets "..."
        ("a1 a2 b1 b2", 5, 2, ["a1 a2", "b1 b2"]),  # exactly as many lines: no "..."
        ("aa aa aa aa aa aa", 6, 2, ["aa aa", "aa..."]),  # no space before the "..."
        ("aa bb cc", 2, 1, ["..."]),  # nothing fits before the "...": the "..." alone
        ("", 5, 2, []),
    ],
)
def test_a_caption_wraps_into_lines_that_fit(
    text: str, width: float, lines: int, expected: list[str]
) -> None:
    assert media.pictures._wrap(_CharFont(), text, width, lines) == expected  # type: ignore[arg-type]


def test_a_caption_the_fallback_font_cannot_draw_shows_question_marks() -> None:
    from PIL import ImageFont

    bitmap = ImageFont.load_default_imagefont()
    assert media.pictures._fit_text(bitmap, "café ✓ 猫") == "café ? ?"
    scalable = media.pictures._font(12)
    assert media.pictures._fit_text(scalable, "café ✓ 猫") == "café ✓ 猫"


def test_a_long_caption_shows_four_lines_the_last_ending_in_dots() -> None:
    words = ["m" * 28 + c for c in "abcdef"]  # each wider than half a line: one a line
    five = media.pictures._placeholder(320, 180, " ".join(words[:5]))
    six = media.pictures._placeholder(320, 180, " ".join(words))
    assert five.tobytes() == six.tobytes()  # "...mmd..." ends both: the rest is not shown
    four = media.pictures._placeholder(320, 180, " ".join(words[:4]))
    assert four.tobytes() != five.tobytes()  # four lines fit whole


def test_a_caption_beyond_latin_1_is_drawn_as_written_by_the_scalable_font() -> None:
    written = media.pictures._placeholder(240, 135, "café ✓ 猫")
    marks = media.pictures._placeholder(240, 135, "café ? ?")
    assert written.tobytes() != marks.tobytes()  # not question marks (what the bitmap font gets)


def test_placeholder_text_is_never_smaller_than_six_pixels() -> None:
    assert media.pictures._font(1).size == 6  # type: ignore[union-attr]
    assert media.pictures._font(6).size == 6  # type: ignore[union-attr]
    assert media.pictures._font(30).size == 30  # type: ignore[union-attr]


def _noise(size: tuple[int, int], seed: int = 7) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")


def test_a_still_is_the_view_at_its_drift_scaled_bilinearly() -> None:
    source = media.pictures._Source(_noise((48, 36)), (40, 30), (8, 6))
    same = media.pictures._still(source, (40, 30), 0.0)  # bottom-left of the margin
    assert same.tobytes() == source.image.crop((0, 6, 40, 36)).tobytes()
    end = media.pictures._still(source, (40, 30), 1.0)  # top-right
    assert end.tobytes() == source.image.crop((8, 0, 48, 30)).tobytes()
    small = media.pictures._still(source, (20, 14), 0.0)
    assert small.size == (20, 14)
    expected = source.image.crop((0, 6, 40, 36)).resize((20, 14), Image.Resampling.BILINEAR)
    assert small.tobytes() == expected.tobytes()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_picture_turned_by_its_exif_orientation_reports_its_shown_size(
    orientation: int,
) -> None:
    im = Image.new("RGB", (40, 20), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(im, "JPEG", exif=exif.tobytes())
    turned = orientation in (5, 6, 7, 8)
    assert media.images._probe(data) == ((20, 40) if turned else (40, 20)) + ("image/jpeg",)
    assert media.image_size(data) == ((20, 40) if turned else (40, 20))


def test_remembered_verdicts_forget_the_oldest_image_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(media.images, "_probes", media.images.OrderedDict())
    monkeypatch.setattr(media.images, "_PROBES_KEPT", 2)
    images = [solid((i * 40, 0, 0)) for i in range(3)]
    for data in images:
        probe_image(data)
    kept = [hashlib.sha256(data).digest() for data in images[1:]]
    assert list(media.images._probes) == kept


def test_a_thumbnail_is_the_first_frame_as_a_quality_80_webp() -> None:
    image = pattern((90, 160))
    thumb = render_thumbnail(image, W, H)
    first = media.pictures._still(media.pictures._prepare(image, W, H, None), (W, H), 0.0)
    assert thumb == encode(first, "WEBP", quality=80, method=4)


def test_a_placeholder_thumbnail_shows_its_caption() -> None:
    plain = render_thumbnail(None, 160, 90)
    captioned = render_thumbnail(None, 160, 90, caption="a fox in the snow")
    assert plain != captioned


def _stand_in_stills(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Each tile a flat colour of its own (in the order drawn); the drifts asked for."""
    asked: list[tuple[int, int]] = []
    real_drift = media.pictures._drift_amount

    def drift(index: int, loop: int) -> float:
        asked.append((index, loop))
        return real_drift(index, loop)

    def still(source: Any, size: tuple[int, int], amount: float) -> Image.Image:
        k = len(asked) - 1
        return Image.new("RGB", size, (20 * k + 40, 255 - 20 * k, 128))

    monkeypatch.setattr(media.stills, "_drift_amount", drift)
    monkeypatch.setattr(media.stills, "_still", still)
    return asked


@pytest.mark.parametrize(
    ("seconds", "fps", "indexes"),
    [
        (6, 2, [0, 1, 2, 4, 5, 6, 7, 9, 10, 11]),  # 12 frames: first, last, evenly between
        (10, 2, [0, 2, 4, 6, 8, 11, 13, 15, 17, 19]),
        (1, 2, [0, 1]),  # fewer frames than tiles: each frame once
        (0.5, 2, [0]),  # a one-frame clip: its frame
    ],
)
def test_spritesheet_tiles_sample_the_clip_evenly(
    monkeypatch: pytest.MonkeyPatch, seconds: float, fps: int, indexes: list[int]
) -> None:
    asked = _stand_in_stills(monkeypatch)
    render_spritesheet(None, 64, 36, seconds, fps=fps)
    loop = media.pictures._loop_frames(fps)
    assert asked == [(i, loop) for i in indexes]


def test_spritesheet_tiles_run_left_to_right_five_a_row_on_black(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _stand_in_stills(monkeypatch)
    sheet_bytes = render_spritesheet(None, 64, 36, 3.5, fps=2)  # 7 frames: 7 tiles
    tile = (160, 90)
    expected = Image.new("RGB", (tile[0] * 5, tile[1] * 2), (0, 0, 0))
    for k in range(7):
        colour = (20 * k + 40, 255 - 20 * k, 128)
        expected.paste(Image.new("RGB", tile, colour), ((k % 5) * tile[0], (k // 5) * tile[1]))
    assert sheet_bytes == encode(expected, "JPEG", quality=82)


@pytest.mark.parametrize(("width", "height", "tile"), [(320, 2, (160, 1)), (2, 320, (1, 160))])
def test_a_very_thin_video_gets_one_pixel_thin_tiles(
    width: int, height: int, tile: tuple[int, int]
) -> None:
    sheet = Image.open(io.BytesIO(render_spritesheet(None, width, height, 0.5, fps=2)))
    assert sheet.size == tile


def test_a_spritesheet_shows_the_reference_image_or_the_caption() -> None:
    red = render_spritesheet(solid((220, 20, 20)), 64, 36, 0.5, fps=2)
    tile = Image.open(io.BytesIO(red)).convert("RGB")
    assert all(abs(a - b) < 12 for a, b in zip(tile.getpixel((80, 45)), (220, 20, 20), strict=True))
    plain = render_spritesheet(None, 64, 36, 0.5, fps=2)
    captioned = render_spritesheet(None, 64, 36, 0.5, fps=2, caption="a fox in the snow")
    assert plain != captioned


_LONG_CAPTION = (
    "a fox in the snow, looking for mice under the crust of last night, "
    "again and again and again until dawn"
)


def test_the_placeholder_fades_from_blue_at_the_top_left_to_pink_at_the_bottom_right() -> None:
    im = media.pictures._placeholder(96, 54, None)
    assert im.mode == "RGB" and im.size == (96, 54)
    assert im.getpixel((0, 0)) == (52, 68, 112)
    assert im.getpixel((95, 53)) == (156, 108, 146)
    # the glow: brighter in the middle than the plain gradient there
    r, g, b = im.getpixel((5, 26))  # type: ignore[misc]
    assert sum(im.getpixel((48, 40))) > r + g + b  # type: ignore[arg-type]


def test_the_placeholder_title_is_white_and_centred() -> None:
    arr = np.asarray(media.pictures._placeholder(320, 180, None))
    white = np.argwhere((arr >= 240).all(axis=2))  # the title's fill; the rest is darker
    assert len(white) > 50
    (top, left), (bottom, right) = white.min(axis=0), white.max(axis=0)
    assert abs((left + right) / 2 - 160) <= 8
    assert 40 < top < bottom < 100  # above the middle, where the glow is


_PORTRAIT_CAPTION = "a red fox in the snow at dusk, seen from far away on a hill"


@pytest.mark.parametrize(
    ("size", "caption", "digest"),
    [
        ((96, 54), None, "3f385d6679bbf3b94cce0e5350884996"),
        ((160, 120), _LONG_CAPTION, "f9c73f1266e8e0b6fd4a158931ad58c9"),
        ((2, 2), "x", "17a6f007ae07b6db9079a4a57ff85a74"),
        # portrait: the title's size is set by the width (84 % of it), not the height
        ((180, 320), _PORTRAIT_CAPTION, "db10ddbe327f730e01eee82a888a8400"),
        # big enough for the title's outline to be 2 px wide (the other lines' stay 1 px)
        ((640, 400), "a lighthouse in a storm", "bd16f9702e54f55ad5e838fd3db6f079"),
        # the width bounds the title, its size rounded down: 9 px in both, where a title 1 %
        # smaller (in the first) or larger (in the second) would be 8 or 10 px
        ((110, 196), None, "930d53db21cf168c69304b454555b744"),
        ((122, 218), None, "d00d6f46a2fb527f552a49be15da52fd"),
    ],
)
def test_the_placeholder_picture_is_unchanged(
    size: tuple[int, int], caption: str | None, digest: str
) -> None:
    """Every pixel as reviewed (gradient, glow, title, the caption wrapped to four lines with
    "..."): a change to the placeholder's look shows here and is made on purpose (view it
    with ``media.pictures._placeholder(w, h, caption).show()`` and update the digest)."""
    im = media.pictures._placeholder(*size, caption)
    assert hashlib.sha256(im.tobytes()).hexdigest()[:32] == digest


def test_the_cover_region_is_centred_both_ways() -> None:
    assert media.pictures._cover_box((100, 200), 1.0) == (0.0, 50.0, 100.0, 150.0)
    assert media.pictures._cover_box((200, 100), 1.0) == (50.0, 0.0, 150.0, 100.0)


@pytest.mark.parametrize(
    ("size", "margin"),
    [((200, 100), (8, 4)), ((64, 112), (4, 4)), ((640, 360), (26, 12)), ((360, 640), (16, 20))],
)
def test_the_view_drifts_4_percent_of_the_width_and_3_of_the_height_in_whole_chroma_pixels(
    size: tuple[int, int], margin: tuple[int, int]
) -> None:
    source = media.pictures._prepare(None, *size, None)
    assert (source.size, source.margin) == (size, margin)  # each rounded up to an even number
    assert source.image.size == (size[0] + margin[0], size[1] + margin[1])


def test_a_view_past_either_end_of_its_drift_stays_at_that_end() -> None:
    source = media.pictures._Source(_noise((48, 36)), (40, 30), (8, 6))
    assert source.offset(1.5) == source.offset(1.0) == (8, 0)
    assert source.offset(-0.5) == source.offset(0.0) == (0, 6)


def _ramp(size: tuple[int, int]) -> bytes:
    """A PNG whose red grows with x (0 at the left edge, 255 at the right) and green with y."""
    w, h = size
    red = np.broadcast_to(np.linspace(0, 255, w)[None, :], (h, w))
    green = np.broadcast_to(np.linspace(0, 255, h)[:, None], (h, w))
    rgb = np.stack([red, green, np.zeros((h, w))], axis=-1).round().astype(np.uint8)
    return encode(Image.fromarray(rgb), "PNG")


def test_a_reference_picture_keeps_its_proportions_its_middle_cut_to_the_frame() -> None:
    # 300x100 into a portrait frame (64x112 plus the drift's margin, 68x116): the middle
    # 58.6 px of the width are shown, squeezed by nothing
    source = media.pictures._prepare(_ramp((300, 100)), 64, 112, None)
    red = np.asarray(source.image)[:, :, 0].astype(float)
    seen = (300 - 100 * 68 / 116) / 2 * 255 / 299, (300 + 100 * 68 / 116) / 2 * 255 / 299
    assert abs(red[:, 0].mean() - seen[0]) < 4 and abs(red[:, -1].mean() - seen[1]) < 4
    green = np.asarray(source.image)[:, :, 1].astype(float)
    assert green[0].mean() < 4 and green[-1].mean() > 251  # the whole height


@pytest.mark.parametrize(
    ("picture", "frame", "gap"),
    [
        ((1200, 1200), (64, 112), 2.0),  # shrunk 10 times: reduced first (a reducing gap of 2)
        ((1200, 1200), (64, 256), 2.0),  # a frame over twice as tall as wide: the same
        ((150, 150), (64, 112), None),  # 2 times or less: resampled directly
        ((1100, 700), (256, 64), 2.0),  # a wide frame: the picture's full width, 4 times
        ((1100, 3000), (256, 64), 2.0),  # the same from a tall picture's middle
    ],
)
def test_a_reference_picture_is_resampled_once_bicubic_reduced_first_when_much_larger(
    picture: tuple[int, int], frame: tuple[int, int], gap: float | None
) -> None:
    data = pattern(picture)
    source = media.pictures._prepare(data, *frame, None)
    work = source.image.size
    aspect = work[0] / work[1]
    w, h = picture
    if w / h > aspect:  # the middle of the width, all the height
        box = ((w - h * aspect) / 2, 0.0, (w + h * aspect) / 2, float(h))
    else:  # all the width, the middle of the height
        box = (0.0, (h - w / aspect) / 2, float(w), (h + w / aspect) / 2)
    with Image.open(io.BytesIO(data)) as im:
        expected = im.convert("RGB").resize(work, Image.Resampling.BICUBIC, box, gap)
    assert source.image.tobytes() == expected.tobytes()


def _halves(left: tuple[int, int, int], right: tuple[int, int, int]) -> Image.Image:
    im = Image.new("RGB", (40, 20), left)
    im.paste(right, (20, 0, 40, 20))
    return im


@pytest.mark.parametrize(
    ("orientation", "size", "top_left"),
    [
        (1, (40, 20), (250, 0, 0)),
        (2, (40, 20), (0, 0, 250)),  # mirrored: the blue half comes first
        (3, (40, 20), (0, 0, 250)),
        (6, (20, 40), (250, 0, 0)),
        (8, (20, 40), (0, 0, 250)),
    ],
)
def test_a_reference_picture_is_shown_the_way_up_its_exif_says(
    orientation: int, size: tuple[int, int], top_left: tuple[int, int, int]
) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(_halves((250, 0, 0), (0, 0, 250)), "PNG", exif=exif.tobytes())
    im = media.images._load_rgb(data)
    assert im.mode == "RGB" and im.size == size
    assert im.getpixel((1, 1)) == top_left


def _transparent_pngs() -> list[bytes]:
    rgba = Image.new("RGBA", (4, 4), (200, 100, 50, 128))
    la = Image.new("LA", (4, 4), (200, 128))
    pal = Image.new("P", (4, 4), 1)
    pal.putpalette([0, 0, 0, 200, 100, 50])
    keyed = Image.new("RGB", (4, 4), (200, 100, 50))
    return [
        encode(rgba, "PNG"),
        encode(la, "PNG"),
        encode(pal, "PNG", transparency=1),
        encode(keyed, "PNG", transparency=(200, 100, 50)),
    ]


@pytest.mark.parametrize("data", _transparent_pngs(), ids=["RGBA", "LA", "P", "keyed"])
def test_see_through_pixels_of_a_reference_picture_are_laid_on_black(data: bytes) -> None:
    im = media.images._load_rgb(data)
    assert im.mode == "RGB"
    # every picture is at most 200 bright and at most half opaque: black shows through
    assert max(im.getpixel((0, 0))) <= 110  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("picture", "fmt", "pixel"),
    [
        (Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG", (255, 0, 0)),  # a print JPEG
        (Image.new("L", (8, 8), 77), "JPEG", (77, 77, 77)),
        (Image.new("1", (8, 8), 1), "PNG", (255, 255, 255)),
    ],
)
def test_a_reference_picture_in_any_colour_model_is_read_as_rgb(
    picture: Image.Image, fmt: str, pixel: tuple[int, int, int]
) -> None:
    """What the encoder and the stills take: a CMYK, grey or 1-bit picture becomes RGB."""
    im = media.images._load_rgb(encode(picture, fmt))
    assert (im.mode, im.getpixel((4, 4))) == ("RGB", pixel)


def test_an_opaque_png_keeps_its_colours() -> None:
    assert media.images._load_rgb(solid((200, 100, 50))).getpixel((0, 0)) == (200, 100, 50)


def test_a_16_bit_grey_picture_is_scaled_to_8_bits_not_clipped_to_white() -> None:
    grey = np.array([[0, 32896, 65535]], dtype=np.uint16)
    im = media.images._load_rgb(encode(Image.fromarray(grey), "PNG"))
    assert [im.getpixel((x, 0)) for x in range(3)] == [(0, 0, 0), (128, 128, 128), (255,) * 3]
    dark = np.array([[0, 100, 200]], dtype=np.uint16)  # a 16-bit file using 8-bit values
    im = media.images._load_rgb(encode(Image.fromarray(dark), "PNG"))
    assert [im.getpixel((x, 0)) for x in range(3)] == [(0, 0, 0), (100,) * 3, (200,) * 3]
    near_white = np.array([[65280, 65535]], dtype=np.uint16)  # 255/65535 a step, truncated
    im = media.images._load_rgb(encode(Image.fromarray(near_white), "PNG"))
    assert [im.getpixel((x, 0)) for x in range(2)] == [(254,) * 3, (255,) * 3]


@pytest.mark.parametrize(
    ("brightest", "shown"),
    [(255, 255), (256, 0)],  # up to 255: 8-bit values; past it: 16-bit ones (256 is dark)
)
def test_a_16_bit_grey_picture_s_range_is_told_from_its_brightest_pixel(
    brightest: int, shown: int
) -> None:
    grey = np.array([[0, brightest]], dtype=np.uint16)
    im = media.images._load_rgb(encode(Image.fromarray(grey), "PNG"))
    assert im.getpixel((1, 0)) == (shown,) * 3


def test_an_image_without_an_orientation_tag_or_with_a_wordy_one_stands_as_stored() -> None:
    assert media.images._orientation(Image.new("RGB", (4, 4))) == 1
    im = Image.new("RGB", (4, 4))
    im.getexif()[0x0112] = "6"  # not a number: ignored
    assert media.images._orientation(im) == 1


def test_an_image_whose_exif_block_cannot_be_read_stands_as_stored() -> None:
    class BrokenExif:
        def getexif(self) -> None:
            raise SyntaxError("not a TIFF file")  # what Pillow's TIFF reader raises

    assert media.images._orientation(BrokenExif()) == 1  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "error", "words"),
    [
        ("abc", TypeError, "image must be bytes, not str"),
        (b"", ImageError, "image is empty (0 bytes); expected a JPEG, PNG or WEBP image"),
        (b"x", ImageError, "bytes are not a decodable image; expected a JPEG, PNG or WEBP image"),
        (  # a PNG cut inside its header: Pillow's own words after ours
            encode(Image.new("RGB", (4, 4)), "PNG")[:16],
            ImageError,
            "bytes are not a decodable image: Truncated File Read",
        ),
    ],
)
def test_each_unusable_image_names_its_problem(data: Any, error: type, words: str) -> None:
    with pytest.raises(error) as caught:
        media.images._open_header(data)
    assert str(caught.value) == words


@pytest.mark.parametrize(
    ("size", "refused"),
    [((2000, 10), False), ((1250, 1600), False), ((2001, 10), True), ((1500, 1400), True)],
)
def test_a_reference_image_may_be_as_big_as_the_limits_and_no_bigger(
    monkeypatch: pytest.MonkeyPatch, size: tuple[int, int], refused: bool
) -> None:
    monkeypatch.setattr(media.images, "MAX_IMAGE_SIDE", 2000)
    monkeypatch.setattr(media.images, "MAX_IMAGE_PIXELS", 2_000_000)
    data = encode(Image.new("L", size), "PNG")
    if not refused:
        assert media.images._open_header(data).size == size
        return
    with pytest.raises(ImageError) as caught:
        media.images._open_header(data)
    assert str(caught.value) == (
        f"image is {size[0]}x{size[1]} pixels: reference images may have at most "
        "2000 pixels a side and 2 megapixels"
    )


# --------------------------------------------------------------------------------------------
# imports on first use


def test_importing_the_media_package_imports_no_pyav_numpy_or_pillow_image() -> None:
    """A server that never checks an image nor renders a video never pays for the imports
    (~0.5 s); the first image checked brings Pillow's in."""
    code = (
        "import sys, mockserver.media as m\n"
        "heavy = ('av', 'numpy', 'PIL.Image')\n"
        "print([n for n in heavy if n in sys.modules])\n"
        "m.probe_image(sys.stdin.buffer.read())\n"
        "print([n for n in heavy if n in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=solid((1, 2, 3)),
        capture_output=True,
        timeout=60,
        check=True,
    )
    before, after = done.stdout.decode().splitlines()
    assert before == "[]"
    assert "'PIL.Image'" in after


def test_a_lazy_module_is_imported_at_first_use_and_then_stands_in_its_own_place() -> None:
    namespace: dict[str, Any] = {}
    namespace["colorsys"] = Lazy(namespace, "colorsys", "colorsys")
    namespace["F"] = Lazy(namespace, "fractions", "F", "Fraction")
    assert namespace["colorsys"].rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)
    assert namespace["colorsys"] is importlib.import_module("colorsys")
    assert namespace["F"].from_float(0.5) == Fraction(1, 2)  # a member of the module
    assert namespace["F"] is Fraction
