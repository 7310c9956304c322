"""``sora-mock verify`` against the mock on a loopback port (the mock is the reference).

No test sleeps: the command's ``sleep`` is the mock's virtual clock (``advance``), and a stream
is read with a clock step between two events (``stream_pause``), longer than the mock's longest
quiet time in a chat stream (its queue time, 2 s +- 20 %), so every step brings an event.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.datastructures import Headers

import contracts
from contracts import ContractViolation, OpenAPIRequest, OpenAPIResponse
from mockserver import cli, verify
from mockserver.providers import registered
from mockserver.testing import SoraMock

KEY = "sk-LEAKCHECK-0123456789abcdef"
GptgeVideos = registered()["gptge-videos"]  # served from its declaration
PROVIDERS = sorted(verify.PROVIDERS)
#: verify's provider name -> the mock's prefix (declared providers included)
PREFIX = {
    name: contracts.PROVIDER_CONTRACTS[contract] for name, (contract, _) in verify.PROVIDERS.items()
}
#: generated read cases per operation in these tests (the command's default is 10)
GENERATED = "6"

STREAM_PAUSE = 5.0


def run(
    server: SoraMock,
    provider: str,
    report_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    key: str | None = KEY,
) -> int:
    env = verify.PROVIDERS[provider][1]
    if key is None:
        monkeypatch.delenv(env, raising=False)
    else:
        monkeypatch.setenv(env, key)
    return verify.main(
        [
            "--provider",
            provider,
            "--base-url",
            server.base_url(PREFIX[provider]),
            "--report-dir",
            str(report_dir),
            "--generated",
            GENERATED,
            *args,
        ],
        sleep=server.advance,
        stream_pause=STREAM_PAUSE,
    )


def reports(report_dir: Path, provider: str) -> tuple[str, ET.Element]:
    markdown = (report_dir / f"verify-{provider}.md").read_text(encoding="utf-8")
    xml = ET.parse(report_dir / f"verify-{provider}.xml").getroot()
    return markdown, xml


def posts(server: SoraMock, *, with_key: bool = True) -> list[dict[str, Any]]:
    return [
        e
        for e in server.journal
        if e["method"] == "POST" and (e["key"] is not None or not with_key)
    ]


def last_line(out: str) -> str:
    return out.rstrip("\n").splitlines()[-1]


def summary(provider: str, out: str) -> re.Match[str]:
    """The console's last line: checks run, passed, failed, could not run, skipped (why)."""
    match = re.fullmatch(
        rf"{re.escape(provider)}: (?P<run>\d+) check\(s\) run: (?P<passed>\d+) passed, "
        rf"(?P<failed>\d+) failed, (?P<error>\d+) could not run; (?P<skipped>\d+) skipped"
        rf"(?:: (?P<why>.+))?",
        last_line(out),
    )
    assert match, out
    return match


def suite_of(xml: ET.Element) -> ET.Element:
    suite = xml.find("testsuite")
    assert suite is not None
    return suite


def blocker_errors(xml: ET.Element) -> dict[str, str]:
    """The JUnit ``<error>`` of each reason the run could not verify: type -> message."""
    return {
        e.get("type", ""): e.get("message", "")
        for case in xml.iter("testcase")
        if "could not verify" in case.get("name", "")
        for e in case.iter("error")
    }


# --------------------------------------------------------------------------- the mock is clean


@pytest.mark.parametrize("provider", PROVIDERS)
def test_verify_against_the_mock_is_clean(
    sora_mock_server: SoraMock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    provider: str,
) -> None:
    code = run(sora_mock_server, provider, tmp_path, monkeypatch)
    out = capsys.readouterr().out
    markdown, xml = reports(tmp_path, provider)
    contract = contracts.load(verify.PROVIDERS[provider][0])
    for op_id in contract.operations:
        assert f"## `{op_id}`" in markdown
    suite = xml.find("testsuite")
    assert suite is not None
    assert int(suite.get("tests", "0")) == len(contract.operations)
    assert "no drift" in out, out
    assert "**no drift**" in markdown
    assert suite.get("failures") == "0" and suite.get("errors") == "0"
    assert code == 0
    if provider == "gptproto-chat":  # the stream was read to its end, event by event
        assert re.search(r"note: [1-9][0-9]* events", markdown)
        assert "ended without" not in markdown
    # the console ends with the run in one line, every skip with its reason
    line = summary(provider, out)
    skipped = {case.get("name", "").split(" ")[0] for case in suite.iter("testcase")} - {
        e["operation"] for e in sora_mock_server.journal
    }
    assert int(line["run"]) == int(line["passed"]) == len(contract.operations) - len(skipped)
    assert line["failed"] == line["error"] == "0" and int(line["skipped"]) == len(skipped)
    for op_id in skipped:
        assert re.search(rf"\b{op_id}\b[^;]*: (it deletes|POST on an existing)", line["why"])


