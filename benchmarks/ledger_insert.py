"""The usage ledger's SQLite inserts: rows per second, one process and four, and the cost per call.

    .venv/bin/python benchmarks/ledger_insert.py
    .venv/bin/python benchmarks/ledger_insert.py --rows 20000 --rounds 5

(1) ``SqliteLedger.record`` one row at a time (one transaction each, as a Client
    records every call), into a fresh file in a temporary folder: rows per second,
    median of the rounds.
(2) ``record_many`` of the same rows in one transaction.
(3) Four processes recording into one file at once (WAL, writers wait for each
    other): all rows per second of wall time, and the rows found afterwards.
(4) ``LedgerRow.from_message`` of a real finished message plus ``record``: the
    ledger's share of a call's overhead, in microseconds.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(ROOT.parent / "shared" / "tiktoken"))

from alchemy import AssistantMessage
from alchemy.accounting.ledger import LedgerRow, SqliteLedger
from alchemy.types import Cost, StreamMetrics, Usage

MESSAGE = AssistantMessage(
    api="openai-completions",
    provider="groq",
    model="llama-3.3-70b-versatile",
    usage=Usage(1200, 300, 64, 0, 1564, Cost(0.0007, 0.0002, 0.00001, 0.0, 0.00091)),
    response_id="chatcmpl-bench",
    metrics=StreamMetrics(time_to_first_content=0.21, duration=1.4, request_id="req_bench"),
    tags={"user": "u1", "feature": "search"},
)


def one_by_one(folder: Path, rows: int) -> float:
    row = LedgerRow.from_message(MESSAGE)
    with SqliteLedger(folder / f"single-{time.monotonic_ns()}.sqlite3") as ledger:
        start = time.perf_counter()
        for _ in range(rows):
            ledger.record(row)
        return rows / (time.perf_counter() - start)


def batched(folder: Path, rows: int) -> float:
    batch = [LedgerRow.from_message(MESSAGE)] * rows
    with SqliteLedger(folder / f"batch-{time.monotonic_ns()}.sqlite3") as ledger:
        start = time.perf_counter()
        ledger.record_many(batch)
        return rows / (time.perf_counter() - start)


def _writer(path: str, rows: int, go: multiprocessing.synchronize.Event) -> None:
    row = LedgerRow.from_message(MESSAGE)
    ledger = SqliteLedger(path)
    go.wait()
    for _ in range(rows):
        ledger.record(row)
    ledger.close()


def four_processes(folder: Path, rows: int) -> tuple[float, int]:
    path = str(folder / f"shared-{time.monotonic_ns()}.sqlite3")
    SqliteLedger(path).close()
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    workers = [context.Process(target=_writer, args=(path, rows // 4, go)) for _ in range(4)]
    for worker in workers:
        worker.start()
    time.sleep(1.0)  # let every worker import and open the file
    start = time.perf_counter()
    go.set()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    with SqliteLedger(path) as ledger:
        found = ledger.count()
    return 4 * (rows // 4) / elapsed, found


def per_call(folder: Path, calls: int) -> float:
    with SqliteLedger(folder / f"call-{time.monotonic_ns()}.sqlite3") as ledger:
        start = time.perf_counter()
        for _ in range(calls):
            ledger.record(LedgerRow.from_message(MESSAGE))
        return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        single, batch, shared, found, micro = [], [], [], [], []
        for _ in range(args.rounds):
            single.append(one_by_one(folder, args.rows))
            batch.append(batched(folder, args.rows))
            rate, count = four_processes(folder, args.rows)
            shared.append(rate)
            found.append(count)
            micro.append(per_call(folder, 2_000))
    print(f"python {sys.version.split()[0]}, rows per round {args.rows:,}, rounds {args.rounds}")
    print(f"(1) record(), one row per transaction : {statistics.median(single):>10,.0f} rows/s (median)")
    print(f"(2) record_many(), one transaction     : {statistics.median(batch):>10,.0f} rows/s (median)")
    print(f"(3) 4 processes, one file              : {statistics.median(shared):>10,.0f} rows/s (median)")
    print(f"    rows found / written               : {min(found):,} / {4 * (args.rows // 4):,} (worst round)")
    print(f"(4) from_message + record, per call    : {statistics.median(micro):>10.1f} us (median)")


if __name__ == "__main__":
    main()
