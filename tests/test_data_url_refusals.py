"""A reference image sent as a data URL: each way it can be wrong is refused with words that
name the problem (the client shows them), and an image's type is told by its first bytes."""

from __future__ import annotations

import base64

import pytest

from mockserver.media import ImageError, parse_data_url, sniff_mime

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (b"data:", "data URL must be a string, not bytes"),
        (None, "data URL must be a string, not NoneType"),
        ("http://x/cat.png", "not a data URL: it must start with 'data:'"),
        ("data:image/png;base64", "malformed data URL: no ',' between the header and the data"),
        ("data:text/plain;base64,AAAA", "data URL media type must be image/..., got 'text/plain'"),
        ("data:image/;base64,AAAA", "data URL media type must be image/..., got 'image/'"),
        ("data:IMAGE/;base64,AAAA", "data URL media type must be image/..., got 'IMAGE/'"),
        ("data:;base64,AAAA", "data URL media type must be image/..., got '(none)'"),
        ("data:image/png,AAAA", "data URL must be base64-encoded (';base64,' is missing)"),
        ("data:image/png;base64, \n ", "data URL has no data after ';base64,'"),
        ("data:image/png;base64,A", "data URL payload is not valid base64: "),
        # a character outside the alphabet is an error, not skipped ("AAAA" would decode)
        ("data:image/png;base64,AA!AA", "data URL payload is not valid base64: "),
    ],
)
def test_each_bad_data_url_names_its_problem(url: object, message: str) -> None:
    with pytest.raises(ImageError) as caught:
        parse_data_url(url)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message), str(caught.value)
    if not message.endswith(": "):
        assert str(caught.value) == message


def test_a_data_url_gives_its_bytes_back() -> None:
    payload = base64.b64encode(PNG).decode()
    assert parse_data_url(f"data:image/png;base64,{payload}") == PNG
    # case, parameters, spaces and line breaks are tolerated
    folded = payload[:8] + "\n " + payload[8:]
    assert parse_data_url(f"DATA:Image/PNG; name=cat.png ;BASE64,{folded}") == PNG


def test_the_first_comma_ends_the_header() -> None:
    with pytest.raises(ImageError, match="not valid base64"):
        parse_data_url("data:image/png;base64,AAAA,AAAA")


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (b"\xff\xd8\xff\xe0rest", "image/jpeg"),
        (b"\xff\xd8\xfe", "application/octet-stream"),
        (PNG, "image/png"),
        (b"\x89PNG\r\n\x1a", "application/octet-stream"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "application/octet-stream"),
        (b"GIF89a", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_an_images_type_is_told_by_its_first_bytes(data: bytes, mime: str) -> None:
    assert sniff_mime(data) == mime
