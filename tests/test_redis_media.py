"""Rendered media shared through one real Redis (``mockserver/media/media_store.py``): a video one
host rendered is served by another without rendering, within a byte budget whose eviction never
breaks a download. The same through two served servers: tests/test_redis_servers.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from redis_server import redis_server
from served import free_port

from mockserver.media import MediaCache
from mockserver.media.media_store import PREFIX, RedisMediaStore, parse_size


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    for key in connection.scan_iter(match=PREFIX + "*"):
        connection.delete(key)
    yield connection
    connection.close()


def host(redis_url: str, **options: object) -> RedisMediaStore:
    """One host's view of the shared media: its own connection to the one Redis."""
    return RedisMediaStore(redis.Redis.from_url(redis_url), **options)  # type: ignore[arg-type]


class Renders:
    """A render function that counts its calls."""

    def __init__(self, data: bytes) -> None:
        self.data, self.calls = data, 0

    def __call__(self) -> bytes:
        self.calls += 1
        return self.data


def test_a_video_one_host_rendered_is_served_by_another_without_rendering(
    client: redis.Redis, redis_url: str
) -> None:
    key = ("image:abc", "720x1280", "4s@12", "video")
    first, second = Renders(b"video bytes"), Renders(b"never rendered")
    one = MediaCache(shared=host(redis_url))
    two = MediaCache(shared=host(redis_url))
    assert key not in two
    assert one.get(key, first) == b"video bytes"
    assert key in two  # a render queue on the second host skips it
    assert two.get(key, second) == b"video bytes"
    assert (first.calls, second.calls) == (1, 0)


def test_the_budget_evicts_the_least_recently_used_and_a_missing_file_is_rendered_again(
    client: redis.Redis, redis_url: str
) -> None:
    media = host(redis_url, max_bytes=1000, max_file_bytes=600)
    media.put("a", b"a" * 400)
    media.put("b", b"b" * 400)
    assert media.get("a") == b"a" * 400  # read: now more recently used than b
    media.put("c", b"c" * 400)  # over 1000: b, the least recently used, goes
    assert media.stats() == {"files": 2, "bytes": 800}
    assert (media.get("a"), media.get("b")) == (b"a" * 400, None)
    # a host asking for the evicted file renders it again, and stores it again
    again = Renders(b"b" * 400)
    assert media.get_or_render("b", again) == b"b" * 400 and again.calls == 1
    assert media.get("b") == b"b" * 400 and media.stats()["bytes"] <= 1000
    # a file over the per-file cap is served, never stored
    big = Renders(b"x" * 700)
    assert media.get_or_render("big", big) == b"x" * 700
    assert media.get("big") is None and media.stats()["bytes"] <= 1000


def test_a_host_waits_for_the_render_another_host_holds_the_lease_of(
    client: redis.Redis, redis_url: str
) -> None:
    other = host(redis_url)
    polls: list[float] = []

    def sleep(seconds: float) -> None:  # the other host finishes during the second wait
        polls.append(seconds)
        if len(polls) == 2:
            other.put("clip", b"rendered by the other host")

    waiting = host(redis_url, sleep=sleep)
    client.set(PREFIX + "lease:clip", "the other host's token")
    mine = Renders(b"rendered twice")
    assert waiting.get_or_render("clip", mine) == b"rendered by the other host"
    assert mine.calls == 0 and len(polls) == 2


def test_a_lease_whose_host_died_lapses_and_the_video_is_rendered_here(
    client: redis.Redis, redis_url: str
) -> None:
    naps: list[float] = []
    waiting = host(redis_url, lease_seconds=1.0, poll_seconds=0.25, sleep=naps.append)
    client.set(PREFIX + "lease:clip", "a host that died")  # never released, never expires here
    mine = Renders(b"rendered here")
    assert waiting.get_or_render("clip", mine) == b"rendered here"
    assert mine.calls == 1 and sum(naps) == 1.0
    assert waiting.get("clip") == b"rendered here"


def test_redis_trouble_renders_locally_instead_of_failing_the_download() -> None:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    nobody = redis.Redis(host="127.0.0.1", port=free_port(), retry=Retry(NoBackoff(), 0))
    unreachable = RedisMediaStore(nobody)
    cache = MediaCache(shared=unreachable)
    render = Renders(b"local")
    assert cache.get(("k",), render) == b"local" and render.calls == 1


def test_sizes_read_as_the_cli_takes_them() -> None:
    assert parse_size("512M") == 512 << 20
    assert parse_size("2GiB") == 2 << 30
    assert parse_size("0") == 0 and parse_size("65536") == 65536
    with pytest.raises(ValueError):
        parse_size("lots")
