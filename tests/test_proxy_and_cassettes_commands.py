"""The command lines of ``sora-mock proxy`` and ``sora-mock cassettes report``
(mockserver/conformance/commands.py): the options and their defaults as a user types them, the
proxy's configuration built from them (megabytes to bytes, the provider's own base URL when no
upstream is given), what it prints when it starts, SIGTERM stopping it as Ctrl-C does with
everything closed, and the cassette report printed, written and refused.

No server is started: the proxy and its server are stand-ins that record what they are given."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from mockserver.conformance import commands, proxy
from mockserver.conformance.cassettes import CassetteError


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="sora-mock")
    sub = top.add_subparsers(dest="command", required=True)
    commands.add_proxy_parser(sub)
    commands.add_cassettes_parser(sub)
    return top


def parse(*argv: str) -> argparse.Namespace:
    return parser().parse_args(list(argv))


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        parse(*argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err


# --------------------------------------------------------------------------- proxy options


def test_the_proxy_defaults() -> None:
    args = parse("proxy", "--provider", "gptge")
    assert vars(args) == {
        "command": "proxy",
        "provider": "gptge",
        "upstream": None,
        "host": "127.0.0.1",
        "port": 8001,
        "mode": "transparent",
        "record": None,
        "timeout": 60.0,
        "max_body": 32.0,
        "media_cap": 256.0,
        "no_media_urls": False,
    }


def test_every_proxy_option_is_read() -> None:
    args = parse(
        "proxy",
        "--provider",
        "vtrix",
        "--upstream",
        "http://127.0.0.1:9/vtrix",
        "--host",
        "::1",
        "--port",
        "0",
        "--mode",
        "strict",
        "--record",
        "tapes",
        "--timeout",
        "0.5",
        "--max-body",
        "1.5",
        "--media-cap",
        "2",
        "--no-media-urls",
    )
    assert (args.upstream, args.host, args.port, args.mode) == (
        "http://127.0.0.1:9/vtrix",
        "::1",
        0,
        "strict",
    )
    assert (args.record, args.timeout, args.max_body, args.media_cap) == (
        Path("tapes"),
        0.5,
        1.5,
        2.0,
    )
    assert args.no_media_urls is True


@pytest.mark.parametrize("option", ["--timeout", "--max-body", "--media-cap"])
@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_a_size_or_time_must_be_more_than_zero(
    capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    err = refused(capsys, "proxy", "--provider", "gptge", option, value)
    assert f"argument {option}: must be more than 0" in err


def test_the_provider_is_required_and_one_of_the_known(capsys: pytest.CaptureFixture[str]) -> None:
    assert "the following arguments are required: --provider" in refused(capsys, "proxy")
    err = " ".join(refused(capsys, "proxy", "--provider", "openai").split())
    assert "argument --provider: invalid choice: 'openai'" in err
    assert "gptge" in err and "vtrix" in err


def test_the_mode_is_transparent_or_strict(capsys: pytest.CaptureFixture[str]) -> None:
    assert "invalid choice: 'loose'" in refused(
        capsys, "proxy", "--provider", "gptge", "--mode", "loose"
    )


def test_the_proxy_help_says_what_it_does_and_every_option(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    sub = argparse.ArgumentParser(prog="sora-mock").add_subparsers()
    text = commands.add_proxy_parser(sub).format_help()
    flat = " ".join(text.split())
    for said in [
        "Forward every request to the provider unchanged (credentials pass through, never "
        "stored), validate request and answer against the contract, report drift in "
        "X-Contract-Violations, on the console and at /__proxy/journal; with --record DIR, "
        "write one cassette per job.",
        "--provider {gptge,gptproto-chat,gptproto-v3,gptproto-videos,openrouter,vtrix} the "
        "provider API it fronts",
        "--upstream URL default: the provider's real base URL",
        "--host ADDRESS address to listen on (default: 127.0.0.1)",
        "--port PORT port to listen on (default: 8001)",
        "--mode {transparent,strict} transparent: forward the answer untouched, report drift; "
        "strict: answer 502 in the provider's error shape naming the violation (and refuse bad "
        "requests with 400) (default: transparent)",
        "--record DIR write cassettes",
        "--timeout S seconds to connect, between two reads, and the most an answer is held "
        "back (a whole JSON answer, each SSE event; files flow as they come) (default: 60)",
        "--max-body MB largest request body forwarded (as the mock's); 413 above it (default: 32)",
        "--media-cap MB largest media file a cassette keeps (default: 256)",
        "--no-media-urls do not fetch the media URLs a finished job names (CDN links) into "
        "cassettes",
    ]:
        assert said in flat, (said, text)


def test_the_cassettes_help_names_its_report(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    top = argparse.ArgumentParser(prog="sora-mock")
    cassettes = commands.add_cassettes_parser(top.add_subparsers())
    flat = " ".join(cassettes.format_help().split())
    assert "report what recorded traffic shows against each contract assumption" in flat
    report = cassettes._subparsers._group_actions[0].choices["report"]  # type: ignore[union-attr]
    flat = " ".join(report.format_help().split())
    for said in [
        "Load every cassette of DIR (checked against its contract) and summarise status words, "
        "progress scale, timestamps, error shapes, headers and drift.",
        "DIR a directory of cassettes (proxy --record)",
        "--output FILE also write it",
    ]:
        assert said in flat, (said, flat)


def test_the_command_list_says_what_proxy_and_cassettes_are_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    flat = " ".join(parser().format_help().split())
    assert (
        "proxy a contract-validating proxy in front of a provider (optionally recording) "
        "cassettes work with recorded cassettes (sora-mock proxy --record)" in flat
    ), flat


def test_the_cassettes_command_needs_a_sub_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert "required: cassettes_command" in refused(capsys, "cassettes")
    args = parse("cassettes", "report", "tapes")
    assert (args.cassettes_command, args.directory, args.output) == ("report", Path("tapes"), None)


# --------------------------------------------------------------------------- running the proxy


class FakeProxy:
    made: list[FakeProxy] = []

    def __init__(self, config: proxy.ProxyConfig, *, out: Any) -> None:
        self.config = config
        self.out = out
        self.upstream = (config.upstream or "").rstrip("/")
        self.closed = False
        FakeProxy.made.append(self)

    def close(self) -> None:
        self.closed = True


class FakeServer:
    def __init__(self, app: FakeProxy, host: str, port: int, stop: Any) -> None:
        self.app, self.host, self.asked_port = app, host, port
        self.server_port = 43210 if port == 0 else port
        self.stop = stop
        self.closed = False

    def serve_forever(self) -> None:
        self.stop()

    def server_close(self) -> None:
        self.closed = True


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The proxy and its server replaced; SIGTERM handlers recorded, not installed."""
    seen: dict[str, Any] = {"handlers": {}, "servers": [], "stop": _ctrl_c}
    FakeProxy.made = []

    def make_server(app: FakeProxy, host: str, port: int) -> FakeServer:
        server = FakeServer(app, host, port, lambda: seen["stop"](seen))
        seen["servers"].append(server)
        return server

    monkeypatch.setattr(proxy, "ContractProxy", FakeProxy)
    monkeypatch.setattr(proxy, "make_server", make_server)
    monkeypatch.setattr(
        signal, "signal", lambda signum, handler: seen["handlers"].__setitem__(signum, handler)
    )
    for name in ("httpx", "httpcore"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.DEBUG)
    return seen


