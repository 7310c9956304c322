"""H.264 MP4s: one loop of the motion encoded (a closed GOP starting on a key frame) and its
packets laid out again and again, timestamps shifted, until the clip is long enough; the size
and duration checks every render starts with."""

from __future__ import annotations

import io
import math
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Final

from mockserver.media.pictures import _drift_amount, _loop_frames, _prepare

if TYPE_CHECKING:
    import av
    import numpy as np
    from av.video.plane import VideoPlane
    from av.video.reformatter import Colorspace
    from PIL import Image
else:
    # imported on first use (the first upload checked or video rendered), not when the server
    # starts: see mockserver.media._lazy
    from mockserver.media._lazy import Lazy

    av = Lazy(globals(), "av", "av")
    np = Lazy(globals(), "numpy", "np")
    Colorspace = Lazy(globals(), "av.video.reformatter", "Colorspace", "Colorspace")

#: Frame rate of rendered clips: at 12 fps the gentle zoom still looks smooth.
DEFAULT_FPS: Final = 12
#: Largest accepted width/height (the biggest Sora-2 size is 1792) and clip length.
MAX_DIMENSION: Final = 4096
MAX_SECONDS: Final = 120.0


def _plane_array(plane: VideoPlane) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """A writable view of a plane's pixels, without the alignment padding."""
    rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(plane.height, -1)
    return rows[:, : plane.width]


_Planes = tuple[
    "np.ndarray[Any, np.dtype[np.uint8]]",
    "np.ndarray[Any, np.dtype[np.uint8]]",
    "np.ndarray[Any, np.dtype[np.uint8]]",
]


def _yuv_planes(image: Image.Image) -> _Planes:
    """Y, U and V of an RGB image (BT.709, limited range, 4:2:0; even width and height).

    Converted by a reformatter of this call's own, on this thread: ``VideoFrame.reformat``
    keeps one per thread for the thread's life, with swscale's slice threads, and a process
    forked while a render thread lives (a test's ``multiprocessing``, a ``subprocess`` with a
    ``preexec_fn``) frees it in the child, where those threads are not: the child hung in
    ``sws_freeContext`` before running a line of its own (``tests/test_render_fork.py``)."""
    from av.video.reformatter import VideoReformatter

    yuv = VideoReformatter().reformat(
        av.VideoFrame.from_image(image),
        format="yuv420p",
        dst_colorspace=Colorspace.ITU709,
        threads=1,
    )
    y, u, v = (_plane_array(p) for p in yuv.planes)
    return y, u, v


def _video_frame(
    planes: _Planes, offset: tuple[int, int], width: int, height: int
) -> av.VideoFrame:
    """A yuv420p frame: the view at ``offset``, copied out of the source planes.

    A whole-pixel offset makes each frame a plain copy (no resampling) and the motion from
    one frame to the next an exact translation, which x264's whole-pixel motion search
    (``ultrafast``) predicts well. Chroma moves by whole chroma pixels (two luma pixels).
    """
    y, u, v = planes
    x0, y0 = offset
    frame = av.VideoFrame(width, height, "yuv420p")
    _plane_array(frame.planes[0])[:] = y[y0 : y0 + height, x0 : x0 + width]
    cx, cy = x0 // 2, y0 // 2
    _plane_array(frame.planes[1])[:] = u[cy : cy + height // 2, cx : cx + width // 2]
    _plane_array(frame.planes[2])[:] = v[cy : cy + height // 2, cx : cx + width // 2]
    return frame


def _check_size(width: int, height: int) -> None:
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, not {type(value).__name__}")
        if value <= 0 or value % 2 or value > MAX_DIMENSION:
            raise ValueError(
                f"{name} must be a positive even number of pixels up to {MAX_DIMENSION}, "
                f"got {value}"
            )


def _frame_count(seconds: float, fps: int) -> int:
    if isinstance(fps, bool) or not isinstance(fps, int) or not 1 <= fps <= 120:
        raise ValueError(f"fps must be an int from 1 to 120, got {fps!r}")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        raise TypeError(f"seconds must be a number, not {type(seconds).__name__}")
    if not math.isfinite(seconds) or seconds <= 0 or seconds > MAX_SECONDS:
        raise ValueError(f"seconds must be > 0 and <= {MAX_SECONDS:g}, got {seconds!r}")
    return max(1, round(seconds * fps))


def _encode_loop(
    image: bytes | None, width: int, height: int, fps: int, count: int, caption: str | None
) -> bytes:
    """The first ``count`` frames of the motion loop, as an MP4 of their own (one GOP)."""
    source = _prepare(image, width, height, caption)
    planes = _yuv_planes(source.image)
    loop = _loop_frames(fps)
    time_base = Fraction(1, fps)
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        # crf 28 instead of x264's 23: a third of the bytes for a grainy photo, still clean.
        # No B-frames (decode order is display order, so packets repeat as they are), one
        # closed GOP per loop (its first frame a key frame, nothing refers across loops).
        stream = container.add_stream(
            "libx264",
            rate=fps,
            options={
                "preset": "ultrafast",
                "crf": "28",
                "x264-params": "bframes=0:scenecut=0:open-gop=0",
            },
        )
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        ctx = stream.codec_context
        ctx.gop_size = loop
        ctx.colorspace = ctx.color_primaries = ctx.color_trc = 1  # BT.709
        ctx.color_range = 1  # limited ("MPEG") range
        # the way back repeats the way there: one picture per distinct offset
        pictures: dict[tuple[int, int], av.VideoFrame] = {}
        for index in range(count):
            offset = source.offset(_drift_amount(index, loop))
            frame = pictures.get(offset)
            if frame is None:
                frame = pictures[offset] = _video_frame(planes, offset, width, height)
            frame.pts = index  # x264 copies the picture in: one frame object may go twice
            frame.time_base = time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


def _repeat(loop: bytes, frames: int, fps: int) -> bytes:
    """An MP4 of ``frames`` frames: the loop's packets again and again, timestamps shifted."""
    out = io.BytesIO()

    def reopen(url: str, flags: int, options: dict[str, str]) -> io.BytesIO:
        # "+faststart" makes the muxer re-open its own output for reading to move the moov
        # atom to the front; a snapshot of what was written so far is exactly what it reads.
        if flags & 2:  # AVIO_FLAG_WRITE: the mp4 muxer never asks for this
            raise OSError(f"unexpected request to open {url!r} for writing")
        return io.BytesIO(out.getvalue())

    time_base = Fraction(1, fps)
    with av.open(io.BytesIO(loop), mode="r") as looped:
        template = looped.streams.video[0]
        packets = [(bytes(p), p.is_keyframe) for p in looped.demux(template) if p.size]
        if not packets or not packets[0][1]:
            raise RuntimeError("the encoded loop does not start on a key frame")
        with av.open(
            out,
            mode="w",
            format="mp4",
            container_options={"movflags": "+faststart"},
            io_open=reopen,
        ) as container:
            stream = container.add_stream_from_template(template)
            for index in range(frames):
                data, keyframe = packets[index % len(packets)]
                packet = av.Packet(data)
                packet.stream = stream
                packet.time_base = time_base
                packet.pts = packet.dts = index
                packet.duration = 1
                packet.is_keyframe = keyframe
                container.mux(packet)
    return out.getvalue()
