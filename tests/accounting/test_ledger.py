"""The usage ledger: rows from real messages, SQLite (WAL, migrations, 4 processes), queries, exports."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import multiprocessing
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from support import bundled_registry, no_base_url_override, replay_server, wire_model  # noqa: F401 (fixtures)

from alchemy import AssistantMessage, Client, Context, Model, UserMessage
from alchemy.accounting import CallObserver
from alchemy.accounting.ledger import (
    MIGRATIONS,
    SCHEMA_VERSION,
    CallbackLedger,
    LedgerObserver,
    LedgerRow,
    SqliteLedger,
    default_ledger_path,
    ledger_observer,
    open_ledger,
    parse_since,
    percentile,
)
from alchemy.testing import Replay, ReplayServer
from alchemy.types import Cost, Usage

COMPLETIONS = "openai-completions"
ANTHROPIC = "anthropic-messages"
KEYS = {"groq": "groq-key-not-real", "anthropic": "anthropic-key-not-real"}
SECRET_PROMPT = "the secret prompt 7f3a"
HI = Context(messages=[UserMessage(SECRET_PROMPT)])
DAY_MS = 86_400_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@pytest.fixture
def server(replay_server: ReplayServer) -> ReplayServer:  # noqa: F811
    replay_server.reset()
    return replay_server


def models(server: ReplayServer, *apis: str) -> list[Model]:
    return [wire_model(api, server.base_url_for(api)) for api in apis]


def finished(client: Client, chain: Any, *, stop_after_first_delta: bool = False) -> AssistantMessage:
    with client.stream(chain, HI) as events:
        for event in events:
            if stop_after_first_delta and event.type.endswith("_delta"):
                break
    return events.result()


def row(time: int = T0, **changes: Any) -> LedgerRow:
    values: dict[str, Any] = dict(
        time=time, provider="groq", model="llama", api=COMPLETIONS, stop_reason="stop", input_tokens=100,
        output_tokens=20, cache_read_tokens=5, cache_write_tokens=1, total_tokens=126, cost=0.01,
        time_to_first_token=0.5,
    )  # fmt: skip
    values.update(changes)
    return LedgerRow(**values)


# --------------------------------------------------------------------------- rows from messages


def test_a_done_message_gives_a_row_of_metadata(server: ReplayServer) -> None:
    server.enqueue(Replay())
    message = finished(Client(api_keys=KEYS), models(server, COMPLETIONS))
    assert message.stop_reason in ("stop", "toolUse")
    got = LedgerRow.from_message(message, tags={"user": "u1"}, time_ms=T0)
    assert (got.time, got.provider, got.model, got.api) == (T0, "groq", message.model, COMPLETIONS)
    assert (got.stop_reason, got.error_kind, got.tags) == (message.stop_reason, None, {"user": "u1"})
    usage = message.usage
    assert (got.input_tokens, got.output_tokens, got.total_tokens) == (usage.input, usage.output, usage.total_tokens)
    assert got.cost == usage.cost.total and got.estimated == usage.estimated
    assert message.metrics is not None
    assert got.time_to_first_token == message.metrics.time_to_first_content is not None
    assert got.duration == message.metrics.duration and got.retries == 0
    assert got.response_id == message.response_id and got.request_id == message.metrics.request_id
    assert (got.fallback_attempts, got.fallback_from) == (0, ())


def test_an_error_message_gives_its_kind(server: ReplayServer) -> None:
    server.enqueue(Replay.http_error(401))
    message = finished(Client(api_keys=KEYS, max_retries=0), models(server, COMPLETIONS))
    got = LedgerRow.from_message(message)
    assert (got.stop_reason, got.error_kind) == ("error", "auth")
    assert got.time == message.timestamp


def test_an_aborted_message_gives_estimated_usage(server: ReplayServer) -> None:
    server.enqueue(Replay(delay=0.01))
    message = finished(Client(api_keys=KEYS), models(server, COMPLETIONS), stop_after_first_delta=True)
    got = LedgerRow.from_message(message)
    assert got.stop_reason == "aborted"
    assert got.estimated == message.usage.estimated
    assert got.error_kind == (message.error.kind if message.error is not None else None)


def test_a_fallback_message_names_the_models_that_failed(server: ReplayServer) -> None:
    server.enqueue(Replay.http_error(503), Replay())
    message = finished(Client(api_keys=KEYS, max_retries=0), models(server, COMPLETIONS, ANTHROPIC))
    got = LedgerRow.from_message(message)
    assert (got.provider, got.api, got.error_kind) == ("anthropic", ANTHROPIC, None)
    assert (got.fallback_attempts, got.fallback_from) == (1, (f"groq/{message.attempts[0].model}",))


def test_a_row_never_holds_content(server: ReplayServer, tmp_path: Path) -> None:
    server.enqueue(Replay())
    message = finished(Client(api_keys=KEYS), models(server, COMPLETIONS))
    with SqliteLedger(tmp_path / "l.sqlite3") as ledger:
        ledger.record(LedgerRow.from_message(message))
        out = io.StringIO()
        ledger.export_jsonl(out)
    stored = (tmp_path / "l.sqlite3").read_bytes() + out.getvalue().encode()
    assert SECRET_PROMPT.encode() not in stored
    for text in (message.text, message.thinking):
        assert not text or text.encode() not in stored


def test_unknown_prices_stay_unknown() -> None:
    unpriced = AssistantMessage(api=COMPLETIONS, provider="groq", model="m", usage=Usage(1, 1, cost=Cost(None, None)))
    unpriced.usage.cost.total = None
    assert LedgerRow.from_message(unpriced).cost is None


# --------------------------------------------------------------------------- the Client's observer


def test_the_observer_records_one_row_per_call_with_its_tags(server: ReplayServer, tmp_path: Path) -> None:
    rows: list[LedgerRow] = []
    observer = LedgerObserver(CallbackLedger(rows.append))
    assert isinstance(observer, CallObserver)
    client = Client(api_keys=KEYS, max_retries=0, observers=[observer])
    server.enqueue(Replay.http_error(503), Replay())
    message = finished(client, models(server, COMPLETIONS, ANTHROPIC))
    assert len(rows) == 1 and rows[0].provider == message.provider == "anthropic"
    assert rows[0].fallback_attempts == 1 and rows[0].duration is not None and rows[0].duration > 0


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_client_with_a_ledger_records_every_call(server: ReplayServer, tmp_path: Path, mode: str) -> None:
    path = tmp_path / "client.sqlite3"
    client = Client(api_keys=KEYS, max_retries=0, ledger=path)
    server.enqueue(Replay(), Replay.http_error(429, retry_after=0), Replay.http_error(503), Replay())
    chain = models(server, COMPLETIONS, ANTHROPIC)
    before = time.time()

    async def astream(tags: dict[str, str]) -> None:
        async with client.astream(chain[:1], HI, tags=tags) as events:
            async for _ in events:
                pass

    for n, target in enumerate((chain[:1], chain[:1], chain)):
        tags = {"user": f"u{n}"}
        if mode == "async" and n == 0:
            asyncio.run(astream(tags))
        else:
            with client.stream(target, HI, tags=tags) as events:
                for _ in events:
                    pass
    with SqliteLedger(path) as ledger:
        done, failed, fell_over = ledger.rows()
    assert [r.tags for r in (done, failed, fell_over)] == [{"user": "u0"}, {"user": "u1"}, {"user": "u2"}]
    assert (done.provider, done.error_kind, done.total_tokens > 0) == ("groq", None, True)
    assert (failed.stop_reason, failed.error_kind) == ("error", "rate_limit")
    assert (fell_over.provider, fell_over.fallback_attempts, fell_over.fallback_from[0].split("/")[0]) == (
        "anthropic", 1, "groq"
    )  # fmt: skip
    assert all(before * 1000 - 1 <= r.time <= time.time() * 1000 for r in (done, failed, fell_over))


def test_alchemy_ledger_turns_the_ledger_on(
    server: ReplayServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALCHEMY_LEDGER", str(tmp_path / "env.sqlite3"))
    server.enqueue(Replay())
    finished(Client(api_keys=KEYS), models(server, COMPLETIONS))
    with SqliteLedger(tmp_path / "env.sqlite3") as ledger:
        assert ledger.count() == 1


def test_ledger_specs_open_the_right_sink(tmp_path: Path) -> None:
    assert open_ledger(None, env={}) is None and open_ledger(False) is None
    from_env = open_ledger(None, env={"ALCHEMY_LEDGER": str(tmp_path / "env.sqlite3")})
    assert isinstance(from_env, SqliteLedger) and from_env.path == tmp_path / "env.sqlite3"
    from_default = open_ledger(True, env={"XDG_DATA_HOME": str(tmp_path)})
    assert isinstance(from_default, SqliteLedger) and from_default.path == tmp_path / "alchemy" / "usage.sqlite3"
    sink = CallbackLedger(print)
    assert open_ledger(sink) is sink and isinstance(open_ledger(print), CallbackLedger)
    observer = ledger_observer(tmp_path / "x.sqlite3")
    assert observer is not None and isinstance(observer.ledger, SqliteLedger)
    with pytest.raises(TypeError, match="ledger must be a path.*got int"):
        open_ledger(3)  # type: ignore[arg-type]
    for opened in (from_env, from_default, observer.ledger):
        assert isinstance(opened, SqliteLedger)
        opened.close()


def test_the_default_path_follows_xdg(tmp_path: Path) -> None:
    assert default_ledger_path({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "alchemy" / "usage.sqlite3"
    assert default_ledger_path({}) == Path.home() / ".local" / "share" / "alchemy" / "usage.sqlite3"


# --------------------------------------------------------------------------- SQLite


def test_the_file_is_in_wal_mode_at_the_current_schema(tmp_path: Path) -> None:
    with SqliteLedger(tmp_path / "deep" / "l.sqlite3") as ledger:
        assert ledger.schema_version() == SCHEMA_VERSION
    db = sqlite3.connect(tmp_path / "deep" / "l.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_a_row_reads_back_as_written(tmp_path: Path) -> None:
    written = row(
        error_kind="rate_limit", estimated=True, cost=None, fallback_attempts=2, fallback_from=("a/x", "b/y"),
        tags={"user": "u1", "feature": "search"}, request_id="req_1", response_id="resp_1", service_tier="flex",
        reasoning_tokens=7, retries=3, duration=1.5,
    )  # fmt: skip
    with SqliteLedger(tmp_path / "l.sqlite3") as ledger:
        ledger.record(written)
        assert list(ledger.rows()) == [written]


def _old_schema_file(path: Path) -> None:
    """A ledger file as the first schema wrote it, with one row."""
    db = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.execute(
        "INSERT INTO calls (time, provider, model, api, stop_reason, error_kind, input_tokens, output_tokens, "
        "cache_read_tokens, cache_write_tokens, total_tokens, estimated, cost, duration, time_to_first_token, "
        "retries, fallback_attempts, tags, request_id, response_id) "
        "VALUES (?, 'groq', 'old', 'openai-completions', 'stop', NULL, 3, 4, 0, 0, 7, 0, 0.5, 1.0, 0.25, 0, 0, "
        "'{\"user\": \"u9\"}', NULL, NULL)",
        (T0,),
    )
    db.commit()
    db.close()


def test_an_older_schema_is_migrated_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _old_schema_file(path)
    with SqliteLedger(path) as ledger:
        assert ledger.schema_version() == SCHEMA_VERSION
        (old,) = ledger.rows()
        assert (old.model, old.total_tokens, old.tags, old.reasoning_tokens, old.fallback_from) == (
            "old", 7, {"user": "u9"}, 0, ()
        )  # fmt: skip
        ledger.record(row(T0 + 1, service_tier="priority"))
        assert [r.service_tier for r in ledger.rows()] == [None, "priority"]
        assert ledger.breakdown("tag:user")[0].key in ("u9", "(none)")


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(ValueError, match=f"schema {SCHEMA_VERSION + 1}, newer than this alchemy's"):
        SqliteLedger(path)


def _write_rows(path: str, writer: int, count: int) -> None:
    ledger = SqliteLedger(path)
    for n in range(count):
        ledger.record(row(T0 + n, model=f"writer-{writer}", request_id=f"{writer}-{n}"))
    ledger.close()


def test_four_processes_writing_one_file_lose_no_row(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite3")
    per_process = 300
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_rows, args=(path, n, per_process)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    with SqliteLedger(path) as ledger:
        assert ledger.count() == 4 * per_process
        ids = {r.request_id for r in ledger.rows()}
        assert ids == {f"{w}-{n}" for w in range(4) for n in range(per_process)}
        assert sorted(s.calls for s in ledger.breakdown("model")) == [per_process] * 4


def _write_with(ledger: SqliteLedger, count: int) -> None:
    for n in range(count):
        ledger.record(row(T0 + n, model="child"))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")  # 3.12+: the child only writes
def test_a_forked_child_writes_through_a_connection_of_its_own(tmp_path: Path) -> None:
    with SqliteLedger(tmp_path / "forked.sqlite3") as ledger:
        ledger.record(row(model="parent"))
        child = multiprocessing.get_context("fork").Process(target=_write_with, args=(ledger, 50))
        child.start()
        child.join(timeout=60)
        assert child.exitcode == 0
        ledger.record(row(model="parent"))
        assert {s.key: s.calls for s in ledger.breakdown("model")} == {"child": 50, "parent": 2}


def test_threads_share_one_instance(tmp_path: Path) -> None:
    import threading

    with SqliteLedger(tmp_path / "l.sqlite3") as ledger:
        def write() -> None:
            for _ in range(100):
                ledger.record(row())

        threads = [threading.Thread(target=write) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert ledger.count() == 400


# --------------------------------------------------------------------------- queries


@pytest.fixture
def filled(tmp_path: Path) -> Any:
    rows = [
        row(T0, model="a", provider="p1", tags={"user": "u1"}, cost=1.0, time_to_first_token=0.1),
        row(T0 + 1, model="a", provider="p1", tags={"user": "u2"}, cost=2.0, time_to_first_token=0.3),
        row(T0 + DAY_MS, model="b", provider="p2", tags={"user": "u1"}, cost=None, time_to_first_token=None,
            stop_reason="error", error_kind="rate_limit"),
        row(T0 + DAY_MS + 5, model="b", provider="p2", cost=0.5, stop_reason="aborted", error_kind="aborted"),
        row(T0 + 3 * DAY_MS, model="a", provider="p1", cost=4.0, time_to_first_token=0.5),
    ]  # fmt: skip
    with SqliteLedger(tmp_path / "l.sqlite3") as ledger:
        ledger.record_many(rows)
        yield ledger


def test_totals_sum_everything_in_the_range(filled: SqliteLedger) -> None:
    total = filled.totals()
    assert (total.calls, total.input_tokens, total.output_tokens, total.total_tokens) == (5, 500, 100, 630)
    assert (total.cost, total.unpriced_calls) == (7.5, 1)
    assert dict(total.errors) == {"rate_limit": 1, "aborted": 1} and total.error_count == 2
    assert total.ttft_p50 == pytest.approx(0.4) and total.ttft_p95 == pytest.approx(0.5)  # 0.1, 0.3, 0.5, 0.5
    day_one = filled.totals(since=T0, until=T0 + DAY_MS)
    assert (day_one.calls, day_one.cost) == (2, 3.0) and day_one.ttft_p50 == pytest.approx(0.2)
    empty = filled.totals(since=T0 + 10 * DAY_MS)
    assert (empty.calls, empty.cost, empty.ttft_p50) == (0, 0.0, None)


def test_breakdowns_by_model_provider_day_and_tag(filled: SqliteLedger) -> None:
    def keyed(by: str) -> dict[str, tuple[int, float]]:
        return {s.key: (s.calls, s.cost) for s in filled.breakdown(by)}

    assert keyed("model") == {"a": (3, 7.0), "b": (2, 0.5)}
    assert [s.key for s in filled.breakdown("model")] == ["a", "b"]  # dearest first
    assert keyed("provider") == {"p1": (3, 7.0), "p2": (2, 0.5)}
    assert keyed("day") == {"2026-01-01": (2, 3.0), "2026-01-02": (2, 0.5), "2026-01-04": (1, 4.0)}
    assert [s.key for s in filled.breakdown("day")] == ["2026-01-01", "2026-01-02", "2026-01-04"]
    assert keyed("tag:user") == {"u1": (2, 1.0), "u2": (1, 2.0), "(none)": (2, 4.5)}
    assert dict(filled.breakdown("model")[1].errors) == {"rate_limit": 1, "aborted": 1}


@pytest.mark.parametrize("by", ["user", "tag:", "cost"])
def test_an_unknown_breakdown_is_refused(filled: SqliteLedger, by: str) -> None:
    with pytest.raises(ValueError, match=f"by must be one of model, provider, day, tag:NAME.*got '{by}'"):
        filled.breakdown(by)


def test_a_tag_name_is_quoted_not_spliced(filled: SqliteLedger) -> None:
    filled.record(row(T0, tags={"a.b' OR 1": "odd"}))
    assert {s.key for s in filled.breakdown("tag:a.b' OR 1")} == {"odd", "(none)"}
    with pytest.raises(ValueError, match="a tag name with a double quote cannot be queried"):
        filled.breakdown('tag:a"b')


def test_percentiles_interpolate() -> None:
    assert percentile([], 0.5) is None and percentile([2.0], 0.95) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([float(n) for n in range(101)], 0.95) == 95.0


def test_since_takes_durations_and_dates() -> None:
    now = T0 / 1000
    assert parse_since("7d", now=now) == T0 - 7 * DAY_MS
    assert parse_since("12h", now=now) == T0 - DAY_MS // 2
    assert parse_since("2026-01-01") == T0
    assert parse_since("2026-01-01T01:00:00+01:00") == T0
    with pytest.raises(ValueError, match="since must be a duration.*got 'yesterday'"):
        parse_since("yesterday")


# --------------------------------------------------------------------------- exports


def test_csv_export_has_a_header_and_every_row(filled: SqliteLedger) -> None:
    out = io.StringIO()
    assert filled.export_csv(out, since=T0 + DAY_MS) == 3
    records = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["model"] for r in records] == ["b", "b", "a"]
    assert records[0]["cost"] == "" and records[0]["error_kind"] == "rate_limit"
    assert json.loads(records[0]["tags"]) == {"user": "u1"}


def test_jsonl_export_round_trips(filled: SqliteLedger) -> None:
    out = io.StringIO()
    assert filled.export_jsonl(out) == 5
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [LedgerRow(**{**d, "fallback_from": tuple(d["fallback_from"])}) for d in lines] == list(filled.rows())


def test_callback_ledger_checks_its_sink() -> None:
    with pytest.raises(TypeError, match="sink must be a function taking a LedgerRow, got str"):
        CallbackLedger("not callable")  # type: ignore[arg-type]
    got: list[LedgerRow] = []
    CallbackLedger(got.append).record(row())
    assert got == [row()]
