"""The still variants OpenAI serves from ``GET /videos/{id}/content?variant=...``: the first
frame as a WEBP thumbnail, and a JPEG spritesheet of up to 10 frames sampled over the clip."""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Final

from mockserver.media.encoding import DEFAULT_FPS, _check_size, _frame_count
from mockserver.media.images import _BACKGROUND
from mockserver.media.pictures import _drift_amount, _loop_frames, _prepare, _still

if TYPE_CHECKING:
    from PIL import Image
else:
    # imported on first use (the first upload checked or video rendered), not when the server
    # starts: see mockserver.media._lazy
    from mockserver.media._lazy import Lazy

    Image = Lazy(globals(), "PIL.Image", "Image")

_SPRITE_FRAMES: Final = 10
_SPRITE_LONG_SIDE: Final = 160
_SPRITE_COLUMNS: Final = 5


def render_thumbnail(
    image: bytes | None, width: int, height: int, *, caption: str | None = None
) -> bytes:
    """The first video frame as a WEBP still of ``width`` x ``height`` (``image/webp``)."""
    _check_size(width, height)
    still = _still(_prepare(image, width, height, caption), (width, height), 0.0)
    buf = io.BytesIO()
    still.save(buf, format="WEBP", quality=80, method=4)
    return buf.getvalue()


def render_spritesheet(
    image: bytes | None,
    width: int,
    height: int,
    seconds: float,
    *,
    fps: int = DEFAULT_FPS,
    caption: str | None = None,
) -> bytes:
    """A JPEG grid (``image/jpeg``) of up to 10 frames sampled evenly over the clip.

    Each tile is the frame scaled to 160 px on its long side; tiles run left to right,
    top to bottom, five per row.
    """
    _check_size(width, height)
    frames = _frame_count(seconds, fps)
    source = _prepare(image, width, height, caption)
    count = min(_SPRITE_FRAMES, frames)
    if width >= height:
        tile = (_SPRITE_LONG_SIDE, max(1, round(_SPRITE_LONG_SIDE * height / width)))
    else:
        tile = (max(1, round(_SPRITE_LONG_SIDE * width / height)), _SPRITE_LONG_SIDE)
    columns = min(count, _SPRITE_COLUMNS)
    rows = math.ceil(count / columns)
    sheet = Image.new("RGB", (tile[0] * columns, tile[1] * rows), _BACKGROUND)
    for k in range(count):
        index = round(k * (frames - 1) / (count - 1)) if count > 1 else 0
        still = _still(source, tile, _drift_amount(index, _loop_frames(fps)))
        sheet.paste(still, ((k % columns) * tile[0], (k // columns) * tile[1]))
    buf = io.BytesIO()
    sheet.save(buf, format="JPEG", quality=82)
    return buf.getvalue()
