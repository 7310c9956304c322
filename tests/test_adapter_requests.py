"""What every adapter's requests are made of (``sora_client._providers.base.Adapter``): the
``Authorization`` header in the form the contract's security scheme gives, the default and
caller's headers (the key is never replaced, and never sent to another origin), the base URL
and its path, job ids quoted into paths, JSON and multipart bodies, the operations a provider
has not got, and a request refused by the contract without the key in the error."""

from __future__ import annotations

from email.parser import BytesParser
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from sora_client import ConfigurationError, InvalidRequestError, SoraClient, UnsupportedOperation
from sora_client._decoding import ACCEPTED
from sora_client._providers import adapter_class
from sora_client._providers.base import USER_AGENT, encode_multipart
from sora_client._providers.gptproto_chat import GptprotoChat

GptgeVideos = adapter_class("gptge")  # driven from its declaration
GptprotoVideos = adapter_class("gptproto-videos")  # driven from its declaration

# Vtrix is a declaration (contracts/vtrix-generation.yaml): its adapter is made from it
VtrixGeneration = adapter_class("vtrix")

KEY = "sk-test-REQUESTS-4b1d9e"
BASE = "http://127.0.0.1:9/gptge"


# ---------------------------------------------------------------------- Authorization


def test_the_key_goes_as_the_contract_says() -> None:
    assert GptgeVideos(KEY, BASE).headers()["Authorization"] == f"Bearer {KEY}"
    assert GptprotoVideos(KEY, BASE).headers()["Authorization"] == KEY
    assert VtrixGeneration(KEY, BASE).headers()["Authorization"] == f"Bearer {KEY}"


def _auth_for(security: list[dict[str, list[str]]] | None, schemes: dict[str, Any]) -> str:
    adapter = GptgeVideos(KEY, BASE)
    spec = {} if security is None else {"security": security}
    adapter.contract = SimpleNamespace(security_schemes=schemes, spec=spec)  # type: ignore[assignment]
    return adapter._authorization(KEY)


BEARER = {"type": "http", "scheme": "Bearer"}
RAW = {"type": "apiKey", "in": "header", "name": "authorization"}


@pytest.mark.parametrize(
    ("security", "schemes", "expected"),
    [
        pytest.param([{"b": []}, {"r": []}], {"b": BEARER, "r": RAW}, f"Bearer {KEY}", id="bearer"),
        pytest.param([{"r": []}, {"b": []}], {"b": BEARER, "r": RAW}, KEY, id="raw-first"),
        pytest.param(
            [{"basic": []}, {"r": []}],
            {"basic": {"type": "http", "scheme": "basic"}, "r": RAW},
            KEY,
            id="basic-is-skipped",
        ),
        pytest.param(
            [{"s": []}, {"r": []}],
            {
                "s": {"type": "apiKey", "scheme": "bearer", "in": "header", "name": "X-Key"},
                "r": RAW,
            },
            KEY,
            id="api-key-is-not-http",
        ),
        pytest.param(
            [{"q": []}, {"r": []}],
            {"q": {"type": "apiKey", "in": "query", "name": "Authorization"}, "r": RAW},
            KEY,
            id="query-key-is-skipped",
        ),
        pytest.param(
            [{"x": []}, {"b": []}],
            {"x": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}, "b": BEARER},
            f"Bearer {KEY}",
            id="other-header-is-skipped",
        ),
        pytest.param(
            [{"q": []}],
            {"q": {"type": "apiKey", "in": "query", "name": "Authorization"}},
            f"Bearer {KEY}",
            id="query-key-falls-back",
        ),
        pytest.param(
            [{"h": []}, {"r": []}],
            {"h": {"type": "http", "name": "Authorization"}, "r": RAW},
            KEY,
            id="http-without-scheme",
        ),
        pytest.param(
            [{"k": []}],
            {"k": {"type": "apiKey", "in": "header"}},
            f"Bearer {KEY}",
            id="api-key-without-name",
        ),
        pytest.param([{"missing": []}, {"r": []}], {"r": RAW}, KEY, id="unknown-scheme"),
        pytest.param(None, {"r": RAW}, f"Bearer {KEY}", id="no-security"),
        pytest.param([], {}, f"Bearer {KEY}", id="empty-security"),
    ],
)
def test_the_first_scheme_the_client_knows_decides_the_form(
    security: list[dict[str, list[str]]] | None, schemes: dict[str, Any], expected: str
) -> None:
    assert _auth_for(security, schemes) == expected


# ---------------------------------------------------------------------- headers


