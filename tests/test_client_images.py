"""How the client reads a reference image, in every form it takes, and the size rule it checks
before anything is sent (the requests themselves: test_client_requests.py)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from client_helpers import image
from PIL import Image as PILImage

from sora_client import InvalidRequestError
from sora_client._images import check_matches, load_image, parse_size


def encoded(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", size, (10, 20, 30)).save(buf, fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "media_type", "ext"),
    [("PNG", "image/png", "png"), ("JPEG", "image/jpeg", "jpg"), ("WEBP", "image/webp", "webp")],
)
def test_bytes_are_measured_and_typed(fmt: str, media_type: str, ext: str) -> None:
    data = encoded(fmt)
    for value in (data, bytearray(data), memoryview(data), io.BytesIO(data)):
        img = load_image("gptge", "image", value)
        assert (img.data, img.url, img.media_type) == (data, None, media_type)
        assert (img.width, img.height, img.size) == (64, 48, (64, 48))
        assert img.filename == f"image.{ext}"
        assert img.data_url() == f"data:{media_type};base64," + base64.b64encode(data).decode()
        assert img.url_or_data_url() == img.data_url()


def test_a_path_and_a_named_file_keep_their_stem(tmp_path: Path) -> None:
    path = tmp_path / "cat.picture.png"
    path.write_bytes(image(720, 1280))
    by_path = load_image("vtrix", "image", path)
    by_str = load_image("vtrix", "image", str(path))
    with path.open("rb") as handle:
        by_file = load_image("vtrix", "image", handle)
    for img in (by_path, by_str, by_file):
        assert img.filename == "cat.picture.png" and img.size == (720, 1280)
        assert img.data == image(720, 1280)


def test_urls_are_passed_as_given_and_data_urls_decoded() -> None:
    remote = load_image("vtrix", "image", "https://example.test/a.png")
    assert (remote.url, remote.data, remote.size, remote.media_type) == (
        "https://example.test/a.png",
        None,
        None,
        None,
    )
    assert remote.url_or_data_url() == remote.data_url() == "https://example.test/a.png"
    assert load_image("vtrix", "image", "http://x.test/b").url == "http://x.test/b"
    data = encoded("PNG")
    inline = load_image(
        "vtrix", "image", "data:image/png;base64," + base64.b64encode(data).decode()
    )
    assert (inline.data, inline.size, inline.url) == (data, (64, 48), None)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("data:image/png,rawbytes", "must be base64"),
        ("data:image/png;base64", "must be base64"),
        ("data:image/png;base64,@@@", "not valid base64"),
        (b"not an image", "not a readable image"),
        (encoded("GIF"), "GIF images are not accepted"),
        (encoded("BMP"), "BMP images are not accepted"),
        (12, "not int"),
        (io.StringIO("text"), "opened in 'rb'"),
    ],
)
def test_unreadable_images_are_refused_naming_the_field(value: object, fragment: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        load_image("gptge", "input_reference", value)  # type: ignore[arg-type]
    assert caught.value.field == "input_reference"
    assert fragment in caught.value.rule


def test_a_missing_file_is_refused_with_its_name(tmp_path: Path) -> None:
    missing = tmp_path / "nope.png"
    with pytest.raises(InvalidRequestError) as caught:
        load_image("gptge", "image", missing)
    assert caught.value.field == "image"
    assert repr(str(missing)) in caught.value.rule and "No such file" in caught.value.rule


@pytest.mark.parametrize(
    ("text", "size"),
    [("720x1280", (720, 1280)), ("1792X1024", (1792, 1024)), ("720", None), ("axb", None)],
)
def test_parse_size(text: str, size: tuple[int, int] | None) -> None:
    assert parse_size(text) == size


def test_the_size_rule_compares_both_dimensions() -> None:
    img = load_image("gptge", "image", image(720, 1280))
    check_matches("gptge", img, (720, 1280))
    check_matches("gptge", img, None)  # no size asked: nothing to compare
    check_matches("gptge", None, (720, 1280))
    check_matches("gptge", load_image("gptge", "image", "https://x.test/a.png"), (720, 1280))
    for size in [(720, 1296), (736, 1280), (1280, 720)]:
        with pytest.raises(InvalidRequestError) as caught:
            check_matches("gptge", img, size)
        assert caught.value.field == "image"
        assert "720x1280" in caught.value.rule and "{}x{}".format(*size) in caught.value.rule
