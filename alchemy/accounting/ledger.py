"""The usage ledger: one row of metadata per finished message, and queries over the rows.

A row (:class:`LedgerRow`) says when, where and how a call ended — provider, model,
wire API, token counts (with ``estimated``), cost, stop reason, error kind, duration,
time to first token, retries, fallback attempts, tags, request and response ids — and
never any content: no prompt, no answer, no error text.

Sinks (:class:`Ledger`):

- :class:`SqliteLedger`, the embedded default: stdlib ``sqlite3`` in WAL mode, so
  several processes on one machine may write one file at once (each insert is one
  short transaction; writers wait up to ``busy_timeout`` for each other). The schema
  is versioned with ``PRAGMA user_version`` and upgraded in place by
  :data:`MIGRATIONS` when an older file is opened; a file written by a newer alchemy
  is refused rather than guessed at.
- :class:`CallbackLedger`: hands each row to a function (a queue, a log shipper,
  another database).

A Client records into a ledger when given one (``Client(ledger=...)``) or when
``ALCHEMY_LEDGER`` names a file; it is off otherwise. :func:`ledger_observer` is the
Client's :class:`~alchemy.accounting.CallObserver` for it (one row per call, written
in ``call_finished``; nothing at the attempts, nothing per event), and
:func:`open_ledger` turns what was given into a sink: a path, ``True`` for :func:`default_ledger_path`
(``$XDG_DATA_HOME/alchemy/usage.sqlite3``, else ``~/.local/share/alchemy/usage.sqlite3``),
a function, or a :class:`Ledger`.

Queries (:meth:`SqliteLedger.totals`, :meth:`SqliteLedger.breakdown`) sum tokens,
cost and calls, count errors by kind and give the p50 / p95 time to first token, over
a time range, for the whole ledger or per model, provider, UTC day or tag value.
:meth:`SqliteLedger.export_csv` and :meth:`SqliteLedger.export_jsonl` write the rows.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from ..types import AssistantMessage
from . import AttemptInfo, CallInfo

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "BREAKDOWNS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "CallbackLedger",
    "Ledger",
    "LedgerObserver",
    "LedgerRow",
    "SqliteLedger",
    "UsageSummary",
    "default_ledger_path",
    "ledger_observer",
    "open_ledger",
    "parse_since",
]


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One finished message, metadata only. Times are seconds, ``time`` milliseconds since the epoch (UTC)."""

    time: int
    provider: str
    model: str
    api: str
    stop_reason: str
    error_kind: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0
    estimated: bool = False
    cost: float | None = None
    """USD; ``None`` when a price was unknown (never a silent 0)."""
    duration: float | None = None
    time_to_first_token: float | None = None
    retries: int = 0
    fallback_attempts: int = 0
    """Earlier models of a fallback chain that failed before this one answered."""
    fallback_from: tuple[str, ...] = ()
    """Those models, as ``provider/model``, first tried first."""
    tags: Mapping[str, str] = field(default_factory=dict)
    request_id: str | None = None
    response_id: str | None = None
    service_tier: str | None = None

    @classmethod
    def from_message(
        cls, message: AssistantMessage, *, tags: Mapping[str, str] | None = None, time_ms: int | None = None
    ) -> LedgerRow:
        """The row of a finished message; ``tags`` and ``time_ms`` default to the message's own."""
        usage = message.usage
        metrics = message.metrics
        return cls(
            time=message.timestamp if time_ms is None else time_ms,
            provider=message.provider,
            model=message.model,
            api=message.api,
            stop_reason=message.stop_reason,
            error_kind=message.error.kind if message.error is not None else None,
            input_tokens=usage.input,
            output_tokens=usage.output,
            cache_read_tokens=usage.cache_read,
            cache_write_tokens=usage.cache_write,
            reasoning_tokens=usage.reasoning,
            total_tokens=usage.total_tokens,
            estimated=usage.estimated,
            cost=usage.cost.total,
            duration=metrics.duration if metrics is not None else None,
            time_to_first_token=metrics.time_to_first_content if metrics is not None else None,
            retries=metrics.retries if metrics is not None else 0,
            fallback_attempts=len(message.attempts),
            fallback_from=tuple(f"{attempt.provider}/{attempt.model}" for attempt in message.attempts),
            tags=dict(message.tags if tags is None else tags),
            request_id=metrics.request_id if metrics is not None else None,
            response_id=message.response_id,
            service_tier=usage.service_tier,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (tags as an object, fallback models as a list)."""
        out = asdict(self)
        out["fallback_from"] = list(self.fallback_from)
        out["tags"] = dict(self.tags)
        return out


ROW_FIELDS: Final = tuple(f.name for f in fields(LedgerRow))


# --------------------------------------------------------------------------- sinks


@runtime_checkable
class Ledger(Protocol):
    """Where finished messages are recorded. ``record`` runs once per message, at its end."""

    def record(self, row: LedgerRow) -> None: ...


class CallbackLedger:
    """A ledger that hands every row to ``sink`` (sync; keep it quick, it runs as the call ends)."""

    __slots__ = ("sink",)

    def __init__(self, sink: Callable[[LedgerRow], object]) -> None:
        if not callable(sink):
            raise TypeError(f"CallbackLedger: sink must be a function taking a LedgerRow, got {type(sink).__name__}")
        self.sink = sink

    def record(self, row: LedgerRow) -> None:
        self.sink(row)

    def __repr__(self) -> str:
        return f"CallbackLedger({getattr(self.sink, '__qualname__', type(self.sink).__name__)})"


# --------------------------------------------------------------------------- SQLite schema

SCHEMA_VERSION: Final = 2

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    # 1: the first schema.
    (
        """CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            time INTEGER NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            api TEXT NOT NULL,
            stop_reason TEXT NOT NULL,
            error_kind TEXT,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cache_read_tokens INTEGER NOT NULL,
            cache_write_tokens INTEGER NOT NULL,
            total_tokens INTEGER NOT NULL,
            estimated INTEGER NOT NULL,
            cost REAL,
            duration REAL,
            time_to_first_token REAL,
            retries INTEGER NOT NULL,
            fallback_attempts INTEGER NOT NULL,
            tags TEXT NOT NULL,
            request_id TEXT,
            response_id TEXT
        )""",
    ),
    # 2: reasoning tokens, the service tier and which models fell over; time index for range queries.
    (
        "ALTER TABLE calls ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE calls ADD COLUMN service_tier TEXT",
        "ALTER TABLE calls ADD COLUMN fallback_from TEXT NOT NULL DEFAULT '[]'",
        "CREATE INDEX calls_by_time ON calls (time)",
    ),
)
"""The statements that take a ledger file from version ``n`` to ``n + 1`` (``MIGRATIONS[n]``)."""

assert len(MIGRATIONS) == SCHEMA_VERSION

_COLUMNS: Final = ROW_FIELDS
_INSERT: Final = f"INSERT INTO calls ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_SELECT_ROWS: Final = f"SELECT {', '.join(_COLUMNS)} FROM calls WHERE time >= ? AND time < ? ORDER BY time, id"
_FAR_FUTURE_MS: Final = 2**62


def _row_values(row: LedgerRow) -> tuple[object, ...]:
    return (
        row.time,
        row.provider,
        row.model,
        row.api,
        row.stop_reason,
        row.error_kind,
        row.input_tokens,
        row.output_tokens,
        row.cache_read_tokens,
        row.cache_write_tokens,
        row.reasoning_tokens,
        row.total_tokens,
        int(row.estimated),
        row.cost,
        row.duration,
        row.time_to_first_token,
        row.retries,
        row.fallback_attempts,
        json.dumps(list(row.fallback_from)),
        json.dumps(dict(row.tags), sort_keys=True),
        row.request_id,
        row.response_id,
        row.service_tier,
    )


def _row_of(values: Sequence[Any]) -> LedgerRow:
    named = dict(zip(_COLUMNS, values, strict=True))
    named["estimated"] = bool(named["estimated"])
    named["fallback_from"] = tuple(json.loads(named["fallback_from"]))
    named["tags"] = json.loads(named["tags"])
    return LedgerRow(**named)


# --------------------------------------------------------------------------- summaries


BREAKDOWNS: Final = ("model", "provider", "day", "tag:NAME")
"""What :meth:`SqliteLedger.breakdown` groups by (``tag:user`` groups by the value of tag ``user``)."""


@dataclass(frozen=True, slots=True)
class UsageSummary:
    """Sums over a group of rows. ``cost`` adds the known costs; ``unpriced_calls`` counts the rows without one."""

    key: str
    calls: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    total_tokens: int
    cost: float
    unpriced_calls: int
    errors: Mapping[str, int]
    """Failed and aborted calls by error kind."""
    ttft_p50: float | None
    ttft_p95: float | None

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["errors"] = dict(self.errors)
        return out


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks; ``None`` for no values."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def _group_expression(by: str | None) -> tuple[str, tuple[object, ...]]:
    """The SQL of the group key and its parameters."""
    if by is None:
        return "'all'", ()
    if by in ("model", "provider"):
        return f"{by} || ''", ()
    if by == "day":
        return "strftime('%Y-%m-%d', time / 1000, 'unixepoch')", ()
    if by.startswith("tag:") and len(by) > 4:
        if '"' in by:  # SQLite's JSON paths cannot escape it
            raise ValueError(f"breakdown: a tag name with a double quote cannot be queried; got {by!r}")
        return "coalesce(json_extract(tags, ?), '(none)')", ("$." + json.dumps(by[4:]),)  # $."name": any tag name, quoted
    raise ValueError(f"breakdown: by must be one of {', '.join(BREAKDOWNS)} (or None); got {by!r}")


_SECONDS_PER_UNIT: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, *, now: float | None = None) -> int:
    """``"7d"``, ``"12h"``, ``"30m"``, ``"2w"`` or an ISO date/time (UTC when no zone) -> milliseconds since the epoch."""
    from datetime import datetime, timezone

    text = text.strip()
    unit = text[-1:].lower()
    if unit in _SECONDS_PER_UNIT and text[:-1].replace(".", "", 1).isdigit():
        moment = (time.time() if now is None else now) - float(text[:-1]) * _SECONDS_PER_UNIT[unit]
        return int(moment * 1000)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"since must be a duration (7d, 12h, 30m, 2w) or an ISO date such as 2026-01-31; got {text!r}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp() * 1000)


# --------------------------------------------------------------------------- the SQLite ledger


def default_ledger_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/alchemy/usage.sqlite3``, else ``~/.local/share/alchemy/usage.sqlite3``."""
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME", "").strip()
    root = Path(base).expanduser() if base else Path.home() / ".local" / "share"
    return root / "alchemy" / "usage.sqlite3"