def test_every_request_says_who_sends_it_and_what_it_accepts() -> None:
    request = GptgeVideos(KEY, BASE).get_request("/v1/videos/v1")
    assert request.method == "GET"
    assert str(request.url) == f"{BASE}/v1/videos/v1"
    assert request.headers["User-Agent"] == USER_AGENT
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Accept-Encoding"] == ACCEPTED
    assert request.headers["Authorization"] == f"Bearer {KEY}"


def test_default_headers_replace_the_clients_own_but_never_the_key() -> None:
    adapter = GptgeVideos(
        KEY,
        BASE,
        default_headers={
            "User-Agent": "my-app/2",
            "Accept-Encoding": "identity",
            "Authorization": "Bearer someone-else",
            "X-Trace": "t1",
        },
    )
    request = adapter.get_request("/v1/videos/v1")
    assert request.headers.get_list("User-Agent") == ["my-app/2"]
    assert request.headers.get_list("Accept-Encoding") == ["identity"]
    assert request.headers.get_list("Authorization") == [f"Bearer {KEY}"]
    assert request.headers["X-Trace"] == "t1"
    assert GptgeVideos(KEY, BASE, default_headers=None).headers()["User-Agent"] == USER_AGENT


def test_a_default_content_type_never_replaces_the_bodys_own() -> None:
    adapter = GptgeVideos(KEY, BASE, default_headers={"Content-Type": "text/plain"})
    sent = adapter.json_request("POST", "/v1/videos/v1/remix", {"prompt": "p"})
    assert sent.headers.get_list("Content-Type") == ["application/json"]
    form = adapter.multipart_request("/v1/videos", {"prompt": "p"}, [])
    (content_type,) = form.headers.get_list("Content-Type")
    assert content_type.startswith("multipart/form-data; boundary=")


def test_a_requests_own_headers_come_last() -> None:
    request = GptgeVideos(KEY, BASE).get_request("/v1/videos/v1/content", Accept="video/mp4")
    assert request.headers.get_list("Accept") == ["video/mp4"]
    headers = GptgeVideos(KEY, BASE).headers(Authorization="x")
    assert headers["Authorization"] == "x"


# ---------------------------------------------------------------------- base URL and paths


def test_the_base_url_defaults_to_the_contracts_live_one() -> None:
    adapter = GptgeVideos(KEY)
    assert str(adapter.base_url) == "https://api.gpt.ge"
    assert GptgeVideos.default_base_url() == "https://api.gpt.ge"
    assert VtrixGeneration.default_base_url() == "https://cloud.vtrix.ai"
    assert str(adapter.url("/v1/videos")) == "https://api.gpt.ge/v1/videos"
    assert repr(adapter) == "<Declared_gptge gptge https://api.gpt.ge>"


def test_a_base_url_keeps_its_path_without_its_last_slash() -> None:
    adapter = GptgeVideos(KEY, "http://127.0.0.1:9/relay/gptge/")
    assert adapter.base_path == "/relay/gptge"
    assert GptgeVideos(KEY, "http://127.0.0.1:9/RELAY/BOX/").base_path == "/RELAY/BOX"
    assert str(adapter.url("/v1/videos")) == "http://127.0.0.1:9/relay/gptge/v1/videos"
    assert GptgeVideos(KEY, httpx.URL("https://h.test")).base_path == ""


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/x", "127.0.0.1:8000", "http://", "https:///path", "/gptge"]
)
def test_a_base_url_that_is_not_http_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        GptgeVideos(KEY, url)
    assert str(caught.value) == (
        f"base_url must be an http(s) URL such as https://api.gpt.ge, not {str(httpx.URL(url))!r}"
    )


@pytest.mark.parametrize("url", ["http://127.0.0.1:9", "https://127.0.0.1:9"])
def test_http_and_https_base_urls_are_both_fine(url: str) -> None:
    assert str(GptgeVideos(KEY, url).base_url) == url


def test_a_job_id_is_quoted_into_one_path_segment() -> None:
    adapter = GptgeVideos(KEY, BASE)
    assert adapter.quote_id("task:1@x-y._~z") == "task:1@x-y._~z"
    assert adapter.quote_id("a/b c?d#e%") == "a%2Fb%20c%3Fd%23e%25"
    with pytest.raises(InvalidRequestError) as caught:
        adapter.quote_id("")
    assert (caught.value.provider, caught.value.field) == ("gptge", "id")
    assert caught.value.rule == "a job id cannot be empty"


# ---------------------------------------------------------------------- bodies


