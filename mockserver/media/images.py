"""Reference images: what a client uploads as ``input_reference`` (JPEG, PNG or WEBP only,
fully decoded, decompression-bomb guarded), checked (:func:`probe_image`,
:func:`parse_data_url`, :func:`sniff_mime`) and read as the RGB picture a video shows."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import threading
import warnings
from collections import OrderedDict
from typing import TYPE_CHECKING, Final

from PIL import UnidentifiedImageError  # the package alone: <1 ms

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image, ImageOps
else:
    # imported on first use (the first upload checked or video rendered), not when the server
    # starts: see mockserver.media._lazy
    from mockserver.media._lazy import Lazy

    np = Lazy(globals(), "numpy", "np")
    Image = Lazy(globals(), "PIL.Image", "Image")
    ImageOps = Lazy(globals(), "PIL.ImageOps", "ImageOps")

#: Largest reference image accepted, checked from its header before any pixel is decoded (a
#: decoded RGBA image costs 4 bytes a pixel): 40 megapixels, 12000 pixels a side.
MAX_IMAGE_PIXELS: Final = 40_000_000
MAX_IMAGE_SIDE: Final = 12_000

_MIME_BY_FORMAT: Final = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",  # what Pillow calls the JPEGs many phone cameras write
    "PNG": "image/png",
    "WEBP": "image/webp",
}


_BACKGROUND: Final = (0, 0, 0)  # what transparent pixels of a reference image become


# warnings.catch_warnings() mutates process-global state: serialise our own uses of it.
_decode_lock = threading.Lock()


class ImageError(ValueError):
    """The bytes are not a usable reference image (undecodable, unsupported or too large)."""


def _open_header(data: bytes) -> Image.Image:
    """Open ``data`` reading its header only (no pixels decoded); check format and size."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"image must be bytes, not {type(data).__name__}")
    if len(data) == 0:
        raise ImageError("image is empty (0 bytes); expected a JPEG, PNG or WEBP image")
    # the lock covers the header read only (catch_warnings is process-global), never a decode
    with _decode_lock, warnings.catch_warnings():
        # Pillow warns above Image.MAX_IMAGE_PIXELS and raises above twice that: both mean
        # "refuse", so the warning is made an error here and both become ImageError.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise ImageError(f"image is too large to decode safely: {exc}") from exc
        except UnidentifiedImageError as exc:
            raise ImageError(
                "bytes are not a decodable image; expected a JPEG, PNG or WEBP image"
            ) from exc
        except Exception as exc:  # Pillow plugins raise a zoo of types on garbage
            raise ImageError(f"bytes are not a decodable image: {exc}") from exc
    fmt = im.format or "unknown"
    if fmt not in _MIME_BY_FORMAT:
        im.close()
        raise ImageError(f"unsupported image format {fmt}; expected JPEG, PNG or WEBP")
    width, height = im.size
    if max(width, height) > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        im.close()
        raise ImageError(
            f"image is {width}x{height} pixels: reference images may have at most "
            f"{MAX_IMAGE_SIDE} pixels a side and {MAX_IMAGE_PIXELS // 1_000_000} megapixels"
        )
    return im


def _open_verified(data: bytes) -> Image.Image:
    """Open and fully decode ``data`` (its size checked first); only JPEG, PNG and WEBP."""
    im = _open_header(data)
    try:
        im.load()
    except Exception as exc:
        im.close()
        raise ImageError(f"{im.format} image is truncated or corrupt: {exc}") from exc
    return im


