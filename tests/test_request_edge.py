"""The edge every request crosses (mockserver.http.guard), checked piece by piece: the JSON scan
(size, UTF-8, depth, finite numbers, long integers, lone surrogates), multipart text, the
streamed-body limit, who may change the admin API's state, and the Host check."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from mockserver.http import guard
from mockserver.http.app import create_app
from mockserver.http.guard import (
    Refused,
    StreamedBodyLimit,
    check_json,
    check_multipart,
    cross_origin_refusal,
    json_depth_exceeds,
)
from mockserver.testing import test_config

SERVED = "http://127.0.0.1:8000"


def refusal(body: bytes, max_bytes: int = 10_000, max_depth: int = 4) -> tuple[int, str] | None:
    try:
        check_json(body, max_bytes=max_bytes, max_depth=max_depth)
    except Refused as exc:
        return exc.status, str(exc)
    return None


# -- JSON ------------------------------------------------------------------------------------


def test_depth_is_counted_across_arrays_and_objects() -> None:
    assert not json_depth_exceeds(b'{"a": [1, {"b": []}]}', 4)
    assert json_depth_exceeds(b'{"a": [1, {"b": []}]}', 3)
    assert not json_depth_exceeds(b"[][][][]", 1)  # siblings do not add up
    assert json_depth_exceeds(b"[[", 1)
    assert not json_depth_exceeds(b"[[", 2)
    assert not json_depth_exceeds(b"", 0)


def test_brackets_in_strings_and_escaped_quotes_are_not_nesting() -> None:
    assert not json_depth_exceeds(b'["[[[[", "\\"[[[[", "{{"]', 1)
    assert json_depth_exceeds(b'["\\\\", [[]]]', 2)  # an escaped backslash ends no string


def test_a_body_at_the_limit_passes_and_one_byte_more_is_a_413() -> None:
    body = b'{"prompt": "' + b"x" * 20 + b'"}'
    assert refusal(body, max_bytes=len(body)) is None
    assert refusal(body, max_bytes=len(body) - 1) == (
        413,
        f"the JSON body is larger than the limit of {len(body) - 1} bytes",
    )


def test_a_body_that_is_no_utf8_is_a_400() -> None:
    assert refusal(b'{"prompt": "\xff"}') == (400, "the JSON body is not valid UTF-8")


def test_nesting_past_the_limit_is_a_400_naming_it() -> None:
    assert refusal(b"[[[[1]]]]", max_depth=4) is None
    assert refusal(b"[[[[[1]]]]]", max_depth=4) == (
        400,
        "the JSON body is nested deeper than the limit of 4 levels",
    )


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_number_that_is_not_finite_is_a_400(constant: str) -> None:
    assert refusal(f'{{"seconds": {constant}}}'.encode()) == (
        400,
        f"{constant} is not a JSON number: numbers must be finite",
    )


@pytest.mark.parametrize("number", ["1e999", "-1e999"])
def test_a_number_too_large_for_a_float_is_a_400(number: str) -> None:
    assert refusal(f'{{"seconds": {number}}}'.encode()) == (
        400,
        f"the number {number} is out of range: numbers must be finite",
    )


def test_only_the_start_of_a_huge_number_is_quoted() -> None:
    number = "9" * 400 + ".5"
    status, message = refusal(f"[{number}]".encode()) or (0, "")
    assert status == 400
    assert message == f"the number {number[:40]} is out of range: numbers must be finite"


def test_finite_floats_and_integers_of_up_to_100_digits_pass() -> None:
    assert refusal(b"[1.5, -2.25e10, 0.0]") is None
    assert refusal(b"[" + b"9" * 100 + b"]") is None
    assert refusal(b"[-" + b"9" * 100 + b"]") is None


def test_an_integer_of_more_than_100_digits_is_a_400() -> None:
    assert refusal(b"[" + b"9" * 101 + b"]") == (
        400,
        "an integer in the body has more than 100 digits",
    )


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (b'{"prompt": "a\\ud800"}', "a JSON string"),
        (b'{"\\udfff": 1}', "a JSON object key"),
        (b'[[{"a": ["\\ud83d"]}]]', "a JSON string"),
        (b'{"a": {"b": "\\ude00"}}', "a JSON string"),
    ],
)
def test_a_lone_surrogate_anywhere_is_a_400(body: bytes, what: str) -> None:
    assert refusal(body, max_depth=10) == (
        400,
        f"{what} holds a lone UTF-16 surrogate: text must be valid Unicode",
    )


def test_a_surrogate_pair_and_a_syntax_error_pass_the_edge() -> None:
    assert refusal(b'{"prompt": "\\ud83d\\ude00", "n": [true, null]}') is None
    # the contract validation names a syntax error in its own words
    assert refusal(b'{"prompt": ') is None


# -- multipart ---------------------------------------------------------------------------------


def multipart(*parts: tuple[bytes, bytes], boundary: bytes = b"x") -> bytes:
    out = b""
    for head, data in parts:
        out += b"--" + boundary + b"\r\n" + head + b"\r\n\r\n" + data + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


def field(name: bytes, data: bytes) -> tuple[bytes, bytes]:
    return (b'Content-Disposition: form-data; name="' + name + b'"', data)


def file(name: bytes, filename: bytes, data: bytes) -> tuple[bytes, bytes]:
    head = b'Content-Disposition: form-data; name="' + name + b'"; filename="' + filename + b'"'
    return (head + b"\r\nContent-Type: image/png", data)


def multipart_refusal(body: bytes, boundary: str = "x") -> tuple[int, str] | None:
    try:
        check_multipart(body, boundary)
    except Refused as exc:
        return exc.status, str(exc)
    return None


def test_utf8_text_fields_and_any_file_bytes_pass() -> None:
    body = multipart(
        field(b"prompt", "un chat qui bâille, 猫".encode()),
        file(b"input_reference", b"cat.png", b"\xff\xfe\x00binary"),
        field(b"seconds", b"4"),
    )
    assert multipart_refusal(body) is None


def test_a_field_that_is_no_utf8_is_a_400_naming_it() -> None:
    body = multipart(field(b"prompt", b"ok"), field(b"size", b"\xff720x1280"))
    assert multipart_refusal(body) == (400, "the multipart field 'size' is not valid UTF-8")


def test_a_field_after_a_file_is_checked_again() -> None:
    body = multipart(file(b"input_reference", b"a.png", b"\xff"), field(b"prompt", b"\xc3"))
    assert multipart_refusal(body) == (400, "the multipart field 'prompt' is not valid UTF-8")


def test_a_multibyte_character_cut_between_feeds_is_still_valid() -> None:
    text = "é" * (guard._FEED // 2 + 10)  # two bytes each: the body is fed in several pieces
    body = multipart(field(b"prompt", text.encode()), field(b"seconds", b"4"))
    assert multipart_refusal(body) is None


def test_a_character_cut_at_the_end_of_a_field_is_a_400() -> None:
    body = multipart(field(b"prompt", b"ok\xc3"), field(b"seconds", b"4"))
    assert multipart_refusal(body) == (400, "the multipart field 'prompt' is not valid UTF-8")


def test_a_part_header_that_is_no_utf8_is_left_to_the_contract() -> None:
    # Werkzeug decodes a part's header lines strictly: a bad byte makes the body malformed
    assert multipart_refusal(multipart(field(b"pr\xffompt", b"x"))) is None
    assert multipart_refusal(multipart(file(b"input_reference", b"c\xffat.png", b"x"))) is None


def test_a_name_that_could_not_be_written_back_out_is_refused() -> None:
    """A field or file name holding a lone surrogate (what a decoder that keeps bad bytes as
    surrogate escapes would hand on) is a 400 naming what it is."""
    with pytest.raises(Refused) as caught:
        guard._form_text("pr\udcffompt", "a multipart field name")
    assert (caught.value.status, str(caught.value)) == (
        400,
        "a multipart field name is not valid UTF-8",
    )
    guard._form_text("un chat, 猫", "a multipart field name")  # valid text passes


def test_a_malformed_or_cut_multipart_body_is_left_to_the_contract() -> None:
    assert multipart_refusal(b"no boundary here at all") is None
    cut = multipart(field(b"prompt", b"x"))[:-10]
    assert multipart_refusal(cut) is None
    assert multipart_refusal(multipart(field(b"prompt", b"\xff")), boundary="other") is None


def test_the_edge_checks_a_multipart_body_on_every_route() -> None:
    app = create_app(test_config())
    body = multipart(field(b"prompt", b"\xff"))
    answer = app.test_client().post(
        "/gptge/v1/videos",
        data=body,
        headers={"Authorization": "Bearer sk-x", "Content-Type": "multipart/form-data; boundary=x"},
    )
    assert answer.status_code == 400
    assert answer.json["error"]["message"] == "the multipart field 'prompt' is not valid UTF-8"


@pytest.mark.parametrize("mimetype", ["application/json", "application/merge-patch+json"])
def test_the_edge_checks_every_json_body(mimetype: str) -> None:
    app = create_app(test_config(max_json_depth=3))
    answer = app.test_client().put(
        "/__mock/faults", data=b'{"rate": [[[[0]]]]}', content_type=mimetype
    )
    assert answer.status_code == 400
    assert answer.json["error"]["message"] == (
        "the JSON body is nested deeper than the limit of 3 levels"
    )


def test_the_edge_limits_json_bodies_by_their_own_size() -> None:
    app = create_app(test_config(max_json_bytes=20))
    answer = app.test_client().put("/__mock/faults", json={"rate": 0.5, "seed": 123456789})
    assert answer.status_code == 413
    assert answer.json["error"]["message"] == "the JSON body is larger than the limit of 20 bytes"
    assert app.test_client().put("/__mock/faults", json={"rate": 0.5}).status_code == 200


def test_an_empty_json_body_is_left_to_the_contract() -> None:
    app = create_app(test_config())
    answer = app.test_client().put("/__mock/faults", data=b"", content_type="application/json")
    assert answer.status_code == 400
    assert "JSON" not in answer.json["error"]["message"].split(":")[0] or answer.json


# -- the streamed-body limit -------------------------------------------------------------------


def streamed(limit: int, body: bytes, **env: Any) -> tuple[dict[str, Any], bytes]:
    """What an app behind the limit is handed for a chunked body: its environ and body."""
    seen: dict[str, Any] = {}

    def inner(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(environ)
        seen["body"] = environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [b""]

    environ = EnvironBuilder(path="/", method="POST").get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input"] = io.BytesIO(body)
    environ.update(env)
    run_wsgi_app(StreamedBodyLimit(inner, limit), environ)
    return seen, seen["body"]


def test_a_chunked_body_within_the_limit_is_handed_on_whole_with_its_length() -> None:
    environ, body = streamed(10, b"0123456789", HTTP_TRANSFER_ENCODING="Chunked")
    assert body == b"0123456789"
    assert environ["CONTENT_LENGTH"] == "10"
    assert "HTTP_TRANSFER_ENCODING" not in environ


def test_a_chunked_body_over_the_limit_is_cut_and_reads_as_over() -> None:
    environ, body = streamed(10, b"0123456789A", HTTP_TRANSFER_ENCODING="chunked")
    assert body == b""
    assert environ["CONTENT_LENGTH"] == "11"


def test_a_terminated_input_without_a_length_is_counted_too() -> None:
    environ, body = streamed(100, b"abc", **{"wsgi.input_terminated": True})
    assert body == b"abc"
    assert environ["CONTENT_LENGTH"] == "3"
    assert "wsgi.input_terminated" not in environ


def test_a_large_chunked_body_is_read_whole_in_pieces() -> None:
    payload = bytes(range(256)) * 1000  # several pieces of _FEED
    environ, body = streamed(len(payload), payload, HTTP_TRANSFER_ENCODING="chunked")
    assert body == payload
    assert environ["CONTENT_LENGTH"] == str(len(payload))


def test_a_body_with_its_length_is_left_alone() -> None:
    environ, body = streamed(2, b"abcdef", CONTENT_LENGTH="6", HTTP_TRANSFER_ENCODING="chunked")
    assert body == b"abcdef"
    assert environ["HTTP_TRANSFER_ENCODING"] == "chunked"


def test_a_body_neither_chunked_nor_terminated_is_left_alone() -> None:
    environ, body = streamed(2, b"abcdef")
    assert body == b"abcdef"
    assert "CONTENT_LENGTH" not in environ or environ["CONTENT_LENGTH"] in ("", None)


# -- who may change the admin API's state ------------------------------------------------------


def test_reads_and_requests_without_origin_are_allowed() -> None:
    assert cross_origin_refusal("GET", "http://evil.example", "", False, SERVED) is None
    assert cross_origin_refusal("head", "http://evil.example", "", False, SERVED) is None
    assert cross_origin_refusal("POST", None, "text/plain", False, SERVED) is None


def test_the_served_origin_is_allowed_whatever_its_case_or_slash() -> None:
    assert cross_origin_refusal("POST", "HTTP://127.0.0.1:8000/", "", False, SERVED) is None
    assert cross_origin_refusal("POST", SERVED, "", False, SERVED + "/") is None


def test_a_call_that_needs_a_preflight_is_allowed() -> None:
    evil = "http://evil.example"
    assert cross_origin_refusal("POST", evil, "text/plain", True, SERVED) is None
    assert cross_origin_refusal("DELETE", evil, "text/plain", False, SERVED) is None
    assert cross_origin_refusal("put", evil, "", False, SERVED) is None
    assert cross_origin_refusal("POST", evil, "application/json", False, SERVED) is None
    assert cross_origin_refusal("POST", evil, "image/png", False, SERVED) is None


@pytest.mark.parametrize(
    "content_type",
    [
        "",
        "text/plain",
        "Text/Plain; charset=utf-8",
        " application/x-www-form-urlencoded ",
        "multipart/form-data; boundary=x",
    ],
)
def test_a_simple_post_from_another_origin_is_refused(content_type: str) -> None:
    why = cross_origin_refusal("post", "http://evil.example", content_type, False, SERVED)
    assert why == (
        "a POST to the admin API from the origin 'http://evil.example' is refused: a page on "
        f"another site could send it; send it from {SERVED} or with the header X-Mock-Client "
        "(or a JSON body with Content-Type: application/json)"
    )


def test_a_long_origin_is_quoted_only_in_part() -> None:
    origin = "http://" + "a" * 300
    why = cross_origin_refusal("POST", origin, "", False, SERVED) or ""
    assert f"from the origin {origin[:100]!r} is refused" in why


# -- the Host check ----------------------------------------------------------------------------


def host_answer(app: Any, path: str, host: str | None) -> tuple[str, dict[str, Any]]:
    environ = EnvironBuilder(path=path, method="GET").get_environ()
    if host is None:
        environ.pop("HTTP_HOST", None)
    else:
        environ["HTTP_HOST"] = host
    body, status, _ = run_wsgi_app(app, environ)
    return status, json.loads(b"".join(body))


def test_a_foreign_host_is_a_421_in_the_admin_shape_and_journalled() -> None:
    app = create_app(test_config())
    status, body = host_answer(app, "/__mock/jobs", "attacker.net:8000")
    assert status.startswith("421")
    message = (
        "the mock does not answer to the Host 'attacker.net:8000': it answers to its loopback "
        "names, IP addresses and the names given with --allowed-host (start it with "
        "--allowed-host NAME to add one)"
    )
    assert body == {"error": {"message": message, "type": "421"}}


def test_a_foreign_host_under_a_provider_is_journalled_with_its_message() -> None:
    app = create_app(test_config())
    status, body = host_answer(app, "/gptge/v1/videos", "attacker.net:8000")
    assert status.startswith("421")
    assert body["error"]["type"] == "invalid_request_error"
    (entry,) = app.test_client().get("/__mock/journal").json["data"]
    assert (entry["status"], entry["path"], entry["method"]) == (421, "/gptge/v1/videos", "GET")
    assert entry["error"] == body["error"]["message"]
    assert "attacker.net:8000" in entry["error"]


def test_a_foreign_host_under_a_provider_gets_the_providers_shape() -> None:
    app = create_app(test_config())
    status, body = host_answer(app, "/vtrix/model/v1/generation/task/x", "attacker.net:8000")
    assert status.startswith("421")
    assert body["error"]["code"] == "421"
    assert "attacker.net:8000" in body["error"]["error_message"]


def test_a_long_host_is_quoted_only_in_part() -> None:
    app = create_app(test_config())
    host = "h" * 300 + ".net:8000"
    _, body = host_answer(app, "/", host)
    assert f"Host {host[:100]!r}:" in body["error"]["message"]


def test_a_request_without_host_and_a_known_host_pass() -> None:
    app = create_app(test_config())
    assert host_answer(app, "/__mock/clock", None)[0].startswith("200")
    assert host_answer(app, "/__mock/clock", "127.0.0.1:8000")[0].startswith("200")


# -- what the first round of mutation testing showed -------------------------------------------


def test_closing_brackets_count_one_level_each() -> None:
    assert json_depth_exceeds(b"[[]][[[]]]", 2)
    assert not json_depth_exceeds(b"[[]][[]]", 2)


def test_a_long_field_name_is_quoted_only_in_part() -> None:
    name = b"f" * 60
    body = multipart(field(name, b"\xff"))
    assert multipart_refusal(body) == (
        400,
        f"the multipart field {'f' * 40!r} is not valid UTF-8",
    )


def test_a_boundary_no_header_could_carry_is_malformed_not_a_crash() -> None:
    assert multipart_refusal(multipart(field(b"prompt", b"\xff")), boundary="x✓") is None


def test_a_multipart_body_without_a_boundary_is_a_400_not_a_500() -> None:
    app = create_app(test_config())
    answer = app.test_client().post(
        "/gptge/v1/videos",
        data=multipart(field(b"prompt", b"x")),
        headers={"Authorization": "Bearer sk-x", "Content-Type": "multipart/form-data"},
    )
    assert 400 <= answer.status_code < 500


def test_a_body_of_another_type_is_not_read_as_multipart() -> None:
    app = create_app(test_config())
    answer = app.test_client().post(
        "/__mock/files",
        data=multipart(field(b"prompt", b"\xff")),
        headers={"Content-Type": "image/png; boundary=x"},
    )
    assert answer.status_code == 400
    assert "multipart" not in answer.json["error"]["message"]


def test_a_declared_length_over_the_limit_is_a_413_naming_it() -> None:
    app = create_app(test_config(max_body_bytes=100))
    environ = EnvironBuilder(
        path="/__mock/files", method="POST", headers={"Content-Type": "image/png"}
    ).get_environ()
    environ["CONTENT_LENGTH"] = "101"
    environ["wsgi.input"] = io.BytesIO(b"x" * 101)
    body, status, _ = run_wsgi_app(app, environ)
    assert status.startswith("413")
    assert json.loads(b"".join(body)) == {
        "error": {
            "message": "the request body is larger than the limit of 100 bytes",
            "type": "413",
        }
    }


def test_a_body_exactly_at_the_limit_is_read() -> None:
    from providers import png

    data = png(8, 8)
    app = create_app(test_config(max_body_bytes=len(data)))
    answer = app.test_client().post("/__mock/files", data=data, content_type="image/png")
    assert answer.status_code == 201


def test_a_chunked_body_over_the_apps_limit_is_a_413() -> None:
    app = create_app(test_config(max_body_bytes=100))
    environ = EnvironBuilder(
        path="/__mock/files", method="POST", headers={"Content-Type": "image/png"}
    ).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    environ["wsgi.input"] = io.BytesIO(b"x" * 500)
    body, status, _ = run_wsgi_app(app, environ)
    assert status.startswith("413"), b"".join(body)
    assert "100 bytes" in json.loads(b"".join(body))["error"]["message"]


def test_an_origin_that_only_adds_to_the_served_one_is_another_origin() -> None:
    assert cross_origin_refusal("POST", SERVED + "X", "", False, SERVED) is not None
    assert cross_origin_refusal("POST", SERVED + ".evil", "", False, SERVED) is not None


def test_a_content_type_with_several_parameters_is_still_simple() -> None:
    why = cross_origin_refusal(
        "POST", "http://evil.example", "text/plain; charset=utf-8; x=y", False, SERVED
    )
    assert why is not None


def test_a_path_that_only_starts_like_a_provider_gets_the_admin_shape() -> None:
    app = create_app(test_config())
    status, body = host_answer(app, "/Xvtrix/model/v1/generation", "attacker.net:8000")
    assert status.startswith("421")
    assert body["error"]["type"] == "421"


class Trickle(io.RawIOBase):
    """A body that arrives ``step`` bytes per read, and counts what was read of it."""

    def __init__(self, size: int, step: int) -> None:
        self.left = size
        self.step = step
        self.sent = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:  # type: ignore[override]
        if n is None or n < 0:
            n = self.left
        give = min(n, self.step, self.left)
        self.left -= give
        self.sent += give
        return b"x" * give


def test_a_body_arriving_in_pieces_is_cut_one_byte_past_the_limit() -> None:
    """A body that reaches the limit exactly between two reads, with more to come, is over:
    one more byte is read to know it (never passed on cut at the limit)."""
    source = Trickle(size=1_000_000, step=3)
    environ, body = streamed(99, b"", **{"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": source})
    assert body == b""
    assert environ["CONTENT_LENGTH"] == "100"
    assert source.sent == 100  # nothing read past the one byte over


def test_a_large_body_is_read_no_further_than_the_limit() -> None:
    source = Trickle(size=10_000_000, step=10_000_000)
    environ, body = streamed(
        1000, b"", **{"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": source}
    )
    assert source.sent == 1001
    assert environ["CONTENT_LENGTH"] == "1001" and body == b""


def test_a_multipart_create_passes_the_edge_whole() -> None:
    """The edge reads a multipart body to check it and keeps it for the route."""
    from providers import APIS

    from mockserver.testing import SoraMock

    app = create_app(test_config())
    api = APIS["gptge-videos"]
    with SoraMock(app).client("gptge") as client:
        answer = api.create(client, {"Authorization": "Bearer sk-x"})
    assert answer.status_code == 200, answer.text


def test_a_foreign_host_is_written_on_the_console_with_its_path_and_method() -> None:
    from mockserver.http.console import RequestLog

    app = create_app(test_config())
    out = io.StringIO()
    app.extensions["sora_mock_console"] = RequestLog("json", out)
    environ = EnvironBuilder(path="/", method="DELETE").get_environ()
    environ["HTTP_HOST"] = "attacker.net:8000"
    environ["PATH_INFO"] = ""
    run_wsgi_app(app, environ)
    del environ["PATH_INFO"]  # a server that leaves it out: "/"
    run_wsgi_app(app, environ)
    assert app.extensions["sora_mock_console"].flush()
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert (first["method"], first["path"], first["status"]) == ("DELETE", "/", 421)
    assert (second["method"], second["path"], second["status"]) == ("DELETE", "/", 421)
    assert "attacker.net:8000" in first["error"]