def test_a_json_request_is_utf8_json_with_its_type() -> None:
    adapter = VtrixGeneration(KEY, BASE)
    request = adapter.json_request("PUT", "/model/v1/x", {"prompt": "un chat à Paris ✓"})
    assert request.method == "PUT"
    assert str(request.url) == f"{BASE}/model/v1/x"
    assert request.content == '{"prompt": "un chat à Paris ✓"}'.encode()
    assert request.headers.get_list("Content-Type") == ["application/json"]
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Accept"] == "application/json"


def test_a_prompt_that_is_not_unicode_is_refused_before_sending() -> None:
    adapter = VtrixGeneration(KEY, BASE)
    with pytest.raises(InvalidRequestError) as caught:
        adapter.json_request("POST", "/model/v1/generation", {"prompt": "cat \ud800"})
    error = caught.value
    assert (error.provider, error.field, error.rule) == (
        "vtrix",
        "prompt",
        "text is not valid Unicode",
    )
    assert error.__cause__ is None and error.__suppress_context__


def _parts(request: httpx.Request) -> list[Any]:
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    return BytesParser().parsebytes(head + request.content).get_payload()  # type: ignore[return-value]


def test_a_multipart_request_holds_its_fields_then_its_files() -> None:
    adapter = GptgeVideos(KEY, BASE)
    request = adapter.multipart_request(
        "/v1/videos",
        {"prompt": "chat ✓", "seconds": "4"},
        [("input_reference", "c.png", b"\x89PNG", "image/png")],
    )
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/v1/videos")
    assert request.headers.get_list("Content-Type")[0].startswith("multipart/form-data; boundary=")
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    prompt, seconds, file = _parts(request)
    assert prompt.get_param("name", header="content-disposition") == "prompt"
    assert prompt.get_payload(decode=True) == "chat ✓".encode()
    assert seconds.get_payload(decode=True) == b"4"
    assert file.get_param("filename", header="content-disposition") == "c.png"
    assert file.get_content_type() == "image/png"
    assert file.get_payload(decode=True) == b"\x89PNG"


def test_the_multipart_body_is_byte_exact() -> None:
    body, content_type = encode_multipart({"a": "é"}, [("f", "x.png", b"DATA", "image/png")])
    boundary = content_type.removeprefix("multipart/form-data; boundary=")
    assert len(boundary) == 32 and int(boundary, 16) >= 0
    assert body == (
        f'--{boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\n'.encode()
        + "é".encode()
        + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="f"; filename="x.png"'
        f"\r\nContent-Type: image/png\r\n\r\nDATA\r\n--{boundary}--\r\n".encode()
    )
    other, _ = encode_multipart({}, [])
    assert other.endswith(b"--\r\n") and other.startswith(b"--")


def test_each_multipart_request_has_a_fresh_boundary() -> None:
    assert encode_multipart({}, [])[1] != encode_multipart({}, [])[1]


def test_names_in_a_multipart_head_cannot_break_out_of_their_quotes() -> None:
    body, _ = encode_multipart({'a"b\\c\r\nd': "v"}, [("f", 'x"\r\n.png', b"", "image/png")])
    assert b'name="a%22b\\\\c%0D%0Ad"' in body
    assert b'filename="x%22%0D%0A.png"' in body


# ---------------------------------------------------------------------- downloads by URL


def test_a_video_on_the_providers_own_origin_gets_the_key() -> None:
    defaults = {
        "Accept": "text/html",
        "Accept-Encoding": "gzip",
        "Authorization": "Bearer someone-else",
        "X-Trace": "t",
    }
    adapter = GptgeVideos(KEY, BASE, default_headers=defaults)
    request = adapter.build_video_url("http://127.0.0.1:9/files/v.mp4")
    assert (request.method, str(request.url)) == ("GET", "http://127.0.0.1:9/files/v.mp4")
    assert request.headers.get_list("Authorization") == [f"Bearer {KEY}"]
    assert request.headers.get_list("Accept") == [
        "video/mp4, application/octet-stream;q=0.9, */*;q=0.1"
    ]
    assert request.headers.get_list("Accept-Encoding") == ["identity"]
    assert request.headers["X-Trace"] == "t"
    assert request.headers["User-Agent"] == USER_AGENT


@pytest.mark.parametrize(
    "url",
    ["https://127.0.0.1:9/files/v.mp4", "http://127.0.0.1:10/v.mp4", "http://cdn.test:9/v.mp4"],
)
def test_a_video_on_another_origin_never_gets_the_key(url: str) -> None:
    request = GptgeVideos(KEY, BASE).build_video_url(url)
    assert "Authorization" not in request.headers
    assert request.headers["Accept-Encoding"] == "identity"


# ---------------------------------------------------------------------- missing operations


