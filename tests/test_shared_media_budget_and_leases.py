"""Rendered media shared through one real Redis (``mockserver/media/media_store.py``), the details a
host behind a load balancer relies on: the byte budget and per-file cap as configured, the
render lease (how long it holds, whose it is, released however the render ends), Redis
trouble never failing a download, and ``--media-redis-bytes``-style sizes read as the CLI
takes them."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import redis
from redis_server import redis_server
from served import free_port

from mockserver.media import media_store
from mockserver.media.media_store import PREFIX, RedisMediaStore, parse_size


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    connection.flushdb()
    yield connection
    connection.close()


def host(redis_url: str, **options: object) -> RedisMediaStore:
    return RedisMediaStore(redis.Redis.from_url(redis_url), **options)  # type: ignore[arg-type]


def unreachable(**options: object) -> RedisMediaStore:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    nobody = redis.Redis(host="127.0.0.1", port=free_port(), retry=Retry(NoBackoff(), 0))
    return RedisMediaStore(nobody, **options)  # type: ignore[arg-type]


# ------------------------------------------------------------------ budget and cap


@pytest.mark.parametrize(("budget", "cap"), [(0, 10), (10, 0), (-1, 10), (10, -5)])
def test_a_budget_or_cap_that_is_not_positive_is_refused(budget: int, cap: int) -> None:
    with pytest.raises(ValueError) as refused:
        RedisMediaStore(object(), max_bytes=budget, max_file_bytes=cap)
    assert str(refused.value) == "the media budget and the per-file cap must be positive"


def test_a_budget_and_cap_of_one_byte_are_taken(client: redis.Redis, redis_url: str) -> None:
    media = host(redis_url, max_bytes=1, max_file_bytes=1)
    assert media.put("one", b"1") is True and media.put("two", b"22") is False
    assert media.stats() == {"files": 1, "bytes": 1}


def test_a_file_of_exactly_the_cap_is_stored_and_one_byte_more_is_not(
    client: redis.Redis, redis_url: str
) -> None:
    media = host(redis_url, max_bytes=1000, max_file_bytes=100)
    assert media.put("at-cap", b"x" * 100) is True
    assert media.put("over", b"x" * 101) is False
    assert media.get("at-cap") == b"x" * 100 and media.get("over") is None
    assert media.stats() == {"files": 1, "bytes": 100}


def test_the_per_file_cap_is_never_above_the_budget(client: redis.Redis, redis_url: str) -> None:
    media = host(redis_url, max_bytes=50, max_file_bytes=100)
    assert media.max_file_bytes == 50
    assert media.put("fits", b"x" * 50) is True
    assert media.put("over the budget", b"x" * 51) is False
    assert media.stats() == {"files": 1, "bytes": 50}


def test_the_default_budget_and_cap(client: redis.Redis, redis_url: str) -> None:
    media = host(redis_url)
    assert (media.max_bytes, media.max_file_bytes) == (256 << 20, 32 << 20)
    assert media.stats() == {"files": 0, "bytes": 0}


def test_reading_a_file_makes_it_the_last_to_go(client: redis.Redis, redis_url: str) -> None:
    media = host(redis_url, max_bytes=300)
    for name in ("a", "b", "c"):
        media.put(name, name.encode() * 100)
    assert media.get("a") == b"a" * 100
    assert media.get("missing") is None
    media.put("d", b"d" * 100)  # b goes: a was read after it
    assert [media.get(n) is not None for n in "abcd"] == [True, False, True, True]


# ------------------------------------------------------------------ the render lease


def test_a_render_holds_a_lease_of_its_own_for_lease_seconds_and_lets_it_go(
    client: redis.Redis, redis_url: str
) -> None:
    media = host(redis_url, lease_seconds=7.5)
    seen: list[tuple[bytes | None, int]] = []

    def render() -> bytes:
        seen.append((client.get(PREFIX + "lease:clip"), client.pttl(PREFIX + "lease:clip")))
        return b"clip"

    assert media.get_or_render("clip", render) == b"clip"
    [(token, ttl)] = seen
    assert token is not None and len(token) == 16
    assert 7000 < ttl <= 7500
    assert client.get(PREFIX + "lease:clip") is None, "released when the render ended"
    assert media.get_or_render("clip", render) == b"clip" and len(seen) == 1, "stored"


def test_two_renders_hold_leases_with_different_tokens(client: redis.Redis, redis_url: str) -> None:
    media = host(redis_url)
    tokens = []

    def render() -> bytes:
        tokens.append(client.get(PREFIX + "lease:" + str(len(tokens))))
        return b"x"

    media.get_or_render("0", render)
    media.get_or_render("1", render)
    assert None not in tokens and tokens[0] != tokens[1]


def test_a_lease_that_lapsed_and_went_to_another_host_stays_that_hosts(
    client: redis.Redis, redis_url: str
) -> None:
    media = host(redis_url)

    def slow_render() -> bytes:  # outlives its lease: another host takes the name meanwhile
        client.set(PREFIX + "lease:clip", "the other host's token")
        return b"clip"

    assert media.get_or_render("clip", slow_render) == b"clip"
    assert client.get(PREFIX + "lease:clip") == b"the other host's token"


def test_a_render_that_fails_lets_its_lease_go_and_stores_nothing(
    client: redis.Redis, redis_url: str
) -> None:
    media = host(redis_url)

    def broken() -> bytes:
        raise RuntimeError("the encoder crashed")

    with pytest.raises(RuntimeError, match="encoder"):
        media.get_or_render("clip", broken)
    assert client.get(PREFIX + "lease:clip") is None
    assert media.get("clip") is None


def test_a_waiting_host_polls_every_poll_seconds_and_waits_no_longer_than_the_lease(
    client: redis.Redis, redis_url: str
) -> None:
    naps: list[float] = []
    waiting = host(redis_url, sleep=naps.append, lease_seconds=1.0)  # polls: 50 ms by default
    client.set(PREFIX + "lease:clip", "a host that died")
    assert waiting.get_or_render("clip", lambda: b"here") == b"here"
    assert set(naps) == {0.05}
    assert 1.0 <= sum(naps) < 1.0 + 0.05 + 1e-9  # (the sum of 0.05s may fall just short)


def test_a_host_waits_exactly_the_lease_then_renders(client: redis.Redis, redis_url: str) -> None:
    naps: list[float] = []
    waiting = host(redis_url, sleep=naps.append, lease_seconds=1.0, poll_seconds=0.25)
    client.set(PREFIX + "lease:clip", "a host that died")
    assert waiting.get_or_render("clip", lambda: b"here") == b"here"
    assert naps == [0.25] * 4


def test_a_lease_lasts_a_minute_by_default(client: redis.Redis, redis_url: str) -> None:
    ttl: list[int] = []
    host(redis_url).get_or_render(
        "clip", lambda: ttl.append(client.pttl(PREFIX + "lease:clip")) or b"v"
    )
    assert 59_000 < ttl[0] <= 60_000


def test_a_host_takes_the_lease_as_soon_as_the_other_lets_it_go(
    client: redis.Redis, redis_url: str
) -> None:
    """The other host's render failed: it stored nothing but let its lease go."""
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        client.delete(PREFIX + "lease:clip")

    waiting = host(redis_url, sleep=sleep, poll_seconds=0.2)
    client.set(PREFIX + "lease:clip", "a host whose render failed")
    assert waiting.get_or_render("clip", lambda: b"here") == b"here"
    assert naps == [0.2]


