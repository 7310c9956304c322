"""Cassettes are checked when loaded; the evidence report; the new command lines; verify on
loopback without a key."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mockserver import cli
from mockserver.conformance import cassettes, evidence
from mockserver.conformance.cassettes import CassetteError
from mockserver.testing import SoraMock

EXAMPLE = Path(__file__).parent / "examples" / "cassettes"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "cassettes"
    shutil.copytree(EXAMPLE, target)
    return target


def _edit(directory: Path, change: object) -> Path:
    path = next(directory.glob("*.json"))
    data = json.loads(path.read_text())
    change(data)  # type: ignore[operator]
    path.write_text(json.dumps(data))
    return path


def test_the_example_cassette_loads_clean() -> None:
    [cassette] = cassettes.load(EXAMPLE)
    assert cassette.contract == "gptge-videos" and cassette.operation == "createVideo"
    assert cassette.problems == []
    assert [p["response"]["body"]["status"] for p in cassette.reads("polls")][-1] == "completed"


def test_a_cassette_missing_a_part_is_refused_naming_it(copy: Path) -> None:
    path = _edit(copy, lambda d: d.pop("polls"))
    with pytest.raises(CassetteError, match=rf"{path.name}.*'polls' is a required property"):
        cassettes.load(copy)


def test_a_cassette_whose_media_is_gone_is_refused(copy: Path) -> None:
    for media in (copy / "media").iterdir():
        media.unlink()
    with pytest.raises(CassetteError, match="media/.*missing"):
        cassettes.load(copy)


def test_recorded_drift_is_found_again_at_load_and_reported(copy: Path) -> None:
    def drift(data: dict) -> None:
        data["polls"][0]["response"]["body"]["status"] = "done"

    _edit(copy, drift)
    [cassette] = cassettes.load(copy)
    assert any("'done' is not one of" in p.message for p in cassette.problems)
    text = evidence.report(copy)
    assert "NOT in the contract: done" in text
    assert "(today's contract)" in text


def test_cassettes_report_command(
    copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "evidence.md"
    assert cli.main(["cassettes", "report", str(copy), "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert "status words seen: queued, in_progress, completed" in text
    assert "the contract allows: queued, in_progress, completed, failed" in text
    assert "- drift: none" in text
    assert out.read_text().startswith("# What the recorded traffic")
    _edit(copy, lambda d: d.pop("create"))
    assert cli.main(["cassettes", "report", str(copy)]) == 2
    assert "sora-mock cassettes:" in capsys.readouterr().err


def test_serve_and_proxy_options(tmp_path: Path) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cli._serve_parser(sub)
    args = parser.parse_args(["serve", "--replay", str(tmp_path), "--replay-fallback", "404"])
    config = cli.config_from(args)
    assert config.replay_dir == tmp_path and config.replay_fallback == "404"
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--replay-fallback", "maybe"])
    from mockserver.conformance import commands

    commands.add_proxy_parser(sub)
    args = parser.parse_args(["proxy", "--provider", "vtrix"])
    assert (args.port, args.mode, args.record, args.upstream) == (8001, "transparent", None, None)


def test_serve_refuses_a_broken_replay_directory(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(copy, lambda d: d.update(format="something-else"))
    assert cli.main(["serve", "--port", "0", "--replay", str(copy)]) == 2
    assert "format" in capsys.readouterr().err


def test_verify_needs_no_key_on_loopback(
    sora_mock_server: SoraMock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("GPTGE_API_KEY", raising=False)
    code = cli.main(
        [
            "verify",
            "--provider",
            "gptge",
            "--base-url",
            sora_mock_server.base_url("gptge"),
            "--report-dir",
            str(tmp_path),
            "--max-creates",
            "0",
            "--generated",
            "0",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "placeholder key" in out and "no drift" in out
    assert [e for e in sora_mock_server.journal if e["key"]]  # it really checked something
    assert "placeholder key" in (tmp_path / "verify-gptge.md").read_text()


def test_media_over_the_cap_is_not_kept(tmp_path: Path) -> None:
    small = cassettes.MediaSink(tmp_path, "video/mp4", cap=10)
    small.write(b"0123456789")
    media, note = small.finish()
    assert media is not None and media["size"] == 10 and note is None
    assert (tmp_path / media["file"]).read_bytes() == b"0123456789"
    big = cassettes.MediaSink(tmp_path, "video/mp4", cap=10)
    big.write(b"01234")
    big.write(b"567890")
    media, note = big.finish()
    assert media is None and note is not None and "11 bytes is over the 10-byte cap" in note
    assert len(list((tmp_path / "media").iterdir())) == 1  # no partial file left behind
