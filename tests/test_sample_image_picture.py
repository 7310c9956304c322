"""The built-in sample image (``GET /__mock/sample-image``, ``sora-mock sample-image``): the
size read as WIDTHxHEIGHT within 16..2048 pixels a side, and the same picture for the same
size, release after release. The requests log (``/__mock/requests``) identifies an uploaded
image by its SHA-256, so a test that records one made from the sample image relies on the
picture never changing; the pixel digests below pin it (Pillow draws it: a Pillow release that
draws ellipses differently would show here first)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator

import pytest
from PIL import Image

from mockserver import sample


@pytest.fixture(autouse=True)
def fresh_drawing() -> Iterator[None]:
    """Each test draws anew: the cache of drawn sizes would hand back an earlier drawing."""
    sample.sample_image.cache_clear()
    yield
    sample.sample_image.cache_clear()


def pixels(width: int, height: int) -> Image.Image:
    image = Image.open(io.BytesIO(sample.sample_image(width, height)))
    assert image.format == "PNG"
    assert image.size == (width, height)
    return image.convert("RGB")


@pytest.mark.parametrize(
    ("width", "height", "digest"),
    [
        (720, 1280, "07df3a55cfe04d441a8149bd1cebc86388e2a8b80e21fc4293c7a5ae91f46b39"),
        (64, 48, "5f075f49a57a20c55f34768ad06574fc155dfcbc6985737e2b7f8fe16eada2d1"),
        # longer than the drawing side (1280): drawn smaller, then scaled up
        (1300, 16, "81e855dbe1af4f8bd23dbd1eef064aa163cc6d8a92cb7faccf5f3ac645c606e2"),
    ],
)
def test_the_picture_is_the_same_for_the_same_size(width: int, height: int, digest: str) -> None:
    assert hashlib.sha256(pixels(width, height).tobytes()).hexdigest() == digest


def test_the_same_size_gives_the_same_bytes() -> None:
    first = sample.sample_image(96, 64)
    sample.sample_image.cache_clear()
    assert sample.sample_image(96, 64) == first


def test_the_picture_shows_dusk_a_sun_hills_and_a_cat_in_a_hat() -> None:
    image = pixels(720, 1280)
    assert image.getpixel((5, 1000)) != image.getpixel((5, 200))  # the sky's gradient
    assert image.getpixel((round(720 * 0.78), round(1280 * 0.28))) == (255, 214, 140)  # sun
    assert image.getpixel((5, 1279)) == (40, 66, 74)  # the ground
    colours = {colour for _, colour in image.getcolors(maxcolors=720 * 1280)}
    assert (250, 214, 92) in colours  # the cat's eyes
    assert (214, 72, 96) in colours  # the hat's band
    assert (36, 32, 44) in colours  # its fur


@pytest.mark.parametrize(
    ("text", "size"),
    [("720x1280", (720, 1280)), (" 16x2048 ", (16, 2048)), ("2048x16", (2048, 16))],
)
def test_a_size_within_bounds_is_read(text: str, size: tuple[int, int]) -> None:
    assert sample.parse_size(text) == size


@pytest.mark.parametrize("text", ["720", "720X1280", "0720x1280", "12345x16", "ax16", "16x16x16"])
def test_a_size_that_is_no_widthxheight_is_refused(text: str) -> None:
    with pytest.raises(sample.SizeError) as caught:
        sample.parse_size(text)
    assert str(caught.value) == f"size must be WIDTHxHEIGHT, e.g. 720x1280 (got {text!r})"


@pytest.mark.parametrize("text", ["15x720", "720x15", "2049x720", "720x2049", "9999x16"])
def test_a_side_out_of_bounds_is_refused(text: str) -> None:
    with pytest.raises(sample.SizeError) as caught:
        sample.parse_size(text)
    assert str(caught.value) == "each side must be between 16 and 2048 pixels"
