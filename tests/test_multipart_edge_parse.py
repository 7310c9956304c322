"""The edge reads a multipart body once: Werkzeug's parse (which the handler reuses) proves
most bodies clean, and only a body it cannot vouch for is read again part by part
(``guard.form_is_clean`` then ``guard.check_multipart``). The fast path must never pass a body
the exact check refuses."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.formparser import parse_form_data
from werkzeug.test import EnvironBuilder

from mockserver.http.app import create_app
from mockserver.http.guard import _FEED, Refused, check_multipart, form_is_clean, names_charset
from mockserver.testing import SoraMock, test_config

BOUNDARY = "b0undary"
PARTS = st.lists(
    st.tuples(
        st.sampled_from([b"prompt", b"model", b"na\xffme", "caf\u00e9".encode(), b""]),
        st.binary(max_size=12)
        | st.sampled_from([b"\xef\xbf\xbd", b"ok", b"\xe9t\xe9", "猫".encode()]),
        st.sampled_from([None, b"a.png", b"\xff.png", "é.png".encode()]),
        st.sampled_from([None, b"text/plain; charset=iso-8859-1", b"text/plain"]),
    ),
    max_size=4,
)


def _body(parts: list[tuple[bytes, bytes, bytes | None, bytes | None]]) -> bytes:
    out = b""
    for name, value, filename, content_type in parts:
        disposition = b'Content-Disposition: form-data; name="' + name + b'"'
        if filename is not None:
            disposition += b'; filename="' + filename + b'"'
        out += b"--" + BOUNDARY.encode() + b"\r\n" + disposition + b"\r\n"
        if content_type is not None:
            out += b"Content-Type: " + content_type + b"\r\n"
        out += b"\r\n" + value + b"\r\n"
    return out + b"--" + BOUNDARY.encode() + b"--\r\n"


def _parse(body: bytes) -> tuple[object, object]:
    """Werkzeug's parse, as the app's request makes it (the file parts closed after)."""
    environ = EnvironBuilder(
        method="POST",
        input_stream=io.BytesIO(body),
        content_length=len(body),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    ).get_environ()
    _, form, files = parse_form_data(environ)
    for _, storage in files.items(multi=True):
        storage.close()
    return form, files


def _exact_refuses(body: bytes) -> bool:
    try:
        check_multipart(body, BOUNDARY)
    except Refused:
        return True
    return False


# Werkzeug drops a file part's spooled file unclosed when a later part is malformed (its
# parse gives up silently); the garbage collector closes it, with a warning
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@settings(max_examples=300, deadline=None)
@given(PARTS)
def test_a_body_the_fast_path_calls_clean_is_clean_to_the_exact_check(parts) -> None:
    body = _body(parts)
    form, files = _parse(body)
    if form_is_clean(body, form, files):
        assert not _exact_refuses(body), body


#: the word in any case, at the edges of the pieces ``names_charset`` reads
WORD = st.sampled_from([b"charset", b"CHARSET", b"ChArSeT", b"charseT", b"charse", b"c harset"])


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=40),
    WORD,
    st.sampled_from([0, 1, _FEED - 7, _FEED - 4, _FEED - 1, _FEED, 2 * _FEED - 3]),
)
def test_charset_is_found_in_any_case_wherever_it_stands(
    noise: bytes, word: bytes, at: int
) -> None:
    """What the case-blind regex found, across the pieces' edges (a word split by them)."""
    filler = b"x" * at
    body = filler + word + noise
    assert names_charset(body) is (re.search(rb"charset", body, re.IGNORECASE) is not None)
    assert names_charset(noise) is (re.search(rb"charset", noise, re.IGNORECASE) is not None)


def test_charset_split_across_two_pieces_is_found() -> None:
    for cut in range(1, 7):
        assert names_charset(b"x" * (_FEED - cut) + b"Charset")
    assert not names_charset(b"x" * (_FEED - 3) + b"char" + b"y" * 10)
    assert not names_charset(b"")


def test_bad_bytes_in_a_text_field_are_not_called_clean() -> None:
    body = _body([(b"prompt", b"a \xff cat", None, None)])
    assert not form_is_clean(body, *_parse(body))
    assert _exact_refuses(body)


def test_a_part_naming_another_charset_is_left_to_the_exact_check() -> None:
    # Werkzeug decodes it as Latin-1 (no replacement character): only the raw bytes show it
    body = _body([(b"prompt", b"caf\xe9", None, b"text/plain; charset=iso-8859-1")])
    assert not form_is_clean(body, *_parse(body))
    assert _exact_refuses(body)


def test_a_plain_create_body_is_clean_without_a_second_read() -> None:
    body = _body(
        [
            (b"prompt", "un chat, 猫".encode(), None, None),
            (b"input_reference", b"\x89PNG", b"a.png", None),
        ]
    )
    assert form_is_clean(body, *_parse(body))


def test_an_empty_or_malformed_parse_is_never_called_clean() -> None:
    assert not form_is_clean(b"garbage", *_parse(b"garbage"))


@pytest.mark.parametrize("name", [b"a\nb", b"\n\xc3\x9a\x05"])
def test_a_part_whose_name_werkzeug_cannot_read_is_left_to_the_exact_check(name: bytes) -> None:
    """Schemathesis found it: a field name with a line break, which Werkzeug reads as None,
    was a 500 (``None.encode``) on every multipart create; it is no proof of a clean form,
    and the exact check answers it."""
    body = _body([(b"prompt", b"ok", None, None), (name, b"{}", None, None)])
    form, files = _parse(body)
    assert form_is_clean(body, form, files) is False


@pytest.mark.parametrize("prefix", ["gptge", "gptproto"])
def test_a_create_naming_a_field_with_a_line_break_is_a_400_in_the_providers_shape(
    prefix: str,
) -> None:
    """The create schemathesis sent (a field name holding a line break): a 400 saying what
    is wrong, in the provider's error shape, and no error in the mock."""
    mock = SoraMock(create_app(test_config()))
    body = (
        b'--b0undary\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nhi\r\n'
        b'--b0undary\r\nContent-Disposition: form-data; name="\nx"\r\n\r\n{}\r\n--b0undary--\r\n'
    )
    with mock.client(prefix) as client:
        answer = client.post(
            "/v1/videos",
            content=body,
            headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
    mock.check()
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == (
        "a multipart field name cannot be read: a line break or a stray quote in it"
    )