def test_the_default_wait_is_a_real_sleep(client: redis.Redis, redis_url: str) -> None:
    assert host(redis_url).sleep is media_store.time.sleep


# ------------------------------------------------------------------ Redis trouble


def test_redis_trouble_means_not_known_to_be_there_and_rendered_here(
    caplog: pytest.LogCaptureFixture,
) -> None:
    media = unreachable()
    assert "clip" not in media
    caplog.set_level(logging.INFO, logger="mockserver")
    assert media.get_or_render("clip", lambda: b"local") == b"local"
    assert [r.getMessage() for r in caplog.records if r.name == "mockserver"] == [
        "media in Redis unavailable (ConnectionError): rendering here"
    ]
    assert caplog.records[-1].levelname == "WARNING"


def test_a_file_over_the_cap_is_said_once_and_served(
    client: redis.Redis, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mockserver")
    media = host(redis_url, max_bytes=1000, max_file_bytes=10)
    assert media.get_or_render("big", lambda: b"x" * 11) == b"x" * 11
    assert [r.getMessage() for r in caplog.records if r.name == "mockserver"] == [
        "media big (11 bytes) is over the Redis per-file cap"
    ]


def test_a_stored_name_is_known_to_every_host(client: redis.Redis, redis_url: str) -> None:
    one, two = host(redis_url), host(redis_url)
    assert "clip" not in two
    one.put("clip", b"v")
    assert "clip" in two and two.get("clip") == b"v"


# ------------------------------------------------------------------ sizes


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("65536", 65536),
        ("1k", 1024),
        ("1K", 1024),
        ("2KiB", 2048),
        ("3kb", 3072),
        ("512M", 512 << 20),
        ("1.5m", 3 << 19),
        ("2G", 2 << 30),
        ("2gib", 2 << 30),
        (" 4M ", 4 << 20),
        ("100b", 100),
        ("7.9", 7),
    ],
)
def test_sizes_read_in_binary_units(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "", "M", "-1", "-1k", "1t", "k1"])
def test_a_size_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)
