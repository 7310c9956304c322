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
    ("value", "rule"),
    [
        ("data:image/png,rawbytes", "a data: URL must be base64 (data:...;base64,)"),
        ("data:image/png;base64", "a data: URL must be base64 (data:...;base64,)"),
        ("data:image/png;base64,@@@", "the data: URL is not valid base64"),
        ("data:image/png;base64,AAAA,AAAA", "the data: URL is not valid base64"),
        (b"not an image", "not a readable image (PNG, JPEG or WEBP expected)"),
        (encoded("GIF"), "GIF images are not accepted: use PNG, JPEG or WEBP"),
        (encoded("BMP"), "BMP images are not accepted: use PNG, JPEG or WEBP"),
        (12, "expected a path, bytes, a file or a URL, not int"),
        (io.StringIO("text"), "the file object must be opened in 'rb'"),
        (io.BytesIO(b"junk"), "not a readable image (PNG, JPEG or WEBP expected)"),
        (
            "data:image/png;base64," + base64.b64encode(b"junk").decode(),
            "not a readable image (PNG, JPEG or WEBP expected)",
        ),
    ],
)
def test_unreadable_images_are_refused_naming_the_field(value: object, rule: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        load_image("gptge", "input_reference", value)  # type: ignore[arg-type]
    assert (caught.value.provider, caught.value.field, caught.value.rule) == (
        "gptge",
        "input_reference",
        rule,
    )


def test_a_junk_file_is_refused_naming_provider_and_field(tmp_path: Path) -> None:
    path = tmp_path / "junk.png"
    path.write_bytes(b"junk")
    with pytest.raises(InvalidRequestError) as caught:
        load_image("vtrix", "input_reference", path)
    assert (caught.value.provider, caught.value.field) == ("vtrix", "input_reference")


def test_unnamed_files_and_data_urls_are_called_image() -> None:
    data = encoded("PNG")
    nameless = io.BytesIO(data)
    assert load_image("vtrix", "image", nameless).filename == "image.png"
    nameless.name = ""  # type: ignore[attr-defined]
    nameless.seek(0)
    assert load_image("vtrix", "image", nameless).filename == "image.png"
    url = "data:image/png;base64," + base64.b64encode(data).decode()
    assert load_image("vtrix", "image", url).filename == "image.png"
    assert load_image("vtrix", "image", "https://x.test/a.png").filename == "image"


def test_a_missing_file_is_refused_with_its_name(tmp_path: Path) -> None:
    missing = tmp_path / "nope.png"
    with pytest.raises(InvalidRequestError) as caught:
        load_image("gptge", "image", missing)
    assert (caught.value.provider, caught.value.field) == ("gptge", "image")
    assert (
        caught.value.rule == f"cannot read image file {str(missing)!r}: No such file or directory"
    )


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("720x1280", (720, 1280)),
        ("1792X1024", (1792, 1024)),
        ("720", None),
        ("axb", None),
        ("ax720", None),
        ("720xb", None),
    ],
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
        assert (caught.value.provider, caught.value.field) == ("gptge", "image")
        assert caught.value.rule == (
            "the image is 720x1280 pixels but the video size is {}x{}; gptge requires them to "
            "match exactly (resize or crop the image, or pick the size that matches it)"
        ).format(*size)
