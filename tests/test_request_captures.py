"""What a capture of a provider request keeps (``mockserver/http/requests_log.py``), request by
request, on Werkzeug requests built here (no app): headers without credentials or the
transport's own, at most so many of each thing and so many characters of each text, a key
masked wherever it was sent, an image as its size and hash, nothing the mock did not read;
and how tests find requests (``select``, ``assert_requested``) and read their failures."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from mockserver.http import requests_log
from mockserver.http.requests_log import (
    MAX_FIELDS_BYTES,
    MAX_HEADERS,
    MAX_QUERY,
    MAX_TEXT,
    RequestRecord,
    assert_requested,
    capture,
    records_of,
    select,
)

KEY = "sk-live-0123456789abcdefghij"
REDACTED = "[REDACTED]"
_opened: list[Request] = []


@pytest.fixture(autouse=True)
def _close_requests() -> Iterator[None]:
    """Each test starts as a fresh worker would (no header seen yet: the module's caches of
    header names and header sets empty); uploads are spooled to files: each request built
    is closed after its test."""
    requests_log._HEADER_NAMES.clear()
    requests_log._SEEN_HEADERS.clear()
    yield
    while _opened:
        _opened.pop().close()


def request(
    *,
    method: str = "POST",
    headers: list[tuple[str, str]] | None = None,
    query: str | None = None,
    read: str | None = None,
    **body: Any,
) -> Request:
    """A request as the mock holds it once answered: ``read`` says what the mock read of its
    body ("form", "data", or nothing)."""
    environ = EnvironBuilder(
        method=method, path="/gptge/v1/videos", headers=headers, query_string=query, **body
    ).get_environ()
    req = Request(environ)
    _opened.append(req)
    if read == "form":
        _ = req.form, req.files
    elif read == "data":
        req.get_data()
    return req


def png_data_url(data: bytes = b"\x89PNG fake bytes") -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


# ------------------------------------------------------------------ headers


def test_headers_are_kept_lower_case_without_credentials_or_the_transports_own() -> None:
    sent = [
        ("X-Trace", "t-1"),
        ("User-Agent", "client/1.0"),
        ("Authorization", f"Bearer {KEY}"),
        ("X-Api-Key", KEY),
        ("Cookie", "session=abc"),
        ("Accept-Encoding", "gzip"),
        ("Connection", "keep-alive"),
        ("Host", "api.example"),
        ("Content-Type", "application/json"),
    ]
    captured = capture(request(headers=sent, data=b"{}"), (KEY,))
    assert captured["headers"] == {
        "x-trace": "t-1",
        "user-agent": "client/1.0",
        "content-type": "application/json",
    }
    assert KEY not in json.dumps(captured)


def test_the_servers_own_environ_is_not_a_header() -> None:
    req = request(method="GET")
    req.environ["REMOTE_ADDR"] = "10.0.0.1"
    req.environ["wsgi.url_scheme"] = "https"
    req.environ["HTTPS_PROXY_NOTE"] = "not a header either"
    assert capture(req, ()) == {"headers": {}}


def test_at_most_32_headers_are_kept_the_first_sent() -> None:
    sent = [(f"X-Header-{n:02d}", str(n)) for n in range(MAX_HEADERS + 8)]
    headers = capture(request(method="GET", headers=sent), ())["headers"]
    assert list(headers) == [f"x-header-{n:02d}" for n in range(MAX_HEADERS)]


def test_a_header_the_environ_names_twice_is_kept_as_first_named() -> None:
    """``CONTENT_TYPE`` and ``HTTP_CONTENT_TYPE`` are one header: the server's own wins."""
    req = request(data=b"{}", content_type="application/json")
    req.environ["HTTP_CONTENT_TYPE"] = "text/plain"  # after CONTENT_TYPE
    assert capture(req, ())["headers"] == {"content-type": "application/json"}


def test_a_header_value_is_cut_to_300_characters() -> None:
    headers = capture(request(method="GET", headers=[("X-Long", "a" * 400)]), ())["headers"]
    assert headers == {"x-long": "a" * MAX_TEXT}


def test_a_header_value_that_is_not_ascii_is_kept_as_its_repr() -> None:
    req = request(method="GET")
    req.environ["HTTP_X_NAME"] = "caf\xe9"
    assert capture(req, ())["headers"] == {"x-name": repr("caf\xe9")}


