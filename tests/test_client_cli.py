"""The ``sora`` command: a playable MP4 from the mock, exit codes a shell can branch on, and
messages that name the fix, never the key."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from client_helpers import KEY, client_app_fixture, image, mock_fixture, read_mp4  # noqa: F401  (fixtures)

from mockserver.testing import SoraMock
from sora_client.cli import main


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GPTPROTO_API_KEY", "GPTGE_API_KEY", "VTRIX_API_KEY"):
        monkeypatch.setenv(var, KEY)


@pytest.fixture
def cat(tmp_path: Path) -> Path:
    path = tmp_path / "cat-720x1280.png"
    path.write_bytes(image(720, 1280))
    return path


def run(mock: SoraMock, *argv: str, provider: str = "gptge") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    prefix = "gptproto" if provider.startswith("gptproto") else provider
    code = main(
        [*argv, "--provider", provider, "--base-url", mock.base_url(prefix)],
        transport=mock.transport(),
        sleep=mock.advance,
        stdout=out,
        stderr=err,
    )
    text_out, text_err = out.getvalue(), err.getvalue()
    assert KEY not in text_out and KEY not in text_err, "the key was printed"
    return code, text_out, text_err


def generate(
    mock: SoraMock, cat: Path, out: Path, *extra: str, provider: str = "gptge"
) -> tuple[int, str, str]:
    return run(
        mock,
        "generate",
        "--image",
        str(cat),
        "--prompt",
        "A fierce tiger bursts into a farmhouse yard",
        "-o",
        str(out),
        *extra,
        provider=provider,
    )


def test_generate_writes_a_playable_mp4(mock: SoraMock, cat: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    code, stdout, _ = generate(mock, cat, out, "--seconds", "4", "--size", "720x1280")
    assert code == 0
    assert read_mp4(out) == ("h264", 720, 1280)
    assert f"saved {out}" in stdout


def test_status_prints_the_job_as_json(mock: SoraMock, cat: Path, tmp_path: Path) -> None:
    code, _, stderr = generate(mock, cat, tmp_path / "out.mp4")
    assert code == 0, stderr
    job_id = mock.jobs()[0].id
    code, stdout, stderr = run(mock, "status", job_id)
    assert code == 0, stderr
    status = json.loads(stdout)
    assert (status["id"], status["status"], status["progress"]) == (job_id, "completed", 1.0)


def test_download_saves_a_completed_job(mock: SoraMock, cat: Path, tmp_path: Path) -> None:
    generate(mock, cat, tmp_path / "first.mp4")
    job_id = mock.jobs()[0].id
    code, stdout, _ = run(mock, "download", job_id, "-o", str(tmp_path / "again.mp4"))
    assert code == 0 and "saved" in stdout
    assert (tmp_path / "again.mp4").read_bytes() == (tmp_path / "first.mp4").read_bytes()


@pytest.mark.parametrize(
    ("scenario", "code", "hint"),
    [
        ("unauthorized", 3, "check that GPTGE_API_KEY holds a valid gptge key"),
        ("insufficient_balance", 3, "top up your gptge account"),
        ("rate_limited", 4, "rate limited: try again after 1 s"),
        ("content_policy", 5, "rephrase it or use another image"),
        ("generation_failed", 5, "could not render this video"),
    ],
)
def test_exit_codes_and_hints(
    mock: SoraMock,
    cat: Path,
    tmp_path: Path,
    scenario: str,
    code: int,
    hint: str,
) -> None:
    mock.set_scenario(scenario, api_key=KEY)
    out = tmp_path / "out.mp4"
    exit_code, _, stderr = generate(mock, cat, out)
    assert exit_code == code, stderr
    assert hint in stderr
    assert stderr.startswith("error: ") or "\nerror: " in stderr
    assert not out.exists()


def test_an_invalid_request_is_a_usage_error_and_sends_nothing(
    mock: SoraMock,
    cat: Path,
    tmp_path: Path,
) -> None:
    code, _, stderr = generate(
        mock, cat, tmp_path / "o.mp4", "--seconds", "25", "--model", "sora-2"
    )
    assert code == 2
    assert "seconds" in stderr and "25" in stderr
    assert mock.journal == []


def test_a_wait_that_times_out_says_how_to_pick_the_job_up(
    mock: SoraMock,
    cat: Path,
    tmp_path: Path,
) -> None:
    code, _, stderr = generate(mock, cat, tmp_path / "o.mp4", "--timeout", "1")
    job_id = mock.jobs()[0].id
    assert code == 6
    assert f"sora status --provider gptge {job_id}" in stderr
    assert f"sora download --provider gptge {job_id}" in stderr


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--provider", "nope"]) == 2
    assert main(["status", "--provider", "gptproto-chat", "chatcmpl-1"]) == 2
    assert "no status endpoint" in capsys.readouterr().err


def test_a_missing_key_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("VTRIX_API_KEY")
    assert main(["status", "--provider", "vtrix", "video_1"]) == 3
    assert "set VTRIX_API_KEY" in capsys.readouterr().err


def test_generate_against_a_real_port(
    sora_mock_server: SoraMock, cat: Path, tmp_path: Path
) -> None:
    """The same command over loopback HTTP, no transport injected."""
    out, err = io.StringIO(), io.StringIO()
    code = main(
        [
            "generate",
            "--provider",
            "gptproto-videos",
            "--base-url",
            sora_mock_server.base_url("gptproto"),
            "--image",
            str(cat),
            "--prompt",
            "A cat in a hat",
            "-o",
            str(tmp_path / "out.mp4"),
        ],
        sleep=sora_mock_server.advance,
        stdout=out,
        stderr=err,
    )
    assert code == 0, err.getvalue()
    assert read_mp4(tmp_path / "out.mp4") == ("h264", 720, 1280)
    assert KEY not in out.getvalue() + err.getvalue()
