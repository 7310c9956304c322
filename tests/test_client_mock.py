"""The client against the real mock app, in-process (WSGI for SoraClient, ASGI for
AsyncSoraClient), under the mock's virtual clock: whole lifecycles, every scenario, and a
hypothesis state machine mixing them."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from client_helpers import (  # noqa: F401  (fixtures)
    KEY,
    MAX_RETRIES,
    PROVIDER_IDS,
    Flavor,
    client_app_fixture,
    clock_pump,
    declared_model,
    flavor_fixture,
    fresh,
    good_create,
    image,
    mock_fixture,
    posts,
    read_mp4,
)
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from mockserver.state.faults import Scenario
from mockserver.testing import SoraMock
from sora_client import (
    AmbiguousCreateError,
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    ContentTypeError,
    GenerationFailedError,
    InsufficientBalanceError,
    Job,
    ModelUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    PollTimeoutError,
    RateLimitError,
    SoraError,
    VideoNotReadyError,
)
from sora_client._models import RANK

POLLING = [p for p in PROVIDER_IDS if p != "gptproto-chat"]
EXPECTED_SIZE = {
    "gptproto-v3": (720, 1280),
    "gptproto-videos": (1280, 720),
    "gptproto-chat": (720, 1280),
    "gptge": (720, 1280),
    "vtrix": (1280, 720),
} | {
    name: tuple(map(int, model.sizes[0].split("x")))
    for name in PROVIDER_IDS
    if (model := declared_model(name)) is not None
}


def _client(flavor: Flavor, mock: SoraMock, provider: str, **kwargs: Any) -> Any:
    kwargs.setdefault("sleep", mock.advance)
    return flavor.client(provider, app=mock.app, **kwargs)


# ---------------------------------------------------------------------- whole lifecycles


@pytest.mark.parametrize("provider", PROVIDER_IDS)
def test_generate_saves_a_playable_video_of_the_size_asked(
    flavor: Flavor,
    mock: SoraMock,
    provider: str,
    tmp_path: Path,
) -> None:
    seen: list[Job] = []
    with (
        _client(flavor, mock, provider) as c,
        clock_pump(mock) if provider == "gptproto-chat" else _nothing(),
    ):
        job = c.generate(
            "A cat in a hat, ☃ and 日本語",
            path=tmp_path / "out.mp4",
            on_progress=seen.append,
            **good_create(provider),
        )
    assert job.status == "completed" and job.progress == 1.0
    codec, width, height = read_mp4(tmp_path / "out.mp4")
    assert (codec, (width, height)) == ("h264", EXPECTED_SIZE[provider])
    ranks = [RANK[j.status] for j in seen]
    assert ranks == sorted(ranks), "a status went backwards"
    assert seen[-1].status == "completed"
    assert posts(mock) == 1


@pytest.mark.parametrize("provider", POLLING)
def test_a_job_moves_forward_and_stays_retrievable(
    flavor: Flavor,
    mock: SoraMock,
    provider: str,
) -> None:
    with _client(flavor, mock, provider) as c:
        job = c.create("p", **good_create(provider))
        statuses = [job.status]
        for _ in range(30):
            mock.advance(1.0)
            statuses.append(c.get(job.id).status)
        assert c.get(job).status == "completed"
    distinct = [s for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]]
    assert distinct == ["queued", "in_progress", "completed"]


def test_gptproto_content_before_completion_raises_content_type_error(
    flavor: Flavor,
    mock: SoraMock,
    tmp_path: Path,
) -> None:
    with _client(flavor, mock, "gptproto-videos") as c:
        job = c.create("p", **good_create("gptproto-videos"))
        with pytest.raises(ContentTypeError, match="queued"):
            c.download(job.id, tmp_path / "out.mp4")
        with pytest.raises(VideoNotReadyError):
            c.download(job, tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


def test_gptproto_content_of_a_failed_job_is_a_generation_failure(
    flavor: Flavor,
    mock: SoraMock,
    tmp_path: Path,
) -> None:
    headers = {"X-Mock-Scenario": "generation_failed"}
    with _client(flavor, mock, "gptproto-videos", default_headers=headers) as c:
        job = c.create("p", **good_create("gptproto-videos"))
    mock.advance(60)
    with _client(flavor, mock, "gptproto-videos") as c:
        with pytest.raises(GenerationFailedError):
            c.download(job.id, tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


def test_gptge_content_before_completion_is_not_found(
    flavor: Flavor,
    mock: SoraMock,
    tmp_path: Path,
) -> None:
    with _client(flavor, mock, "gptge") as c:
        job = c.create("p", **good_create("gptge"))
        with pytest.raises(NotFoundError) as info:
            c.download(job.id, tmp_path / "out.mp4")
    assert info.value.provider_code == "video_not_ready"
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- scenarios

CREATE_ERRORS: dict[str, type[SoraError]] = {
    "unauthorized": AuthenticationError,
    "forbidden": PermissionDeniedError,
    "insufficient_balance": InsufficientBalanceError,
    "content_policy": ContentPolicyError,
    "server_error": AmbiguousCreateError,
    "rate_limited": RateLimitError,
    "model_unavailable": ModelUnavailableError,
}


@pytest.mark.parametrize("provider", PROVIDER_IDS)
@pytest.mark.parametrize("scenario", sorted(CREATE_ERRORS))
def test_each_scenario_on_create_is_its_typed_error(
    flavor: Flavor,
    mock: SoraMock,
    provider: str,
    scenario: str,
) -> None:
    headers = {"X-Mock-Scenario": scenario}
    with _client(flavor, mock, provider, default_headers=headers) as c:
        with pytest.raises(CREATE_ERRORS[scenario]) as info:
            c.create("p", **good_create(provider))
    error = info.value
    if scenario == "forbidden":
        assert not isinstance(error, InsufficientBalanceError)
    expected_posts = MAX_RETRIES + 1 if scenario == "rate_limited" else 1
    assert posts(mock) == expected_posts
    assert KEY not in str(error) and KEY not in repr(error)


@pytest.mark.parametrize("provider", PROVIDER_IDS)
def test_a_rate_limited_create_is_retried_once_the_limit_passes(
    flavor: Flavor,
    mock: SoraMock,
    provider: str,
) -> None:
    mock.set_scenario("rate_limited", api_key=KEY, times=2)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        mock.advance(seconds)

    with _client(flavor, mock, provider, sleep=sleep) as c, _pump_for(provider, mock):
        job = c.create("p", **good_create(provider))
    assert job.id
    assert slept[:2] == [1.0, 1.0]  # the mock's Retry-After
    assert posts(mock) == 3


@pytest.mark.parametrize("provider", POLLING)
@pytest.mark.parametrize("scenario", ["rate_limited", "server_error"])
def test_transient_faults_on_reads_are_retried_away(
    flavor: Flavor,
    mock: SoraMock,
    provider: str,
    scenario: str,
    tmp_path: Path,
) -> None:
    with _client(flavor, mock, provider) as c:
        job = c.create("p", **good_create(provider))
        mock.set_scenario(scenario, api_key=KEY, times=MAX_RETRIES)
        job = c.wait(job)
        mock.set_scenario(scenario, api_key=KEY, times=MAX_RETRIES)
        path = c.download(job, tmp_path / "out.mp4")
    assert job.completed and path.stat().st_size > 0
    assert posts(mock) == 1


@pytest.mark.parametrize("provider", PROVIDER_IDS)
def test_a_generation_failure_carries_the_providers_code(
    flavor: Flavor,
    mock: SoraMock,
    provider: str,
) -> None:
    code = "003000097" if provider == "vtrix" else None
    scenario = f"generation_failed:{code}" if code else "generation_failed"
    with (
        _client(flavor, mock, provider, default_headers={"X-Mock-Scenario": scenario}) as c,
        _pump_for(provider, mock),
    ):
        job = c.create("p", **good_create(provider))
        with pytest.raises(GenerationFailedError) as info:
            c.wait(job)
    failed = info.value.job
    assert failed.status == "failed" and failed.error_message
    if code:
        assert failed.error_code == info.value.code == code


def test_the_slow_scenario_only_delays(flavor: Flavor, mock: SoraMock) -> None:
    delays: list[float] = []
    mock.service.sleep = delays.append
    with _client(flavor, mock, "gptge", default_headers={"X-Mock-Scenario": "slow"}) as c:
        job = c.create("p", **good_create("gptge"))
    assert job.status == "queued" and delays == [mock.service.config.slow_seconds]


def test_wait_times_out_on_the_virtual_clock(flavor: Flavor, mock: SoraMock) -> None:
    with _client(flavor, mock, "vtrix", sleep=lambda s: None, clock=lambda: 0.0) as c:
        job = c.create("p", **good_create("vtrix"))
    # a clock that never moves and a job that never moves: the deadline is what ends it
    ticks = iter(range(0, 10_000, 5))
    with _client(flavor, mock, "vtrix", sleep=lambda s: None, clock=lambda: next(ticks)) as c:
        with pytest.raises(PollTimeoutError) as info:
            c.wait(job, timeout=30)
    assert info.value.job.status == "queued"


# ---------------------------------------------------------------------- the state machine


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _pump_for(provider: str, mock: SoraMock) -> Any:
    return clock_pump(mock) if provider == "gptproto-chat" else _nothing()


SCENARIOS = [None, *(s.value for s in Scenario)]
#: what a create gets under each scenario (None: a Job)
CREATE_OUTCOME: dict[str | None, type[SoraError] | None] = {
    None: None,
    "slow": None,
    "generation_failed": None,
    **CREATE_ERRORS,
}


#: providers with list and delete; with remix (Vtrix remixes through create)
LISTS = frozenset({"gptproto-videos", "gptge"})
REMIXES = LISTS | {"vtrix"}


class ClientMachine(RuleBasedStateMachine):
    """Creates, polls, waits and downloads in any order, under any scenario.

    Invariants: every create returns a Job or raises a typed error (and is never sent twice
    unless refused with 429); a job once seen stays retrievable; statuses never go
    backwards; a completed job downloads a file of exactly the served length."""

    provider: str
    flavor: Flavor
    app: Flask

    jobs = Bundle("jobs")

    def __init__(self) -> None:
        super().__init__()
        self.mock = fresh(SoraMock(self.app))
        self.chat = self.provider == "gptproto-chat"
        self.pump = _pump_for(self.provider, self.mock)
        self.pump.__enter__()
        self._clients: list[Any] = []
        self.client = self._open()
        self.rank: dict[str, int] = {}
        self.latest: dict[str, Job] = {}
        #: jobs the machine deleted (never among self.rank: those stay retrievable)
        self.deleted: set[str] = set()
        self.tmp = Path(tempfile.mkdtemp(prefix="sora-machine-"))

    def _open(self, **kwargs: Any) -> Any:
        cm = _client(self.flavor, self.mock, self.provider, **kwargs)
        client = cm.__enter__()
        self._clients.append(cm)
        return client

    def _seen(self, job: Job) -> None:
        rank = RANK[job.status]
        assert rank >= self.rank.get(job.id, 0), f"{job.id} went back to {job.status}"
        self.rank[job.id] = rank
        self.latest[job.id] = job

    # ------------------------------------------------------------------ rules

    @rule(target=jobs, scenario=st.sampled_from(SCENARIOS), via=st.sampled_from(["header", "key"]))
    def create(self, scenario: str | None, via: str) -> Any:
        before = posts(self.mock)
        client = self.client
        if scenario is not None and via == "header":
            client = self._open(default_headers={"X-Mock-Scenario": scenario})
        elif scenario is not None:
            self.mock.set_scenario(scenario, api_key=KEY, times=1)
        try:
            job = client.create("a lighthouse at dusk", **good_create(self.provider))
        except SoraError as exc:
            outcome: Job | SoraError = exc
        else:
            outcome = job
        self.mock.clear_scenarios()
        sent = posts(self.mock) - before
        expected = CREATE_OUTCOME[scenario]
        if scenario == "rate_limited" and via == "key":
            expected = None  # refused once, then retried: one job
            assert sent == 2
        elif scenario == "rate_limited":
            assert sent == MAX_RETRIES + 1
        else:
            assert sent == 1, f"{sent} creates sent for one call"
        if expected is None:
            assert isinstance(outcome, Job), outcome
            self._seen(outcome)
            return outcome
        assert isinstance(outcome, expected), outcome
        return multiple()

    @precondition(lambda self: not self.chat)
    @rule(seconds=st.floats(0.1, 12.0))
    def advance(self, seconds: float) -> None:
        self.mock.advance(seconds)

    @precondition(lambda self: not self.chat)
    @rule(job=jobs, fault=st.sampled_from([None, "rate_limited", "server_error", "unauthorized"]))
    def poll(self, job: Job, fault: str | None) -> None:
        if fault is not None:
            times = 1 if fault == "unauthorized" else MAX_RETRIES
            self.mock.set_scenario(fault, api_key=KEY, times=times)
        try:
            current = self.client.get(job.id)
        except AuthenticationError:
            assert fault == "unauthorized"
        else:
            assert fault != "unauthorized"
            self._seen(current)
        self.mock.clear_scenarios()

    @rule(job=jobs)
    def wait(self, job: Job) -> None:
        latest = self.latest.get(job.id, job)
        if self.chat and latest.done:
            return
        try:
            done = self.client.wait(latest if self.chat else job.id, timeout=30)
        except GenerationFailedError as exc:
            done = exc.job
        except PollTimeoutError as exc:
            done = exc.job
        self._seen(done)

    # ------------------------------------------------------------------ list, delete, remix

    def _list_ids(self) -> set[str]:
        listing = self.client.list(limit=1)  # pages of one: two jobs already need a cursor
        if self.flavor.is_async:

            async def gather() -> list[Job]:
                return [j async for j in listing]

            return {j.id for j in self.client.runner.run(gather())}
        return {j.id for j in listing}

    @precondition(lambda self: self.provider in LISTS)
    @rule()
    def list_everything(self) -> None:
        """Every job seen is listed (across pages), and no deleted one."""
        listed = self._list_ids()
        assert set(self.rank) <= listed, set(self.rank) - listed
        assert not listed & self.deleted, listed & self.deleted

    @precondition(lambda self: self.provider in LISTS)
    @rule()
    def create_then_delete(self) -> None:
        job = self.client.create("a doomed lighthouse", **good_create(self.provider))
        assert self.client.delete(job) is True
        self.deleted.add(job.id)
        with pytest.raises(NotFoundError):
            self.client.get(job.id)
        with pytest.raises(NotFoundError):
            self.client.delete(job.id)

    @precondition(lambda self: self.provider in REMIXES)
    @rule(target=jobs, job=jobs)
    def remix(self, job: Job) -> Any:
        latest = self.latest.get(job.id, job)
        before = posts(self.mock)
        try:
            remixed = self.client.remix(job.id, "the same, at night")
        except BadRequestError as exc:
            assert exc.status_code == 409 and not latest.completed
            return multiple()
        finally:
            assert posts(self.mock) - before == 1, "a remix was sent twice"
        self._seen(remixed)
        return remixed

    @rule(job=jobs)
    def download(self, job: Job) -> None:
        latest = self.latest.get(job.id, job)
        if not latest.done:
            self.wait(job)
            latest = self.latest.get(job.id, job)
        if not latest.completed:
            return
        path = self.client.download(latest, self.tmp / f"{len(self.rank)}.mp4")
        record = self.mock.service.store.get(job.id)
        assert record is not None
        assert path.stat().st_size == len(self.mock.service.asset(record))

    # ------------------------------------------------------------------ the end

    def teardown(self) -> None:
        try:
            self.mock.clear_scenarios()
            if not self.chat:
                for job_id in self.rank:
                    self._seen(self.client.get(job_id))  # still there, never gone back
            for cm in reversed(self._clients):
                cm.__exit__(None, None, None)
        finally:
            self.pump.__exit__(None, None, None)
            for path in self.tmp.iterdir():
                path.unlink()
            self.tmp.rmdir()
        self.mock.check()


@pytest.mark.parametrize("provider", PROVIDER_IDS)
def test_state_machine_against_the_mock(
    flavor: Flavor,
    client_app: Flask,
    provider: str,
) -> None:
    machine = type(
        f"ClientMachine_{provider}_{flavor.name}",
        (ClientMachine,),
        {"provider": provider, "flavor": flavor, "app": client_app},
    )
    budget = settings.default.max_examples
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=max(4, min(budget // 3, 15)),
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def test_images_are_checked_before_the_mock_sees_them(
    flavor: Flavor,
    mock: SoraMock,
) -> None:
    from sora_client import InvalidRequestError

    with _client(flavor, mock, "gptge") as c:
        with pytest.raises(InvalidRequestError):
            c.create("p", image=image(1024, 1024), size="720x1280")
    assert mock.journal == []
