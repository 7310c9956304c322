"""``sora-mock verify`` against the mock on a loopback port (the mock is the reference).

No test sleeps: the command's ``sleep`` is the mock's virtual clock (``advance``), and a stream
is read with a clock step between two events (``stream_pause``), longer than the mock's longest
quiet time in a chat stream (its queue time, 2 s +- 20 %), so every step brings an event.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.datastructures import Headers

import contracts
from contracts import ContractViolation, OpenAPIRequest, OpenAPIResponse
from mockserver import verify
from mockserver.testing import SoraMock

KEY = "sk-LEAKCHECK-0123456789abcdef"
PROVIDERS = sorted(verify.PROVIDERS)
PREFIX = {
    "gptproto-v3": "gptproto",
    "gptproto-videos": "gptproto",
    "gptproto-chat": "gptproto",
    "gptge": "gptge",
    "vtrix": "vtrix",
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
