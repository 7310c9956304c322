"""The console's text columns stay in line whatever the path: a long path loses the middle of
its ids (both ends stay readable), then its own middle; a short one is left as it is."""

from __future__ import annotations

import io

import pytest

from mockserver.console import ELLIPSIS, PATH_WIDTH, RequestLine, RequestLog, fit

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
