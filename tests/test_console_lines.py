"""What the server console writes, line by line: which requests show (the dashboard's own
polling does not), what a text or JSON line holds, colours only on a terminal that wants them,
the dropped-lines notice after a console nobody read, and a console that breaks or closes
never failing a request."""

from __future__ import annotations

import io
import json
import os
import select
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mockserver.http import console
from mockserver.http.console import (
    ELLIPSIS,
    MAX_LINE_BYTES,
    PATH_WIDTH,
    SEGMENT_KEEP,
    RequestLine,
    RequestLog,
    fit,
)

GREEN, CYAN, YELLOW, RED, DIM, RESET = (
    "\033[32m",
    "\033[36m",
    "\033[33m",
    "\033[31m",
    "\033[2m",
    "\033[0m",
)
# 2026-12-07T10:22:11.250Z
WHEN = 1796638931.25


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The text format's clock is local time: pin the zone so a line can be spelled out."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


class Terminal(io.StringIO):
    """A console that says it is a terminal (or not), and counts its flushes."""

    def __init__(self, tty: bool = True) -> None:
        super().__init__()
        self.tty = tty
        self.flushes = 0

    def isatty(self) -> bool:
        return self.tty

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


@pytest.fixture
def colour_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")


# ------------------------------------------------------------------ which requests show


@pytest.mark.parametrize(
    ("method", "path", "status", "client", "shown"),
    [
        # the dashboard's polling: successful reads of its page, assets and the admin API
        ("GET", "/__mock/jobs", 200, None, False),
        ("HEAD", "/__mock/jobs", 200, None, False),
        ("GET", "/", 200, None, False),
        ("GET", "/favicon.ico", 200, None, False),
        ("GET", "/__mock/ui/app.js", 304, None, False),
        ("GET", "/__mock/", 399, None, False),
        # a failed read of them shows: something is wrong
        ("GET", "/__mock/jobs", 400, None, True),
        ("GET", "/__mock/jobs", 404, None, True),
        ("GET", "/", 500, None, True),
        ("GET", "/favicon.ico", 404, None, True),
        # what changes the mock shows, even under /__mock/
        ("POST", "/__mock/clock/advance", 200, None, True),
        ("DELETE", "/__mock/jobs", 200, None, True),
        ("PUT", "/", 200, None, True),
        # the provider APIs show, reads included
        ("GET", "/gptge/v1/videos/video_1", 200, None, True),
        ("GET", "/__mockery", 200, None, True),
        ("GET", "/__mock", 200, None, True),
        ("GET", "/favicon.ico/x", 200, None, True),
        ("GET", "//", 200, None, True),
        # whatever the dashboard marked as its own goes, failures included
        ("GET", "/gptge/v1/videos/video_1", 200, "dashboard", False),
        ("POST", "/gptge/v1/videos", 500, "dashboard", False),
        # another client's mark is no reason to hide it
        ("GET", "/gptge/v1/videos/video_1", 200, "script", True),
    ],
)
def test_the_dashboards_own_requests_are_left_out(
    method: str, path: str, status: int, client: str | None, shown: bool
) -> None:
    assert RequestLog("text", io.StringIO()).wanted(method, path, status, client) is shown


def test_with_log_dashboard_what_the_dashboard_marked_shows() -> None:
    log = RequestLog("text", io.StringIO(), show_dashboard=True)
    assert log.wanted("GET", "/gptge/v1/videos/video_1", 200, "dashboard") is True
    assert log.wanted("POST", "/gptge/v1/videos", 500, "dashboard") is True
    # its polling of the admin API still does not: it would drown everything else
    assert log.wanted("GET", "/__mock/jobs", 200, "dashboard") is False
    assert log.wanted("GET", "/__mock/jobs", 200) is False