def image_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` as displayed (EXIF orientation applied), from the header alone."""
    with _open_header(data) as im:
        width, height = im.size
        return (height, width) if _orientation(im) in (5, 6, 7, 8) else (width, height)


def sniff_mime(data: bytes) -> str:
    """The media type of an image already accepted by :func:`probe_image`, from its magic
    bytes (nothing decoded)."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)  # EXIF Orientation
    except Exception:  # a broken EXIF block is not worth rejecting the image for
        return 1
    return value if isinstance(value, int) else 1


def probe_image(data: bytes, digest: bytes | None = None) -> tuple[int, int, str]:
    """Return ``(width, height, mime_type)`` of a JPEG, PNG or WEBP image.

    The image is fully decoded, so truncated or corrupt data is rejected. Width and height
    are as displayed, i.e. after the EXIF orientation (a portrait phone photo stored
    sideways reports a portrait size), which is also how :func:`render_video` uses it.
    Raises :class:`ImageError` for anything that is not such an image.

    The verdict is remembered by content (SHA-256; the last ``_PROBES_KEPT`` images): a
    client that sends the same reference image with every create, as test suites and CI
    fleets do, has it decoded once, not once per job (the decode was most of a create).
    ``digest``: the data's SHA-256, when the caller has it already (a create keeps the
    image under it: hashed once).
    """
    if digest is None:
        digest = hashlib.sha256(data).digest()
    with _probes_lock:
        known = _probes.get(digest)
        if known is not None:
            _probes.move_to_end(digest)
    if known is None:
        try:
            known = _probe(data)
        except ImageError as exc:
            known = exc
        with _probes_lock:
            _probes[digest] = known
            if len(_probes) > _PROBES_KEPT:
                _probes.popitem(last=False)
    if isinstance(known, ImageError):
        raise ImageError(str(known))
    return known


def _probe(data: bytes) -> tuple[int, int, str]:
    im = _open_verified(data)
    with im:
        width, height = im.size
        if _orientation(im) in (5, 6, 7, 8):  # rotated by 90 or 270 degrees
            width, height = height, width
        return width, height, _MIME_BY_FORMAT[im.format or ""]


#: probe verdicts by image content: a few hundred bytes each
_PROBES_KEPT: Final = 1024
_probes: OrderedDict[bytes, tuple[int, int, str] | ImageError] = OrderedDict()
_probes_lock = threading.Lock()


def parse_data_url(url: str) -> bytes:
    """Decode a ``data:image/<type>[;param...];base64,<payload>`` URL to the raw bytes.

    Only checks the URL itself; pass the result to :func:`probe_image` to check the image.
    Raises :class:`ImageError` with a message naming the problem.
    """
    if not isinstance(url, str):
        raise ImageError(f"data URL must be a string, not {type(url).__name__}")
    if url[:5].lower() != "data:":
        raise ImageError("not a data URL: it must start with 'data:'")
    header, sep, payload = url[5:].partition(",")
    if not sep:
        raise ImageError("malformed data URL: no ',' between the header and the data")
    media_type, *params = (part.strip() for part in header.split(";"))
    if not media_type.lower().startswith("image/") or media_type.lower() == "image/":
        shown = media_type or "(none)"
        raise ImageError(f"data URL media type must be image/..., got {shown!r}")
    if not params or params[-1].lower() != "base64":
        raise ImageError("data URL must be base64-encoded (';base64,' is missing)")
    compact = "".join(payload.split())  # tolerate line breaks inside the payload
    if not compact:
        raise ImageError("data URL has no data after ';base64,'")
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageError(f"data URL payload is not valid base64: {exc}") from exc
    if not data:
        raise ImageError("data URL decodes to 0 bytes")
    return data


def _load_rgb(data: bytes) -> Image.Image:
    im = _open_verified(data)
    with im:
        upright = ImageOps.exif_transpose(im) if _orientation(im) != 1 else im
        if upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info:
            rgba = upright.convert("RGBA")
            flat = Image.new("RGBA", rgba.size, (*_BACKGROUND, 255))
            return Image.alpha_composite(flat, rgba).convert("RGB")
        if upright.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
            # 16-bit/float greyscale: scale to 8 bit instead of clipping everything to white
            arr = np.asarray(upright, dtype=np.float64)
            peak = float(arr.max()) or 1.0
            scale = 255.0 / (65535.0 if peak > 255 else 255.0)
            return Image.fromarray(np.clip(arr * scale, 0, 255).astype(np.uint8)).convert("RGB")
        return upright.convert("RGB")