def test_a_credential_in_a_header_of_another_name_is_masked_for_that_request_alone() -> None:
    sent = [("X-Forwarded-Note", KEY), ("X-Trace", "t-1")]
    first = capture(request(method="GET", headers=sent), ())  # the same headers, no key known
    masked = capture(request(method="GET", headers=sent), (KEY,))
    again = capture(request(method="GET", headers=sent), ("another key",))
    assert masked["headers"] == {"x-forwarded-note": REDACTED, "x-trace": "t-1"}
    assert first["headers"]["x-forwarded-note"] == REDACTED  # it looks like a key: masked
    assert again["headers"] == first["headers"]
    masked["headers"]["x-trace"] = "changed by a reader"
    assert capture(request(method="GET", headers=sent), ())["headers"]["x-trace"] == "t-1"


def test_a_secret_the_caller_names_is_masked_even_where_nothing_looks_secret() -> None:
    sent = [("X-Note", "plain value 42")]
    assert capture(request(method="GET", headers=sent), ("value 42",))["headers"] == {
        "x-note": f"plain {REDACTED}"
    }
    assert capture(request(method="GET", headers=sent), ("",))["headers"] == {
        "x-note": "plain value 42"
    }


def test_a_text_that_only_looks_secret_is_kept_as_it_is() -> None:
    sent = [("X-Note", "my key is nice"), ("X-Other", "Bearer abcdefghijklmnop")]
    assert capture(request(method="GET", headers=sent), ())["headers"] == {
        "x-note": "my key is nice",
        "x-other": f"Bearer {REDACTED}",
    }


def test_two_requests_with_different_headers_are_each_captured_as_sent() -> None:
    one = capture(request(method="GET", headers=[("X-Trace", "one")]), ())
    two = capture(request(method="GET", headers=[("X-Trace", "two")]), ())
    assert (one["headers"], two["headers"]) == ({"x-trace": "one"}, {"x-trace": "two"})


def test_a_client_sending_ever_new_headers_cannot_grow_the_mocks_memory() -> None:
    for n in range(300):
        capture(request(method="GET", headers=[(f"X-Random-{n}", str(n))]), ())
    many = request(method="GET")
    for n in range(4200):
        many.environ[f"HTTP_X_MANY_{n}"] = "v"
    capture(many, ())
    assert len(requests_log._HEADER_NAMES) <= 4096
    assert len(requests_log._SEEN_HEADERS) <= 256
    assert "HTTP_X_MANY_4199" not in requests_log._HEADER_NAMES
    assert capture(request(method="GET", headers=[("X-After", "1")]), ())["headers"] == {
        "x-after": "1"
    }


# ------------------------------------------------------------------ the query


def test_the_query_keeps_each_parameter_repeated_ones_as_a_list_and_no_credential() -> None:
    req = request(method="GET", query=f"limit=10&tag=ab&tag=cd&tag=ef&api_key={KEY}&note={KEY}")
    assert capture(req, (KEY,))["query"] == {
        "limit": "10",
        "tag": ["ab", "cd", "ef"],
        "api_key": REDACTED,
        "note": REDACTED,
    }


def test_a_query_parameter_named_like_a_credential_is_redacted_whatever_its_value() -> None:
    req = request(method="GET", query="api_key=plain&token=42&limit=10")
    assert capture(req, ())["query"] == {"api_key": REDACTED, "token": REDACTED, "limit": "10"}


def test_the_query_keeps_32_parameters_of_300_characters() -> None:
    params = "&".join(f"p{n:02d}={'v' * 400}" for n in range(MAX_QUERY + 5))
    query = capture(request(method="GET", query=params), ())["query"]
    assert list(query) == [f"p{n:02d}" for n in range(MAX_QUERY)]
    assert set(query.values()) == {"v" * MAX_TEXT}


def test_a_request_without_a_query_has_none() -> None:
    assert "query" not in capture(request(method="GET"), ())
    assert "query" not in capture(request(method="GET", query=""), ())


# ------------------------------------------------------------------ a JSON body


def test_a_json_body_the_mock_read_is_kept_field_by_field() -> None:
    body = {"prompt": "a fox", "seconds": 4, "loop": True, "size": None, "tags": ["a", 1]}
    assert capture(request(json=body, read="data"), ())["fields"] == body