def test_the_dashboard_is_hidden_unless_asked() -> None:
    log = RequestLog()
    assert log.show_dashboard is False
    assert log.wanted("GET", "/x", 200, "dashboard") is False
    assert log.wanted("GET", "/x", 200) is True


# ------------------------------------------------------------------ the log itself


def test_an_unknown_format_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown log format 'yaml': use text or json"):
        RequestLog("yaml")


def test_the_console_is_stdout_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    log = RequestLog("json")
    assert log.format == "json"
    assert log.stream is sys.stdout
    log.write(RequestLine(WHEN, "GET", "/v1/videos", "gptge", 200, 1.0))
    assert log.flush()
    assert json.loads(capsys.readouterr().out)["path"] == "/v1/videos"


def test_a_json_line_holds_every_field() -> None:
    stream = io.StringIO()
    line = RequestLine(
        WHEN,
        "POST",
        "/gptge/v1/videos",
        "gptge",
        429,
        12.5,
        scenario="rate-limit",
        error="Slow down: «too many»",
        job_id="video_1",
        client="dashboard",
    )
    log = RequestLog("json", stream)
    log.write(line)
    assert log.flush()
    text = stream.getvalue()
    assert text.endswith("}\n") and text.count("\n") == 1
    assert "«too many»" in text, "non-ASCII is written as it is"
    assert json.loads(text) == {
        "time": "2026-12-07T10:22:11.250Z",
        "method": "POST",
        "path": "/gptge/v1/videos",
        "provider": "gptge",
        "status": 429,
        "latency_ms": 12.5,
        "scenario": "rate-limit",
        "error": "Slow down: «too many»",
        "job_id": "video_1",
        "client": "dashboard",
    }


def test_a_json_lines_time_has_its_milliseconds() -> None:
    assert RequestLine(WHEN + 0.007, "GET", "/", None, 200, 0.0).to_dict()["time"] == (
        "2026-12-07T10:22:11.257Z"
    )
    assert RequestLine(1.0, "GET", "/", None, 200, 0.0).to_dict()["time"] == (
        "1970-01-01T00:00:01.000Z"
    )
    defaults = RequestLine(1.0, "GET", "/", None, 200, 0.0).to_dict()
    assert [defaults[k] for k in ("scenario", "error", "job_id", "client")] == [None] * 4


def test_a_text_line_spelled_out(utc: None) -> None:
    log = RequestLog("text", Terminal(tty=False))
    plain = RequestLine(WHEN, "GET", "/gptge/v1/videos", "gptge", 200, 121.44)
    assert log.format_text(plain) == (
        "10:22:11 GET     " + "/gptge/v1/videos".ljust(PATH_WIDTH) + " gptge     200   121.4 ms"
    )
    full = RequestLine(
        WHEN,
        "POST",
        "/vtrix/x",
        None,
        503,
        0.5,
        scenario="outage",
        error='down "now"',
        client="dashboard",
    )
    assert log.format_text(full) == (
        "10:22:11 POST    "
        + "/vtrix/x".ljust(PATH_WIDTH)
        + " -         503     0.5 ms  (dashboard)  [outage]  "
        + json.dumps('down "now"')
    )


def test_an_error_message_shows_only_on_a_failure(utc: None) -> None:
    log = RequestLog("text", io.StringIO())
    ok = RequestLine(WHEN, "GET", "/x", "p", 399, 1.0, error="not shown")
    assert "not shown" not in log.format_text(ok)
    failed = RequestLine(WHEN, "GET", "/x", "p", 400, 1.0, error="é shown")
    assert log.format_text(failed).endswith('  "é shown"')


@pytest.mark.parametrize(
    ("status", "colour"),
    [(200, GREEN), (204, GREEN), (304, CYAN), (404, YELLOW), (429, YELLOW), (500, RED)],
)
def test_a_terminal_sees_the_status_in_its_colour(
    status: int, colour: str, colour_env: None, utc: None
) -> None:
    stream = Terminal()
    log = RequestLog("text", stream)
    log.write(RequestLine(WHEN, "GET", "/x", "p", status, 1.0, error="bad"))
    assert log.flush()
    written = stream.getvalue()
    assert f" {colour}{status}{RESET} " in written
    if status >= 400:
        assert written.endswith(f'  {DIM}"bad"{RESET}\n')


