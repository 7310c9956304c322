"""The mock's service object (mockserver.state.service) part by part, each test on a service of its
own: the clock and rules it starts with, the jobs it plans (scenario, failure, image, expiry),
reference images named by URL (data:, the mock's own files, sample image and thumbnails, a
remote URL when allowed), the files quota, unexpected errors counted by kind, a reset, and
the journal entry's bounded texts."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import pytest
from jobs import make_job
from providers import data_url, png

from mockserver import media
from mockserver.state.clock import SteppingClock, VirtualClock
from mockserver.state.faults import Scenario, Selected
from mockserver.state.journal import MAX_JOURNAL_TEXT, JournalEntry
from mockserver.state.lifecycle import key_fingerprint
from mockserver.state.service import (
    PLACEHOLDER_NOTE,
    FilesFull,
    MockService,
    _default_media_dir,
    _error_kind,
)
from mockserver.testing import CLOCK_START, test_config

OWN = {"127.0.0.1:8000"}


def service(**config: Any) -> MockService:
    return MockService.from_config(test_config(**config))


def create(svc: MockService, **changes: Any) -> Any:
    args: dict[str, Any] = dict(
        api="gptge-videos",
        id_prefix="video_",
        model="sora-2",
        prompt="a cat",
        width=720,
        height=1280,
        seconds=4,
        owner="key_x",
        image=None,
        params={},
        scenario=None,
        failure=("video_generation_failed", "the video failed"),
    )
    return svc.create_job(**(args | changes))


# -- from the configuration --------------------------------------------------------------------


def test_each_clock_kind_is_built_from_its_name() -> None:
    assert isinstance(service(clock="virtual").clock, VirtualClock)
    stepping = service(clock="stepping", clock_step=2.0)
    assert isinstance(stepping.clock, SteppingClock)
    first = stepping.clock.now()
    assert stepping.clock.now() == first + 2.0
    assert service(clock="real").clock.kind == "real"
    assert service().clock.now() == CLOCK_START


def test_an_unknown_clock_or_a_speed_of_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown clock 'sundial'"):
        service(clock="sundial")
    with pytest.raises(ValueError, match="speed must be positive"):
        service(speed=0)


def test_a_virtual_clock_without_a_start_starts_now() -> None:
    import time

    svc = MockService.from_config(test_config(clock_start=None))
    assert abs(svc.clock.now() - time.time()) < 5


def test_rules_given_at_start_are_in_force_for_everyone_or_one_key() -> None:
    svc = service(scenarios=("server_error", "forbidden@sk-one"))
    rules = [(r.scenario, r.key, r.provider, r.remaining) for r in svc.store.rules()]
    assert rules == [
        ("server_error", None, None, None),
        ("forbidden", key_fingerprint("sk-one"), None, None),
    ]


def test_a_rate_limit_and_metrics_are_set_up_only_when_asked() -> None:
    assert service().limiter is None
    assert service(rate_limit_rpm=10).limiter is not None
    assert service().metrics is not None
    assert service(metrics=False).metrics is None
    assert service(error_history=3).errors.maxlen == 3


def test_media_are_kept_beside_a_sqlite_store(tmp_path: Path) -> None:
    store = f"sqlite:{tmp_path / 'mock.db'}"
    assert _default_media_dir(test_config(store=store)) == Path(f"{tmp_path / 'mock.db'}.media")
    assert _default_media_dir(test_config()) is None


# -- jobs ---------------------------------------------------------------------------------------


def test_a_job_is_planned_on_the_clock_and_stored() -> None:
    svc = service()
    job = create(svc, notes=["resized"], remixed_from="video_0")
    assert job.id.startswith("video_")
    assert job.created_at == CLOCK_START
    assert job.queue_seconds >= 0 and job.render_seconds > 0
    assert job.notes == ["resized"] and job.remixed_from == "video_0"
    assert job.scenario is None and job.outcome == "completed"
    assert job.image_key is None
    assert svc.store.get(job.id) == job


def test_a_job_from_an_image_keeps_it_once_under_its_hash() -> None:
    svc = service()
    image = png(16, 16)
    first = create(svc, image=image)
    second = create(svc, image=image)
    key = "image:" + hashlib.sha256(image).hexdigest()
    assert first.image_key == second.image_key == key
    assert svc.image_of(first) == image
    assert svc.image_of(make_job()) is None


def test_a_job_from_an_image_its_caller_hashed_is_kept_under_that_hash() -> None:
    """A create that hashed the image to check it passes the digest on: not hashed again."""
    svc = service()
    image = png(16, 16)
    digest = hashlib.sha256(image).digest()
    job = create(svc, image=image, image_sha256=digest)
    assert job.image_key == "image:" + digest.hex()
    assert svc.image_of(job) == image
    other = create(svc, image=png(8, 8), image_sha256=b"\x01" * 32)  # (taken as given)
    assert other.image_key == "image:" + "01" * 32


def test_a_generation_failed_job_fails_with_the_code_asked_or_the_providers() -> None:
    svc = service()
    named = create(svc, scenario=Selected(Scenario.GENERATION_FAILED, "003000097", "header"))
    assert named.outcome == "failed"
    assert named.error_code == "003000097"
    assert named.error_message == "the video failed"
    assert named.scenario == "generation_failed:003000097"
    plain = create(svc, scenario=Selected(Scenario.GENERATION_FAILED, None, "rule"))
    assert plain.error_code == "video_generation_failed"
    assert plain.scenario == "generation_failed"
    slow = create(svc, scenario=Selected(Scenario.SLOW, None, "header"))
    assert slow.outcome == "completed" and slow.error_code is None
    assert slow.scenario == "slow"


def test_a_job_expires_after_its_retention_and_is_then_gone() -> None:
    svc = service(retention_seconds=100.0)
    job = create(svc)
    assert job.expires_at == CLOCK_START + 100.0
    assert svc.find(job.id, "gptge-videos") == job
    assert svc.find(job.id, "vtrix-generation") is None  # another API's id is unknown
    svc.clock.advance(100.0)
    assert svc.live(job.id) is None
    assert svc.store.get(job.id) is None  # purged when seen


def test_a_create_purges_jobs_past_their_retention() -> None:
    svc = service(retention_seconds=10.0)
    old = [create(svc) for _ in range(3)]
    svc.clock.advance(11.0)
    create(svc)
    assert all(svc.store.get(job.id) is None for job in old)
    assert svc.purge_expired() == 0


def test_purging_takes_at_most_its_limit() -> None:
    svc = service(retention_seconds=10.0)
    for _ in range(5):
        create(svc)
    svc.clock.advance(11.0)
    assert svc.purge_expired(limit=2) == 2
    assert svc.purge_expired() == 3


def test_a_prerendering_mock_schedules_the_video_when_the_job_is_due() -> None:
    svc = service(prerender=True)
    scheduled: list[tuple[Any, float]] = []
    svc.renders.schedule = lambda key, due, work: scheduled.append((key, due))  # type: ignore[method-assign]
    job = create(svc)
    assert scheduled == [
        (svc.media_key(job, "video"), job.created_at + job.queue_seconds + job.render_seconds)
    ]
    assert create(service(), image=None).id  # without prerender nothing is scheduled


def test_media_are_keyed_by_what_they_are_made_of() -> None:
    svc = service(fps=12)
    job = make_job(width=720, height=1280, seconds=4, image_key="image:abc")
    assert svc.media_key(job, "video") == ("image:abc", "720x1280", "4s@12", "video")
    assert svc.media_key(job, "thumbnail") == ("image:abc", "720x1280", "", "thumbnail")
    assert svc.media_key(make_job(), "spritesheet")[0] == "placeholder"
    assert svc.media_path("video_1") == "/__mock/media/video_1/video.mp4"
    assert svc.media_path("video_1", "thumbnail") == "/__mock/media/video_1/thumbnail.webp"


def test_an_unknown_variant_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown variant 'poster'"):
        service()._render(make_job(), "poster")


def test_the_thumbnail_and_spritesheet_are_rendered_at_the_jobs_size() -> None:
    import io

    from PIL import Image

    svc = service()
    job = create(svc, width=64, height=48, seconds=4, image=png(64, 48))
    thumbnail = Image.open(io.BytesIO(svc.asset(job, "thumbnail")))
    assert (thumbnail.format, thumbnail.size) == ("WEBP", (64, 48))
    sheet = Image.open(io.BytesIO(svc.asset(job, "spritesheet")))
    assert sheet.format == "JPEG"


# -- reference images by URL --------------------------------------------------------------------


def test_a_data_url_is_read_in_place() -> None:
    image = png(8, 8)
    assert service().resolve_image_url(data_url(image), OWN).data == image


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:8000/x.png", "http:///x.png", "x.png"])
def test_a_url_that_is_no_http_url_is_refused(url: str) -> None:
    with pytest.raises(media.ImageError, match="not an image URL"):
        service().resolve_image_url(url, OWN)


def test_an_uploaded_file_is_read_from_the_store_by_its_url() -> None:
    svc = service()
    image = png(9, 9)
    file_id = svc.store_file(image)
    found = svc.resolve_image_url(f"http://127.0.0.1:8000/__mock/files/{file_id}", OWN)
    assert found.data == image and found.note is None
    with pytest.raises(media.ImageError, match="serves no image at '/__mock/files/file_none'"):
        svc.resolve_image_url("http://127.0.0.1:8000/__mock/files/file_none", OWN)


def test_the_sample_image_url_serves_the_size_asked_or_the_default() -> None:
    from mockserver import sample

    svc = service()
    url = "http://127.0.0.1:8000/__mock/sample-image"
    assert svc.resolve_image_url(f"{url}?size=32x48&size=64x64", OWN).data == sample.sample_image(
        32, 48
    )
    assert svc.resolve_image_url(url, OWN).data == sample.sample_image(720, 1280)
    with pytest.raises(media.ImageError, match="has no size '9x9'"):
        svc.resolve_image_url(f"{url}?size=9x9", OWN)


def test_a_jobs_thumbnail_url_serves_its_thumbnail_and_nothing_else() -> None:
    svc = service()
    job = create(svc, width=64, height=48, image=png(64, 48))
    base = f"http://127.0.0.1:8000/__mock/media/{job.id}"
    assert svc.resolve_image_url(f"{base}/thumbnail.webp", OWN).data == svc.asset(job, "thumbnail")
    for path in (
        f"{base}/video.mp4",
        "http://127.0.0.1:8000/__mock/media/video_none/thumbnail.webp",
    ):
        with pytest.raises(media.ImageError, match="serves no image"):
            svc.resolve_image_url(path, OWN)


def test_a_remote_url_is_a_placeholder_unless_fetching_is_on() -> None:
    found = service().resolve_image_url("https://images.example/cat.png", OWN)
    assert found.data is None and found.note == PLACEHOLDER_NOTE


def test_a_remote_fetch_that_fails_is_an_image_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from mockserver.media import remote

    svc = service(fetch_remote_images=True, max_body_bytes=5000, remote_fetch_seconds=2.5)
    asked: dict[str, Any] = {}

    def fetch(url: str, **kwargs: Any) -> bytes:
        asked.update(kwargs, url=url)
        if "bad" in url:
            raise remote.FetchError("the image URL answered HTTP 404")
        return b"png"

    monkeypatch.setattr(remote, "fetch", fetch)
    assert svc.resolve_image_url("https://images.example/cat.png", OWN).data == b"png"
    assert asked == {
        "url": "https://images.example/cat.png",
        "max_bytes": 5000,
        "deadline_seconds": 2.5,
        "allowed": svc.remote_address_allowed,
    }
    with pytest.raises(media.ImageError, match="answered HTTP 404"):
        svc.resolve_image_url("https://images.example/bad.png", OWN)


# -- the files quota ------------------------------------------------------------------------------


def distinct(n: int) -> list[bytes]:
    return [png(8, 8, (i, 255 - i, 7)) for i in range(n)]


def test_uploads_over_the_count_evict_the_oldest_unused_file() -> None:
    svc = service(files_quota=2)
    a, b, c = distinct(3)
    first, second = svc.store_file(a), svc.store_file(b)
    third = svc.store_file(c)
    assert svc.store.get_blob(f"file:{first}") is None
    assert svc.store.get_blob(f"file:{second}") == b
    assert svc.store.get_blob(f"file:{third}") == c


def test_a_file_a_job_uses_is_kept_and_a_quota_of_used_files_is_full() -> None:
    svc = service(files_quota=1)
    a, b = distinct(2)
    used = svc.store_file(a)
    create(svc, image=a)
    with pytest.raises(FilesFull) as caught:
        svc.store_file(b)
    assert str(caught.value).startswith("the files quota is full: 1 files, ")
    assert "at most 1 files" in str(caught.value)
    assert svc.store.get_blob(f"file:{used}") == a


def test_uploads_over_the_bytes_evict_until_the_new_one_fits() -> None:
    a, b, c = distinct(3)
    svc = service(files_quota_bytes=len(a) + len(b))
    first, second = svc.store_file(a), svc.store_file(b)
    svc.store_file(c)
    assert svc.store.get_blob(f"file:{first}") is None
    assert svc.store.get_blob(f"file:{second}") == b


def test_a_file_exactly_the_quota_fits() -> None:
    (a,) = distinct(1)
    svc = service(files_quota_bytes=len(a))
    assert svc.store_file(a).startswith("file_")
    with pytest.raises(FilesFull, match="larger than the files quota"):
        service(files_quota_bytes=len(a) - 1).store_file(a)


def test_an_upload_that_is_no_image_is_refused() -> None:
    with pytest.raises(media.ImageError):
        service().store_file(b"not an image")


# -- errors, reset, journal -----------------------------------------------------------------------


def raised(message: str) -> BaseException:
    try:
        raise RuntimeError(message)
    except RuntimeError as exc:
        return exc


def test_an_unexpected_error_is_logged_whole_once_then_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    svc = service()
    caplog.set_level(logging.ERROR, "mockserver")
    error = raised("a bug")
    svc.note_error(error, "GET /x")
    svc.note_error(error, "GET /y")
    kind = _error_kind(error)
    assert kind.startswith("RuntimeError at test_mock_service_parts.py:")
    assert svc.error_count == 2
    assert svc.error_kinds == {kind: 2}
    assert list(svc.errors) == [error, error]
    first, second = caplog.records[-2:]
    assert first.getMessage() == f"unexpected error in the mock at GET /x ({kind})"
    assert first.exc_info is not None
    assert second.getMessage() == f"unexpected error at GET /y ({kind}, seen 2 times)"
    assert second.exc_info is None


def test_an_error_without_a_traceback_has_an_unknown_place() -> None:
    assert _error_kind(ValueError("x")) == "ValueError at ?"


def test_at_most_100_kinds_of_error_are_told_apart() -> None:
    svc = service()
    svc.error_kinds.update({f"kind {n}": 1 for n in range(100)})
    svc.note_error(raised("new"), "here")
    assert len(svc.error_kinds) == 100
    assert svc.error_count == 1


def test_a_reset_forgets_jobs_errors_and_breaches() -> None:
    svc = service()
    job = create(svc)
    svc.note_error(raised("x"), "here")
    svc.violations.append("a breach")
    svc.reset()
    assert svc.store.get(job.id) is None
    assert (svc.error_count, svc.error_kinds, list(svc.errors), list(svc.violations)) == (
        0,
        {},
        [],
        [],
    )


def test_the_journal_keeps_its_size_unless_asked_for_fewer() -> None:
    svc = service(journal_size=3)
    for n in range(5):
        svc.request_opened()
        svc.record(entry(path=f"/gptge/{n}"))
    assert [e["path"] for e in svc.journal()] == ["/gptge/2", "/gptge/3", "/gptge/4"]
    assert [e["path"] for e in svc.journal(1)] == ["/gptge/4"]


def entry(**changes: Any) -> JournalEntry:
    base: dict[str, Any] = dict(
        time=1.0,
        method="GET",
        path="/gptge/v1/videos",
        provider="gptge",
        operation=None,
        status=200,
        latency_ms=1.0,
        request_id="req_1",
        key=None,
        scenario=None,
    )
    return JournalEntry(**(base | changes))


def test_a_journal_entry_cuts_each_long_text() -> None:
    long = "x" * (MAX_JOURNAL_TEXT + 10)
    data = entry(path=long, error="e" * MAX_JOURNAL_TEXT).to_dict()
    assert data["path"] == "x" * MAX_JOURNAL_TEXT + "…"
    assert data["error"] == "e" * MAX_JOURNAL_TEXT
    assert data["status"] == 200


# -- what the first round of mutation testing showed -------------------------------------------


def test_a_crashed_render_of_a_job_already_ended_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from mockserver.media import RenderCrashed

    svc = service()
    job = create(svc)
    svc.clock.advance(3600.0)
    caplog.set_level(logging.ERROR, "mockserver")
    svc.render_crashed(job, RenderCrashed("signal 9"))
    assert caplog.records[-1].getMessage() == (
        f"the video of job {job.id} could not be rendered: signal 9"
    )
    assert svc.store.get(job.id) == job  # it completed: it stays completed


@pytest.mark.parametrize(
    "path", ["/__mock/other/{id}", "/__mock/files/{id}/more", "/__mock/media/{job}"]
)
def test_only_the_mocks_own_image_paths_serve_images(path: str) -> None:
    svc = service()
    file_id = svc.store_file(png(9, 9))
    job = create(svc, width=64, height=48, image=png(64, 48))
    url = "http://127.0.0.1:8000" + path.format(id=file_id, job=job.id)
    with pytest.raises(media.ImageError, match="serves no image"):
        svc.resolve_image_url(url, OWN)


def test_a_used_file_is_skipped_and_the_next_unused_one_evicted() -> None:
    svc = service(files_quota=2)
    a, b, c = distinct(3)
    used = svc.store_file(a)
    create(svc, image=a)
    unused = svc.store_file(b)
    svc.store_file(c)
    assert svc.store.get_blob(f"file:{used}") == a
    assert svc.store.get_blob(f"file:{unused}") is None


def test_as_many_files_go_as_the_new_one_needs_bytes() -> None:
    a, b, c, d = distinct(4)
    svc = service(files_quota_bytes=len(b) + len(c) + len(d) - 1)
    ids = [svc.store_file(x) for x in (a, b, c)]
    svc.store_file(d)
    assert [svc.store.get_blob(f"file:{i}") is not None for i in ids] == [False, False, True]


def test_a_full_quota_of_used_bytes_refuses_and_says_how_to_free_it() -> None:
    a, b = distinct(2)
    svc = service(files_quota_bytes=len(a) + len(b) - 1)
    svc.store_file(a)
    create(svc, image=a)
    with pytest.raises(FilesFull) as caught:
        svc.store_file(b)
    assert str(caught.value) == (
        f"the files quota is full: 1 files, {len(a)} bytes, every one used by a job (at most "
        f"1000 files, {len(a) + len(b) - 1} bytes; sora-mock serve --files-quota N "
        "--files-quota-bytes SIZE, or POST /__mock/reset)"
    )


def test_a_file_id_is_twelve_random_bytes() -> None:
    import re

    file_id = service().store_file(png(8, 8))
    assert re.fullmatch(r"file_[0-9a-f]{24}", file_id)


def test_a_store_driver_error_is_counted_as_a_store_error() -> None:
    import sqlite3

    svc = service()
    assert svc.metrics is not None
    svc.note_error(sqlite3.OperationalError("disk I/O error"), "GET /x")
    text = svc.metrics.exposition().decode()
    assert 'sora_mock_store_errors_total{where="request"} 1' in text


def test_a_blank_sample_image_size_is_no_size() -> None:
    with pytest.raises(media.ImageError, match="has no size ''"):
        service().resolve_image_url("http://127.0.0.1:8000/__mock/sample-image?size=", OWN)


def test_an_error_is_placed_where_it_was_raised_deepest() -> None:
    def inner() -> None:
        raise KeyError("deep")

    try:
        inner()
    except KeyError as exc:
        error = exc
    line = inner.__code__.co_firstlineno + 1
    assert _error_kind(error) == f"KeyError at test_mock_service_parts.py:{line}"


def test_a_crashed_render_fails_its_job_where_it_stands(caplog: pytest.LogCaptureFixture) -> None:
    from mockserver.media import RenderCrashed

    svc = service()
    job = create(svc)
    svc.clock.advance(job.queue_seconds + job.render_seconds / 2)
    progress = svc.state(job).progress
    caplog.set_level(logging.ERROR, "mockserver")
    svc.render_crashed(job, RenderCrashed("signal 9"))
    failed = svc.store.get(job.id)
    assert failed is not None
    assert (failed.outcome, failed.error_code, failed.error_message) == ("failed", None, None)
    assert failed.fail_progress == progress
    assert 0.4 < progress < 0.6
    assert svc.state(failed).status.value == "failed"
    assert caplog.records[-1].getMessage() == (
        f"the render process died rendering the video of job {job.id} (signal 9): the job fails"
    )


def test_each_media_variant_serves_its_own_kind_of_file() -> None:
    import io

    from PIL import Image

    from mockserver.http.app import create_app

    app = create_app(test_config())
    svc = app.extensions["sora_mock"]
    job = create(svc, width=64, height=48, image=png(64, 48))
    svc.clock.advance(3600.0)
    http = app.test_client()
    thumbnail = http.get(f"/__mock/media/{job.id}/thumbnail.webp")
    assert Image.open(io.BytesIO(thumbnail.data)).format == "WEBP"
    sheet = http.get(f"/__mock/media/{job.id}/spritesheet.jpg")
    assert Image.open(io.BytesIO(sheet.data)).format == "JPEG"
    video = http.get(f"/__mock/media/{job.id}/video.mp4")
    assert video.data[4:8] == b"ftyp"


def served_video() -> tuple[Any, str, bytes]:
    from mockserver.http.app import create_app

    app = create_app(test_config())
    svc = app.extensions["sora_mock"]
    job = create(svc, width=64, height=48, image=png(64, 48))
    svc.clock.advance(3600.0)
    path = f"/__mock/media/{job.id}/video.mp4"
    whole = app.test_client().get(path)
    assert whole.status_code == 200
    return app.test_client(), path, whole.data


def test_a_media_answer_is_inline_cacheable_and_conditional() -> None:
    http, path, data = served_video()
    answer = http.get(path)
    job_id = path.split("/")[3]
    assert answer.headers["Content-Type"] == "video/mp4"
    assert answer.headers["Content-Disposition"] == f"inline; filename={job_id}-video.mp4"
    assert "max-age=3600" in answer.headers["Cache-Control"]
    assert answer.headers["ETag"] == f'"{job_id}-video-{len(data)}"'
    assert answer.headers["Accept-Ranges"] == "bytes"
    part = http.get(path, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.data == data[:10]


def test_a_suffix_range_longer_than_the_file_is_the_whole_file() -> None:
    http, path, data = served_video()
    answer = http.get(path, headers={"Range": f"bytes=-{len(data) + 100}"})
    assert answer.status_code in (200, 206)
    assert answer.data == data
    tail = http.get(path, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.data == data[-10:]


def test_a_weak_if_range_never_yields_a_part() -> None:
    http, path, data = served_video()
    etag = http.get(path).headers["ETag"]
    weak = http.get(path, headers={"Range": "bytes=0-9", "If-Range": f"W/{etag}"})
    assert weak.status_code == 200 and weak.data == data
    strong = http.get(path, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert strong.status_code == 206
