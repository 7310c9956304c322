"""Reference images: a path, bytes, a file object, or a URL, read once and measured locally.

Providers that take image URLs (GPTProto v3 ``images``, Vtrix ``input_reference``, chat
``image_url``) get URLs as given, and bytes or files as ``data:`` URLs. The ``/v1/videos``
providers upload a file part and cannot take a remote URL.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeAlias

from sora_client._exceptions import InvalidRequestError

ImageInput: TypeAlias = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]

#: Pillow format -> media type the contracts allow for reference images
MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


@dataclass(frozen=True)
class Image:
    """A reference image: its bytes (when at hand) or only its URL."""

    data: bytes | None
    url: str | None
    media_type: str | None
    width: int | None
    height: int | None
    filename: str

    @property
    def size(self) -> tuple[int, int] | None:
        if self.width is None or self.height is None:
            return None
        return self.width, self.height

    def data_url(self) -> str:
        if self.data is None:
            assert self.url is not None
            return self.url
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode('ascii')}"

    def url_or_data_url(self) -> str:
        return self.url if self.url is not None else self.data_url()


def is_url(value: str) -> bool:
    return value.startswith(("http://", "https://", "data:"))


def load_image(provider: str, field: str, value: ImageInput) -> Image:
    """Read and measure an image; raise InvalidRequestError naming ``field`` if unreadable."""
    if isinstance(value, str) and is_url(value):
        if value.startswith("data:"):
            return _measure(provider, field, _decode_data_url(provider, field, value), "image")
        return Image(None, value, None, None, None, "image")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _measure(provider, field, bytes(value), "image")
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidRequestError(
                provider, field, f"cannot read image file {str(path)!r}: {exc.strerror}"
            ) from None
        return _measure(provider, field, data, path.stem or "image")
    if hasattr(value, "read"):
        data = value.read()
        if not isinstance(data, bytes):
            raise InvalidRequestError(provider, field, "the file object must be opened in 'rb'")
        name = Path(str(getattr(value, "name", "image"))).stem or "image"
        return _measure(provider, field, data, name)
    raise InvalidRequestError(
        provider, field, f"expected a path, bytes, a file or a URL, not {type(value).__name__}"
    )


def _decode_data_url(provider: str, field: str, url: str) -> bytes:
    header, sep, payload = url.partition(",")
    if not sep or not header.endswith(";base64"):
        raise InvalidRequestError(provider, field, "a data: URL must be base64 (data:...;base64,)")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequestError(provider, field, "the data: URL is not valid base64") from None


def _measure(provider: str, field: str, data: bytes, stem: str) -> Image:
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        with PILImage.open(io.BytesIO(data)) as img:
            fmt = img.format or ""
            width, height = img.size
    except (UnidentifiedImageError, OSError, ValueError):
        raise InvalidRequestError(
            provider, field, "not a readable image (PNG, JPEG or WEBP expected)"
        ) from None
    media_type = MEDIA_TYPES.get(fmt)
    if media_type is None:
        raise InvalidRequestError(
            provider, field, f"{fmt or 'unknown'} images are not accepted: use PNG, JPEG or WEBP"
        )
    return Image(data, None, media_type, width, height, f"{stem}.{EXTENSIONS[media_type]}")


def parse_size(size: str) -> tuple[int, int] | None:
    """``"720x1280"`` -> (720, 1280); anything else -> None."""
    width, sep, height = size.lower().partition("x")
    if sep and width.isdigit() and height.isdigit():
        return int(width), int(height)
    return None


def check_matches(provider: str, image: Image | None, size: tuple[int, int] | None) -> None:
    """The rule JSON Schema cannot hold: the image's pixels must equal the video's size."""
    if image is None or size is None or image.size is None:
        return
    if image.size != size:
        raise InvalidRequestError(
            provider,
            "image",
            f"the image is {image.width}x{image.height} pixels but the video size is "
            f"{size[0]}x{size[1]}; {provider} requires them to match exactly "
            "(resize or crop the image, or pick the size that matches it)",
        )
