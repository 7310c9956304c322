"""The lifecycle's rules, on the pure function every read goes through (`state_at`) and the
plan every create draws (`plan_durations`): no Flask, no clock, so each rule is exact."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jobs import make_job

from mockserver.settings.config import Timings
from mockserver.state.lifecycle import (
    Job,
    Status,
    key_fingerprint,
    new_id,
    plan_durations,
    state_at,
)

finite = st.floats(min_value=0.0, max_value=1e4, allow_nan=False)


@st.composite
def jobs(draw: st.DrawFn) -> Job:
    failing = draw(st.booleans())
    return Job(
        id=draw(st.from_regex(r"video_[0-9a-f]{8}", fullmatch=True)),
        api="gptge-videos",
        model="sora-2",
        prompt="p",
        width=720,
        height=1280,
        seconds=4,
        owner="key_x",
        created_at=draw(finite),
        queue_seconds=draw(st.floats(min_value=0.0, max_value=100.0)),
        render_seconds=draw(st.floats(min_value=0.001, max_value=100.0)),
        outcome="failed" if failing else "completed",
        fail_progress=draw(st.floats(min_value=0.05, max_value=0.95)) if failing else 0.5,
        error_code="boom" if failing else None,
        error_message="it broke" if failing else None,
    )


def _job(**changes: object) -> Job:
    return make_job(**changes)


@given(job=jobs(), times=st.lists(st.floats(min_value=-10.0, max_value=300.0), min_size=2))
def test_status_and_progress_never_go_back(job: Job, times: list[float]) -> None:
    order = [Status.QUEUED, Status.IN_PROGRESS, job.outcome]
    states = [state_at(job, job.created_at + t) for t in sorted(times)]
    ranks = [order.index(s.status) for s in states]
    assert ranks == sorted(ranks)
    progress = [s.progress for s in states]
    assert progress == sorted(progress)
    assert all(0.0 <= p <= 1.0 for p in progress)


@given(job=jobs(), t=st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_each_phase_at_its_exact_times(job: Job, t: float) -> None:
    started = job.created_at + job.queue_seconds
    span = job.render_seconds * (job.fail_progress if job.outcome == "failed" else 1.0)
    # queued, until the queue time is over
    queued = state_at(job, job.created_at + job.queue_seconds * t)
    if job.created_at + job.queue_seconds * t < started:
        assert queued == state_at(job, job.created_at)
        assert (queued.status, queued.progress, queued.started_at) == (Status.QUEUED, 0.0, None)
        assert queued.finished_at is None and queued.error_code is None
    # in progress: progress is the share of the render time elapsed, below 1
    now = started + span * t
    running = state_at(job, now)
    if now < started + span:
        assert running.status is Status.IN_PROGRESS
        assert running.started_at == started and running.finished_at is None
        expected = min((now - started) / job.render_seconds, 0.999)
        assert running.progress == pytest.approx(expected, abs=1e-9)
        assert running.progress < 1.0 and running.error_code is None
    # the end, exactly at started + span and forever after
    for later in (started + span, started + span + 1e6):
        end = state_at(job, later)
        assert end.status == job.outcome and end.started_at == started
        assert end.finished_at == started + span
        if job.outcome == "failed":
            assert end.progress == job.fail_progress
            assert (end.error_code, end.error_message) == ("boom", "it broke")
        else:
            assert (end.progress, end.error_code, end.error_message) == (1.0, None, None)


def test_phase_boundaries_are_exact() -> None:
    job = _job()
    assert state_at(job, 101.999).status is Status.QUEUED
    assert state_at(job, 102.0).status is Status.IN_PROGRESS
    assert state_at(job, 102.0).progress == 0.0
    assert state_at(job, 107.0).progress == 0.5
    assert state_at(job, 111.99999).progress == 0.999
    assert state_at(job, 112.0).status is Status.COMPLETED
    failing = _job(outcome="failed", fail_progress=0.3, error_code="c", error_message="m")
    assert state_at(failing, 104.999).status is Status.IN_PROGRESS
    done = state_at(failing, 105.0)
    assert (done.status, done.progress, done.finished_at) == (Status.FAILED, 0.3, 105.0)


def test_a_job_with_no_render_time_reports_no_progress_until_it_ends() -> None:
    job = _job(render_seconds=0.0, outcome="failed", fail_progress=0.5)
    assert state_at(job, 102.0).status is Status.FAILED
    zero = _job(render_seconds=0.0)
    assert state_at(zero, 102.0).status is Status.COMPLETED


def test_terminal_statuses() -> None:
    assert [s for s in Status if s.terminal] == [Status.COMPLETED, Status.FAILED]


def test_a_job_round_trips_through_its_dict() -> None:
    job = _job(notes=["n"], params={"a": 1}, image_key="img:1", remixed_from="video_0")
    assert Job.from_dict(job.to_dict()) == job
    assert job.to_dict()["queue_seconds"] == 2.0


@given(
    job_id=st.text(min_size=1, max_size=20),
    seconds=st.integers(min_value=1, max_value=25),
    speed=st.floats(min_value=0.1, max_value=100.0),
)
def test_the_plan_is_reproducible_jittered_and_scaled_by_speed(
    job_id: str, seconds: int, speed: float
) -> None:
    timings = Timings()
    queue, render = plan_durations(job_id, seconds, timings, speed)
    assert (queue, render) == plan_durations(job_id, seconds, timings, speed)
    base_render = timings.render_base_seconds + timings.render_seconds_per_video_second * seconds
    j = timings.jitter
    assert timings.queue_seconds * (1 - j) / speed <= queue * (1 + 1e-9)
    assert queue <= timings.queue_seconds * (1 + j) / speed * (1 + 1e-9)
    assert base_render * (1 - j / 2) / speed <= render * (1 + 1e-9)
    assert render <= base_render * (1 + j / 2) / speed * (1 + 1e-9)
    # a long queue goes with a short render: the spread is one draw, used both ways
    spread = queue * speed / timings.queue_seconds - 1
    assert render * speed == pytest.approx(base_render * (1 - spread / 2), rel=1e-9)
    assert plan_durations(job_id, seconds, timings, 2 * speed) == pytest.approx(
        (queue / 2, render / 2), rel=1e-9
    )


def test_the_spread_reaches_both_ends_of_the_jitter() -> None:
    timings = Timings()
    # the spread reaches exactly -jitter and +jitter (some ids draw each end)
    many = [plan_durations(f"video_{i}", 4, timings, 1.0)[0] for i in range(3000)]
    assert min(many) == pytest.approx(timings.queue_seconds * 0.8, rel=1e-12)
    assert max(many) == pytest.approx(timings.queue_seconds * 1.2, rel=1e-12)
    still = Timings(jitter=0.0)
    assert plan_durations("video_1", 4, still, 1.0) == (2.0, 5.0)


def test_the_plan_never_goes_negative_or_to_zero() -> None:
    odd = Timings(queue_seconds=-5.0, render_base_seconds=-10.0, render_seconds_per_video_second=0)
    queue, render = plan_durations("video_1", 4, odd, 1.0)
    assert queue == 0.0 and render == 0.001


def test_ids_and_key_fingerprints() -> None:
    assert re.fullmatch(r"video_[0-9a-f]{32}", new_id("video_"))
    assert re.fullmatch(r"task_[0-9a-f]{8}", new_id("task_", 4))
    assert new_id("video_") != new_id("video_")
    fingerprint = key_fingerprint("sk-secret-1")
    assert re.fullmatch(r"key_[0-9a-f]{12}", fingerprint)
    assert fingerprint == key_fingerprint("sk-secret-1") != key_fingerprint("sk-secret-2")
    assert "secret" not in fingerprint