def test_operations_a_provider_lacks_say_so_and_name_its_contract() -> None:
    chat = GptprotoChat(KEY, BASE)
    cases = [
        (lambda: chat.build_list(None, None, None), "list endpoint: list() is"),
        (lambda: chat.parse_list({}, httpx.Response(200)), "list endpoint: list() is"),
        (lambda: chat.build_delete("j"), "delete endpoint: delete() is"),
        (lambda: chat.parse_deleted({}), "delete endpoint: delete() is"),
        (lambda: chat.build_remix("j", "p", {}), "remix operation: remix() is"),
    ]
    for call, words in cases:
        with pytest.raises(UnsupportedOperation) as caught:
            call()
        assert str(caught.value) == (
            f"gptproto-chat has no {words} not part of its API (contracts/gptproto-chat.yaml)"
        )
    with pytest.raises(UnsupportedOperation, match=r"^gptproto-chat has no status endpoint$"):
        chat.build_get("j")


def test_only_the_video_itself_can_be_downloaded_by_default() -> None:
    vtrix = VtrixGeneration(KEY, BASE)
    assert vtrix.build_content("j") is None
    assert vtrix.build_content("j", "video") is None
    with pytest.raises(UnsupportedOperation) as caught:
        vtrix.build_content("j", "thumbnail")
    assert str(caught.value) == (
        "vtrix has no content variants: download(variant='thumbnail') is not part of its API "
        "(contracts/vtrix-generation.yaml)"
    )


def test_a_provider_that_does_not_stream_says_so() -> None:
    with pytest.raises(UnsupportedOperation, match=r"^vtrix does not stream$"):
        VtrixGeneration(KEY, BASE).apply_chunk(None, {}, httpx.Response(200))


def test_a_schema_is_read_from_the_contract() -> None:
    schema = VtrixGeneration(KEY, BASE).schema("#/components/schemas")
    assert isinstance(schema, dict) and schema


# ---------------------------------------------------------------------- the contract


def test_a_request_the_contract_refuses_names_every_problem() -> None:
    adapter = VtrixGeneration(KEY, "http://127.0.0.1:9/vtrix/")
    request = adapter.json_request(
        "POST",
        "/model/v1/generation",
        {"model": "sora_2_pro_i2v", "prompt": "p", "size": "1x1", "seconds": "5"},
    )
    with pytest.raises(InvalidRequestError) as caught:
        adapter.validate(request)
    error = caught.value
    assert error.provider == "vtrix"
    assert [field for field, _ in error.problems] == ["size", "seconds"]
    assert (error.field, error.rule) == error.problems[0]
    assert "'1x1' is not one of" in error.rule
    assert "'5' is not one of" in error.problems[1][1]
    assert error.__cause__ is None and error.__suppress_context__
    good = adapter.json_request(
        "POST", "/model/v1/generation", {"model": "sora_2_pro_i2v", "prompt": "p"}
    )
    adapter.validate(good)


def test_the_contracts_words_pass_through_explain() -> None:
    class Worded(VtrixGeneration):
        def explain(
            self, kind: str, field_name: str | None, message: str
        ) -> tuple[str | None, str]:
            return f"{kind}:{field_name}", f"<{message}>"

    adapter = Worded(KEY, BASE)
    request = adapter.json_request(
        "POST", "/model/v1/generation", {"model": "sora_2_pro_i2v", "prompt": "p", "seconds": "5"}
    )
    with pytest.raises(InvalidRequestError) as caught:
        adapter.validate(request)
    ((field, rule),) = caught.value.problems
    assert field == "body:seconds"
    assert rule.startswith("<'5' is not one of")


@pytest.mark.parametrize("provider", ["gptge", "gptproto-videos", "vtrix", "gptproto-v3"])
def test_a_key_pasted_into_a_field_is_not_in_the_refusal(provider: str) -> None:
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError("a refused request is never sent")

    with SoraClient(
        provider, api_key=KEY, base_url=BASE, transport=httpx.MockTransport(never)
    ) as client:
        for mistake in ({"seconds": KEY, "model": KEY}, {KEY: "x"}):
            with pytest.raises(InvalidRequestError) as caught:
                client.create("a cat", **mistake)
            error = caught.value
            shown = f"{error} {error!r} {error.field} {error.rule} {error.problems}"
            assert KEY not in shown
            assert "[redacted]" in shown


def test_a_short_key_is_not_searched_for() -> None:
    adapter = GptgeVideos("abc12", BASE)
    assert adapter.redact("abc12 abc12") == "abc12 abc12"
    six = GptgeVideos("abc123", BASE)
    assert six.redact("x abc123 y abc123") == "x [redacted] y [redacted]"
