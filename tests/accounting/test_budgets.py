"""Budgets, observers, on_finish and the tags option of a Client, against the replay server (memory and Redis)."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from policy_support import RedisServer, VirtualClock, redis_server  # noqa: F401 (fixture)
from support import bundled_registry, no_base_url_override, replay_server, wire_model  # noqa: F401 (fixtures)

from alchemy import AssistantMessage, BudgetExceededError, Client, Context, Model, UserMessage
from alchemy.accounting import AttemptInfo, CallInfo
from alchemy.accounting.budgets import Budget, Budgets, period_id, reported_cost, worst_case_cost
from alchemy.errors import UnknownPriceWarning
from alchemy.policies import MemoryStore, RedisStore, Store
from alchemy.testing import Replay, ReplayServer
from alchemy.types import ModelCost

COMPLETIONS = "openai-completions"
ANTHROPIC = "anthropic-messages"
KEYS = {"groq": "groq-key-not-real", "anthropic": "anthropic-key-not-real"}
PRICES = ModelCost(input=3.0, output=15.0, cache_read=0.3, cache_write=3.75)
HI = Context(messages=[UserMessage("hello")])
MAX_TOKENS = 100
EPSILON = 1e-9


@pytest.fixture
def server(replay_server: ReplayServer) -> ReplayServer:  # noqa: F811
    replay_server.reset()
    return replay_server


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    redis: RedisServer = request.getfixturevalue("redis_server")
    shared = RedisStore(redis.url, prefix=f"bg-{uuid.uuid4().hex[:8]}")
    yield shared
    shared.close()


def priced(server: ReplayServer, api: str = COMPLETIONS, prices: ModelCost = PRICES) -> Model:
    return wire_model(api, server.base_url_for(api), cost=prices, max_tokens=4096, context_window=128_000)


def worst(model: Model) -> float:
    cost = worst_case_cost(model, HI, MAX_TOKENS, caching=True)
    assert cost is not None
    return cost


def one_call_cost(server: ReplayServer, model: Model) -> float:
    """What the bundled recording costs on ``model`` (one call through a Client without budgets)."""
    message = Client(api_keys=KEYS).complete(model, HI, max_tokens=MAX_TOKENS)
    return reported_cost(model, message)


# --------------------------------------------------------------------------- declarations


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"limit_usd": -1}, "limit_usd must be a finite number >= 0, got -1"),
        ({"limit_usd": float("nan")}, "limit_usd must be a finite number"),
        ({"limit_usd": 1, "period": "year"}, "period must be 'day', 'week', 'month' or None, got 'year'"),
        ({"limit_usd": 1, "scope": "team:x"}, "scope must be None (the whole client)"),
        ({"limit_usd": 1, "scope": "model:gpt"}, "'model:provider/id'"),
        ({"limit_usd": 1, "scope": "tag:user="}, "'tag:KEY=VALUE', got 'tag:user='"),
        ({"limit_usd": 1, "unknown_prices": "ignore"}, "unknown_prices must be 'refuse' or 'zero'"),
        ({"limit_usd": 1, "hold_seconds": 0}, "hold_seconds must be a number > 0"),
    ],
)
def test_a_malformed_budget_raises_naming_the_argument(settings: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error.replace("(", r"\(").replace(")", r"\)")):
        Budget(**settings)


def test_client_budgets_are_checked_at_construction() -> None:
    with pytest.raises(TypeError, match="budgets must be a list of alchemy.accounting.Budget"):
        Client(budgets=Budget(1))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="budgets must hold alchemy.accounting.Budget objects"):
        Client(budgets=[1.0])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="two budgets share a name"):
        Client(budgets=[Budget(1), Budget(2)])
    with pytest.raises(TypeError, match="on_finish must be a function"):
        Client(on_finish="print")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="observers must hold objects with call_started"):
        Client(observers=[object()])  # type: ignore[list-item]
    Client(budgets=[Budget(1)], store=MemoryStore())  # a store used by budgets alone is fine


def test_period_ids_are_utc_days_iso_weeks_and_months() -> None:
    now = 1_796_601_600.0  # 2026-12-07T00:00:00Z, a Monday
    assert period_id("day", now) == "2026-12-07"
    assert period_id("day", now - 1) == "2026-12-06"
    assert period_id("week", now) == "2026-W50"
    assert period_id("week", now - 1) == "2026-W49"
    assert period_id("month", now) == "2026-12"
    assert period_id(None, now) == "all"


def test_worst_case_counts_the_prompt_and_max_tokens_at_the_dearer_of_input_and_cache_write() -> None:
    model = wire_model(COMPLETIONS, cost=PRICES, max_tokens=4096)
    from alchemy import count_tokens

    prompt = count_tokens(model, HI).tokens
    assert worst_case_cost(model, HI, 10, caching=False) == pytest.approx((prompt * 3.0 + 10 * 15.0) / 1e6)
    assert worst_case_cost(model, HI, 10, caching=True) == pytest.approx((prompt * 3.75 + 10 * 15.0) / 1e6)
    assert worst_case_cost(model, HI, None, caching=False) == pytest.approx((prompt * 3.0 + 4096 * 15.0) / 1e6)
    assert worst_case_cost(wire_model(COMPLETIONS), HI, 10, caching=False) is None


# --------------------------------------------------------------------------- reserve at the call, settle at the end


def test_a_refused_call_raises_at_the_call_and_sends_nothing(server: ReplayServer, store: Store) -> None:
    model = priced(server)
    client = Client(api_keys=KEYS, budgets=[Budget(worst(model) / 2, name="tight")], store=store)
    with pytest.raises(BudgetExceededError) as raised:
        client.stream(model, HI, max_tokens=MAX_TOKENS)
    error = raised.value
    assert (error.budget, error.spent, error.reserved) == ("tight", 0.0, 0.0)
    assert error.limit == pytest.approx(worst(model) / 2)
    assert error.requested == pytest.approx(worst(model))
    assert "Budget 'tight' exceeded: spent $0.000000 + reserved $0.000000 of limit" in str(error)
    assert server.requests == []


def test_done_settles_the_reported_cost_and_frees_the_reservation(server: ReplayServer, store: Store) -> None:
    model = priced(server)
    client = Client(api_keys=KEYS, budgets=[Budget(1.0, period="day")], store=store)
    with client.stream(model, HI, max_tokens=MAX_TOKENS) as events:
        held = client_budgets(client).state("client/day")
        assert held.reserved == pytest.approx(worst(model))  # reserved at the call, before any event
        message = events.result()
    state = client_budgets(client).state("client/day")
    assert message.stop_reason != "error"
    assert message.usage.cost.total is not None and message.usage.cost.total > 0
    assert state.spent == pytest.approx(message.usage.cost.total)
    assert state.reserved == 0.0
    assert state.spent < worst(model)


def test_error_and_abort_settle_too(server: ReplayServer, store: Store) -> None:
    model = priced(server)
    client = Client(api_keys=KEYS, max_retries=0, budgets=[Budget(1.0)], store=store)
    server.enqueue(Replay.http_error(500))
    failed = client.complete(model, HI, max_tokens=MAX_TOKENS)
    assert failed.stop_reason == "error"
    assert client_budgets(client).state("client/total").reserved == 0.0
    with client.stream(model, HI, max_tokens=MAX_TOKENS) as events:
        for event in events:
            if event.type.endswith("_delta"):
                break
    aborted = events.result()
    assert aborted.stop_reason == "aborted"
    state = client_budgets(client).state("client/total")
    assert state.reserved == 0.0
    assert state.spent == pytest.approx(reported_cost(model, failed) + reported_cost(model, aborted))


def test_a_stream_closed_before_it_started_releases_its_reservation(server: ReplayServer) -> None:
    model = priced(server)
    client = Client(api_keys=KEYS, budgets=[Budget(1.0)])
    client.stream(model, HI, max_tokens=MAX_TOKENS).close()
    assert client_budgets(client).state("client/total").reserved == 0.0
    assert client_budgets(client).state("client/total").spent == 0.0
    assert server.requests == []


def test_spend_adds_up_until_the_limit_refuses(server: ReplayServer, store: Store) -> None:
    model = priced(server)
    cost = one_call_cost(server, model)
    limit = 3 * cost + worst(model) * 0.99  # room for 3 calls, then the 4th's worst case no longer fits
    client = Client(api_keys=KEYS, budgets=[Budget(limit, name="b")], store=store)
    for _ in range(3):
        client.complete(model, HI, max_tokens=MAX_TOKENS)
    with pytest.raises(BudgetExceededError) as raised:
        client.complete(model, HI, max_tokens=MAX_TOKENS)
    assert raised.value.spent == pytest.approx(3 * cost)
    assert len(server.requests) == 4  # the bare call of one_call_cost and three budgeted ones


def test_unknown_prices_refuse_or_count_as_zero_with_a_warning(server: ReplayServer) -> None:
    unpriced = wire_model(COMPLETIONS, server.base_url_for(COMPLETIONS))
    refusing = Client(api_keys=KEYS, budgets=[Budget(1.0)])
    with pytest.raises(BudgetExceededError, match="the request has unknown prices") as raised:
        refusing.complete(unpriced, HI)
    assert raised.value.requested is None
    counting = Client(api_keys=KEYS, budgets=[Budget(1.0, unknown_prices="zero")])
    with pytest.warns(UnknownPriceWarning, match="has no known prices; counted as costing 0"):
        message = counting.complete(unpriced, HI)
    assert message.stop_reason != "error"
    assert client_budgets(counting).state("client/total").spent == 0.0


def test_tokens_of_an_unlisted_cache_price_are_settled_at_the_input_price(server: ReplayServer) -> None:
    model = priced(server, prices=ModelCost(input=3.0, output=15.0))
    client = Client(api_keys=KEYS, budgets=[Budget(1.0)])
    message = client.complete(model, HI, max_tokens=MAX_TOKENS)
    usage = message.usage
    assert usage.cache_read > 0 and usage.cost.total is None  # the recording reads cache the model lists no price for
    expected = (usage.input * 3.0 + usage.cache_read * 3.0 + usage.output * 15.0) / 1e6
    assert client_budgets(client).state("client/total").spent == pytest.approx(expected)


def test_periods_roll_over_on_the_injected_clock(server: ReplayServer, store: Store) -> None:
    model = priced(server)
    clock = VirtualClock()
    budgets = Budgets([Budget(worst(model) * 1.5, period="day", name="daily")], clock=clock)
    client = Client(api_keys=KEYS, budgets=budgets, store=store)
    client.complete(model, HI, max_tokens=MAX_TOKENS)
    with pytest.raises(BudgetExceededError):
        client.complete(model, HI, max_tokens=MAX_TOKENS)
    first_day = budgets.state("daily")
    clock.advance(86_400)
    second_day = budgets.state("daily")
    assert second_day.period != first_day.period and second_day.spent == 0.0
    client.complete(model, HI, max_tokens=MAX_TOKENS)
    assert budgets.state("daily").spent > 0


def test_scopes_provider_model_and_tag_values(server: ReplayServer) -> None:
    groq = priced(server)
    claude = priced(server, ANTHROPIC)
    tiny = worst(groq) / 2
    client = Client(
        api_keys=KEYS,
        budgets=[
            Budget(tiny, scope="provider:anthropic", name="anthropic"),
            Budget(worst(groq) * 1.5, scope="tag:user", name="per-user"),
        ],
    )
    client.complete(groq, HI, max_tokens=MAX_TOKENS)  # untagged, not anthropic: no budget applies
    with pytest.raises(BudgetExceededError, match="'anthropic'"):
        client.complete(claude, HI, max_tokens=MAX_TOKENS)
    with pytest.raises(BudgetExceededError, match="'anthropic'"):
        client.complete([groq, claude], HI, max_tokens=MAX_TOKENS)  # the chain may reach anthropic
    client.complete(groq, HI, max_tokens=MAX_TOKENS, tags={"user": "u1"})
    with pytest.raises(BudgetExceededError, match="'per-user'"):
        client.complete(groq, HI, max_tokens=MAX_TOKENS, tags={"user": "u1"})
    client.complete(groq, HI, max_tokens=MAX_TOKENS, tags={"user": "u2"})  # each value has its own budget
    budgets = client_budgets(client)
    assert budgets.state("per-user", "u1").spent > 0
    assert budgets.state("per-user", "u3").spent == 0.0
    with pytest.raises(ValueError, match="is per tag value: give tag_value"):
        budgets.state("per-user")


def test_a_refusal_by_a_later_budget_releases_the_earlier_reservations(server: ReplayServer) -> None:
    model = priced(server)
    client = Client(
        api_keys=KEYS,
        budgets=[Budget(1.0, name="roomy"), Budget(worst(model) / 2, scope="model:groq/llama-3.3-70b-versatile")],
    )
    with pytest.raises(BudgetExceededError):
        client.complete(model, HI, max_tokens=MAX_TOKENS)
    assert client_budgets(client).state("roomy").reserved == 0.0


# --------------------------------------------------------------------------- concurrency


def _sampling_client(store: Store, model: Model, limit: float, samples: list[tuple[float, float]]) -> Client:
    budgets = Budgets([Budget(limit, name="shared")])

    def sample(message: AssistantMessage) -> None:
        state = budgets.state("shared")
        samples.append((state.spent, state.reserved))

    return Client(api_keys=KEYS, budgets=budgets, store=store, on_finish=sample)


def test_threads_never_overspend(server: ReplayServer, store: Store) -> None:
    model = priced(server)
    limit = worst(model) * 5
    samples: list[tuple[float, float]] = []
    client = _sampling_client(store, model, limit, samples)
    outcomes: list[str] = []

    def work() -> None:
        for _ in range(4):
            try:
                client.complete(model, HI, max_tokens=MAX_TOKENS)
                outcomes.append("sent")
            except BudgetExceededError:
                outcomes.append("refused")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = client_budgets(client).state("shared")
    assert final.reserved == 0.0
    assert final.spent <= limit + EPSILON
    assert all(spent + reserved <= limit + EPSILON for spent, reserved in samples)
    assert "refused" in outcomes and outcomes.count("sent") == len(server.requests) == len(samples)


def test_tasks_never_overspend(server: ReplayServer, store: Store) -> None:
    model = priced(server)
    limit = worst(model) * 5
    samples: list[tuple[float, float]] = []
    client = _sampling_client(store, model, limit, samples)

    async def one() -> str:
        try:
            await client.acomplete(model, HI, max_tokens=MAX_TOKENS)
        except BudgetExceededError:
            return "refused"
        return "sent"

    async def run() -> list[str]:
        return list(await asyncio.gather(*(one() for _ in range(24))))

    outcomes = asyncio.run(run())
    final = client_budgets(client).state("shared")
    assert final.reserved == 0.0 and final.spent <= limit + EPSILON
    assert all(spent + reserved <= limit + EPSILON for spent, reserved in samples)
    assert "refused" in outcomes and outcomes.count("sent") == len(server.requests)


def _process_calls(url: str, prefix: str, base_url: str, limit: float, calls: int, results: Any) -> None:
    model = wire_model(COMPLETIONS, base_url, cost=PRICES, max_tokens=4096, context_window=128_000)
    client = Client(api_keys=KEYS, budgets=[Budget(limit, name="fleet")], store=RedisStore(url, prefix=prefix))
    sent, refused, cost = 0, 0, 0.0
    for _ in range(calls):
        try:
            message = client.complete(model, HI, max_tokens=MAX_TOKENS)
        except BudgetExceededError as exc:
            assert exc.spent + exc.reserved + (exc.requested or 0.0) > limit
            refused += 1
            continue
        sent += 1
        cost += reported_cost(model, message)
    results.put((sent, refused, cost))


def test_four_processes_share_one_redis_budget(server: ReplayServer, redis_server: RedisServer) -> None:  # noqa: F811
    model = priced(server)
    limit = worst(model) * 6
    prefix = f"fleet-{uuid.uuid4().hex[:8]}"
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    base_url = server.base_url_for(COMPLETIONS)
    processes = [
        context.Process(target=_process_calls, args=(redis_server.url, prefix, base_url, limit, 5, results))
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    reports = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(120)
    assert [process.exitcode for process in processes] == [0, 0, 0, 0]
    sent = sum(report[0] for report in reports)
    refused = sum(report[1] for report in reports)
    assert sent + refused == 20 and refused > 0 and sent == len(server.requests)
    budgets = Budgets([Budget(limit, name="fleet")])
    budgets.bind(RedisStore(redis_server.url, prefix=prefix))
    state = budgets.state("fleet")
    assert state.reserved == 0.0
    assert state.spent == pytest.approx(sum(report[2] for report in reports))
    assert state.spent <= limit + EPSILON


# --------------------------------------------------------------------------- observers, on_finish, tags


class Recorder:
    def __init__(self, log: list[str], fail: bool = False) -> None:
        self.log = log
        self.fail = fail
        self.calls: list[CallInfo] = []

    def call_started(self, call: CallInfo) -> object:
        self.calls.append(call)
        self.log.append(f"start {call.function} {[m.key for m in call.models]}")
        if self.fail:
            raise RuntimeError("observer bug")
        return "state"

    def attempt_started(self, state: object, attempt: AttemptInfo) -> None:
        self.log.append(f"attempt {attempt.number} {attempt.model.provider} {state}")

    def attempt_ended(self, state: object, attempt: AttemptInfo, message: AssistantMessage) -> None:
        self.log.append(f"ended {attempt.number} {message.stop_reason}")

    def call_finished(self, state: object, message: AssistantMessage) -> None:
        self.log.append(f"finished {message.stop_reason} {state}")


def test_observers_see_the_call_each_attempt_and_the_end_once(server: ReplayServer) -> None:
    log: list[str] = []
    finished: list[AssistantMessage] = []
    recorder = Recorder(log)
    client = Client(api_keys=KEYS, max_retries=0, observers=[recorder], on_finish=finished.append)
    server.enqueue(Replay.http_error(503))
    chain = [priced(server), priced(server, ANTHROPIC)]
    with client.stream(chain, HI, max_tokens=MAX_TOKENS, tags={"user": "u1"}, api_key="never-observed") as events:
        assert log == ["start stream ['groq/llama-3.3-70b-versatile', 'anthropic/claude-sonnet-4-5']"]
        message = events.result()
    assert log[1:] == [
        "attempt 1 groq state",
        "ended 1 error",
        "attempt 2 anthropic state",
        f"ended 2 {message.stop_reason}",
        f"finished {message.stop_reason} state",
    ]
    call = recorder.calls[0]
    assert dict(call.tags) == {"user": "u1"} and call.options["max_tokens"] == MAX_TOKENS
    assert "api_key" not in call.options and not call.is_async
    assert finished == [message] and message.tags == {"user": "u1"}


def test_a_failing_observer_is_logged_and_the_call_goes_on(
    server: ReplayServer, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[str] = []
    client = Client(api_keys=KEYS, observers=[Recorder(log, fail=True)])
    with caplog.at_level(logging.ERROR, logger="alchemy.accounting"):
        message = client.complete(priced(server), HI, max_tokens=MAX_TOKENS)
    assert message.stop_reason != "error"
    assert "Recorder.call_started failed (ignored)" in caplog.text


def test_async_on_finish_is_awaited_and_refused_on_sync_calls(server: ReplayServer) -> None:
    seen: list[AssistantMessage] = []

    async def hook(message: AssistantMessage) -> None:
        await asyncio.sleep(0)
        seen.append(message)

    client = Client(api_keys=KEYS, on_finish=hook)
    message = asyncio.run(client.acomplete(priced(server), HI, max_tokens=MAX_TOKENS))
    assert seen == [message]
    with pytest.raises(TypeError, match=r"on_finish is an async function; call astream\(\)"):
        client.stream(priced(server), HI)
    assert len(server.requests) == 1


def test_tags_ride_on_the_message_and_its_json_never_on_the_wire(server: ReplayServer) -> None:
    import alchemy

    message = alchemy.complete(priced(server), HI, api_key="k", tags={"feature": "search"})
    assert message.tags == {"feature": "search"}
    data = message.to_dict()
    assert data["tags"] == {"feature": "search"}
    assert AssistantMessage.from_dict(data).tags == {"feature": "search"}
    with pytest.raises(ValueError, match=r"tags.feature: expected a string"):
        AssistantMessage.from_dict({**data, "tags": {"feature": 1}})
    assert "search" not in server.requests[-1].body.decode()
    untagged = alchemy.complete(priced(server), HI, api_key="k")
    assert untagged.tags == {} and "tags" not in untagged.to_dict()
    with pytest.raises(TypeError, match="tags"):
        alchemy.stream(priced(server), HI, api_key="k", tags={"n": 1})  # type: ignore[dict-item]


def test_without_accounting_a_call_builds_no_watch(server: ReplayServer) -> None:
    client = Client(api_keys=KEYS, telemetry=False, ledger=False)
    events = client.stream(priced(server), HI)
    assert events._watch is None
    events.close()


def client_budgets(client: Client) -> Budgets:
    budgets = client.budgets
    assert budgets is not None
    return budgets