def test_a_status_of_no_known_class_is_left_uncoloured(colour_env: None) -> None:
    log = RequestLog("text", Terminal())
    assert f" 101{RESET} " in log.format_text(RequestLine(WHEN, "GET", "/x", "p", 101, 1.0))
    assert (
        "\033["
        not in log.format_text(RequestLine(WHEN, "GET", "/x", "p", 101, 1.0)).split("101")[0]
    )


def test_no_colour_for_a_file_no_color_or_a_dumb_terminal(
    colour_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = RequestLine(WHEN, "GET", "/x", "p", 500, 1.0, error="bad")
    assert "\033[" not in RequestLog("text", Terminal(tty=False)).format_text(line)
    assert "\033[" not in RequestLog("text", io.StringIO()).format_text(line)

    class NoIsatty:
        def write(self, text: str) -> int:
            return len(text)

    assert "\033[" not in RequestLog("text", NoIsatty()).format_text(line)  # type: ignore[arg-type]
    assert "\033[" in RequestLog("text", Terminal()).format_text(line)
    monkeypatch.setenv("NO_COLOR", "")
    assert "\033[" not in RequestLog("text", Terminal()).format_text(line)
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert "\033[" not in RequestLog("text", Terminal()).format_text(line)
    monkeypatch.delenv("TERM")
    assert "\033[" in RequestLog("text", Terminal()).format_text(line)


def test_whether_to_colour_is_decided_once(
    colour_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = RequestLine(WHEN, "GET", "/x", "p", 500, 1.0)
    log = RequestLog("text", Terminal())
    assert "\033[" in log.format_text(line)
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\033[" in log.format_text(line)
    quiet = RequestLog("text", Terminal())
    assert "\033[" not in quiet.format_text(line)
    monkeypatch.delenv("NO_COLOR")
    assert "\033[" not in quiet.format_text(line)


def test_each_line_is_written_whole_and_flushed() -> None:
    stream = Terminal(tty=False)
    log = RequestLog("text", stream)
    log.write(RequestLine(WHEN, "GET", "/a", "p", 200, 1.0))
    assert log.flush()
    assert stream.getvalue().endswith("\n") and stream.flushes == 1
    log.write(RequestLine(WHEN, "GET", "/b", "p", 200, 1.0))
    assert log.flush()
    lines = stream.getvalue().split("\n")
    assert len(lines) == 3 and lines[2] == ""
    assert "/a" in lines[0] and "/b" in lines[1]
    assert stream.flushes == 2


# ------------------------------------------------------------------ long lines, long paths


def test_a_line_of_exactly_the_limit_is_kept_whole() -> None:
    text = "a" * MAX_LINE_BYTES
    assert console._bounded(text) == text
    cut = console._bounded(text + "b")
    assert cut == "a" * (MAX_LINE_BYTES - 3) + ELLIPSIS
    assert len(cut.encode()) == MAX_LINE_BYTES


def test_a_line_cut_inside_a_character_drops_the_half_character() -> None:
    text = "a" * (MAX_LINE_BYTES - 4) + "é" * 10  # é is two bytes: the cut falls inside one
    cut = console._bounded(text)
    assert cut == "a" * (MAX_LINE_BYTES - 4) + ELLIPSIS
    assert len(cut.encode()) <= MAX_LINE_BYTES


def test_a_lone_surrogate_is_written_not_raised() -> None:
    stream = io.StringIO()
    log = RequestLog("json", stream)
    log.write(RequestLine(WHEN, "GET", "/x", "p", 400, 1.0, error="\udcff"))
    assert log.flush()
    assert stream.getvalue().count("\n") == 1


def test_fit_shortens_the_id_before_a_longer_word() -> None:
    path = "/v1/abcdefghijklmnopqrstuvwxyz/id_0123456789"
    assert fit(path, len(path)) == path
    shown = fit(path, len(path) - 3)
    # the id (it holds digits) loses its middle: 10 of its 13 characters left, the ellipsis
    # among them, five before it and four after
    assert shown == "/v1/abcdefghijklmnopqrstuvwxyz/id_01" + ELLIPSIS + "6789"
    assert len(shown) == len(path) - 3


def test_fit_then_shortens_the_longest_segment_down_to_its_floor() -> None:
    path = "/aaaaaaaaaaaaaaaaaaaa/bbbbbbbbbbbbbbb/cc"
    # the longest (20) first; it would need to lose 5 but keeps its floor
    shown = fit(path, len(path) - 5)
    assert shown == "/aaaaaaa" + ELLIPSIS + "aaaaaaa/bbbbbbbbbbbbbbb/cc"
    # more to lose: the first down to SEGMENT_KEEP, then the next longest
    shown = fit(path, 25)
    first = "a" * (SEGMENT_KEEP // 2) + ELLIPSIS + "a" * (SEGMENT_KEEP - 1 - SEGMENT_KEEP // 2)
    assert shown.startswith(f"/{first}/")
    assert len(shown) == 25
    assert shown.endswith("/cc")


def test_fit_cuts_the_paths_middle_when_no_segment_can_give_more() -> None:
    path = "/abcd" * 12  # 60 characters of segments too short to shorten
    shown = fit(path, 21)
    assert shown == path[:10] + ELLIPSIS + path[-10:]
    shown = fit(path, 20)
    assert shown == path[:9] + ELLIPSIS + path[-10:]


def test_fit_shortens_ids_before_cutting_the_middle() -> None:
    path = "/x/" + "a1" * 30 + "/y"
    shown = fit(path, 30)
    assert len(shown) == 30
    assert shown.startswith("/x/a1a1") and shown.endswith("/y")
    # the id went to its floor first, then the path's middle
    assert shown.count(ELLIPSIS) >= 1


def test_a_segment_of_exactly_the_floor_is_not_shortened() -> None:
    path = "/" + "/".join(["abcdefghi"] * 6)  # six segments of SEGMENT_KEEP characters
    assert fit(path, 30) == path[:14] + ELLIPSIS + path[-15:]


# ------------------------------------------------------------------ a broken console


def test_a_closed_console_never_fails_a_request() -> None:
    stream = io.StringIO()
    log = RequestLog("text", stream)
    stream.close()
    log.write(RequestLine(WHEN, "GET", "/x", "p", 200, 1.0))  # ValueError: swallowed
    assert log.flush()
    assert log.dropped == 0


def test_a_broken_console_never_fails_a_request() -> None:
    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    log = RequestLog("text", Broken())
    log.write(RequestLine(WHEN, "GET", "/x", "p", 200, 1.0))
    assert log.flush(), "the writer goes on after a broken write"
    log.write(RequestLine(WHEN, "GET", "/x", "p", 200, 1.0))
    assert log.flush()


def test_a_file_or_stringio_always_has_room(tmp_path: Any) -> None:
    assert RequestLog._room(io.StringIO()) is True
    with open(tmp_path / "log", "w") as file:
        assert RequestLog._room(file) is True

    class NoFileno:
        pass

    assert RequestLog._room(NoFileno()) is True  # type: ignore[arg-type]

    class BadFd(io.StringIO):
        def fileno(self) -> int:
            return -1

    assert RequestLog._room(BadFd()) is True


def test_a_pipe_has_room_until_it_is_full() -> None:
    read_end, write_end = os.pipe()
    try:
        os.set_blocking(write_end, False)
        with os.fdopen(os.dup(write_end), "w") as stream:
            assert RequestLog._room(stream) is True
            try:
                while True:
                    os.write(write_end, b"x" * 65536)
            except BlockingIOError:
                pass
            assert RequestLog._room(stream) is False
    finally:
        os.close(read_end)
        os.close(write_end)


def test_lines_dropped_while_nobody_read_are_counted_then_said_once() -> None:
    stream = Terminal(tty=False)
    log = RequestLog("text", stream)
    room = iter([False, False, False, True, True])
    log._room = lambda s: next(room)  # type: ignore[method-assign]
    for name in ("a", "b", "c", "d", "e"):  # one at a time: each is a write of its own
        log.write(RequestLine(WHEN, "GET", f"/{name}", "p", 200, 1.0))
        assert log.flush()
    assert log.dropped == 0
    lines = stream.getvalue().splitlines()
    assert lines[0] == "sora-mock: 3 console line(s) dropped: the console was not being read"
    assert "/d" in lines[1] and "/e" in lines[2] and len(lines) == 3
    assert stream.flushes == 2


def test_while_nobody_reads_nothing_is_written() -> None:
    stream = Terminal(tty=False)
    log = RequestLog("text", stream)
    log._room = lambda s: False  # type: ignore[method-assign]
    log.write(RequestLine(WHEN, "GET", "/a", "p", 200, 1.0))
    log.write(RequestLine(WHEN, "GET", "/b", "p", 200, 1.0))
    assert log.flush()
    assert log.dropped == 2
    assert stream.getvalue() == "" and stream.flushes == 0


def test_with_stdout_closed_the_console_is_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    """``sora-mock serve >&-``: Python then has no ``sys.stdout`` at all (None)."""
    monkeypatch.setattr(sys, "stdout", None)
    log = RequestLog("text")
    log.write(RequestLine(WHEN, "GET", "/x", "p", 200, 1.0))
    assert log.flush()
    assert log.dropped == 0 and not log._running, "no writer for a console that is not there"


def test_a_mock_started_with_stdout_closed_answers_its_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It answered every request with a 500 (the console wrote to a stdout that was None)."""
    from mockserver.http.app import create_app
    from mockserver.testing import test_config

    monkeypatch.setattr(sys, "stdout", None)
    app = create_app(test_config(log_format="text"))
    answer = app.test_client().get(
        "/gptge/v1/videos/video_missing", headers={"Authorization": "Bearer sk-test"}
    )
    assert answer.status_code == 404
    assert answer.get_json()["error"]["message"]


def _events(fd: int, mask: int, timeout_ms: int = 0) -> int:
    poller = select.poll()
    poller.register(fd, mask)
    return sum(event for _, event in poller.poll(timeout_ms))


def _fill(fd: int) -> None:
    """Write until the terminal takes no more: a pty moves output on in the background, so
    until its far side is full too, room comes back after a blocked write."""
    for _ in range(1000):
        try:
            while True:
                os.write(fd, b"x" * 4096)
        except BlockingIOError:
            pass
        if not _events(fd, select.POLLOUT, 50):  # and it stays full
            return
    raise AssertionError("the terminal never filled")


def test_a_terminal_that_stopped_reading_has_no_room_though_keys_wait_on_it() -> None:
    """A terminal's fd reads and writes: keys typed while its output is stopped (Ctrl-S, a
    paused pager) make it readable, which is no room to write."""
    import pty

    master, slave = pty.openpty()
    try:
        os.set_blocking(slave, False)
        with os.fdopen(os.dup(slave), "w") as stream:
            assert RequestLog._room(stream) is True
            os.write(master, b"typed\n")  # keys waiting on the terminal
            assert _events(slave, select.POLLIN, 5000), "the typed line never arrived"
            _fill(slave)
            assert RequestLog._room(stream) is False
    finally:
        os.close(master)
        os.close(slave)
