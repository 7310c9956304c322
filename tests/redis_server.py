"""A real ``redis-server`` on a free loopback port (Debian's package, which ``make test``
installs when it is missing), for the tests of ``--store redis://``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from mockserver import testing
from mockserver.state.store_redis import RedisStore


@contextmanager
def redis_server() -> Iterator[str]:
    """Yield ``redis://127.0.0.1:PORT/0``; the server and its directory go away on exit."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: `make test` installs it (Debian package)")
    with testing.redis_server() as url:
        yield url


@contextmanager
def two_stores(url: str) -> Iterator[tuple[RedisStore, RedisStore]]:
    """Two ``RedisStore`` on the Redis at ``url``, as two servers sharing it ("mine" and
    "other"); the Redis emptied before and after."""
    mine, other = RedisStore(url), RedisStore(url)
    mine.reset()
    try:
        yield mine, other
    finally:
        mine.reset()
        mine.close()
        other.close()
