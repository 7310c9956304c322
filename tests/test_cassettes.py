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
    assert config.replay_match == "lenient"
    args = parser.parse_args(["serve", "--replay", str(tmp_path), "--replay-match", "strict"])
    assert cli.config_from(args).replay_match == "strict"
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--replay-fallback", "maybe"])
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--replay-match", "fuzzy"])
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


# --------------------------------------------------------------------------- bounded loading

CONTENT_CANARY = "CASSETTE-CONTENT-CANARY-7f3a"
#: a 1 KB "billion laughs": nine levels of nine aliases, 9**9 strings once expanded
ALIAS_BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]"
        for i in range(8)
    ]
)


def _one_line_refusal(
    directory: Path, capsys: pytest.CaptureFixture[str], *, file: Path, says: str
) -> str:
    """``serve --replay`` refuses the directory with one line naming the file, exit 2."""
    assert cli.main(["serve", "--port", "0", "--replay", str(directory)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert "\n" not in err and "Traceback" not in captured.err + captured.out, err
    assert err.startswith("sora-mock: ") and file.name in err and says in err, err
    assert CONTENT_CANARY not in captured.err + captured.out
    return err


@pytest.fixture
def no_yaml_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a cassette never parses a YAML file: if it did (a contract named by path), this
    fails at once instead of expanding an alias bomb for minutes."""
    from contracts import _loader

    def refuse(text: str) -> object:
        raise AssertionError("a cassette made the loader parse a YAML file")

    monkeypatch.setattr(_loader, "_parse_yaml", refuse)


@pytest.mark.parametrize(
    "content",
    [pytest.param(ALIAS_BOMB, id="alias-bomb"), pytest.param(f"x: {CONTENT_CANARY}\n", id="plain")],
)
def test_a_contract_named_by_path_is_refused_without_reading_it(
    copy: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_yaml_parsing: None,
    content: str,
) -> None:
    import os

    import contracts

    assert len(ALIAS_BOMB) < 1024
    target = tmp_path / "elsewhere" / "x.yaml"
    target.parent.mkdir()
    target.write_text(content)
    relative = os.path.relpath(target.with_suffix(""), contracts.CONTRACTS_DIR)
    path = _edit(copy, lambda d: d.update(contract=relative))
    with pytest.raises(CassetteError, match="at /contract: not a bundled provider contract"):
        cassettes.load(copy)
    err = _one_line_refusal(copy, capsys, file=path, says="not a bundled provider contract")
    assert relative not in err and "gptge-videos" in err  # the names it may use, not the path


def test_every_bundled_provider_contract_is_a_name_a_cassette_may_use() -> None:
    import contracts

    assert set(cassettes.CONTRACT_NAMES) == set(contracts.PROVIDER_CONTRACTS)
    assert "mock-admin" not in cassettes.CONTRACT_NAMES


def test_a_deeply_nested_cassette_gets_the_one_line_error(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = copy / "deep.json"
    path.write_text("[" * 200_000)
    with pytest.raises(CassetteError, match="deep.json: nested deeper than 64 levels"):
        cassettes.load(copy)
    _one_line_refusal(copy, capsys, file=path, says="nested deeper than 64 levels")
    assert cassettes.load_sequence(path) == -1  # the recorder reading the directory too


def _nest(levels: int) -> object:
    value: object = []
    for _ in range(levels - 1):
        value = [value]
    return value


def test_nesting_is_allowed_up_to_the_limit_and_no_further(copy: Path) -> None:
    # the request summary is an object at depth 4 (document, create, request, body)
    _edit(copy, lambda d: d["create"]["request"]["body"].update(deep=_nest(60)))
    [cassette] = cassettes.load(copy)
    assert cassette.data["create"]["request"]["body"]["deep"] == _nest(60)
    path = _edit(copy, lambda d: d["create"]["request"]["body"].update(deep=_nest(61)))
    with pytest.raises(CassetteError, match=f"{path.name}: nested deeper than 64 levels"):
        cassettes.load(copy)


def test_a_cassette_over_the_size_limit_is_refused_before_it_is_read(
    copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = next(copy.glob("*.json"))
    size = path.stat().st_size
    monkeypatch.setattr(cassettes, "MAX_CASSETTE_BYTES", size)
    assert len(cassettes.load(copy)) == 1  # exactly at the limit: read
    monkeypatch.setattr(cassettes, "MAX_CASSETTE_BYTES", size - 1)
    opened: list[object] = []
    real_open = open

    def spy(file: object, *args: object, **kwargs: object) -> object:
        opened.append(file)
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", spy)
    with pytest.raises(CassetteError, match=f"{size} bytes is over the {size - 1}-byte"):
        cassettes.load(copy)
    assert path not in opened


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (f"not json {CONTENT_CANARY}", "invalid JSON at line 1, column 1"),
        (f'{{"format": "{CONTENT_CANARY}"', "the JSON text ends early"),
        ("", "the file is empty"),
        (f'{{"format": "{CONTENT_CANARY}"}}', "'provider' is a required property"),
    ],
)
def test_a_bad_cassette_is_named_never_quoted(
    copy: Path, capsys: pytest.CaptureFixture[str], text: str, says: str
) -> None:
    path = copy / "bad.json"
    path.write_text(text)
    _one_line_refusal(copy, capsys, file=path, says=says)


def test_a_schema_fault_is_worded_from_the_schema_not_the_value(copy: Path) -> None:
    path = _edit(copy, lambda d: d.update(format=CONTENT_CANARY * 100))
    with pytest.raises(CassetteError) as caught:
        cassettes.load(copy)
    assert str(caught.value) == f"{path}: at /format: must be 'sora-mock-cassette/1'"
    _edit(copy, lambda d: d.update(format=cassettes.FORMAT, sequence=[CONTENT_CANARY]))
    with pytest.raises(CassetteError) as caught:
        cassettes.load(copy)
    assert str(caught.value) == f"{path}: at /sequence: must be of type integer"


def test_an_operation_the_contract_lacks_is_refused(copy: Path) -> None:
    path = _edit(copy, lambda d: d["create"].update(operation=CONTENT_CANARY))
    with pytest.raises(CassetteError) as caught:
        cassettes.load(copy)
    assert str(caught.value) == (f"{path}: at /create/operation: not an operation of gptge-videos")
