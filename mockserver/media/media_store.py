"""Rendered media shared by every host of one Redis (``--store redis://`` without ``--media-dir``).

``MediaCache`` keeps a memory LRU per process and, with ``--media-dir``, a directory (shared
between hosts if it is on a shared file system: writes are a temp file and a rename). Without
a directory, a Redis store adds this tier: videos, thumbnails and spritesheets stored by the
name of what they are made of (image hash, size, duration, variant), so a host serving the
download of a job another host accepted finds the video that host rendered in the background.

Bounded: a file over ``max_file_bytes`` is not stored, and the files together keep within
``max_bytes``, the least recently used going first (one Lua script adds a file and evicts, so
every host sees one budget). Eviction never breaks a download: a render is a pure function of
its name, so a missing file is rendered again. While one host renders a name it holds a short
lease, and another host asking for the same name waits for that render (polling Redis) rather
than rendering it a second time; a lease outlives a host that died mid-render by at most
``lease_seconds``. A Redis error is logged and the media are rendered locally: the tier is an
optimisation, never a reason for a download to fail.

Keys live under their own prefix (``soramock-media:``), outside the store's (``soramock:``), so
``POST /__mock/reset`` leaves them: they describe content, not state.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("mockserver")

PREFIX = "soramock-media:"
#: every host together keeps at most this many bytes of media in Redis (least recently used go)
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
#: a larger file (a long 1792x1024 video) is rendered where it is asked for, not stored
DEFAULT_MAX_FILE_BYTES = 32 * 1024 * 1024

# KEYS: blob, lru, total, seq; ARGV: name, data, budget. Returns 1 if stored (or already there).
_PUT = """
local seq = redis.call('INCR', KEYS[4])
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('ZADD', KEYS[2], seq, ARGV[1])
  return 1
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], seq, ARGV[1])
local total = redis.call('INCRBY', KEYS[3], string.len(ARGV[2]))
local budget = tonumber(ARGV[3])
local prefix = string.sub(KEYS[1], 1, string.len(KEYS[1]) - string.len(ARGV[1]))
while total > budget do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)
  if #oldest == 0 then break end
  local key = prefix .. oldest[1]
  total = redis.call('DECRBY', KEYS[3], redis.call('STRLEN', key))
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[2], oldest[1])
end
return 1
"""

# KEYS: blob, lru, seq; ARGV: name. The bytes, the entry made most recently used.
_GET = """
local data = redis.call('GET', KEYS[1])
if data then redis.call('ZADD', KEYS[2], 'XX', redis.call('INCR', KEYS[3]), ARGV[1]) end
return data
"""

# KEYS: lease; ARGV: token
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisMediaStore:
    """Media by name in Redis, within a byte budget, rendered once across hosts."""

    def __init__(
        self,
        client: Any,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        lease_seconds: float = 60.0,
        poll_seconds: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_bytes <= 0 or max_file_bytes <= 0:
            raise ValueError("the media budget and the per-file cap must be positive")
        self.redis = client
        self.max_bytes = max_bytes
        self.max_file_bytes = min(max_file_bytes, max_bytes)
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        #: how a host waiting for another's render waits; tests swap it
        self.sleep = sleep
        self._put = client.register_script(_PUT)
        self._get = client.register_script(_GET)
        self._release = client.register_script(_RELEASE)

    @staticmethod
    def _key(*parts: str) -> str:
        return PREFIX + ":".join(parts)

    def get(self, name: str) -> bytes | None:
        keys = [self._key("blob", name), self._key("lru"), self._key("seq")]
        data = self._get(keys=keys, args=[name])
        return bytes(data) if data is not None else None

    def put(self, name: str, data: bytes) -> bool:
        """Store ``data`` under ``name``; False (and nothing stored) above the per-file cap."""
        if len(data) > self.max_file_bytes:
            return False
        keys = [self._key("blob", name), self._key("lru"), self._key("total"), self._key("seq")]
        self._put(keys=keys, args=[name, data, self.max_bytes])
        return True

    def __contains__(self, name: str) -> bool:
        import redis

        try:
            return bool(self.redis.exists(self._key("blob", name)))
        except redis.RedisError:
            return False  # not known to be there: whoever needs it renders it

    def stats(self) -> dict[str, int]:
        """Files and bytes held (every host's together)."""
        total = self.redis.get(self._key("total"))
        return {"files": int(self.redis.zcard(self._key("lru"))), "bytes": int(total or 0)}

    def get_or_render(self, name: str, render: Callable[[], bytes]) -> bytes:
        """The stored bytes, else the bytes another host is rendering (waited for), else
        ``render()`` here (stored for every host). Redis trouble: rendered here."""
        import redis

        try:
            return self._get_or_render(name, render)
        except redis.RedisError as exc:
            log.warning("media in Redis unavailable (%s): rendering here", type(exc).__name__)
            return render()

    def _get_or_render(self, name: str, render: Callable[[], bytes]) -> bytes:
        data = self.get(name)
        if data is not None:
            return data
        lease = self._key("lease", name)
        token = secrets.token_hex(8)
        waited = 0.0
        while not self.redis.set(lease, token, nx=True, px=int(self.lease_seconds * 1000)):
            # another host renders it: its bytes arrive here, or its lease lapses
            if waited >= self.lease_seconds:
                break  # a host that holds a lease this long is not coming back: render
            self.sleep(self.poll_seconds)
            waited += self.poll_seconds
            data = self.get(name)
            if data is not None:
                return data
        try:
            data = render()
            if not self.put(name, data):
                log.info("media %s (%d bytes) is over the Redis per-file cap", name, len(data))
            return data
        finally:
            self._release(keys=[lease], args=[token])


def parse_size(text: str) -> int:
    """``512M``, ``2G``, ``65536``, ``0``: a byte count (binary units)."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = text.strip().lower().removesuffix("b").removesuffix("i")
    number, scale = (text[:-1], units[text[-1]]) if text[-1:] in units else (text, 1)
    value = int(float(number) * scale)
    if value < 0:
        raise ValueError("a size cannot be negative")
    return value