def _ctrl_c(seen: dict[str, Any]) -> None:
    raise KeyboardInterrupt


def test_the_proxy_is_configured_from_its_options_in_bytes(
    stand_ins: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = parse(
        "proxy",
        "--provider",
        "vtrix",
        "--upstream",
        "http://127.0.0.1:9/vtrix/",
        "--mode",
        "strict",
        "--timeout",
        "2.5",
        "--record",
        str(tmp_path),
        "--max-body",
        "1.5",
        "--media-cap",
        "0.5",
        "--no-media-urls",
        "--port",
        "0",
        "--host",
        "127.0.0.2",
    )
    assert commands.run_proxy(args) == 0
    (made,) = FakeProxy.made
    assert made.out is sys.stdout  # its console lines go where the command's go
    assert made.config == proxy.ProxyConfig(
        "vtrix",
        upstream="http://127.0.0.1:9/vtrix/",
        mode="strict",
        timeout=2.5,
        record_dir=tmp_path,
        media_cap=512 * 1024,
        record_media_urls=False,
        max_body=1536 * 1024,
    )
    (server,) = stand_ins["servers"]
    assert (server.app, server.host, server.asked_port) == (made, "127.0.0.2", 0)
    assert capsys.readouterr().out.splitlines() == [
        "sora-mock proxy (strict) on http://127.0.0.2:43210 -> http://127.0.0.1:9/vtrix",
        "  point your client's base URL at http://127.0.0.2:43210",
        "  drift: the X-Contract-Violations header, this console, "
        "http://127.0.0.2:43210/__proxy/journal",
        f"  recording one cassette per job into {tmp_path}",
    ]


def test_without_an_upstream_the_proxy_fronts_the_real_provider(
    stand_ins: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert commands.run_proxy(parse("proxy", "--provider", "gptge")) == 0
    (made,) = FakeProxy.made
    assert made.config == proxy.ProxyConfig(
        "gptge",
        upstream="https://api.gpt.ge",
        mode="transparent",
        timeout=60.0,
        record_dir=None,
        media_cap=256 * 1024 * 1024,
        record_media_urls=True,
        max_body=32 * 1024 * 1024,
    )
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        "sora-mock proxy (transparent) on http://127.0.0.1:8001 -> https://api.gpt.ge"
    )
    assert "recording" not in out


def test_the_proxy_quiets_the_http_libraries_own_logs(stand_ins: dict[str, Any]) -> None:
    commands.run_proxy(parse("proxy", "--provider", "gptge"))
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpcore").level == logging.WARNING


def test_ctrl_c_closes_the_server_and_the_proxy_and_exits_0(stand_ins: dict[str, Any]) -> None:
    assert commands.run_proxy(parse("proxy", "--provider", "gptge")) == 0
    assert stand_ins["servers"][0].closed
    assert FakeProxy.made[0].closed


def test_sigterm_stops_the_proxy_as_ctrl_c_does(stand_ins: dict[str, Any]) -> None:
    def terminated(seen: dict[str, Any]) -> None:
        # what the installed handler does when a SIGTERM arrives while serving
        seen["handlers"][signal.SIGTERM](signal.SIGTERM, None)

    stand_ins["stop"] = terminated
    assert commands.run_proxy(parse("proxy", "--provider", "gptge")) == 0
    assert stand_ins["servers"][0].closed
    assert FakeProxy.made[0].closed


def test_a_failing_server_still_closes_everything(stand_ins: dict[str, Any]) -> None:
    def broken(seen: dict[str, Any]) -> None:
        raise OSError("socket gone")

    stand_ins["stop"] = broken
    with pytest.raises(OSError, match="socket gone"):
        commands.run_proxy(parse("proxy", "--provider", "gptge"))
    assert stand_ins["servers"][0].closed
    assert FakeProxy.made[0].closed


@pytest.mark.parametrize("upstream", ["ftp://example.com", "api.gpt.ge", "HTTP://x"])
def test_an_upstream_that_is_not_http_is_refused_before_anything_starts(
    stand_ins: dict[str, Any], capsys: pytest.CaptureFixture[str], upstream: str
) -> None:
    assert commands.run_proxy(parse("proxy", "--provider", "gptge", "--upstream", upstream)) == 2
    assert capsys.readouterr().err == (
        f"sora-mock proxy: --upstream must be an http(s) URL, got {upstream!r}\n"
    )
    assert FakeProxy.made == []
    assert stand_ins["handlers"] == {}


# --------------------------------------------------------------------------- cassettes report


def test_the_report_of_a_directory_is_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert commands.run_cassettes(parse("cassettes", "report", str(tmp_path))) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# What the recorded traffic in {tmp_path} shows\n\n0 cassette(s).")
    assert out.endswith("`contracts/README.md`.\n\n")  # print() adds its own newline


def test_the_report_is_also_written_where_asked_in_utf8(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockserver.conformance import evidence

    monkeypatch.setattr(evidence, "report", lambda directory: f"# Ré­sumé of {directory}")
    target = tmp_path / "report.md"
    assert (
        commands.run_cassettes(parse("cassettes", "report", str(tmp_path), "--output", str(target)))
        == 0
    )
    assert target.read_bytes() == f"# Ré­sumé of {tmp_path}\n".encode()
    assert capsys.readouterr().out == f"# Ré­sumé of {tmp_path}\n"


def test_a_directory_that_cannot_be_read_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"
    written = tmp_path / "report.md"
    assert (
        commands.run_cassettes(parse("cassettes", "report", str(missing), "--output", str(written)))
        == 2
    )
    captured = capsys.readouterr()
    assert captured.err == f"sora-mock cassettes: {missing}: not a directory of cassettes\n"
    assert captured.out == ""
    assert not written.exists()
    assert issubclass(CassetteError, ValueError)
