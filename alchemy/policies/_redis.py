"""The Redis :class:`~alchemy.policies.Store`: one rate limit and one breaker per key for a whole fleet.

Each decision is one ``EVALSHA`` of a script below (redis-py reloads a script that a
restarted server forgot). Keys, under ``{prefix}:``::

    rl:{key}:w   sorted set   the window: lease -> start time
    rl:{key}:t   hash         lease -> tokens, and ``_sum`` (the window's tokens)
    rl:{key}:c   sorted set   concurrency leases: lease -> expiry
    rl:{key}:p   string       paused until (Unix seconds)
    cb:{key}     hash         breaker: state, opened_at, retry_at, probe_until
    cb:{key}:f   sorted set   counted failures: id -> time
    cb           sorted set   the breakers' keys -> last touched (for snapshots)

Every key gets a TTL each time it is written (the window: 61 s; leases: the lease;
a pause: its length; a breaker: window + cooldown + probe time + a day, after which
an untouched breaker reads as closed).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import uuid
import weakref
from typing import TYPE_CHECKING, Any, cast

from ._store import (
    MIN_WAIT,
    WINDOW,
    BreakerState,
    BreakerStatus,
    Decision,
    Outcome,
    StoreUnavailableError,
    TakeRequest,
    UnavailablePolicy,
)

if TYPE_CHECKING:
    import redis
    import redis.asyncio

_logger = logging.getLogger("alchemy")

BREAKER_RETENTION = 86400.0
"""Seconds an untouched breaker (and its snapshot entry) outlives its own timings."""

_PRUNE = """
local function prune(w, t, now)
  local cutoff = now - tonumber(ARGV[9])
  while true do
    local old = redis.call('ZRANGEBYSCORE', w, '-inf', cutoff, 'LIMIT', 0, 500)
    if #old == 0 then return end
    local freed = 0
    for _, amount in ipairs(redis.call('HMGET', t, unpack(old))) do freed = freed + (tonumber(amount) or 0) end
    redis.call('ZREM', w, unpack(old))
    redis.call('HDEL', t, unpack(old))
    if freed ~= 0 then redis.call('HINCRBY', t, '_sum', 0 - freed) end
  end
end
"""

TAKE = (
    _PRUNE
    + """
-- KEYS: window, tokens, leases, pause
-- ARGV: now, rpm, tpm, concurrency, lease_seconds, tokens, lease, poll, window, shortest wait
local w, t, c, p = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, rpm, tpm, conc = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local lease_seconds, tokens, lease = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
local lease_now = now
local newest = redis.call('ZRANGE', w, -1, -1, 'WITHSCORES')
if newest[2] and tonumber(newest[2]) > now then now = tonumber(newest[2]) end
local paused = tonumber(redis.call('GET', p) or '0')
if paused > now then return {tostring(paused - now), string.format('%.17g', now)} end
prune(w, t, now)
local span = tonumber(ARGV[9])
local wait = 0
local count = redis.call('ZCARD', w)
if rpm > 0 and count >= rpm then
  local oldest = redis.call('ZRANGE', w, count - rpm, count - rpm, 'WITHSCORES')
  wait = math.max(wait, tonumber(oldest[2]) + span - now, tonumber(ARGV[10]))
end
if tpm > 0 then
  local excess = tonumber(redis.call('HGET', t, '_sum') or '0') + tokens - tpm
  local start = 0
  while excess > 0 do
    local batch = redis.call('ZRANGE', w, start, start + 499, 'WITHSCORES')
    if #batch == 0 then break end
    local leases = {}
    for i = 1, #batch, 2 do leases[#leases + 1] = batch[i] end
    local amounts = redis.call('HMGET', t, unpack(leases))
    for i, amount in ipairs(amounts) do
      excess = excess - (tonumber(amount) or 0)
      if excess <= 0 then
        wait = math.max(wait, tonumber(batch[2 * i]) + span - now, tonumber(ARGV[10]))
        break
      end
    end
    start = start + 500
  end
end
if wait == 0 and conc > 0 then
  redis.call('ZREMRANGEBYSCORE', c, '-inf', lease_now)
  if redis.call('ZCARD', c) >= conc then wait = tonumber(ARGV[8]) end
end
if wait > 0 then return {tostring(wait), string.format('%.17g', now)} end
local ttl = math.ceil((span + 1) * 1000)
if rpm > 0 or tpm > 0 then
  redis.call('ZADD', w, now, lease)
  redis.call('HSET', t, lease, tokens)
  redis.call('HINCRBY', t, '_sum', tokens)
  redis.call('PEXPIRE', w, ttl)
  redis.call('PEXPIRE', t, ttl)
end
if conc > 0 then
  redis.call('ZADD', c, lease_now + lease_seconds, lease)
  redis.call('PEXPIRE', c, math.ceil((lease_seconds + 1) * 1000))
