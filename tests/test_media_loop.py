"""A clip is one encoded loop repeated: right length for every duration a contract allows,
a key frame at every loop, monotonic timestamps, every frame decodable, a gentle drift."""

from __future__ import annotations

import fcntl
import io
import re
import struct
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from av.video.reformatter import Colorspace
from PIL import Image
from test_media import pattern, solid

from contracts import load_all
from mockserver import media
from mockserver.media import DEFAULT_FPS, LOOP_SECONDS, ImageError, render_video
from mockserver.providers.gptproto_chat import MAX_SECONDS as CHAT_MAX_SECONDS

#: each test renders from scratch: nothing another test left in the loop cache counts
pytestmark = pytest.mark.usefixtures("empty_render_caches")

W, H = 64, 112
LOOP = round(LOOP_SECONDS * DEFAULT_FPS)


def _enums(node: Any, names: set[str]) -> Iterator[list[Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in names and isinstance(value, dict) and isinstance(value.get("enum"), list):
                yield value["enum"]
            yield from _enums(value, names)
    elif isinstance(node, list):
        for item in node:
            yield from _enums(item, names)


def contract_durations() -> list[int]:
    """Every ``seconds``/``duration`` any contract enumerates, and the chat's 1..15 s ends."""
    found = {1, CHAT_MAX_SECONDS}
    for contract in load_all().values():
        for values in _enums(contract.spec, {"seconds", "duration"}):
            found.update(int(v) for v in values if str(v).isdigit())
    return sorted(found)


def sync_samples(data: bytes) -> list[int]:
    """The MP4's sync-sample table (``stss``, 1-based): where a player may start or seek."""
    moov = data.index(b"moov")
    assert moov < data.index(b"mdat")  # faststart: the index comes first
    at = data.index(b"stss", moov) + 4 + 4  # past the type, the version and the flags
    (count,) = struct.unpack(">I", data[at : at + 4])
    return list(struct.unpack(f">{count}I", data[at + 4 : at + 4 + 4 * count]))


class Clip:
    """What a player sees: packets (pts, dts, duration, key) and every decoded frame."""

    def __init__(self, data: bytes) -> None:
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.video[0]
            assert stream.time_base is not None and stream.duration is not None
            self.time_base: Fraction = stream.time_base
            self.duration = float(stream.duration * stream.time_base)
            self.codec = stream.codec_context.name
            self.packets = [
                (p.pts, p.dts, p.duration, p.is_keyframe) for p in container.demux(stream) if p.size
            ]
        with av.open(io.BytesIO(data)) as container:
            decoded = list(container.decode(video=0))
        self.keyframes = [i for i, f in enumerate(decoded) if f.key_frame]
        self.frames = [f.to_ndarray(format="rgb24") for f in decoded]


def test_the_durations_come_from_the_contracts() -> None:
    durations = contract_durations()
    assert {1, 4, 8, 10, 12, 15, 25} <= set(durations)


@pytest.mark.parametrize("seconds", contract_durations())
def test_a_clip_of_every_contract_duration_is_the_loop_repeated(seconds: int) -> None:
    data = render_video(pattern(), W, H, seconds)
    clip = Clip(data)
    frames = seconds * DEFAULT_FPS
    assert clip.codec == "h264"
    assert len(clip.packets) == len(clip.frames) == frames  # every packet decodes to a frame
    assert clip.duration == pytest.approx(seconds, abs=1e-6)
    # a key frame where every loop starts (the first frame included), and nowhere else
    assert clip.keyframes == list(range(0, frames, LOOP))
    assert [key for *_, key in clip.packets] == [i % LOOP == 0 for i in range(frames)]
    assert sync_samples(data) == [i + 1 for i in range(0, frames, LOOP)]  # seeking finds them
    # each repetition decodes to exactly the pictures of the first loop
    for index, frame in enumerate(clip.frames):
        assert np.array_equal(frame, clip.frames[index % LOOP]), f"frame {index}"


@pytest.mark.parametrize("seconds", [1, 25])
def test_timestamps_rise_one_frame_at_a_time_across_the_repetitions(seconds: int) -> None:
    clip = Clip(render_video(solid((10, 200, 30)), W, H, seconds))
    step = Fraction(1, DEFAULT_FPS) / clip.time_base
    assert step.denominator == 1
    expected = [i * int(step) for i in range(seconds * DEFAULT_FPS)]
    assert [pts for pts, *_ in clip.packets] == expected
    assert [dts for _, dts, *_ in clip.packets] == expected  # decode order is display order
    assert {duration for _, _, duration, _ in clip.packets} == {int(step)}


def test_the_view_drifts_gently_and_comes_back() -> None:
    width, height = 192, 336
    clip = Clip(render_video(pattern((400, 600)), width, height, LOOP_SECONDS))
    first = clip.frames[0].astype(np.int16)

    def shift(frame: np.ndarray[Any, Any], near: tuple[int, int]) -> tuple[int, int]:
        """(dx, dy) within 4 pixels of ``near`` such that frame[y, x] best matches
        first[y + dy, x + dx]."""
        best: tuple[float, int, int] = (1e9, 0, 0)
        for dy in range(near[1] - 4, near[1] + 5):
            for dx in range(near[0] - 4, near[0] + 5):
                a = frame[max(0, -dy) : height - max(0, dy), max(0, -dx) : width - max(0, dx)]
                b = first[max(0, dy) : height + min(0, dy), max(0, dx) : width + min(0, dx)]
                best = min(best, (float(np.abs(a.astype(np.int16) - b).mean()), dx, dy))
        return best[1], best[2]

    shifts = [(0, 0)]
    for frame in clip.frames:
        shifts.append(shift(frame, shifts[-1]))
    shifts = shifts[1:]
    assert shifts[0] == (0, 0)
    half = LOOP // 2
    dx_peak, dy_peak = shifts[half]
    assert dx_peak >= 0.03 * width and dy_peak <= -0.02 * height  # up and to the right
    for (ax, ay), (bx, by) in zip(shifts, shifts[1:], strict=False):
        assert abs(bx - ax) <= 3 and abs(by - ay) <= 3  # a gentle drift, no jump (nor a
        # jump bigger than the search's 4 pixels, which would fail the peak or the return)
    assert [x for x, _ in shifts[: half + 1]] == sorted(x for x, _ in shifts[: half + 1])
    assert abs(shifts[-1][0]) <= 1 and abs(shifts[-1][1]) <= 1  # back where it began


def test_another_duration_of_the_same_image_and_size_reuses_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    encoded: list[tuple[int, int, int]] = []
    real = media.encoding._encode_loop

    def counting(
        image: bytes | None, width: int, height: int, fps: int, count: int, caption: str | None
    ) -> bytes:
        encoded.append((width, height, count))
        return real(image, width, height, fps, count, caption)

    monkeypatch.setattr(media.render_process, "_encode_loop", counting)
    media.render_process._loops.clear()
    image = solid((200, 30, 30), (66, 90))
    for seconds in (4, 8, 25, 2.5):
        render_video(image, W, H, seconds)
    assert encoded == [(W, H, LOOP)]
    render_video(image, W + 2, H, 4)  # another size
    render_video(solid((30, 200, 30), (66, 90)), W, H, 4)  # another image
    render_video(image, W, H, 1)  # shorter than a loop: its own, shorter encode
    assert encoded[1:] == [(W + 2, H, LOOP), (W, H, LOOP), (W, H, DEFAULT_FPS)]


def _not_here(*_: object) -> bytes:
    raise AssertionError("rendered in the test process, not in the render process")


def test_a_render_in_the_render_process_is_the_same_video(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = pattern((90, 70))
    here = render_video(image, W, H, 3)
    media.isolate_renders()
    try:
        monkeypatch.setattr(
            media.render_process, "_render_video", _not_here
        )  # the child has its own
        apart = render_video(image, W, H, 3)
        with pytest.raises(ImageError, match="not a decodable image"):
            render_video(b"not an image", W, H, 3)  # raised in the child, seen here
        with pytest.raises(ValueError):
            render_video(image, W + 1, H, 3)  # checked here, before the child is asked
    finally:
        media.isolate_renders(False)
    assert apart == here


def test_a_dead_render_process_is_replaced_and_no_render_is_lost() -> None:
    media.isolate_renders()
    try:
        render_video(None, W, H, 1)
        child = media.render_process._isolation.child
        assert child is not None
        child.process.kill()
        child.process.wait()
        # this one finds the child gone and renders here; the next starts a new child
        assert Clip(render_video(None, W, H, 2)).duration == pytest.approx(2)
        assert Clip(render_video(None, W, H, 3)).duration == pytest.approx(3)
        assert (
            media.render_process._isolation.child is not None
            and media.render_process._isolation.child is not child
        )
        assert media.render_process._isolation.child.process.poll() is None
    finally:
        media.isolate_renders(False)
    assert child.process.poll() is not None


def test_workers_sharing_a_loop_directory_encode_each_loop_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(media.render_process._isolation, "loops_dir", tmp_path)
    media.render_process._loops.clear()  # a worker that has not encoded this loop yet
    image = pattern((90, 70))
    first = render_video(image, W, H, 4)
    # another worker: nothing in its memory, the directory in common
    media.render_process._loops.clear()

    def no_encode(*_: object) -> bytes:
        raise AssertionError("encoded again although another worker has encoded it")

    monkeypatch.setattr(media.render_process, "_encode_loop", no_encode)
    assert render_video(image, W, H, 4) == first
    assert len(Clip(render_video(image, W, H, 6)).frames) == 6 * DEFAULT_FPS


def test_a_worker_waits_for_the_loop_another_is_encoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(media.render_process._isolation, "loops_dir", tmp_path)
    real_flock = fcntl.flock
    waiting = threading.Event()

    def flock(fd: Any, operation: int) -> None:
        if threading.current_thread().name == "second":
            waiting.set()  # about to wait for the first one's lock
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    encoding, release = threading.Event(), threading.Event()
    encodes: list[str] = []

    def encode() -> bytes:
        encodes.append(threading.current_thread().name)
        encoding.set()
        assert release.wait(30)
        return b"the loop"

    key = ("some image", W, H, DEFAULT_FPS, LOOP)
    results: dict[str, bytes] = {}

    def worker() -> None:
        results[threading.current_thread().name] = media.render_process._shared_loop(key, encode)

    one = threading.Thread(target=worker, name="first")
    one.start()
    assert encoding.wait(30)
    two = threading.Thread(target=worker, name="second")
    two.start()
    assert waiting.wait(30)  # the second is at the lock while the first still encodes
    release.set()
    one.join(30)
    two.join(30)
    assert encodes == ["first"]
    assert results == {"first": b"the loop", "second": b"the loop"}


def _mean_colour(clip: Clip) -> tuple[float, ...]:
    return tuple(float(c) for c in np.mean([f.reshape(-1, 3).mean(axis=0) for f in clip.frames], 0))


def test_workers_sharing_a_loop_directory_keep_each_image_s_loop_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each image, size and duration has its own file in the shared directory: a server's
    second video is never its first one's picture."""
    monkeypatch.setattr(media.render_process._isolation, "loops_dir", tmp_path)
    red = Clip(render_video(solid((230, 20, 20)), W, H, 1))
    green = Clip(render_video(solid((20, 230, 20)), W, H, 1))
    r, g, _ = _mean_colour(red)
    assert r > 200 and g < 50
    r, g, _ = _mean_colour(green)
    assert g > 200 and r < 50
    assert len(list(tmp_path.glob("*.mp4"))) == 2


def test_a_prompt_does_not_change_the_video_made_from_an_image(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The caption shows only on the placeholder: a reference image's loop is encoded once
    whatever the prompts of its jobs (and the placeholder's once per caption)."""
    encoded: list[str | None] = []
    real = media.encoding._encode_loop

    def counting(
        image: bytes | None, width: int, height: int, fps: int, count: int, caption: str | None
    ) -> bytes:
        encoded.append(caption)
        return real(image, width, height, fps, count, caption)

    monkeypatch.setattr(media.render_process, "_encode_loop", counting)
    image = pattern((90, 70))
    first = render_video(image, W, H, 2, caption="a red fox")
    assert render_video(image, W, H, 2, caption="a blue whale") == first
    assert len(encoded) == 1
    fox = render_video(None, W, H, 2, caption="a red fox")
    whale = render_video(None, W, H, 2, caption="a blue whale")
    assert encoded[1:] == ["a red fox", "a blue whale"]
    assert Clip(fox).frames[0].tobytes() != Clip(whale).frames[0].tobytes()


def _remux(loop: bytes, keep: slice) -> bytes:
    """The loop's packets in ``keep`` as an MP4 of their own."""
    out = io.BytesIO()
    with av.open(io.BytesIO(loop)) as source, av.open(out, mode="w", format="mp4") as target:
        template = source.streams.video[0]
        stream = target.add_stream_from_template(template)
        for packet in [p for p in source.demux(template) if p.size][keep]:
            packet.stream = stream
            target.mux(packet)
    return out.getvalue()


def test_a_loop_that_does_not_start_on_a_key_frame_is_refused_not_repeated() -> None:
    """A clip whose first frame cannot be decoded on its own would play as garbage (or not at
    all) until its next key frame: the loop is refused instead."""
    loop = media.encoding._encode_loop(None, 32, 24, DEFAULT_FPS, 4, None)
    assert Clip(media.encoding._repeat(_remux(loop, slice(None)), 6, DEFAULT_FPS)).keyframes == [
        0,
        4,
    ]
    with pytest.raises(RuntimeError) as refused:
        media.encoding._repeat(_remux(loop, slice(1, None)), 6, DEFAULT_FPS)
    assert str(refused.value) == "the encoded loop does not start on a key frame"


def x264_settings(data: bytes) -> dict[str, str]:
    """The settings x264 writes into the stream (an SEI message), as mediainfo shows them."""
    found = re.search(rb"x264 - core \d+ .* - options: ([ -~]*)", data)
    assert found is not None, "no x264 settings in the stream"
    return dict(item.split("=", 1) for item in found.group(1).decode().split() if "=" in item)


@pytest.mark.parametrize(("fps", "count"), [(10, 5), (DEFAULT_FPS, LOOP)])
def test_a_loop_is_an_mp4_of_its_own_at_the_frame_rate_one_closed_gop(fps: int, count: int) -> None:
    """The encoded loop is what the shared loop directory keeps (``<key>.mp4``) and what every
    clip repeats: a playable MP4 of ``count`` frames at ``fps``, one key frame at its start,
    H.264 Constrained Baseline (every browser plays it) at crf 28, BT.709 limited range."""
    width, height = 48, 32
    loop = media.encoding._encode_loop(pattern((90, 70)), width, height, fps, count, None)
    clip = Clip(loop)
    assert (clip.codec, len(clip.packets), len(clip.frames)) == ("h264", count, count)
    assert clip.frames[0].shape == (height, width, 3)
    assert clip.duration == pytest.approx(count / fps)
    step = Fraction(1, fps) / clip.time_base
    assert [pts for pts, *_ in clip.packets] == [i * step for i in range(count)]
    assert clip.keyframes == [0]
    with av.open(io.BytesIO(loop)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == fps
        context = stream.codec_context
        assert (context.profile, context.pix_fmt) == ("Constrained Baseline", "yuv420p")
        colour = (context.colorspace, context.color_primaries, context.color_trc)
        assert colour == (1, 1, 1)  # BT.709 (AVCOL_*_BT709), not left unspecified (2)
        assert context.color_range == 1  # limited ("MPEG") range, not full (2)
    settings = x264_settings(loop)
    assert settings["crf"] == "28.0"
    assert (settings["bframes"], settings["scenecut"]) == ("0", "0")
    assert settings["keyint"] == str(round(LOOP_SECONDS * fps))  # a key frame every loop


@pytest.mark.parametrize("offset", [(0, 0), (4, 6), (10, 2), (8, 14)])
def test_a_frame_is_the_view_at_its_offset_colour_and_brightness_together(
    offset: tuple[int, int],
) -> None:
    """Each frame is a copy of the picture at the view's offset: its colour (4:2:0 chroma, one
    sample per two pixels) moves with its brightness, with no fringe where colours meet."""
    rng = np.random.default_rng(5)
    blocks = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)  # 12x12 pixel blocks of colour
    picture = np.kron(blocks, np.ones((12, 12, 1), dtype=np.uint8))  # 96 x 72
    planes = media.encoding._yuv_planes(Image.fromarray(picture))
    frame = media.encoding._video_frame(planes, offset, 48, 36)
    assert (frame.width, frame.height, frame.format.name) == (48, 36, "yuv420p")
    x, y = offset
    shown = frame.reformat(format="rgb24", src_colorspace=Colorspace.ITU709).to_ndarray()
    error = np.abs(shown.astype(np.int16) - picture[y : y + 36, x : x + 48]).mean()
    # 3.6 to 4.5 here (chroma is interpolated where blocks meet); colour a chroma pixel off
    # its place: 13 to 39
    assert error < 8, f"the frame is not the view at {offset}: off by {error:.1f} on average"
