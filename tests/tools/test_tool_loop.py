"""run_tools / arun_tools: multi-turn loops against ScriptedProvider and the replay server.

Every test asserts the final context and that each tool ran exactly once per call
(the tools count their calls by the arguments they were given).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections import Counter
from typing import Any, Literal

import pytest

import alchemy
from alchemy import AbortController, AssistantMessage, Context, ModelCost, TextContent, ToolResultMessage, UserMessage
from alchemy.events import Done, Error, ToolResult
from alchemy.testing import ReplayServer, ScriptedProvider, error, scripted_model, stop, text, tool_call, usage
from alchemy.tool_loop import CANCELLED_ABORTED, NOT_RUN_ABORTED, NOT_RUN_CUT_OFF
from support import no_base_url_override, replay_server, wire_model  # noqa: F401 (fixtures)

KEY = "test-key-not-real-0000"
PRICES = ModelCost(input=3.0, output=15.0, cache_read=0.3, cache_write=3.75)


class Calls:
    """Counts tool runs by (tool, argument), thread-safe."""

    def __init__(self) -> None:
        self.counter: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()

    def add(self, tool: str, argument: str) -> None:
        with self.lock:
            self.counter[(tool, argument)] += 1


def turn(*chunks: Any, input: int = 10, output: int = 5, reason: str = "toolUse") -> list[Any]:
    return [[chunk] for chunk in chunks] + [[usage(input=input, output=output), stop(reason)]]


def roles(context: Context) -> list[str]:
    return [message.role for message in context.messages]


def results(context: Context) -> list[tuple[str, bool, str]]:
    return [
        (m.tool_call_id, m.is_error, "".join(b.text for b in m.content if isinstance(b, TextContent)))
        for m in context.messages
        if isinstance(m, ToolResultMessage)
    ]


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def weather(calls: Calls) -> alchemy.FunctionTool:
    @alchemy.tool
    def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict[str, Any]:
        """Current weather for a city."""
        calls.add("get_weather", city)
        return {"city": city, "temp": 21, "unit": unit}

    return get_weather


# --------------------------------------------------------------------------- ScriptedProvider, sync


def test_a_multi_turn_loop_with_parallel_calls(calls: Calls) -> None:
    both_running = threading.Barrier(2, timeout=10)

    @alchemy.tool
    def lookup(city: str) -> str:
        """Looks a city up."""
        both_running.wait()  # returns only when the other call runs at the same time
        calls.add("lookup", city)
        return f"{city}: found"

    provider = ScriptedProvider(
        turn(text("Checking"), tool_call("c1", "lookup", '{"city": "Pa'), tool_call("c1", arguments='ris"}'),
             tool_call("c2", "lookup", {"city": "Rome"})),  # fmt: skip
        turn(text("Both found."), reason="stop"),
    )
    context = Context(system_prompt="Be brief.", messages=[UserMessage("find Paris and Rome")])
    with provider, alchemy.run_tools(scripted_model(), context, tools=[lookup]) as run:
        events = list(run)
        result = run.result()

    assert result.reason == "done" and result.turns == 2
    assert result.context is context and result.message is context.messages[-1]
    assert roles(context) == ["user", "assistant", "toolResult", "toolResult", "assistant"]
    assert results(context) == [("c1", False, "Paris: found"), ("c2", False, "Rome: found")]
    assert result.new_messages == context.messages[1:] and len(result.tool_results) == 2
    assert calls.counter == {("lookup", "Paris"): 1, ("lookup", "Rome"): 1}
    types = [event.type for event in events]
    assert types.count("start") == 2 and types.count("done") == 2 and types.count("tool_result") == 2
    first_done = types.index("done")
    assert set(types[first_done + 1 : first_done + 3]) == {"tool_result"} and types[first_done + 3] == "start"
    tool_results = [event for event in events if isinstance(event, ToolResult)]
    assert {event.result.tool_call_id for event in tool_results} == {"c1", "c2"}
    assert all(event.partial is context.messages[1] and event.exception is None for event in tool_results)
    second = provider.calls[1].context
    assert [m.role for m in second.messages] == ["user", "assistant", "toolResult", "toolResult"]
    assert [t.name for t in second.tools or []] == ["lookup"]
    assert result.usage.input == 20 and result.usage.output == 10 and result.usage.total_tokens == 30


def test_results_as_json_and_blocks(calls: Calls, weather: alchemy.FunctionTool) -> None:
    @dataclasses.dataclass
    class Report:
        ok: bool

    @alchemy.tool
    def report() -> Report:
        return Report(True)

    @alchemy.tool
    def picture() -> list[Any]:
        return [TextContent("see"), alchemy.ImageContent("aGk=", "image/png")]

    provider = ScriptedProvider(
        turn(tool_call("a", "get_weather", {"city": "Oslo", "unit": "fahrenheit"}), tool_call("b", "report", {}),
             tool_call("c", "picture", {})),  # fmt: skip
        turn(text("done"), reason="stop"),
    )
    context = Context(messages=[UserMessage("go")])
    with provider:
        result = alchemy.run_tools(scripted_model(), context, tools=[weather, report, picture]).result()
    assert result.reason == "done"
    assert results(context)[:2] == [
        ("a", False, '{"city":"Oslo","temp":21,"unit":"fahrenheit"}'),
        ("b", False, '{"ok":true}'),
    ]
    assert context.messages[4].content == [TextContent("see"), alchemy.ImageContent("aGk=", "image/png")]
    assert calls.counter == {("get_weather", "Oslo"): 1}


def test_a_raising_tool_an_unknown_tool_and_invalid_arguments(calls: Calls, weather: alchemy.FunctionTool) -> None:
    @alchemy.tool
    def explode(reason: str) -> str:
        calls.add("explode", reason)
        raise RuntimeError(f"it broke: {reason}")

    provider = ScriptedProvider(
        turn(tool_call("x1", "explode", {"reason": "gas"}), tool_call("x2", "teleport", {"to": "Mars"}),
             tool_call("x3", "get_weather", {"unit": "kelvin"})),  # fmt: skip
        turn(text("Sorry."), reason="stop"),
    )
    context = Context(messages=[UserMessage("go")])
    with provider, alchemy.run_tools(scripted_model(), context, tools=[weather, explode]) as run:
        events = [event for event in run if isinstance(event, ToolResult)]
    assert run.result().reason == "done"
    (id1, err1, text1), (id2, err2, text2), (id3, err3, text3) = results(context)
    assert (id1, err1, text1) == ("x1", True, "it broke: gas")
    assert err2 and text2.startswith('Unknown tool "teleport": no tool has this name')
    assert '"get_weather"' in text2 and '"explode"' in text2
    assert err3 and text3.startswith('Invalid arguments for tool "get_weather":')
    assert "city: required property is missing" in text3 and "unit: 'kelvin' is not one of" in text3
    assert calls.counter == {("explode", "gas"): 1}  # neither invalid call reached a function
    raised = {event.result.tool_call_id: event.exception for event in events}
    assert isinstance(raised["x1"], RuntimeError) and raised["x2"] is None and raised["x3"] is None


def test_max_turns_stops_after_that_turns_tools(calls: Calls, weather: alchemy.FunctionTool) -> None:
    provider = ScriptedProvider(turn(tool_call("again", "get_weather", {"city": "Lima"})))  # repeats forever
    context = Context(messages=[UserMessage("loop")])
    with provider:
        result = alchemy.run_tools(scripted_model(), context, tools=[weather], max_turns=3).result()
    assert result.reason == "max_turns" and result.turns == 3 and len(provider.calls) == 3
    assert roles(context) == ["user"] + ["assistant", "toolResult"] * 3
    assert calls.counter == {("get_weather", "Lima"): 3}  # once per call, three calls


def test_an_error_turn_stops_and_keeps_what_arrived(calls: Calls, weather: alchemy.FunctionTool) -> None:
    provider = ScriptedProvider(
        turn(tool_call("t1", "get_weather", {"city": "Kyiv"})),
        [[text("Partial ans")], [error("upstream overloaded")]],
    )
    context = Context(messages=[UserMessage("go")])
    with provider:
        result = alchemy.run_tools(scripted_model(), context, tools=[weather]).result()
    assert result.reason == "error" and result.turns == 2
    assert roles(context) == ["user", "assistant", "toolResult", "assistant"]
    last = context.messages[-1]
    assert isinstance(last, AssistantMessage) and last.stop_reason == "error" and last.text == "Partial ans"
    assert calls.counter == {("get_weather", "Kyiv"): 1}


def test_an_error_turn_with_calls_runs_none_of_them(calls: Calls, weather: alchemy.FunctionTool) -> None:
    provider = ScriptedProvider([[tool_call("t1", "get_weather", {"city": "Kyiv"})], [error("cut")]])
    context = Context(messages=[UserMessage("go")])
    with provider:
        result = alchemy.run_tools(scripted_model(), context, tools=[weather]).result()
    assert result.reason == "error" and roles(context) == ["user", "assistant"] and not calls.counter


def test_a_call_cut_off_by_max_tokens_is_not_run(calls: Calls, weather: alchemy.FunctionTool) -> None:
    provider = ScriptedProvider(
        turn(tool_call("ok", "get_weather", {"city": "Bern"}), tool_call("cut", "get_weather", '{"city": "Zur'),
             reason="length"),  # fmt: skip
        turn(text("Zurich too?"), reason="stop"),
    )
    context = Context(messages=[UserMessage("go")])
    with provider:
        result = alchemy.run_tools(scripted_model(), context, tools=[weather]).result()
    assert result.reason == "done"
    assert results(context)[0][:2] == ("ok", False)
    assert results(context)[1] == ("cut", True, NOT_RUN_CUT_OFF)
    assert calls.counter == {("get_weather", "Bern"): 1}


def test_abort_mid_turn_ends_the_run(calls: Calls, weather: alchemy.FunctionTool) -> None:
    controller = AbortController()
    provider = ScriptedProvider(
        turn(tool_call("t1", "get_weather", {"city": "Quito"})),
        [[text("The weather")], [text(" in Quito is")], [stop()]],
    )
    context = Context(messages=[UserMessage("go")])
    with provider, alchemy.run_tools(scripted_model(), context, tools=[weather], signal=controller.signal) as run:
        for event in run:
            if event.type == "text_delta":  # the second turn is streaming
                controller.abort()
    result = run.result()
    assert result.reason == "aborted" and result.turns == 2
    last = context.messages[-1]
    assert isinstance(last, AssistantMessage) and last.stop_reason == "aborted" and last.text == "The weather"
    assert roles(context) == ["user", "assistant", "toolResult", "assistant"]
    assert calls.counter == {("get_weather", "Quito"): 1}


def test_abort_while_tools_run_waits_for_them_and_stops(calls: Calls) -> None:
    controller = AbortController()
    release = threading.Event()

    @alchemy.tool
    def slow(name: str) -> str:
        release.wait(10)
        calls.add("slow", name)
        return f"{name} done"

    @alchemy.tool
    def stopper(name: str) -> str:
        calls.add("stopper", name)
        controller.abort()
        release.set()
        return "stopping"

    provider = ScriptedProvider(
        turn(tool_call("s1", "slow", {"name": "a"}), tool_call("s2", "stopper", {"name": "b"})),
        turn(text("never streamed"), reason="stop"),
    )
    context = Context(messages=[UserMessage("go")])
    with provider:
        result = alchemy.run_tools(scripted_model(), context, tools=[slow, stopper], signal=controller.signal).result()
    assert result.reason == "aborted" and result.turns == 1 and len(provider.calls) == 1
    assert results(context) == [("s1", False, "a done"), ("s2", False, "stopping")]
    assert calls.counter == {("slow", "a"): 1, ("stopper", "b"): 1}


def test_leaving_early_answers_every_call_once(calls: Calls) -> None:
    gate = threading.Event()
    held_started = threading.Event()

    @alchemy.tool
    def quick(n: int) -> str:
        calls.add("quick", str(n))
        return "quick"

    @alchemy.tool
    def held(n: int) -> str:
        held_started.set()
        gate.wait(10)
        calls.add("held", str(n))
        return "held"

    provider = ScriptedProvider(turn(tool_call("q", "quick", {"n": 1}), tool_call("h", "held", {"n": 2})))
    context = Context(messages=[UserMessage("go")])
    with provider:
        run = alchemy.run_tools(scripted_model(), context, tools=[quick, held])
        for event in run:
            if isinstance(event, ToolResult):  # quick's result: leave while held still runs
                assert held_started.wait(10)
                gate.set()
                break
        run.close()
    result = run.result()
    assert result.reason == "aborted" and result.turns == 1
    assert sorted(results(context)) == [("h", False, "held"), ("q", False, "quick")]
    assert calls.counter == {("quick", "1"): 1, ("held", "2"): 1}


def test_leaving_before_the_tools_ran_answers_them_as_not_run(calls: Calls, weather: alchemy.FunctionTool) -> None:
    provider = ScriptedProvider(turn(tool_call("w", "get_weather", {"city": "Lyon"})))
    context = Context(messages=[UserMessage("go")])
    with provider, alchemy.run_tools(scripted_model(), context, tools=[weather]) as run:
        for event in run:
            if isinstance(event, Done):
                break
    assert run.result().reason == "aborted"
    assert results(context) == [("w", True, NOT_RUN_ABORTED)]
    assert not calls.counter


def test_usage_and_cost_are_summed_over_turns(weather: alchemy.FunctionTool) -> None:
    prices = ModelCost(input=1.0, output=2.0, cache_read=0.0, cache_write=0.0)
    model = dataclasses.replace(scripted_model(), cost=prices)
    provider = ScriptedProvider(
        turn(tool_call("u", "get_weather", {"city": "Lima"}), input=1000, output=500),
        turn(text("ok"), input=2000, output=100, reason="stop"),
    )
    with provider:
        run = alchemy.run_tools(model, Context(messages=[UserMessage("go")]), tools=[weather])
        result = run.result()
    assert (result.usage.input, result.usage.output, result.usage.total_tokens) == (3000, 600, 3600)
    assert result.usage.cost.input == pytest.approx(0.003) and result.usage.cost.output == pytest.approx(0.0012)
    assert result.usage.cost.total == pytest.approx(0.0042) and run.usage is result.usage and run.turns == 2


def test_what_is_wrong_raises_at_the_call(weather: alchemy.FunctionTool) -> None:
    model = scripted_model()
    context = Context(messages=[UserMessage("go")])
    with ScriptedProvider(turn(text("x"), reason="stop")) as provider:
        with pytest.raises(TypeError, match="option temperature"):
            alchemy.run_tools(model, context, tools=[weather], temperature="hot")  # type: ignore[typeddict-item]
        with pytest.raises(ValueError, match="max_turns must be an int >= 1, got 0"):
            alchemy.run_tools(model, context, tools=[weather], max_turns=0)
        with pytest.raises(TypeError, match=r"tools\[0\]: tool 'bare' has no function to run"):
            alchemy.run_tools(model, context, tools=[alchemy.Tool("bare", "No function.")])
        with pytest.raises(ValueError, match="two tools are named 'get_weather'"):
            alchemy.run_tools(model, context, tools=[weather, weather])
        with pytest.raises(TypeError, match="tools must be a list of tools or functions, got str"):
            alchemy.run_tools(model, context, tools="get_weather")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="expects an alchemy.Context as context"):
            alchemy.run_tools(model, "hi", tools=[weather])  # type: ignore[arg-type]
        assert provider.calls == []  # nothing was sent


def test_plain_functions_and_context_tools_are_offered(calls: Calls, weather: alchemy.FunctionTool) -> None:
    def shout(word: str) -> str:
        """Shouts."""
        return word.upper()

    provider = ScriptedProvider(
        turn(tool_call("s", "shout", {"word": "hey"}), tool_call("w", "get_weather", {"city": "Oslo"})),
        turn(text("ok"), reason="stop"),
    )
    context = Context(messages=[UserMessage("go")], tools=[weather])
    with provider:
        result = alchemy.run_tools(scripted_model(), context, tools=[shout]).result()
    assert results(context)[0] == ("s", False, "HEY") and not results(context)[1][1]
    assert [t.name for t in provider.calls[0].context.tools or []] == ["get_weather", "shout"]
    assert context.tools == [weather] and result.reason == "done"  # the context's own tools are left as they were


def test_a_strict_tool_in_the_loop(calls: Calls) -> None:
    @alchemy.tool(strict=True)
    def convert(amount: float, currency: str = "EUR") -> str:
        calls.add("convert", f"{amount} {currency}")
        return "ok"

    provider = ScriptedProvider(
        turn(tool_call("k", "convert", {"amount": 3, "currency": None})),  # strict mode's null: "not given"
        turn(text("done"), reason="stop"),
    )
    context = Context(messages=[UserMessage("go")])
    with provider:
        assert alchemy.run_tools(scripted_model(), context, tools=[convert]).result().reason == "done"
    assert calls.counter == {("convert", "3.0 EUR"): 1}
    assert provider.calls[0].context.tools == [convert]


def test_the_readme_example_runs() -> None:
    import re

    from support import ROOT

    text_ = (ROOT / "README.md").read_text(encoding="utf-8")
    snippet = next(b for b in re.findall(r"```python\n(.*?)```", text_, flags=re.DOTALL) if "run_tools(" in b)
    provider = ScriptedProvider(turn(tool_call("r", "get_weather", {"city": "Paris"})), turn(text("21"), reason="stop"))
    context = Context(messages=[UserMessage("?")])
    namespace: dict[str, Any] = {"alchemy": alchemy, "model": scripted_model(), "context": context}
    with provider:
        exec(compile(snippet, "README.md", "exec"), namespace)
    assert namespace["result"].reason == "done" and namespace["result"].turns == 2
    assert results(namespace["context"]) == [("r", False, '{"city":"Paris","temp":21,"unit":"celsius"}')]


# --------------------------------------------------------------------------- ScriptedProvider, async


def test_async_tools_run_concurrently_and_sync_ones_in_threads(calls: Calls) -> None:
    threads: list[int] = []

    async def main() -> tuple[Any, list[str], int]:
        first_started = asyncio.Event()

        @alchemy.tool
        async def first(n: int) -> str:
            first_started.set()
            await asyncio.sleep(0)
            calls.add("first", str(n))
            return "first"

        @alchemy.tool
        async def second(n: int) -> str:
            await asyncio.wait_for(first_started.wait(), 10)  # needs `first` running at the same time
            calls.add("second", str(n))
            return "second"

        @alchemy.tool
        def blocking(n: int) -> str:
            threads.append(threading.get_ident())
            calls.add("blocking", str(n))
            return "blocking"

        async with alchemy.arun_tools(scripted_model(), context, tools=[first, second, blocking]) as run:
            seen = [event.type async for event in run]
        return await run.result(), seen, threading.get_ident()

    provider = ScriptedProvider(
        turn(tool_call("b", "second", {"n": 2}), tool_call("a", "first", {"n": 1}),
             tool_call("c", "blocking", {"n": 3})),  # fmt: skip
        turn(text("all done"), reason="stop"),
    )
    context = Context(messages=[UserMessage("go")])
    with provider:
        result, seen, loop_thread = asyncio.run(main())
    assert result.reason == "done" and result.turns == 2 and seen.count("tool_result") == 3
    assert results(context) == [("b", False, "second"), ("a", False, "first"), ("c", False, "blocking")]
    assert threads and threads[0] != loop_thread
    assert calls.counter == {("first", "1"): 1, ("second", "2"): 1, ("blocking", "3"): 1}


def test_async_abort_cancels_running_async_tools(calls: Calls) -> None:
    controller = AbortController()

    @alchemy.tool
    async def forever(n: int) -> str:
        calls.add("forever", str(n))
        await asyncio.sleep(3600)
        return "never"

    @alchemy.tool
    async def stopper(n: int) -> str:
        calls.add("stopper", str(n))
        controller.abort()
        return "stopping"

    provider = ScriptedProvider(
        turn(tool_call("f", "forever", {"n": 1}), tool_call("s", "stopper", {"n": 2})),
        turn(text("never"), reason="stop"),
    )
    context = Context(messages=[UserMessage("go")])
    with provider:
        run = alchemy.arun_tools(scripted_model(), context, tools=[forever, stopper], signal=controller.signal)
        result = asyncio.run(run.result())
    assert result.reason == "aborted" and len(provider.calls) == 1
    assert results(context) == [("f", True, CANCELLED_ABORTED), ("s", False, "stopping")]
    assert calls.counter == {("forever", "1"): 1, ("stopper", "2"): 1}


def test_async_error_turn_and_max_turns(calls: Calls, weather: alchemy.FunctionTool) -> None:
    with ScriptedProvider(turn(tool_call("w", "get_weather", {"city": "Rome"}))):
        context = Context(messages=[UserMessage("go")])
        result = asyncio.run(alchemy.arun_tools(scripted_model(), context, tools=[weather], max_turns=2).result())
    assert result.reason == "max_turns" and roles(context) == ["user"] + ["assistant", "toolResult"] * 2

    async def collect(run: alchemy.AsyncToolRun) -> list[Any]:
        return [event async for event in run]

    with ScriptedProvider([[text("x")], [error("boom")]]):
        context = Context(messages=[UserMessage("go")])
        run = alchemy.arun_tools(scripted_model(), context, tools=[weather])
        events = asyncio.run(collect(run))
    assert run.finished and isinstance(events[-1], Error) and roles(context) == ["user", "assistant"]
    assert calls.counter == {("get_weather", "Rome"): 2}


# --------------------------------------------------------------------------- the replay server


ANSWER = [
    {"type": "message_start", "message": {"id": "msg_2", "type": "message", "role": "assistant", "content": [],
                                          "model": "claude-sonnet-4-5", "stop_reason": None,
                                          "usage": {"input_tokens": 500, "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "21 degrees in Paris."}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}},
    {"type": "message_stop"},
]  # fmt: skip


@pytest.fixture
def server(replay_server: ReplayServer) -> ReplayServer:
    return replay_server


def _check_replayed(server: ReplayServer, before: int, context: Context, calls: Calls) -> None:
    assert len(server.requests) == before + 2
    second = server.requests[-1].json
    assert second["tools"][0]["name"] == "get_weather"
    tool_use = second["messages"][1]["content"][-1]
    assert tool_use["type"] == "tool_use" and tool_use["input"] == {"city": "Paris", "unit": "celsius"}
    tool_result = second["messages"][2]["content"][0]
    assert tool_result["type"] == "tool_result" and tool_result["tool_use_id"] == tool_use["id"]
    assert "temp" in str(tool_result["content"])
    assert roles(context) == ["user", "assistant", "toolResult", "assistant"]
    assert context.messages[-1].text == "21 degrees in Paris."  # type: ignore[union-attr]
    assert calls.counter == {("get_weather", "Paris"): 1}


def test_a_loop_through_the_replay_server(server: ReplayServer, calls: Calls, weather: alchemy.FunctionTool) -> None:
    from alchemy.testing import Replay

    server.enqueue(Replay(), Replay(recording=ANSWER))
    before = len(server.requests)
    model = wire_model("anthropic-messages", server.base_url_for("anthropic-messages"), cost=PRICES)
    context = Context(messages=[UserMessage("Weather in Paris?")])
    result = alchemy.run_tools(model, context, tools=[weather], api_key=KEY).result()
    assert result.reason == "done" and result.turns == 2
    assert result.usage.output == 96 + 9 and result.usage.cost.total is not None and result.usage.cost.total > 0
    _check_replayed(server, before, context, calls)


def test_an_async_loop_through_the_replay_server(
    server: ReplayServer, calls: Calls, weather: alchemy.FunctionTool
) -> None:
    from alchemy.testing import Replay

    async def main() -> Any:
        async with alchemy.arun_tools(model, context, tools=[weather], api_key=KEY) as run:
            async for _ in run:
                pass
        return await run.result()

    server.enqueue(Replay(chunking="bytes=17"), Replay(recording=ANSWER))
    before = len(server.requests)
    model = wire_model("anthropic-messages", server.base_url_for("anthropic-messages"))
    context = Context(messages=[UserMessage("Weather in Paris?")])
    assert asyncio.run(main()).reason == "done"
    _check_replayed(server, before, context, calls)
