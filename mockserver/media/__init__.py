"""Media for the mock: reference-image checks, MP4/WEBP/JPEG rendering and an asset cache.

Everything here is plain Python + Pillow + PyAV (no Flask, no system ffmpeg, no temp files):

* :func:`probe_image` / :func:`parse_data_url` validate what a client uploads as the
  ``input_reference`` (JPEG, PNG or WEBP only, fully decoded, decompression-bomb guarded).
* :func:`render_video` turns the reference image (or a placeholder when there is none) into
  an H.264 MP4 of exactly the requested size and duration, the view drifting gently across
  the picture and back.
* :func:`render_thumbnail` and :func:`render_spritesheet` produce the still variants OpenAI
  serves from ``GET /videos/{id}/content?variant=...``.
* :class:`MediaCache` renders each asset once (optionally in the background and optionally
  persisted to a directory) so request handlers only ever copy bytes.

One module per concept, each importing only those listed before it (the public names are
all here, in ``mockserver.media``; patch a private one in the module that looks it up):
``images`` (reference images checked and read), ``pictures`` (the cover-fitted picture, the
drift, stills of it, the placeholder), ``encoding`` (one loop encoded, its packets repeated;
the size and duration checks), ``render_process`` (:func:`render_video`: the loops kept and
shared between workers, the render process), ``stills`` (thumbnail and spritesheet) and
``cache`` (:class:`MediaCache`); ``_lazy`` imports PyAV, numpy and Pillow on first use.

How a video is made cheap enough to be ready when its job completes at ``--speed 20``
(a job then runs 0.31 s for a 1 s clip to 0.58 s for 25 s at the least:
``benchmarks/bench_renders.py`` prints the budget beside the render times):

* **One loop, repeated.** ``LOOP_SECONDS`` (2 s, 24 frames at 12 fps) of motion are encoded
  once, a closed GOP starting on a key frame, and its packets are laid out again and again
  with shifted timestamps until the clip is long enough: a 25 s clip costs what a 2 s one
  does, plus a remux of ~20 ms. The motion is there and back (a raised cosine), so the loops
  join without a jump; a key frame every 2 s, as before. The loop is kept
  (``_LOOP_CACHE_BYTES``) for other durations of the same image and size (about 20 ms then).
* **A drift, not a zoom.** The view moves across the picture by whole pixels (4 % of the
  width, 3 % of the height): each frame is a plain crop of one prepared picture (no
  resampling per frame), and x264 ``ultrafast``, which searches motion by whole pixels only,
  predicts it exactly. A sub-pixel zoom cost a resample per frame (Pillow: ~30 ms at
  1792x1024; swscale is cheaper but whole-pixel only, and a whole-pixel zoom judders).
* **Unchanged:** 12 fps, libx264 ``ultrafast``, crf 28, yuv420p BT.709 (Constrained
  Baseline: every browser plays it), ``+faststart``. Tried and not taken: ``tune=zerolatency``
  and ``stillimage``, x264 thread counts, crf 30-32 (no clear gain on this machine), a 1 s
  loop or 8 fps (cheaper, but a visible wobble or judder).
* **A process of its own** under ``sora-mock serve`` (:func:`isolate_renders`): beside busy
  request threads, the GIL made a render several times slower.

Render time, cold (an image of its own), 2048x1536 JPEG reference, old and new code run one
after the other on the same machine (2 cores, shared, load average ~10 at the time):

| size | seconds | before ms | after ms | before bytes | after bytes |
|---|---:|---:|---:|---:|---:|
| 720x1280 | 1 | 340 | 234 | 144,583 | 273,406 |
| 720x1280 | 4 | 2,150 | 362 | 668,613 | 744,226 |
| 720x1280 | 12 | 5,031 | 470 | 2,437,559 | 2,230,990 |
| 720x1280 | 25 | 15,458 | 515 | 7,285,563 | 4,733,678 |
| 1792x1024 | 4 | 3,470 | 922 | 1,304,553 | 1,299,111 |
| 1792x1024 | 12 | 7,223 | 887 | 4,809,934 | 3,896,005 |
| 1792x1024 | 25 | 16,011 | 915 | 12,342,309 | 8,278,886 |
"""

from __future__ import annotations

from mockserver.media.cache import DEFAULT_CACHE_BYTES, DEFAULT_DISK_BYTES, MediaCache
from mockserver.media.encoding import DEFAULT_FPS, MAX_DIMENSION, MAX_SECONDS
from mockserver.media.images import (
    MAX_IMAGE_PIXELS,
    MAX_IMAGE_SIDE,
    ImageError,
    image_size,
    parse_data_url,
    probe_image,
    sniff_mime,
)
from mockserver.media.pictures import LOOP_SECONDS
from mockserver.media.render_process import (
    RENDER_PRIORITY,
    RenderCrashed,
    isolate_renders,
    prewarm_renders,
    render_video,
)

# the render process's own entry point (see render_process._RenderChild):
# ``python -c "import sys, mockserver.media as m; m._serve_renders(*sys.argv[1:])"``
from mockserver.media.render_process import _serve_renders as _serve_renders
from mockserver.media.stills import render_spritesheet, render_thumbnail

__all__ = [
    "DEFAULT_CACHE_BYTES",
    "DEFAULT_DISK_BYTES",
    "DEFAULT_FPS",
    "LOOP_SECONDS",
    "MAX_DIMENSION",
    "MAX_IMAGE_PIXELS",
    "MAX_IMAGE_SIDE",
    "MAX_SECONDS",
    "RENDER_PRIORITY",
    "ImageError",
    "MediaCache",
    "RenderCrashed",
    "parse_data_url",
    "image_size",
    "isolate_renders",
    "prewarm_renders",
    "probe_image",
    "render_spritesheet",
    "render_thumbnail",
    "render_video",
    "sniff_mime",
]