end
return {'0', string.format('%.17g', now)}
"""
)

SETTLE = """
-- KEYS: window, tokens, leases; ARGV: lease, tokens ('' keeps the estimate)
local t = KEYS[2]
if ARGV[2] ~= '' then
  local old = redis.call('HGET', t, ARGV[1])
  if old then
    redis.call('HSET', t, ARGV[1], ARGV[2])
    redis.call('HINCRBY', t, '_sum', tonumber(ARGV[2]) - tonumber(old))
  end
end
redis.call('ZREM', KEYS[3], ARGV[1])
return 0
"""

PAUSE = """
-- KEYS: pause; ARGV: until, now
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local until_ = tonumber(ARGV[1])
if until_ > current and until_ > tonumber(ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', math.ceil((until_ - tonumber(ARGV[2])) * 1000) + 1000)
end
return 0
"""

BREAKER_CHECK = """
-- KEYS: breaker; ARGV: now, probe_seconds
local h = KEYS[1]
local now = tonumber(ARGV[1])
local state = redis.call('HGET', h, 'state') or 'closed'
if state == 'closed' then return {'allow', '0', 'closed'} end
if state == 'open' then
  local retry_at = tonumber(redis.call('HGET', h, 'retry_at') or '0')
  if now < retry_at then return {'reject', tostring(retry_at - now), 'open'} end
else
  local probe_until = tonumber(redis.call('HGET', h, 'probe_until') or '0')
  if probe_until > now then return {'reject', tostring(probe_until - now), 'half_open'} end
end
redis.call('HSET', h, 'state', 'half_open', 'probe_until', tostring(now + tonumber(ARGV[2])))
return {'probe', '0', state}
"""

BREAKER_RECORD = """
-- KEYS: breaker, failures, registry; ARGV: now, outcome, failures, window, cooldown, id, key, ttl
local h, f, r = KEYS[1], KEYS[2], KEYS[3]
local now, outcome = tonumber(ARGV[1]), ARGV[2]
local ttl = tonumber(ARGV[8])
local state = redis.call('HGET', h, 'state') or 'closed'
local after = state
local function open()
  redis.call('HSET', h, 'state', 'open', 'opened_at', ARGV[1],
    'retry_at', tostring(now + tonumber(ARGV[5])), 'probe_until', '0')
  redis.call('DEL', f)
  after = 'open'
end
if outcome == 'success' then
  if state == 'half_open' then
    redis.call('DEL', h, f)
    after = 'closed'
  end
elseif outcome == 'neutral' then
  if state == 'half_open' then redis.call('HSET', h, 'probe_until', '0') end
elseif state == 'half_open' then
  open()
elseif state == 'closed' then
  redis.call('ZADD', f, now, ARGV[6])
  redis.call('ZREMRANGEBYSCORE', f, '-inf', now - tonumber(ARGV[4]))
  if redis.call('ZCARD', f) >= tonumber(ARGV[3]) then
    open()
  else
    redis.call('HSET', h, 'state', 'closed')
    redis.call('PEXPIRE', f, math.ceil(tonumber(ARGV[4]) * 1000) + 1000)
  end
end
if redis.call('EXISTS', h) == 1 then redis.call('PEXPIRE', h, ttl) end
redis.call('ZADD', r, now, ARGV[7])
redis.call('ZREMRANGEBYSCORE', r, '-inf', now - ttl / 1000)
redis.call('PEXPIRE', r, ttl)
return {state, after}
"""


@functools.cache
def _sha(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()


def _redis_module() -> Any:
    try:
        import redis
        import redis.asyncio
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError("RedisStore needs redis-py: pip install 'alchemy-llm[redis]'") from exc
    return redis


class RedisStore:
    """Rate limits and breakers kept in Redis, shared by every process using the same server and ``prefix``.

    ``url_or_client`` is a ``redis://`` URL (sync and asyncio clients are made from it,
    one asyncio client per event loop), a ``redis.Redis`` (async use runs it in a
    thread) or a ``redis.asyncio.Redis`` (async use only). ``on_unavailable`` says what
    happens while Redis cannot be reached (see :mod:`alchemy.policies`).
    ``socket_timeout`` bounds each round trip made from a URL, in seconds; at most
    ``max_connections`` connections are opened from a URL per client (callers beyond
    wait for one: a blocking pool, never an error that would read as Redis being down).
    """

    def __init__(
        self,
        url_or_client: str | redis.Redis | redis.asyncio.Redis,
        *,
        prefix: str = "alchemy",
        on_unavailable: UnavailablePolicy = "fail_open",
        socket_timeout: float = 2.0,
        max_connections: int = 50,
    ) -> None:
        module = _redis_module()
        if on_unavailable not in ("fail_open", "fail_closed"):
            raise ValueError(f"on_unavailable must be 'fail_open' or 'fail_closed', got {on_unavailable!r}")
        if not isinstance(prefix, str) or not prefix:
            raise ValueError(f"prefix must be a non-empty str, got {prefix!r}")
        self.prefix = prefix
        self.on_unavailable: UnavailablePolicy = on_unavailable
        self._url: str | None = None
        self._sync: redis.Redis | None = None
        self._async: redis.asyncio.Redis | None = None
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis] = (
            weakref.WeakKeyDictionary()
        )
        self._pool_options: dict[str, Any] = {
            "max_connections": max_connections,
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": socket_timeout,
        }
        if isinstance(url_or_client, str):
            self._url = url_or_client
            pool = module.BlockingConnectionPool.from_url(url_or_client, **self._pool_options)
            self._sync = module.Redis(connection_pool=pool)
        elif isinstance(url_or_client, module.asyncio.Redis):
            self._async = url_or_client
        elif isinstance(url_or_client, module.Redis):
            self._sync = url_or_client
        else:
            raise TypeError(
                "RedisStore needs a redis:// URL, a redis.Redis or a redis.asyncio.Redis, "
                f"got {type(url_or_client).__name__}"
            )
        self._errors: tuple[type[BaseException], ...] = (module.ConnectionError, module.TimeoutError, OSError)
        self._no_script: type[BaseException] = module.exceptions.NoScriptError

    def __repr__(self) -> str:
        where = "url" if self._url else ("redis.asyncio.Redis" if self._async else "redis.Redis")
        return f"RedisStore({where}, prefix={self.prefix!r}, on_unavailable={self.on_unavailable!r})"

    def close(self) -> None:
        """Closes the clients this store made from its URL (not a client it was given)."""
        if self._url is not None and self._sync is not None:
            self._sync.close()
            self._sync.connection_pool.disconnect()

    # ------------------------------------------------------------------ plumbing

    def _limit_keys(self, key: str) -> list[str]:
        base = f"{self.prefix}:rl:{key}"
        return [f"{base}:w", f"{base}:t", f"{base}:c", f"{base}:p"]

    def _breaker_keys(self, key: str) -> list[str]:
        return [f"{self.prefix}:cb:{key}", f"{self.prefix}:cb:{key}:f", f"{self.prefix}:cb"]

    def _client(self) -> redis.Redis:
        if self._sync is None:
            raise TypeError("this RedisStore was given a redis.asyncio.Redis: use it from async code only")
        return self._sync

    def _aclient(self) -> redis.asyncio.Redis | None:
        """The asyncio client for the running loop, or ``None`` to run the sync client in a thread."""
        if self._async is not None:
            return self._async
        if self._url is None:
            return None
        loop = asyncio.get_running_loop()
        client = self._per_loop.get(loop)
        if client is None:
            module = _redis_module()
            pool = module.asyncio.BlockingConnectionPool.from_url(self._url, **self._pool_options)
            client = module.asyncio.Redis(connection_pool=pool)
            self._per_loop[loop] = client
        return client

    def _run(self, script: str, keys: list[str], args: list[str | int]) -> Any:
        """One ``EVALSHA`` (loading the script first when the server does not know it)."""
        client = self._client()
        sha = _sha(script)
        try:
            try:
                return client.evalsha(sha, len(keys), *keys, *args)
            except self._no_script:
                client.script_load(script)
                return client.evalsha(sha, len(keys), *keys, *args)
        except self._errors as exc:
            raise StoreUnavailableError(f"Redis unreachable ({type(exc).__name__}: {exc})") from exc

    async def _arun(self, script: str, keys: list[str], args: list[str | int]) -> Any:
        client = self._aclient()
        if client is None:
            return await asyncio.to_thread(self._run, script, keys, args)
        sha = _sha(script)
        try:
            try:
                return await client.evalsha(sha, len(keys), *keys, *args)
            except self._no_script:
                await client.script_load(script)
                return await client.evalsha(sha, len(keys), *keys, *args)
        except self._errors as exc:
            raise StoreUnavailableError(f"Redis unreachable ({type(exc).__name__}: {exc})") from exc

    # ------------------------------------------------------------------ rate limits

    def _take_args(self, request: TakeRequest) -> tuple[list[str], list[str | int]]:
        return self._limit_keys(request.key), [
            repr(request.now),
            request.requests_per_minute,
            request.tokens_per_minute,
            request.concurrency,
            repr(request.lease_seconds),
            request.tokens,
            request.lease,
            repr(request.poll),
            repr(WINDOW),
            repr(MIN_WAIT),
        ]

    def take(self, request: TakeRequest) -> tuple[float, float]:
        wait, at = self._run(TAKE, *self._take_args(request))
        return float(wait), float(at)

    async def atake(self, request: TakeRequest) -> tuple[float, float]:
        wait, at = await self._arun(TAKE, *self._take_args(request))
        return float(wait), float(at)

    def settle(self, key: str, lease: str, tokens: int | None) -> None:
        self._run(SETTLE, self._limit_keys(key)[:3], [lease, "" if tokens is None else tokens])

    async def asettle(self, key: str, lease: str, tokens: int | None) -> None:
        await self._arun(SETTLE, self._limit_keys(key)[:3], [lease, "" if tokens is None else tokens])

    def pause(self, key: str, now: float, seconds: float) -> None:
        self._run(PAUSE, self._limit_keys(key)[3:], [repr(now + seconds), repr(now)])

    async def apause(self, key: str, now: float, seconds: float) -> None:
        await self._arun(PAUSE, self._limit_keys(key)[3:], [repr(now + seconds), repr(now)])

    # ------------------------------------------------------------------ breakers

    def breaker_check(self, key: str, now: float, probe_seconds: float) -> tuple[Decision, float, BreakerStatus]:
        return _decision(self._run(BREAKER_CHECK, self._breaker_keys(key)[:1], [repr(now), repr(probe_seconds)]))

    async def abreaker_check(
        self, key: str, now: float, probe_seconds: float
    ) -> tuple[Decision, float, BreakerStatus]:
        reply = await self._arun(BREAKER_CHECK, self._breaker_keys(key)[:1], [repr(now), repr(probe_seconds)])
        return _decision(reply)

    def _record_args(
        self, key: str, now: float, outcome: Outcome, failures: int, window: float, cooldown: float
    ) -> tuple[list[str], list[str | int]]:
        ttl = round((window + cooldown + BREAKER_RETENTION) * 1000)
        return self._breaker_keys(key), [
            repr(now), outcome, failures, repr(window), repr(cooldown), uuid.uuid4().hex, key, ttl
        ]

    def breaker_record(
        self, key: str, now: float, outcome: Outcome, failures: int, window: float, cooldown: float
    ) -> tuple[BreakerStatus, BreakerStatus]:
        return _transition(self._run(BREAKER_RECORD, *self._record_args(key, now, outcome, failures, window, cooldown)))

    async def abreaker_record(
        self, key: str, now: float, outcome: Outcome, failures: int, window: float, cooldown: float
    ) -> tuple[BreakerStatus, BreakerStatus]:
        args = self._record_args(key, now, outcome, failures, window, cooldown)
        return _transition(await self._arun(BREAKER_RECORD, *args))

    def breaker_snapshot(self, now: float) -> dict[str, BreakerState]:
        client = self._client()
        try:
            keys = [_text(key) for key in cast("list[bytes]", client.zrange(f"{self.prefix}:cb", 0, -1))]
            with client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(self._breaker_keys(key)[0])
                    pipe.zcard(self._breaker_keys(key)[1])
                replies = pipe.execute()
        except self._errors as exc:
            raise StoreUnavailableError(f"Redis unreachable ({type(exc).__name__}: {exc})") from exc
        return _snapshot(keys, replies, now)

    async def abreaker_snapshot(self, now: float) -> dict[str, BreakerState]:
        client = self._aclient()
        if client is None:
            return await asyncio.to_thread(self.breaker_snapshot, now)
        try:
            keys = [_text(key) for key in cast("list[bytes]", await client.zrange(f"{self.prefix}:cb", 0, -1))]
            async with client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(self._breaker_keys(key)[0])
                    pipe.zcard(self._breaker_keys(key)[1])
                replies = await pipe.execute()
        except self._errors as exc:
            raise StoreUnavailableError(f"Redis unreachable ({type(exc).__name__}: {exc})") from exc
        return _snapshot(keys, replies, now)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decision(reply: list[bytes | str]) -> tuple[Decision, float, BreakerStatus]:
    decision, retry_in, before = (_text(part) for part in reply)
    return cast(Decision, decision), float(retry_in), cast(BreakerStatus, before)


def _transition(reply: list[bytes | str]) -> tuple[BreakerStatus, BreakerStatus]:
    before, after = (_text(part) for part in reply)
    return cast(BreakerStatus, before), cast(BreakerStatus, after)


def _snapshot(keys: list[str], replies: list[Any], now: float) -> dict[str, BreakerState]:
    states: dict[str, BreakerState] = {}
    for index, key in enumerate(keys):
        fields = {_text(name): _text(value) for name, value in replies[2 * index].items()}
        state = cast(BreakerStatus, fields.get("state", "closed"))
        opened_at = float(fields["opened_at"]) if state != "closed" and "opened_at" in fields else None
        retry_at = float(fields.get("retry_at", "0"))
        states[key] = BreakerState(
            key=key,
            state=state,
            failures=int(replies[2 * index + 1]),
            opened_at=opened_at,
            retry_in=max(0.0, retry_at - now) if state == "open" else 0.0,
        )
    return states