class SqliteLedger:
    """A ledger in one SQLite file (WAL), shared safely by the threads and processes of one machine.

    The file and its folder are made when missing and the schema brought up to
    :data:`SCHEMA_VERSION`. One connection per instance, guarded by a lock, so an
    instance may be shared between threads; ``busy_timeout`` is how many seconds a
    write waits for another process's.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"SqliteLedger: path must be a str or a path, got {type(path).__name__}")
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout = busy_timeout
        self._inherited: list[sqlite3.Connection] = []
        self._open()
        try:
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    def _open(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, timeout=self._busy_timeout, check_same_thread=False, isolation_level=None
        )
        self._enable_wal()
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint; safe with WAL

    def _enable_wal(self) -> None:
        """Switches the file to WAL once; waits (bounded by the busy timeout) while others hold it.

        Changing the journal mode needs the file to itself, and SQLite answers "database is
        locked" at once instead of waiting when several processes open a new file together.
        """
        deadline = time.monotonic() + self._busy_timeout
        delay = 0.005
        while True:
            try:
                mode = self._db.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.2)

    def _check_fork(self) -> None:
        """In a forked child (a pre-fork server made the Client first): a connection of its own.

        SQLite connections must not cross a fork; the parent's is kept, unused, so
        that closing it here cannot disturb the parent.
        """
        if os.getpid() != self._pid:
            self._inherited.append(self._db)
            self._open()

    def __repr__(self) -> str:
        return f"SqliteLedger({str(self.path)!r})"

    # ----------------------------------------------------------------- schema

    def schema_version(self) -> int:
        self._check_fork()
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        """Brings the file up to :data:`SCHEMA_VERSION`, one version per transaction."""
        with self._lock:
            while True:
                self._db.execute("BEGIN IMMEDIATE")  # one process migrates; the others wait, then see it done
                try:
                    version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
                    if version > SCHEMA_VERSION:
                        raise ValueError(
                            f"{self.path} holds ledger schema {version}, newer than this alchemy's "
                            f"({SCHEMA_VERSION}); upgrade alchemy to read it"
                        )
                    if version == SCHEMA_VERSION:
                        self._db.execute("COMMIT")
                        return
                    for statement in MIGRATIONS[version]:
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {version + 1}")
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise

    # ----------------------------------------------------------------- writing

    def record(self, row: LedgerRow) -> None:
        """Adds one row (one short transaction)."""
        values = _row_values(row)
        self._check_fork()
        with self._lock:
            self._db.execute(_INSERT, values)

    def record_many(self, rows: Sequence[LedgerRow]) -> None:
        """Adds rows in one transaction."""
        values = [_row_values(row) for row in rows]
        self._check_fork()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(_INSERT, values)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        if os.getpid() != self._pid:  # a forked child that never wrote: nothing of its own to close
            return
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ----------------------------------------------------------------- reading

    def rows(self, since: int | None = None, until: int | None = None) -> Iterator[LedgerRow]:
        """The rows with ``since <= time < until`` (milliseconds; open ends when ``None``), oldest first."""
        self._check_fork()
        with self._lock:
            fetched = self._db.execute(_SELECT_ROWS, _range(since, until)).fetchall()
        return map(_row_of, fetched)

    def count(self) -> int:
        self._check_fork()
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM calls").fetchone()[0])

    def totals(self, since: int | None = None, until: int | None = None) -> UsageSummary:
        """Everything in the range as one summary (key ``"all"``)."""
        found = self.breakdown(None, since, until)
        return found[0] if found else _empty_summary()

    def breakdown(self, by: str | None, since: int | None = None, until: int | None = None) -> list[UsageSummary]:
        """One summary per ``model``, ``provider``, ``day`` (UTC) or ``tag:NAME`` value, most expensive first."""
        key, key_params = _group_expression(by)
        params = (*key_params, *_range(since, until))
        sums_sql = f"""
            SELECT {key} AS k, count(*), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens),
                   sum(cache_write_tokens), sum(total_tokens), coalesce(sum(cost), 0.0), count(*) - count(cost)
            FROM calls WHERE time >= ? AND time < ? GROUP BY k"""
        errors_sql = f"""
            SELECT {key} AS k, error_kind, count(*) FROM calls
            WHERE time >= ? AND time < ? AND error_kind IS NOT NULL GROUP BY k, error_kind"""
        ttft_sql = f"""
            SELECT {key} AS k, time_to_first_token FROM calls
            WHERE time >= ? AND time < ? AND time_to_first_token IS NOT NULL ORDER BY k, time_to_first_token"""
        self._check_fork()
        with self._lock:
            sums = self._db.execute(sums_sql, params).fetchall()
            errors = self._db.execute(errors_sql, params).fetchall()
            ttfts = self._db.execute(ttft_sql, params).fetchall()
        errors_by_key: dict[str, dict[str, int]] = {}
        for group, kind, count in errors:
            errors_by_key.setdefault(group, {})[kind] = count
        ttft_by_key: dict[str, list[float]] = {}
        for group, value in ttfts:
            ttft_by_key.setdefault(group, []).append(value)
        summaries = [
            UsageSummary(
                key=group,
                calls=calls,
                input_tokens=inputs,
                output_tokens=outputs,
                cache_read_tokens=reads,
                cache_write_tokens=writes,
                total_tokens=total,
                cost=cost,
                unpriced_calls=unpriced,
                errors=errors_by_key.get(group, {}),
                ttft_p50=percentile(ttft_by_key.get(group, []), 0.50),
                ttft_p95=percentile(ttft_by_key.get(group, []), 0.95),
            )
            for group, calls, inputs, outputs, reads, writes, total, cost, unpriced in sums
        ]
        if by == "day":
            return sorted(summaries, key=lambda summary: summary.key)
        return sorted(summaries, key=lambda summary: (-summary.cost, summary.key))

    # ----------------------------------------------------------------- export

    def export_csv(self, out: IO[str], since: int | None = None, until: int | None = None) -> int:
        """Writes the rows as CSV with a header (tags and fallback models as JSON); returns how many."""
        writer = csv.writer(out)
        writer.writerow(ROW_FIELDS)
        written = 0
        for row in self.rows(since, until):
            record = row.to_dict()
            record["tags"] = json.dumps(record["tags"], sort_keys=True)
            record["fallback_from"] = json.dumps(record["fallback_from"])
            writer.writerow("" if record[name] is None else record[name] for name in ROW_FIELDS)
            written += 1
        return written

    def export_jsonl(self, out: IO[str], since: int | None = None, until: int | None = None) -> int:
        """Writes one JSON object per row and line; returns how many."""
        written = 0
        for row in self.rows(since, until):
            out.write(json.dumps(row.to_dict(), sort_keys=True) + "\n")
            written += 1
        return written


def _range(since: int | None, until: int | None) -> tuple[int, int]:
    return (0 if since is None else since, _FAR_FUTURE_MS if until is None else until)


def _empty_summary() -> UsageSummary:
    return UsageSummary("all", 0, 0, 0, 0, 0, 0, 0.0, 0, {}, None, None)


# --------------------------------------------------------------------------- choosing a sink


LedgerSpec = Ledger | Callable[[LedgerRow], object] | str | os.PathLike[str] | bool | None
"""What ``Client(ledger=...)`` takes: a :class:`Ledger`, a function, a path, ``True`` (default path) or ``None``/``False``."""


def open_ledger(spec: LedgerSpec, env: Mapping[str, str] | None = None) -> Ledger | None:
    """The sink ``spec`` asks for; with ``None``, the file ``ALCHEMY_LEDGER`` names, else no ledger."""
    if spec is None:
        from ..config import LEDGER

        path = LEDGER.read(env)
        return None if path is None else SqliteLedger(path)
    if spec is False:
        return None
    if spec is True:
        return SqliteLedger(default_ledger_path(env))
    if isinstance(spec, (str, os.PathLike)):
        return SqliteLedger(spec)
    if isinstance(spec, Ledger):
        return spec
    if callable(spec):
        return CallbackLedger(spec)
    raise TypeError(
        "ledger must be a path, True (the default path), a function taking a LedgerRow, "
        f"an object with record(row), or None; got {type(spec).__name__}"
    )


# --------------------------------------------------------------------------- the Client's observer


class LedgerObserver:
    """Records one row per call of a Client into ``ledger`` when the call finishes.

    The row's ``time`` is when the call was made, its ``duration`` the whole call's
    (every fallback attempt included), its ``tags`` the call's ``tags`` option.
    """

    __slots__ = ("ledger",)

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def __repr__(self) -> str:
        return f"LedgerObserver({self.ledger!r})"

    def call_started(self, call: CallInfo) -> object:
        return call

    def attempt_started(self, state: object, attempt: AttemptInfo) -> None:
        return None

    def attempt_ended(self, state: object, attempt: AttemptInfo, message: AssistantMessage) -> None:
        return None

    def call_finished(self, state: object, message: AssistantMessage) -> None:
        if not isinstance(state, CallInfo):  # a call refused before it started: nothing was sent
            return
        row = LedgerRow.from_message(message, tags=state.tags, time_ms=int(state.started_at * 1000))
        self.ledger.record(replace(row, duration=time.monotonic() - state.started))


def ledger_observer(spec: LedgerSpec, env: Mapping[str, str] | None = None) -> LedgerObserver | None:
    """The observer ``Client(ledger=spec)`` runs, or ``None`` when no ledger is asked for (see :func:`open_ledger`)."""
    ledger = open_ledger(spec, env)
    return None if ledger is None else LedgerObserver(ledger)