def test_a_body_the_mock_did_not_read_or_could_not_parse_has_no_fields() -> None:
    assert "fields" not in capture(request(json={"prompt": "p"}), ())
    bad = request(data=b"{not json", content_type="application/json", read="data")
    assert "fields" not in capture(bad, ())
    latin = request(data=b'{"p": "\xff"}', content_type="application/json", read="data")
    assert "fields" not in capture(latin, ())
    text = request(data=b"prompt", content_type="text/plain", read="data")
    assert "fields" not in capture(text, ())
    empty = request(data=b"", content_type="application/json", read="data")
    assert "fields" not in capture(empty, ())


def test_a_json_body_that_is_not_an_object_is_kept_under_an_empty_name() -> None:
    assert capture(request(json=["a", {"b": 1}], read="data"), ())["fields"] == {
        "": ["a", {"b": 1}]
    }
    assert capture(request(json="x" * 400, read="data"), ())["fields"] == {
        "": "x" * MAX_TEXT + "..."
    }


def test_a_long_string_is_cut_to_300_characters_and_says_so() -> None:
    fields = capture(request(json={"exact": "e" * 300, "long": "l" * 301}, read="data"), ())
    assert fields["fields"] == {"exact": "e" * 300, "long": "l" * 300 + "..."}


def test_a_secret_named_field_is_redacted_unless_it_is_empty() -> None:
    body = {
        "api_key": KEY,
        "password": "hunter2",
        "token": "",
        "secret": None,
        "nested": {"apiKey": 7},
    }
    fields = capture(request(json=body, read="data"), ())["fields"]
    assert fields == {
        "api_key": REDACTED,
        "password": REDACTED,
        "token": "",
        "secret": None,
        "nested": {"apiKey": REDACTED},
    }


def test_a_key_in_a_prompt_is_masked() -> None:
    fields = capture(request(json={"prompt": f"use {KEY} now"}, read="data"), (KEY,))["fields"]
    assert fields == {"prompt": f"use {REDACTED} now"}


def test_values_nested_deeper_than_six_are_cut() -> None:
    deep: Any = "bottom"
    for _ in range(8):
        deep = {"d": deep}
    fields = capture(request(json=deep, read="data"), ())["fields"]
    assert fields == {"d": {"d": {"d": {"d": {"d": {"d": "..."}}}}}}
    listed = capture(request(json={"a": [[[[[["x"]]]]]]}, read="data"), ())["fields"]
    assert listed == {"a": [[[[["..."]]]]]}


def test_an_object_or_list_keeps_its_first_128_items() -> None:
    body = {"many": {f"k{n:03d}": n for n in range(200)}, "list": list(range(200))}
    fields = capture(request(json=body, read="data"), ())["fields"]
    assert list(fields["many"]) == [f"k{n:03d}" for n in range(MAX_QUERY * 4)]
    assert fields["list"] == list(range(MAX_QUERY * 4))
    top = capture(request(json={f"f{n:03d}": n for n in range(200)}, read="data"), ())
    assert len(top["fields"]) == MAX_QUERY * 4


def test_fields_of_exactly_8_kib_are_kept() -> None:
    fields = {f"f{n:02d}": "v" * 250 for n in range(32)}  # each text under the 300 cut
    over = len(requests_log.dumps(fields)) - MAX_FIELDS_BYTES
    fields["f31"] = "v" * (250 - over)
    assert len(requests_log.dumps(fields)) == MAX_FIELDS_BYTES
    assert capture(request(json=fields, read="data"), ())["fields"] == fields
    fields["f31"] += "v"  # one byte more
    assert capture(request(json=fields, read="data"), ())["fields_truncated"] is True