# --------------------------------------------------------------------------- creates are capped


def test_max_creates_one_sends_exactly_one_create(
    sora_mock_server: SoraMock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(sora_mock_server, "gptge", tmp_path, monkeypatch, "--max-creates", "1", "--generated", "0")
    assert len(posts(sora_mock_server, with_key=False)) == 1
    assert len(sora_mock_server.jobs()) == 1
    markdown, _ = reports(tmp_path, "gptge")
    assert "paid creates: 1 of at most 1" in markdown
    # the links were followed: status polled to the end, then the content read
    operations = [e["operation"] for e in sora_mock_server.journal]
    assert operations.count("getVideo") >= 3  # unauthenticated probe, unknown id, link reads
    assert operations[-1] == "getVideoContent"
    assert sora_mock_server.journal[-1]["status"] == 200


def test_max_creates_zero_sends_no_create(
    sora_mock_server: SoraMock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = run(
        sora_mock_server, "gptge", tmp_path, monkeypatch, "--max-creates", "0", "--generated", "0"
    )
    assert code == 0
    assert posts(sora_mock_server, with_key=False) == []
    assert sora_mock_server.jobs() == []
    markdown, xml = reports(tmp_path, "gptge")
    assert "not sent: --max-creates 0" in markdown
    skipped = [c.get("name", "") for c in xml.iter("testcase") if c.find("skipped") is not None]
    assert any(name.startswith("createVideo") for name in skipped)


def test_max_creates_counts_every_create_of_a_contract_with_two(
    sora_mock_server: SoraMock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ("--max-creates", "1", "--generated", "0")
    assert run(sora_mock_server, "gptproto-v3", tmp_path, monkeypatch, *args) == 0
    (create,) = posts(sora_mock_server)
    assert create["operation"] == "createSora2ImageToVideo"
    markdown, _ = reports(tmp_path, "gptproto-v3")
    # since issue 12 the contract has one create (model in the body): the cap is not reached
    assert "not sent: --max-creates 1" not in markdown


def test_the_cap_is_enforced_where_requests_are_sent() -> None:
    sent: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        sent.append(req)
        return httpx.Response(200, json={})

    verifier = verify.Verifier("gptge", "http://provider.invalid", KEY, max_creates=0)
    spec = verifier.create_spec(verifier.create_operations()[0])
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        verifier._client = client
        with pytest.raises(verify.CreateCapReached):
            verifier.send(spec)
        spec.kind, spec.method = "sneaky", "PATCH"  # any authenticated non-GET counts
        with pytest.raises(verify.CreateCapReached):
            verifier.send(spec)
    assert sent == []


def test_an_unreachable_provider_gets_no_create(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[str] = []

    def refuse(req: httpx.Request) -> httpx.Response:
        seen.append(req.method)
        raise httpx.ConnectError(f"refused (sent {req.headers.get('Authorization')})")

    verifier = verify.Verifier(
        "vtrix", "http://provider.invalid", KEY, transport=httpx.MockTransport(refuse)
    )
    result = verifier.run()
    assert "POST" not in seen and result.creates_sent == 0
    assert not result.ok and result.drift_count == 0 and result.error_count == len(seen)
    assert result.operations["createGeneration"].not_sent
    errors = [x.error or "" for r in result.operations.values() for x in r.exchanges]
    assert errors and all("ConnectError: refused" in e and "LEAKCHECK" not in e for e in errors)
    assert "LEAKCHECK" not in capsys.readouterr().out


# --------------------------------------------------------------------------- dry run, no key


def test_dry_run_sends_nothing_and_prints_the_plan(
    sora_mock_server: SoraMock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = run(sora_mock_server, "gptge", tmp_path, monkeypatch, "--dry-run")
    out, err = capsys.readouterr()
    assert code == 0
    assert sora_mock_server.journal == []
    assert not list(tmp_path.iterdir())
    base = sora_mock_server.base_url("gptge")
    assert "DRY RUN" in out and "nothing was sent" in out
    assert f"[probe: no credentials] GET {base}/v1/videos/" in out
    create = next(line for line in out.splitlines() if "[paid create]" in line)
    assert f"POST {base}/v1/videos multipart" in create
    assert "input_reference=<image/png file reference-720x1280.png" in create
    assert f"Authorization: {verify.REDACTED}" in create
    assert "[link GetVideo]" in out and "[link GetVideoContent]" in out
    assert out.count("[generated] GET") >= 3
    assert "remixVideo: not sent" in out
    assert KEY not in out + err


@pytest.mark.parametrize(
    ("provider", "field"), [("vtrix", "input_reference"), ("gptproto-v3", "images")]
)
def test_image_option_replaces_the_examples_image_url(
    sora_mock_server: SoraMock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    provider: str,
    field: str,
) -> None:
    url = "https://cdn.example.org/mine-720x1280.png"
    code = run(sora_mock_server, provider, tmp_path, monkeypatch, "--dry-run", "--image", url)
    create = next(line for line in capsys.readouterr().out.splitlines() if "[paid create]" in line)
    assert code == 0
    assert f"{field}=" in create and "cdn.example.org/mine-720x1280.png" in create
    assert "example.com/keeper" not in create


def test_without_the_key_nothing_is_verified(
    sora_mock_server: SoraMock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("GPTGE_API_KEY", raising=False)
    base = [
        "verify",
        "--provider",
        "gptge",
        "--base-url",
        "http://provider.invalid/gptge",  # not loopback: the mock needs no key (issue 12)
        "--report-dir",
        str(tmp_path),
    ]
    code = cli.main(base)
    out = capsys.readouterr().out
    assert code == verify.EXIT_NOT_VERIFIED == 4  # nothing was checked: not a green run
    assert "gptge: NOT VERIFIED (no-key): no check ran: GPTGE_API_KEY is not set" in out
    line = summary("gptge", out)
    assert line["run"] == "0" and line["skipped"] == "6"
    assert line["why"].endswith(": no check ran: GPTGE_API_KEY is not set")
    assert sora_mock_server.journal == []
    markdown, xml = reports(tmp_path, "gptge")
    assert "**NOT VERIFIED**: no check ran: GPTGE_API_KEY is not set" in markdown
    suite = suite_of(xml)
    assert suite.get("errors") == "1" and suite.get("failures") == "0"
    assert suite.get("skipped") == "6" and suite.get("tests") == "7"
    assert "GPTGE_API_KEY is not set" in blocker_errors(xml)["no-key"]

    # a CI matrix where some providers have no key can ask for the old "skipped"
    assert cli.main([*base, "--skip-without-key"]) == 0
    out = capsys.readouterr().out
    assert "skipped: set GPTGE_API_KEY to verify gptge" in out and "NOT VERIFIED" not in out
    assert summary("gptge", out)["skipped"] == "6"
    markdown, xml = reports(tmp_path, "gptge")
    assert "**skipped**" in markdown
    assert all(c.find("skipped") is not None for c in xml.iter("testcase"))
    assert suite_of(xml).get("errors") == "0"


def test_usage_errors_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VTRIX_API_KEY", KEY)
    base = ["verify", "--provider", "vtrix", "--report-dir", str(tmp_path)]
    assert cli.main([*base, "--base-url", "ftp://example.com"]) == 2
    assert cli.main([*base, "--base-url", f"https://example.com/?key={KEY}"]) == 2
    for bad in (["--max-creates", "-1"], ["--provider", "openai"], ["--timeout", "0"]):
        with pytest.raises(SystemExit) as exc:
            cli.main([*base, *bad])
        assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert "--base-url must be an http(s) URL" in err
    assert KEY not in out + err


# --------------------------------------------------------------------------- drift is reported


def test_drift_is_reported_with_operation_and_field(
    sora_mock_server: SoraMock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    original = GptgeVideos.render

    def drifted(self: Any, job: Any, state: Any, ctx: Any) -> dict[str, Any]:
        body = original(self, job, state, ctx)
        del body["model"]  # required by the contract
        body["status"] = "rendering"  # not one of the contract's words
        return body

    monkeypatch.setattr(GptgeVideos, "render", drifted)
    code = run(sora_mock_server, "gptge", tmp_path, monkeypatch, "--max-polls", "3")
    out = capsys.readouterr().out
    sora_mock_server.service.violations.clear()  # the mock's strict mode saw it too
    assert code == 1
    assert "DRIFT" in out
    markdown, xml = reports(tmp_path, "gptge")
    assert "**DRIFT:" in markdown
    section = markdown.split("## `getVideo`")[1].split("\n## ")[0]
    assert "- at `/model`: 'model' is a required property" in section
    assert "- at `/status`: 'rendering' is not one of" in section
    assert "`/model`" in markdown.split("## `createVideo`")[1].split("\n## ")[0]
    failures = {
        case.get("name", "").split(" ")[0]: [f.get("message", "") for f in case.iter("failure")]
        for case in xml.iter("testcase")
    }
    assert any(m.startswith("/model:") for m in failures["getVideo"])
    assert any(m.startswith("/status:") for m in failures["createVideo"])
    # polling is bounded: the job never reaches a word the command knows as final
    link_reads = [
        e for e in sora_mock_server.journal if e["operation"] == "getVideo" and e["status"] == 200
    ]
    assert len(link_reads) == 3 + 1


# --------------------------------------------------------------------------- secrets


def test_the_key_never_leaks_even_when_the_provider_echoes_it(
    sora_mock_server: SoraMock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    original_error, original_render = GptgeVideos.error_body, GptgeVideos.render
    original_credentials = GptgeVideos.credentials
    seen: dict[str, str | None] = {}

    def keep_credentials(self: Any, req: Any) -> str | None:
        seen["Authorization"] = req.headers.get("Authorization")
        return original_credentials(self, req)

    def echo_error(self: Any, status: int, message: str, **kw: Any) -> dict[str, Any]:
        sent = seen.get("Authorization")
        body = original_error(self, status, f"{message} (you sent Authorization: {sent})", **kw)
        del body["error"]["param"]  # break the contract so the body lands in the report
        body["api_key"] = sent.split()[-1] if sent else None
        body["debug"] = {"token": sent, "url": f"https://x.test/?api_key={sent}&a=1"}
        return body

    def echo_render(self: Any, job: Any, state: Any, ctx: Any) -> dict[str, Any]:
        body = original_render(self, job, state, ctx)
        body["model"] = ctx.api_key  # a field not named like a secret
        body["progress"] = ctx.api_key  # and a drift, so the body is quoted
        return body

    monkeypatch.setattr(GptgeVideos, "credentials", keep_credentials)
    monkeypatch.setattr(GptgeVideos, "error_body", echo_error)
    monkeypatch.setattr(GptgeVideos, "render", echo_render)
    code = run(sora_mock_server, "gptge", tmp_path, monkeypatch, "--max-polls", "2")
    sora_mock_server.service.violations.clear()
    out, err = capsys.readouterr()
    assert code == 1
    markdown = (tmp_path / "verify-gptge.md").read_text(encoding="utf-8")
    xml = (tmp_path / "verify-gptge.xml").read_text(encoding="utf-8")
    ET.fromstring(xml)  # still well-formed
    assert "you sent Authorization" in markdown  # the echo did reach the report...
    assert verify.REDACTED in markdown and verify.REDACTED in xml
    for text in (out, err, markdown, xml):
        assert "LEAKCHECK" not in text  # ...and not one piece of the key did


def test_redact_headers() -> None:
    redact = verify.Redactor([KEY])
    headers = httpx.Headers(
        {"Authorization": f"Bearer {KEY}", "X-Api-Key": "abc123456", "Accept": "video/mp4"}
    )
    assert dict(redact(headers)) == {
        "authorization": verify.REDACTED,
        "x-api-key": verify.REDACTED,
        "accept": "video/mp4",
    }
    plain = {"Cookie": "session=1", "Content-Type": "application/json", "x-request-id": "req_1"}
    assert redact(plain) == {
        "Cookie": verify.REDACTED,
        "Content-Type": "application/json",
        "x-request-id": "req_1",
    }


def test_redact_json_bodies() -> None:
    redact = verify.Redactor(["raw-key-without-prefix-42"])
    body = {
        "id": "video_123",
        "status": "completed",
        "usage": {"total_tokens": 12},
        "apiKey": "k1",
        "nested": [{"access_token": "t1", "client_secret": "s1", "password": "p"}],
        "error": {"message": "Incorrect API key provided: raw-key-without-prefix-42."},
        "authorization": "Bearer abc.def",
    }
    assert redact(body) == {
        "id": "video_123",
        "status": "completed",
        "usage": {"total_tokens": 12},
        "apiKey": verify.REDACTED,
        "nested": [
            {
                "access_token": verify.REDACTED,
                "client_secret": verify.REDACTED,
                "password": verify.REDACTED,
            }
        ],
        "error": {"message": f"Incorrect API key provided: {verify.REDACTED}."},
        "authorization": verify.REDACTED,
    }
    text = json.dumps({"token": "zzz-secret-zzz", "id": "video_1"})
    assert "zzz-secret-zzz" not in redact(text) and "video_1" in redact(text)


def test_redact_urls_and_messages() -> None:
    redact = verify.Redactor([KEY])
    url = f"https://user:pw@api.example/v1/videos?api_key={KEY}&limit=2&access_token=abc&key=k9"
    cleaned = redact(url)
    for secret in (KEY, "user:pw", "abc", "k9"):
        assert secret not in cleaned
    assert "limit=2" in cleaned and "api.example/v1/videos" in cleaned
    odd = verify.Redactor(["p@ss/word+key=="])
    quoted = str(httpx.URL("https://api.example/v1", params={"x": "p@ss/word+key=="}))
    assert "word" not in odd(quoted) and "word" not in odd(json.dumps({"x": "p@ss/word+key=="}))
    exc = httpx.ConnectError(f"cannot connect to https://api.example/?token={KEY}")
    assert "LEAKCHECK" not in redact(exc) and "ConnectError" in redact(exc)
    for text in (
        f"Authorization: Bearer {KEY}",
        "Authorization: Bearer some-other-token-value",
        "auth header was bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "key sk-proj-AAAAAAAAAAAAAAAA leaked",
    ):
        cleaned = redact(text)
        assert verify.REDACTED in cleaned
        assert not re.search(r"some-other|eyJ|sk-proj|LEAKCHECK", cleaned), cleaned
        assert redact(cleaned) == cleaned  # idempotent
    assert redact("GET /v1/videos/video_123 -> 404 not found") == (
        "GET /v1/videos/video_123 -> 404 not found"
    )
    final = verify.Redactor(["short"]).final_pass("a short text")
    assert final == "a short text"  # too short to be a key: left alone


# --------------------------------------------------------------------------- bugs found once


@pytest.mark.parametrize("status", [200, 206])
def test_contract_validates_an_mp4_body(status: int) -> None:
    request = OpenAPIRequest.build(
        "GET", "/v1/videos/video_1/content", headers={"Authorization": "Bearer k"}
    )
    mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    response = OpenAPIResponse(status, "video/mp4", Headers([("Content-Type", "video/mp4")]), mp4)
    try:
        contracts.load("gptge-videos").validate_response(request, response)
    except ContractViolation as exc:
        pytest.fail(str(exc))


@pytest.mark.parametrize("video_id", ["%3B", "%09", "a%3B"])
def test_mock_refuses_ids_outside_the_contract_pattern(
    sora_mock_server: SoraMock, video_id: str
) -> None:
    with httpx.Client(headers={"Authorization": "Bearer k"}) as client:
        response = client.get(f"{sora_mock_server.base_url('gptge')}/v1/videos/{video_id}")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "video_id"


def test_mock_reads_allowed_odd_ids_verbatim(sora_mock_server: SoraMock) -> None:
    with httpx.Client(headers={"Authorization": "Bearer k"}) as client:
        response = client.get(f"{sora_mock_server.base_url('gptge')}/v1/videos/a.b:c-d*")
    assert response.status_code == 404, response.text
    assert "a.b:c-d*" in response.json()["error"]["message"]


@pytest.mark.parametrize("provider", ["gptge", "vtrix", "gptproto-videos"])
def test_a_retired_model_is_reported_as_such_not_as_drift(
    sora_mock_server: SoraMock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    sora_mock_server.set_scenario("model_unavailable")
    code = run(sora_mock_server, provider, tmp_path, monkeypatch)
    markdown, junit = reports(tmp_path, provider)
    assert code == 3
    assert "RETIRED MODEL" in markdown and "DRIFT" not in markdown
    assert "model not found" in markdown
    assert junit.find(".//failure") is None


# --------------------------------------------------------------------------- could not verify


@pytest.mark.parametrize(
    ("provider", "scenario", "status"),
    [("gptge", "unauthorized", 401), ("vtrix", "forbidden", 403)],
)
def test_a_rejected_key_is_not_verified(
    sora_mock_server: SoraMock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    provider: str,
    scenario: str,
    status: int,
) -> None:
    # the mock accepts any key; a key rule makes it refuse this one, as an expired key is
    sora_mock_server.set_scenario(scenario, api_key=KEY)
    code = run(sora_mock_server, provider, tmp_path, monkeypatch)
    out = capsys.readouterr().out
    assert code == verify.EXIT_NOT_VERIFIED
    env = verify.PROVIDERS[provider][1]
    assert re.search(
        rf"^{provider}: NOT VERIFIED \(credentials\): the provider rejected the credentials: "
        rf"it answered {status} to every request sent with them \(\d+ sent; check {env}\); "
        r"it said: '[^']+'$",
        out,
        re.MULTILINE,
    ), out
    assert "no drift" not in out and "LEAKCHECK" not in out
    # nothing more was sent once the free probes' credentials were refused
    assert posts(sora_mock_server, with_key=False) == []
    line = summary(provider, out)
    assert line["passed"] == line["failed"] == "0" and line["run"] == line["error"] != "0"
    assert "the provider rejected the credentials" in line["why"]
    markdown, xml = reports(tmp_path, provider)
    assert "**NOT VERIFIED**: the provider rejected the credentials" in markdown
    suite = suite_of(xml)
    assert suite.get("failures") == "0" and xml.find(".//failure") is None
    assert int(suite.get("errors", "0")) == 1 + int(line["error"])
    assert f"answered {status}" in blocker_errors(xml)["credentials"]
    refused = [e for e in xml.iter("error") if e.get("type") == "credentials-rejected"]
    assert len(refused) == int(line["error"])


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (bound, so nothing else takes it): refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def test_an_unreachable_provider_is_not_verified(
    closed_port: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GPTGE_API_KEY", KEY)
    base = f"http://127.0.0.1:{closed_port}/gptge"
    code = verify.main(["--provider", "gptge", "--base-url", base, "--report-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == verify.EXIT_NOT_VERIFIED
    assert re.search(
        rf"^gptge: NOT VERIFIED \(unreachable\): cannot reach {re.escape(base)}: no answer to "
        r"any of \d+ request\(s\) \(ConnectError: .*refused",
        out,
        re.MULTILINE,
    ), out
    line = summary("gptge", out)
    assert line["passed"] == line["failed"] == "0" and line["run"] == line["error"] != "0"
    assert "createVideo: the provider did not answer the free probes" in line["why"]
    _, xml = reports(tmp_path, "gptge")
    assert xml.find(".//failure") is None and suite_of(xml).get("failures") == "0"
    assert "refused" in blocker_errors(xml)["unreachable"]


def test_nothing_to_check_is_not_verified(
    sora_mock_server: SoraMock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # a plan without a single request (no probe, no create, no generated case)
    monkeypatch.setattr(verify.Verifier, "probe_specs", lambda self: [])
    code = run(
        sora_mock_server, "gptge", tmp_path, monkeypatch, "--max-creates", "0", "--generated", "0"
    )
    out = capsys.readouterr().out
    assert code == verify.EXIT_NOT_VERIFIED
    assert sora_mock_server.journal == []
    assert "gptge: NOT VERIFIED (nothing-checked): no check ran: nothing was sent" in out
    assert "no drift" not in out
    assert summary("gptge", out)["run"] == "0"
    _, xml = reports(tmp_path, "gptge")
    assert "nothing was sent" in blocker_errors(xml)["nothing-checked"]


def test_generated_cases_without_schemathesis_are_an_error(
    sora_mock_server: SoraMock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "schemathesis", None)  # `import schemathesis` fails
    code = run(sora_mock_server, "gptge", tmp_path, monkeypatch, "--generated", "3")
    out = capsys.readouterr().out
    assert code == verify.EXIT_NOT_VERIFIED
    assert sora_mock_server.journal == []  # said before anything is sent (or paid for)
    advice = "pip install 'sora-mock[verify]'"
    line = next(x for x in out.splitlines() if x.startswith("gptge: NOT VERIFIED"))
    assert line.startswith("gptge: NOT VERIFIED (missing-dependency): --generated 3 needs ")
    assert advice in line and "-e '.[dev]'" not in out
    assert summary("gptge", out)["run"] == "0"
    markdown, xml = reports(tmp_path, "gptge")
    assert advice in markdown and "**NOT VERIFIED**" in markdown
    assert advice in blocker_errors(xml)["missing-dependency"]
    assert suite_of(xml).get("errors") == "1"
    # a dry run says so too; without generated cases nothing is missing
    assert (
        run(sora_mock_server, "gptge", tmp_path, monkeypatch, "--generated", "3", "--dry-run") == 4
    )
    assert advice in capsys.readouterr().out
    assert run(sora_mock_server, "gptge", tmp_path, monkeypatch, "--generated", "0") == 0


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["verify", "--help"])
    text = re.sub(r"\s+", " ", capsys.readouterr().out)
    assert "exit codes: 0 verified: no drift 1 drift:" in text
    assert "4 could not verify: the provider rejected the credentials" in text
    assert "pip install 'sora-mock[verify]'" in text and "--skip-without-key" in text


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ConnectError("[Errno -2] Name or service not known"),
        httpx.ConnectTimeout("timed out"),
        httpx.ReadTimeout("timed out"),
    ],
    ids=["refused", "dns", "connect-timeout", "read-timeout"],
)
def test_every_way_of_not_reaching_the_provider_blocks_the_run(failure: httpx.HTTPError) -> None:
    def fail(req: httpx.Request) -> httpx.Response:
        raise failure

    verifier = verify.Verifier(
        "gptge", "http://provider.invalid/gptge", KEY, transport=httpx.MockTransport(fail)
    )
    result = verifier.run()
    (blocker,) = result.blockers
    assert blocker.kind == "unreachable"
    assert f"{type(failure).__name__}: {failure}" in blocker.reason
    assert verify.exit_code(result) == verify.EXIT_NOT_VERIFIED


def test_requests_left_unanswered_block_the_run_and_drift_comes_first() -> None:
    answered: list[str] = []

    def flaky(req: httpx.Request) -> httpx.Response:
        if req.url.path.endswith("/content"):
            raise httpx.ReadTimeout("timed out")
        answered.append(req.url.path)
        if req.url.path.endswith("/videos"):  # the list: a body the contract does not allow
            return httpx.Response(200, json={"object": "list", "data": "not a list"})
        return httpx.Response(
            404, json={"error": {"message": "no", "type": "x", "param": None, "code": None}}
        )

    verifier = verify.Verifier(
        "gptge",
        "http://provider.invalid/gptge",
        KEY,
        max_creates=0,
        generated=0,
        transport=httpx.MockTransport(flaky),
    )
    result = verifier.run()
    assert answered
    kinds = [b.kind for b in result.blockers]
    assert kinds == ["no-answer"]
    assert "getVideoContent" in result.blockers[0].reason
    assert result.operations["getVideoContent"].outcome == "error"
    assert result.operations["listVideos"].outcome == "failed"
    # drift is news about the provider: it decides the exit code even when part failed
    assert verify.exit_code(result) == 1


def test_one_refused_request_is_not_a_rejected_key() -> None:
    """A create refused with 403 (no balance, no access to that model) after the free reads
    were answered is the provider's answer to that request, not a key it rejects."""

    def provider(req: httpx.Request) -> httpx.Response:
        if req.method == "POST":
            return httpx.Response(
                403,
                json={"error": {"message": "no balance", "type": "x", "param": None, "code": None}},
            )
        if req.url.path.endswith("/videos"):
            return httpx.Response(200, json={"object": "list", "data": [], "has_more": False})
        if "Authorization" not in req.headers:
            error = {"message": "no key", "type": "x", "param": None, "code": None}
            return httpx.Response(401, json={"error": error})
        error = {"message": "not found", "type": "x", "param": None, "code": None}
        return httpx.Response(404, json={"error": error})

    verifier = verify.Verifier(
        "gptge",
        "http://provider.invalid/gptge",
        KEY,
        generated=0,
        transport=httpx.MockTransport(provider),
    )
    result = verifier.run()
    assert result.creates_sent == 1  # the free probes passed: the create went out
    assert result.blockers == [], result.blockers
    assert all(x.verified for o in result.operations.values() for x in o.exchanges)
    assert result.operations["listVideos"].outcome == "passed"
