"""The console's text columns stay in line whatever the path: a long path loses the middle of
its ids (both ends stay readable), then its own middle; a short one is left as it is."""

from __future__ import annotations

import io

import pytest

from mockserver.http.console import ELLIPSIS, PATH_WIDTH, RequestLine, RequestLog, fit

LONG_ID = "video_68f082321ed08193a4eaf01376fa10bc0284bd663de64dc5"
PATHS = [
    "/gptge/v1/videos",
    f"/gptge/v1/videos/{LONG_ID}",
    f"/gptge/v1/videos/{LONG_ID}/content",
    "/gptproto/api/v3/predictions/sora-2:task_0123456789abcdef0123/result",
    "/vtrix/model/v1/generation/task/video_0123456789abcdef",
    "/" + "segment/" * 20,
    "/x" * 30,
]


def _line(path: str, method: str = "GET") -> str:
    log = RequestLog("text", io.StringIO())
    return log.format_text(RequestLine(0.0, method, path, "gptge", 200, 1.5))


def test_every_line_puts_the_provider_and_status_in_the_same_column() -> None:
    lines = [_line(path, method) for path in PATHS for method in ("GET", "DELETE", "OPTIONS")]
    columns = {line.index(" gptge ") for line in lines}
    assert len(columns) == 1, "\n".join(lines)
    assert {line.index(" 200 ") for line in lines} == {min(columns) + len(" gptge    ")}


@pytest.mark.parametrize("path", PATHS)
def test_a_path_fits_its_column(path: str) -> None:
    shown = fit(path, PATH_WIDTH)
    assert len(shown) <= PATH_WIDTH
    if len(path) <= PATH_WIDTH:
        assert shown == path
    else:
        assert ELLIPSIS in shown


def test_an_id_keeps_both_ends_and_the_rest_of_the_path_stays_whole() -> None:
    shown = fit(f"/gptge/v1/videos/{LONG_ID}/content", PATH_WIDTH)
    assert shown.startswith("/gptge/v1/videos/video_") and shown.endswith("dc5/content")
    assert len(shown) == PATH_WIDTH


# ------------------------------------------------------------------ a console nobody reads


def test_a_console_nobody_reads_drops_lines_instead_of_blocking_requests() -> None:
    """A pipe nobody reads fills after some 64 KiB; a write to it would then block the request
    thread for ever, and every other on the console's lock. Lines are dropped instead, and
    said to be once the pipe is read again."""
    import os
    import threading

    read_end, write_end = os.pipe()
    stream = os.fdopen(write_end, "w", encoding="utf-8")
    log = RequestLog("text", stream)
    line = RequestLine(0.0, "GET", "/gptge/v1/videos/" + "x" * 60, "gptge", 200, 1.0)
    done = threading.Event()

    def flood() -> None:
        for _ in range(5000):  # some 600 KiB of lines: ten times what the pipe holds
            log.write(line)
        done.set()

    writer = threading.Thread(target=flood, daemon=True)
    writer.start()
    assert done.wait(10), "a request thread blocked on a console nobody reads"
    assert log.flush(10), "the writer blocked on a console nobody reads"
    dropped = log.dropped
    assert dropped > 0
    with os.fdopen(read_end, "rb") as reader:
        os.set_blocking(read_end, False)
        kept = reader.read() or b""
        log.write(line)  # read again: the next line says how many went
        assert log.flush()
        stream.close()
        os.set_blocking(read_end, True)
        after = reader.read()
    assert kept.count(b"\n") + dropped == 5000, "every line was written or counted"
    assert f"sora-mock: {dropped} console line(s) dropped".encode() in after
    assert after.count(b"/gptge/v1/videos/") == 1


def test_a_line_is_cut_to_what_a_pipe_takes_in_one_write() -> None:
    import io

    stream = io.StringIO()
    log = RequestLog("json", stream)
    log.write(RequestLine(0.0, "GET", "/" + "y" * 10_000, "gptge", 404, 1.0, error="z" * 10_000))
    assert log.flush()
    written = stream.getvalue()
    assert len(written.encode()) <= 3801 and written.endswith("\u2026\n")


# ------------------------------------------------------------------ what one log keeps


def test_one_log_shows_each_lines_own_second_and_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A log works each second's clock and each path's column out once, and keeps a bounded
    number of paths: every line still shows its own."""
    from mockserver.http import console

    monkeypatch.setattr(console, "FITTED_PATHS", 2)
    log = RequestLog("text", io.StringIO())
    when = 1796638931.25
    paths = [PATHS[1], PATHS[2], PATHS[3], PATHS[1], "/short"]
    shown = []
    for i, path in enumerate(paths):
        text = log.format_text(RequestLine(when + i * 0.5, "GET", path, "gptge", 200, 1.5))
        shown.append((text[:8], text.split()[2]))
        assert len(log._paths) <= 2
    clocks = [clock for clock, _ in shown]
    assert clocks[0] == clocks[1] != clocks[2] == clocks[3] != clocks[4]
    assert [path for _, path in shown] == [fit(path, PATH_WIDTH) for path in paths]
    assert len(log._paths) <= 2
    long = "/" + "x" * 256  # longer than FITTED_PATH_LENGTH: fitted, and not kept
    assert log.format_text(RequestLine(when, "GET", long[:-1], "p", 200, 1.0)).split()[2] == fit(
        long[:-1], PATH_WIDTH
    )
    assert long[:-1] in log._paths
    assert log.format_text(RequestLine(when, "GET", long, "p", 200, 1.0)).split()[2] == fit(
        long, PATH_WIDTH
    )
    assert long not in log._paths