def test_fields_larger_than_8_kib_are_left_out_and_said_so() -> None:
    small = capture(request(json={"p": "x" * 100}, read="data"), ())
    assert "fields_truncated" not in small
    bulky = {f"f{n:03d}": "w" * 250 for n in range(MAX_FIELDS_BYTES // 250 + 1)}
    captured = capture(request(json=bulky, read="data"), ())
    assert captured["fields_truncated"] is True and "fields" not in captured


def test_an_inline_image_is_kept_as_its_size_hash_and_type_and_named_by_its_place() -> None:
    first, second = b"first image", b"second"
    body = {"prompt": "p", "images": [png_data_url(first), png_data_url(second)]}
    captured = capture(request(json=body, read="data"), ())
    assert captured["fields"]["images"] == [
        {
            "image": {
                "size": 11,
                "sha256": hashlib.sha256(first).hexdigest(),
                "content_type": "image/png",
            }
        },
        {
            "image": {
                "size": 6,
                "sha256": hashlib.sha256(second).hexdigest(),
                "content_type": "image/png",
            }
        },
    ]
    assert captured["image"] == {
        "field": "images[0]",
        "size": 11,
        "sha256": hashlib.sha256(first).hexdigest(),
        "content_type": "image/png",
    }
    nested = capture(request(json={"input": {"ref": png_data_url()}}, read="data"), ())
    assert nested["image"]["field"] == "input.ref"


def test_a_json_array_body_keeps_its_images_by_place() -> None:
    captured = capture(request(json=["a fox", png_data_url(b"abc")], read="data"), ())
    assert captured["image"]["field"] == "[1]" and captured["image"]["size"] == 3
    assert captured["fields"][""][1] == {
        "image": {k: captured["image"][k] for k in ("size", "sha256", "content_type")}
    }


def test_a_json_array_body_is_cut_as_deep_as_an_objects_fields() -> None:
    deep = capture(request(json=[[[[[["x"]]]]]], read="data"), ())["fields"]
    assert deep == {"": [[[[["..."]]]]]}


def test_an_inline_image_in_base64_broken_into_lines_is_read_whole() -> None:
    image = bytes(range(256)) * 2
    encoded = base64.encodebytes(image).decode()  # MIME style: a line break every 76
    assert "\n" in encoded.strip()
    fields = capture(request(json={"image": "data:image/png;base64," + encoded}, read="data"), ())
    assert fields["image"]["size"] == len(image)
    assert fields["image"]["sha256"] == hashlib.sha256(image).hexdigest()


def test_an_inline_image_with_parameters_or_no_type_or_bad_base64() -> None:
    with_params = "data:image/webp;name=a.webp;base64," + base64.b64encode(b"w").decode()
    no_type = "data:;base64," + base64.b64encode(b"abc").decode()
    broken = "data:image/png;base64,a"  # not whole base64
    body = {"a": with_params, "b": no_type, "c": broken}
    fields = capture(request(json=body, read="data"), ())["fields"]
    assert fields["a"]["image"]["content_type"] == "image/webp"
    assert fields["b"]["image"] == {
        "size": 3,
        "sha256": hashlib.sha256(b"abc").hexdigest(),
        "content_type": None,
    }
    assert fields["c"]["image"]["size"] == 0
    assert fields["c"]["image"]["sha256"] == hashlib.sha256(b"").hexdigest()


# ------------------------------------------------------------------ a form


def test_a_form_the_mock_parsed_keeps_its_fields_and_a_file_as_its_size_and_hash() -> None:
    image = b"\x89PNG image bytes"
    req = request(
        data={
            "prompt": "a fox",
            "tag": ["fox", "snow"],
            "input_reference": (io.BytesIO(image), "ref.png", "image/png"),
        },
        read="form",
    )
    captured = capture(req, ())
    digest = hashlib.sha256(image).hexdigest()
    assert captured["fields"] == {
        "prompt": "a fox",
        "tag": ["fox", "snow"],
        "input_reference": {
            "file": {"size": len(image), "sha256": digest, "content_type": "image/png"}
        },
    }
    assert captured["image"] == {
        "field": "input_reference",
        "size": len(image),
        "sha256": digest,
        "content_type": "image/png",
    }
    assert req.files["input_reference"].stream.read() == image, "left at its start"


def test_two_files_under_one_name_are_both_kept_as_two_values_of_a_field_are() -> None:
    first, second = b"\x89PNG first", b"\x89PNG second one"
    req = request(
        data={
            "input_reference": [
                (io.BytesIO(first), "a.png", "image/png"),
                (io.BytesIO(second), "b.png", "image/png"),
            ]
        },
        read="form",
    )
    captured = capture(req, ())

    def file(data: bytes) -> dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        return {"file": {"size": len(data), "sha256": digest, "content_type": "image/png"}}

    assert captured["fields"] == {"input_reference": [file(first), file(second)]}
    assert captured["image"]["sha256"] == hashlib.sha256(first).hexdigest()


def test_a_form_field_holding_a_data_url_is_an_image_too() -> None:
    req = request(data={"image": png_data_url(b"abc"), "prompt": "p"}, read="form")
    captured = capture(req, ())
    assert captured["image"]["field"] == "image" and captured["image"]["size"] == 3


def test_a_form_keeps_its_first_128_fields_and_32_files() -> None:
    data: dict[str, Any] = {f"f{n:03d}": "v" for n in range(150)}
    data |= {f"file{n:02d}": (io.BytesIO(b"x"), f"{n}.png", "image/png") for n in range(40)}
    fields = capture(request(data=data, read="form"), ())["fields"]
    assert len([k for k in fields if k.startswith("f0") or k.startswith("f1")]) == 128
    assert len([k for k in fields if k.startswith("file")]) == 32


def test_an_unreadable_upload_is_skipped() -> None:
    req = request(data={"prompt": "p"}, read="form")

    class Closed(io.BytesIO):
        def seek(self, *args: Any) -> int:
            raise ValueError("I/O operation on closed file")

    req.files = req.files.copy()  # type: ignore[misc]
    req.files.add("broken", FileStorage(Closed(b"x"), "x.png", content_type="image/png"))
    req.files.add("fine", FileStorage(io.BytesIO(b"ok"), "ok.png", content_type="image/png"))
    captured = capture(req, ())
    assert "broken" not in captured["fields"]
    assert captured["fields"]["fine"]["file"]["size"] == 2
    assert captured["image"]["field"] == "fine"


def test_a_form_read_whole_is_parsed_from_its_bytes() -> None:
    """A replayed create holds the body's bytes, its form never parsed."""
    req = request(data={"prompt": "a fox", "seconds": "4"}, read="data")
    assert "form" not in req.__dict__
    assert capture(req, ())["fields"] == {"prompt": "a fox", "seconds": "4"}


def test_a_form_the_mock_never_read_has_no_fields() -> None:
    assert "fields" not in capture(request(data={"prompt": "a fox"}), ())


# ------------------------------------------------------------------ records


ENTRY = {
    "provider": "gptge",
    "operation": "createVideo",
    "method": "POST",
    "path": "/gptge/v1/videos",
    "status": 200,
    "scenario": "slow",
    "error": "rate_limit_exceeded",
    "job_id": "video_1",
    "request_id": "req_1",
    "key": "key_abc",
    "time": 12.5,
    "client": "dashboard",
    "request": {
        "headers": {"x-trace": "t"},
        "query": {"a": "1"},
        "fields": {"prompt": "p"},
        "image": {"field": "input_reference", "size": 3},
        "fields_truncated": False,
    },
}


def test_a_journal_entry_reads_back_as_a_record() -> None:
    (record,) = records_of([ENTRY])
    assert record.to_dict() == {
        "provider": "gptge",
        "operation": "createVideo",
        "method": "POST",
        "path": "/gptge/v1/videos",
        "status": 200,
        "query": {"a": "1"},
        "headers": {"x-trace": "t"},
        "fields": {"prompt": "p"},
        "image": {"field": "input_reference", "size": 3},
        "scenario": "slow",
        "error": "rate_limit_exceeded",
        "job_id": "video_1",
        "request_id": "req_1",
        "key": "key_abc",
        "time": 12.5,
        "fields_truncated": False,
        "client": "dashboard",
    }
    truncated = RequestRecord.from_entry(ENTRY | {"request": {"fields_truncated": True}})
    assert truncated.fields_truncated is True and truncated.fields is None


def test_an_entry_of_an_older_version_reads_back_with_defaults() -> None:
    record = RequestRecord.from_entry({"status": "404", "provider": None, "request": None})
    assert record.to_dict() == {
        "provider": "",
        "operation": None,
        "method": "",
        "path": "",
        "status": 404,
        "query": {},
        "headers": {},
        "fields": None,
        "image": None,
        "scenario": None,
        "error": None,
        "job_id": None,
        "request_id": None,
        "key": None,
        "time": None,
        "fields_truncated": False,
        "client": None,
    }
    assert RequestRecord.from_entry({}).status == 0


def test_a_record_says_itself_in_one_line() -> None:
    record = RequestRecord.from_entry(ENTRY)
    assert record.line() == "POST /gptge/v1/videos -> 200 (gptge createVideo, slow)"
    plain = RequestRecord("gptge", None, "GET", "/gptge/nope", 404)
    assert plain.line() == "GET /gptge/nope -> 404"
    replayed = RequestRecord("vtrix", None, "GET", "/x", 200, scenario="replay:c1")
    assert replayed.line() == "GET /x -> 200 (replay:c1)"


# ------------------------------------------------------------------ finding requests


def record(
    operation: str | None = "createVideo", status: int = 200, **fields: Any
) -> RequestRecord:
    return RequestRecord(
        "gptge", operation, "POST", "/gptge/v1/videos", status, fields=fields or None
    )


def test_requests_are_selected_by_attribute_field_and_predicate() -> None:
    made = record(model="sora-2", seconds="4")
    polled = RequestRecord("gptge", "getVideo", "GET", "/gptge/v1/videos/v", 404, job_id="v")
    both = [made, polled]
    assert select(both, operation="createVideo") == [made]
    assert select(both, method="get") == [polled], "a method in any case"
    assert select(both, status=lambda s: s >= 400) == [polled]
    assert select(both, model="sora-2") == [made]
    assert select(both, model=lambda m: True) == [made], "an absent field never matches"
    assert select(both, seconds="4", model="sora-2", provider="gptge") == [made]
    assert select(both, seconds="8") == []
    assert select(both, job_id="v", client=None) == [polled]
    assert select(both) == both
    assert select(both, fields=None) == [], "'fields' is a body field's name, not an attribute"


def test_a_class_is_compared_not_called() -> None:
    kept = record(kind=int)
    assert select([kept], kind=int) == [kept]
    assert select([kept], kind=str) == []


def test_assert_requested_returns_what_matched() -> None:
    records = [record(model="a"), record(model="b"), record(model="a")]
    assert assert_requested(records, model="a") == [records[0], records[2]]
    assert assert_requested(records, times=2, model="a") == [records[0], records[2]]
    assert assert_requested(records, times=0, model="c") == []


def test_a_wrong_count_lists_what_matched_and_the_nearest_of_the_others() -> None:
    records = [record(model="a"), record(model="b"), record(model="a")]
    with pytest.raises(AssertionError) as failure:
        assert_requested(records, times=1, model="a")
    assert str(failure.value).splitlines() == [
        "expected exactly 1 request(s) with model='a'; 2 matched of 3 received",
        "matched:",
        "  POST /gptge/v1/videos -> 200 (gptge createVideo)",
        "  POST /gptge/v1/videos -> 200 (gptge createVideo)",
        "nearest of the others:",
        "  POST /gptge/v1/videos -> 200 (gptge createVideo): model='b' (wanted 'a')",
    ]


def test_no_match_lists_at_most_five_received_then_how_many_more() -> None:
    records = [record(status=200 + n, model="x") for n in range(8)]

    def is_pro(model: str) -> bool:
        return model == "pro"

    with pytest.raises(AssertionError) as failure:
        assert_requested(records, model=is_pro)
    lines = str(failure.value).splitlines()
    assert lines[0] == "expected at least one request(s) with model=is_pro; 0 matched of 8 received"
    assert lines[1] == "received, nearest first:"
    # all miss one criterion: the newest first
    assert [line.split(" -> ")[1][:3] for line in lines[2:7]] == ["207", "206", "205", "204", "203"]
    assert lines[2].endswith(": model='x' (wanted is_pro)")
    assert lines[7:] == ["  ... and 3 more"]


def test_a_failure_without_criteria_or_requests_says_so() -> None:
    with pytest.raises(AssertionError) as failure:
        assert_requested([])
    assert (
        str(failure.value)
        == "expected at least one request(s) with any request; 0 matched of 0 received"
    )


def test_a_long_wanted_value_and_a_nameless_predicate_are_shown_briefly() -> None:
    class Predicate:
        def __call__(self, value: object) -> bool:
            return False

    with pytest.raises(AssertionError) as failure:
        assert_requested([record(model="m")], model="z" * 300, seconds=Predicate())
    first = str(failure.value).splitlines()[0]
    assert f"model='{'z' * 119}," in first
    assert "seconds=a predicate;" in first
    assert "seconds=(absent) (wanted a predicate)" in str(failure.value)


def test_a_count_none_matched_lists_no_matches_and_misses_are_each_named() -> None:
    records = [
        RequestRecord("gptge", "getVideo", "GET", "/gptge/v1/videos/v", 200, fields=None),
        record(model="a"),
        record(model="b"),
        record(model="c"),
        record(model="d"),
    ]
    with pytest.raises(AssertionError) as failure:
        assert_requested(records, times=2, operation="createVideo", model="z")
    lines = str(failure.value).splitlines()
    assert lines[0] == (
        "expected exactly 2 request(s) with operation='createVideo', model='z'; "
        "0 matched of 5 received"
    )
    assert "matched:" not in lines
    assert lines[1] == "received, nearest first:"
    assert lines[-1] == (
        "  GET /gptge/v1/videos/v -> 200 (gptge getVideo): "
        "operation='getVideo' (wanted 'createVideo'); model=(absent) (wanted 'z')"
    )
    assert len(lines) == 2 + 5 and "more" not in lines[-1], "five others: all shown"


# -- what a capture remembers between requests (a client sends the same headers each poll) --


@pytest.fixture
def caches(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[Any, Any]]:
    fresh: dict[str, dict[Any, Any]] = {"_KEPT_KEYS": {}, "_HEADER_NAMES": {}, "_SEEN_HEADERS": {}}
    for name, cache in fresh.items():
        monkeypatch.setattr(requests_log, name, cache)
    return fresh


def test_which_environ_keys_are_kept_headers_is_remembered_per_set_of_keys(
    caches: dict[str, dict[Any, Any]],
) -> None:
    req = request(method="GET", headers=[("X-Trace", "t-1")])
    assert capture(req, ())["headers"] == {"x-trace": "t-1"}
    keys = tuple(req.environ)
    assert caches["_KEPT_KEYS"] == {keys: (("HTTP_X_TRACE", "x-trace"),)}
    assert caches["_HEADER_NAMES"]["HTTP_X_TRACE"] == "x-trace"
    assert caches["_HEADER_NAMES"]["REQUEST_METHOD"] == ""
    caches["_KEPT_KEYS"][keys] = (("HTTP_X_TRACE", "x-remembered"),)  # used as it is
    assert capture(req, ())["headers"] == {"x-remembered": "t-1"}


def test_a_header_name_is_taken_from_what_was_remembered(
    caches: dict[str, dict[Any, Any]],
) -> None:
    caches["_HEADER_NAMES"]["HTTP_X_TRACE"] = "x-named-before"
    req = request(method="GET", headers=[("X-Trace", "t-1")])
    assert capture(req, ())["headers"] == {"x-named-before": "t-1"}


def test_the_captured_headers_are_remembered_per_set_of_headers(
    caches: dict[str, dict[Any, Any]],
) -> None:
    req = request(method="GET", headers=[("X-Trace", "t-1")])
    capture(req, ())
    ((sent, known),) = caches["_SEEN_HEADERS"].items()
    assert sent == (("x-trace", "t-1"),) and known == ({"x-trace": "t-1"}, "t-1")
    caches["_SEEN_HEADERS"][sent] = ({"x-trace": "remembered"}, "t-1")
    assert capture(req, ())["headers"] == {"x-trace": "remembered"}


def test_each_memory_is_bounded(caches: dict[str, dict[Any, Any]]) -> None:
    caches["_KEPT_KEYS"].update({(str(n),): () for n in range(255)})
    caches["_SEEN_HEADERS"].update({((str(n), ""),): ({}, "") for n in range(255)})
    caches["_HEADER_NAMES"].update({str(n): "" for n in range(4095 - 20)})
    capture(request(method="GET", headers=[("X-A", "1")]), ())
    assert len(caches["_KEPT_KEYS"]) == 256 and len(caches["_SEEN_HEADERS"]) == 256
    assert len(caches["_HEADER_NAMES"]) <= 4096
    capture(request(method="GET", headers=[("X-B", "2"), ("X-C", "3")]), ())
    assert len(caches["_KEPT_KEYS"]) == 256 and len(caches["_SEEN_HEADERS"]) == 256
    filled = len(caches["_HEADER_NAMES"])
    caches["_HEADER_NAMES"].update({f"more{n}": "" for n in range(4096 - filled)})
    capture(request(method="GET", headers=[("X-D", "4")]), ())
    assert len(caches["_HEADER_NAMES"]) == 4096
