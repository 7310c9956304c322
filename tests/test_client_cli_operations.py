"""``sora list``, ``sora delete``, ``sora remix``, ``sora download --variant`` against the mock,
and no key needed for a loopback ``--base-url`` (issue 12)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from client_helpers import KEY, client_app_fixture, good_create, mock_fixture  # noqa: F401

from mockserver.testing import SoraMock
from sora_client import SoraClient
from sora_client.cli import main


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GPTGE_API_KEY", "VTRIX_API_KEY"):
        monkeypatch.setenv(var, KEY)


def run(mock: SoraMock, *argv: str, base_url: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        [*argv, "--provider", "gptge", "--base-url", base_url or mock.base_url("gptge")],
        transport=mock.transport(),
        sleep=mock.advance,
        stdout=out,
        stderr=err,
    )
    assert KEY not in out.getvalue() + err.getvalue(), "the key was printed"
    return code, out.getvalue(), err.getvalue()


def made(mock: SoraMock, count: int) -> list[str]:
    with SoraClient(
        "gptge", KEY, base_url=mock.base_url("gptge"), transport=mock.transport()
    ) as client:
        return [client.create(f"shot {i}", **good_create("gptge")).id for i in range(count)]


def test_sora_list_prints_every_job_as_json_lines(mock: SoraMock) -> None:
    ids = made(mock, 3)
    code, out, _ = run(mock, "list", "--limit", "2")
    assert code == 0
    assert [json.loads(line)["id"] for line in out.splitlines()] == ids[::-1]
    code, out, _ = run(mock, "list", "--max", "1")
    assert code == 0 and len(out.splitlines()) == 1


def test_sora_delete_and_remix(mock: SoraMock) -> None:
    first, second = made(mock, 2)
    mock.advance(600)
    code, out, _ = run(mock, "remix", first, "--prompt", "at night")
    assert code == 0
    remixed = json.loads(out)
    assert remixed["id"] not in (first, second) and remixed["status"] == "queued"
    code, out, _ = run(mock, "delete", second)
    assert code == 0 and json.loads(out) == {"id": second, "deleted": True}
    code, _, err = run(mock, "status", second)
    assert code == 7 and "404" in err


def test_sora_download_variant_saves_the_thumbnail(mock: SoraMock, tmp_path: Path) -> None:
    (job_id,) = made(mock, 1)
    mock.advance(600)
    target = tmp_path / "thumb.webp"
    code, out, _ = run(mock, "download", job_id, "-o", str(target), "--variant", "thumbnail")
    assert code == 0 and "saved" in out
    assert target.read_bytes()[:4] == b"RIFF"


def test_a_missing_operation_is_a_usage_error_naming_the_provider(mock: SoraMock) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["list", "--provider", "vtrix", "--base-url", mock.base_url("vtrix")],
        transport=mock.transport(),
        stdout=out,
        stderr=err,
    )
    assert code == 2 and "vtrix has no list endpoint" in err.getvalue()


def test_no_key_is_needed_for_a_loopback_base_url(
    mock: SoraMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    (job_id,) = made(mock, 1)
    monkeypatch.delenv("GPTGE_API_KEY")
    code, out, err = run(mock, "status", job_id, base_url="http://127.0.0.1:8000/gptge")
    assert code == 0 and json.loads(out)["id"] == job_id
    assert "placeholder key" in err
    code, _, err = run(mock, "status", job_id)  # not loopback: the key is still required
    assert code == 3 and "GPTGE_API_KEY" in err
