"""What the conformance redaction (mockserver/conformance/redaction.py) masks in values a
report, journal or cassette is about to hold: camelCase secret names, raw bytes (even invalid
UTF-8), httpx headers, the escaped forms of a key without a leaked character, one key inside
another, a key of exactly the shortest length masked, and an empty secret field left empty."""

from __future__ import annotations

import httpx
import pytest

from mockserver.conformance.redaction import REDACTED, Redactor, is_secret_name, redact

R = REDACTED


@pytest.mark.parametrize("name", ["sessionToken", "clientSecret", "x2Password", "userAuth"])
def test_a_camel_case_secret_name_is_secret(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["", "-", "__", "monkey", "tokenizer"])
def test_a_name_without_a_secret_word_is_not_secret(name: str) -> None:
    assert not is_secret_name(name)


def test_a_field_with_no_name_keeps_its_value() -> None:
    assert Redactor()({"": "plain", "-": "text"}) == {"": "plain", "-": "text"}


def test_an_empty_secret_field_stays_empty_to_show_it_was_sent_empty() -> None:
    assert Redactor()({"api_key": "", "token": None, "secret": "x"}) == {
        "api_key": "",
        "token": None,
        "secret": R,
    }


def test_raw_bytes_are_decoded_and_masked_even_when_not_utf8() -> None:
    assert Redactor(["key-123456"])(b"\xff key-123456 \xc3\xa9") == f"\ufffd {R} \u00e9"
    assert Redactor(["key-123456"])(bytearray(b"key-123456")) == R


def test_httpx_headers_become_masked_pairs_in_order() -> None:
    headers = httpx.Headers(
        [("Authorization", "Bearer sk-abcdefgh"), ("Accept", "a"), ("Accept", "b")]
    )
    assert Redactor()(headers) == [("authorization", R), ("accept", "a"), ("accept", "b")]


@pytest.mark.parametrize(
    ("secret", "written"),
    [('p"ss-word', 'p\\"ss-word'), ("pass-word\\", "pass-word\\\\"), ("ab/cd ef", "ab%2Fcd%20ef")],
)
def test_every_escaped_form_of_a_key_is_masked_whole(secret: str, written: str) -> None:
    assert Redactor([secret]).text(f"<{written}>") == f"<{R}>"


def test_a_key_containing_another_is_masked_whole() -> None:
    # the longer key first: masking the shorter one first would leave "abcdef" of the longer
    assert Redactor(["zzzzzz", "abcdefzzzzzz"]).text("a abcdefzzzzzz b") == f"a {R} b"


def test_a_key_of_the_shortest_length_is_masked_and_a_shorter_one_is_not() -> None:
    assert Redactor(["abc123"]).text("x abc123 y") == f"x {R} y"
    assert Redactor(["abc12"]).text("x abc12 y") == "x abc12 y"


def test_redact_masks_one_value_with_the_keys_given() -> None:
    assert redact({"note": "raw-key-42 here", "n": 1}, ["raw-key-42"]) == {
        "note": f"{R} here",
        "n": 1,
    }
