"""The event emitter every provider parser writes through.

A provider parser turns wire chunks into calls such as ``text_delta("Hel")`` or
``tool_call_start(id, name)``; the emitter updates the one in-progress
:class:`~alchemy.types.AssistantMessage` and pushes the matching events into the
stream's :class:`EventBuffer`. It enforces the protocol, so no provider can break it:

* one :class:`~alchemy.events.Start` before any block (sent implicitly when a
  provider opens a block first);
* blocks are sequential: opening a block closes the open one with its ``*End``
  event, and ``done()`` closes the last one; a delta of another kind than the open
  block opens a new block; ``content_index`` is the block's position in
  ``message.content``;
* exactly one terminal :class:`~alchemy.events.Done` or
  :class:`~alchemy.events.Error`; every call after it is ignored;
* on error every block and the usage received so far stay in the message (an open
  block gets no ``*End``; a tool call keeps its best-effort arguments), and
  ``message.error`` says why (:class:`~alchemy.errors.ErrorInfo`: kind, status,
  retryable, ...).

Calls that make no sense (a tool-call delta with no tool call open, a ``done``
with an error reason) raise :class:`~alchemy.errors.StreamProtocolError` or
``ValueError``; raised inside a source's ``pump()``, they end the stream with an
``error`` event naming the mistake. Empty deltas are ignored.

Tool-call arguments stream through one ``JsonDeltaMerger`` per call:
``message.content[i].arguments`` reads its best-effort value lazily, so a consumer
that does not look pays nothing; ``tool_call_end()`` fixes the parsed value.
Providers that receive whole arguments (Gemini) pass a dict instead. Arguments that
nest deeper than :data:`~alchemy.json.MAX_JSON_DEPTH`, streamed or whole, end the
stream with an ``invalid_output`` error (:func:`too_deep_arguments`); the call keeps
its arguments up to the limit.

Structured output (an emitter made with ``output=``, :mod:`alchemy.structured`): in
native mode every text delta also feeds one merger, which ``message.parsed`` reads
lazily; in tool mode the output tool's call is shown as a text block (``text_*``
events carrying the JSON) and its merger is the one ``parsed`` reads. ``done()``
validates the object, or ends the stream with an ``invalid_output`` error (a refusal:
``content_filter``) that keeps the raw text. Refusals arrive through
:meth:`EventEmitter.refusal_delta` / :meth:`EventEmitter.set_refusal`.

Pricing: parsers report token counts only, through :meth:`EventEmitter.set_usage`;
an emitter made with the ``model`` fills ``usage.cost`` from the model's prices at
each report (:func:`~alchemy.models.calculate_cost`), so the usage every event's
``partial`` carries is priced whenever it was reported, and the final message too.
Parsers report usage a few times per response (Gemini's parser spaces its reports),
never per chunk, so pricing at the report costs nothing on the per-chunk path.
Without a model (a parser driven alone in a test) the cost is left as reported.

Usage the provider never sent: an emitter that knows the request (``context``, with
the ``model``) fills it in when the response began but ends without it -- a stream
cut before the provider's final usage, an abort, or a provider that reports none --
with counts from :func:`~alchemy.tokens.estimate_usage` (the prompt, and the content
received), marked ``usage.estimated`` and priced; never a silent 0. On ``error`` a
count the provider did report is kept unless the content received shows more than
twice as many tokens (an output count sent at the start and never updated, as in
Anthropic's ``message_start``; a running count is kept, tokenizers differ); on
``done`` reported usage is final.

Secrets: the emitter's :class:`~alchemy.request.Secrets` (the stream's redactor) hides
every key in play from the ``error_message`` of :meth:`EventEmitter.error`.

Parsers read the state they need through small accessors (:attr:`~EventEmitter.open_block`,
:attr:`~EventEmitter.has_tool_calls`, :attr:`~EventEmitter.stop_reason`,
:attr:`~EventEmitter.response_id`, :meth:`~EventEmitter.text_blocks` to place citations,
:attr:`~EventEmitter.block_count`) rather than reaching into ``message.content``.

Tools the provider runs itself open a :class:`~alchemy.types.ServerToolCall` block
(:meth:`EventEmitter.server_tool_start`, input fragments, :meth:`EventEmitter.server_tool_end`
with the result; :meth:`EventEmitter.server_tool` for a whole one); citations go on a text
block with :meth:`EventEmitter.add_citations`; :meth:`EventEmitter.set_paused` marks a paused
turn. Server tool calls never make a turn stop with ``toolUse``.

Retries: a runner may restart an attempt with :meth:`EventEmitter.restart` as long
as :attr:`EventEmitter.content_delivered` is false, i.e. the consumer has seen at
most the ``Start`` event. The emitter is not thread-safe: one producer at a time.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, Final

import orjson

from ._speedups import MAX_JSON_DEPTH, EventBuffer, JsonDeltaMerger
from ._speedups._limits import exceeds_json_depth
from .errors import ERROR_KINDS, AlchemyError, ErrorInfo, InvalidOutputError, StreamProtocolError
from .request import Secrets
from .events import (
    AssistantMessageEvent,
    ErrorReason,
    Done,
    Error,
    Start,
    TextDelta,
    TextEnd,
    TextStart,
    ThinkingDelta,
    ThinkingEnd,
    ThinkingStart,
    ServerToolDelta,
    ServerToolEnd,
    ServerToolStart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
)
from .types import (
    SERVER_TOOL_STATUSES,
    AssistantMessage,
    Citation,
    Model,
    ServerToolCall,
    ServerToolStatus,
    StopReason,
    TextContent,
    ThinkingContent,
    ToolCall,
    Usage,
)

if TYPE_CHECKING:
    from .structured import OutputPlan, OutputState
    from .types import AssistantContent, Context, Cost, TokenLogprob

__all__ = ["ABORTED_MESSAGE", "DONE_REASONS", "EventEmitter", "describe_exception", "new_partial", "too_deep_arguments"]

DONE_REASONS: Final = frozenset({"stop", "length", "toolUse"})
"""The stop reasons a successful response may end with."""

ABORTED_MESSAGE: Final = "Request was aborted"
"""The ``error_message`` of a stream ended by an abort signal."""

# What kind of block is open.
_NONE: Final = 0
_TEXT: Final = 1
_THINKING: Final = 2
_TOOL_CALL: Final = 3
_SERVER_TOOL: Final = 4

_KIND_NAMES: Final = {
    _NONE: "no block",
    _TEXT: "a text block",
    _THINKING: "a thinking block",
    _TOOL_CALL: "a tool call",
    _SERVER_TOOL: "a server tool call",
}

_KEEP: Final[Any] = object()
"""Marks an argument not given (``None`` is a value: a server tool with no result)."""

MergerFactory = Callable[[], Any]
"""Makes the merger of one tool call (``JsonDeltaMerger`` unless a test swaps it)."""

_logger = logging.getLogger("alchemy")


def new_partial(model: Model) -> AssistantMessage:
    """The empty in-progress message of a response from ``model``."""
    return AssistantMessage(api=model.api, provider=model.provider, model=model.id)


class EventEmitter:
    """Turns a provider parser's calls into protocol-correct events in an :class:`EventBuffer`."""

    __slots__ = (
        "message",
        "secrets",
        "_price",
        "_model",
        "_context",
        "_began",
        "_buffer",
        "_push",
        "_merger_factory",
        "_started",
        "_start_position",
        "_finished",
        "_kind",
        "_index",
        "_block",
        "_merger",
        "_output",
        "_shadow",
        "before_early_end",
    )

    def __init__(
        self,
        message: AssistantMessage,
        buffer: EventBuffer[AssistantMessageEvent] | None = None,
        *,
        model: Model | None = None,
        merger_factory: MergerFactory | None = None,
        context: Context | None = None,
        secrets: Secrets | None = None,
        output: OutputPlan | None = None,
    ) -> None:
        self.message = message
        """The in-progress message every event carries as ``partial``."""
        self.secrets = Secrets() if secrets is None else secrets
        """The stream's redactor: what :meth:`error` hides (runners add the keys they use)."""
        self._price: Callable[[Usage], Cost] | None = None
        self._model = model
        self._context = context if model is not None else None
        self._began = False
        if model is not None:
            if not isinstance(model, Model):
                raise TypeError(f"EventEmitter() expects an alchemy.Model as model, got {type(model).__name__}")
            from .models._cost import price_usage  # not at import: ``import alchemy`` loads no registry code

            self._price = partial(price_usage, model)
        self._buffer: EventBuffer[AssistantMessageEvent] = EventBuffer() if buffer is None else buffer
        self._push = self._buffer.push
        self._merger_factory = JsonDeltaMerger if merger_factory is None else merger_factory
        self._started = False
        self._start_position = 0
        self._finished = False
        self._kind = _NONE
        self._index = -1
        self._block: Any = None
        self._merger: Any = None
        self._shadow: TextContent | None = None
        self._output: OutputState | None = None
        self.before_early_end: Callable[[], None] | None = None
        """Called once by :meth:`error` before the stream ends early, to emit what a parser
        still holds (runners set it to the parser's ``flush_pending``); cleared by :meth:`restart`."""
        if output is not None:
            from .structured import OutputState

            self._output = OutputState(output, message, self._merger_factory)

    # -- state ----------------------------------------------------------------

    @property
    def buffer(self) -> EventBuffer[AssistantMessageEvent]:
        return self._buffer

    @property
    def started(self) -> bool:
        """Whether the ``Start`` event was sent (in this attempt or a delivered earlier one)."""
        return self._started

    @property
    def finished(self) -> bool:
        """Whether the terminal ``Done`` or ``Error`` was sent."""
        return self._finished

    @property
    def current_index(self) -> int | None:
        """The ``content_index`` of the open block, or ``None`` when no block is open."""
        return self._index if self._kind != _NONE else None

    @property
    def open_block(self) -> AssistantContent | None:
        """The block that is open (the one deltas go to), or ``None``."""
        return self._block if self._kind != _NONE else None

    @property
    def block_count(self) -> int:
        """How many blocks the message has so far (the open one included)."""
        return len(self.message.content)

    def text_blocks(self) -> list[tuple[int, TextContent]]:
        """``(content_index, block)`` of every text block so far, in order (to place citations;
        read them, do not change them: the emitter's calls do)."""
        return [(i, block) for i, block in enumerate(self.message.content) if type(block) is TextContent]

    def text_block_at(self, offset: int) -> tuple[int, TextContent, int] | None:
        """The text block holding character ``offset`` of the text blocks laid end to end (the last
        one when ``offset`` is past the end): ``(content_index, block, the block's own offset)``;
        ``None`` when there is no text block. Where providers give citation ranges over the
        whole answer, this says which block a range starts in."""
        found: tuple[int, TextContent, int] | None = None
        base = 0
        for index, block in self.text_blocks():
            if found is not None and base > offset:
                break
            found = (index, block, base)
            base += len(block.text)
        return found

    @property
    def has_tool_calls(self) -> bool:
        """Whether the message holds a tool call (open or closed)."""
        return any(type(block) is ToolCall for block in self.message.content)

    @property
    def stop_reason(self) -> StopReason:
        """The stop reason recorded so far (``"stop"`` until :meth:`set_stop_reason`)."""
        return self.message.stop_reason

    @property
    def response_id(self) -> str | None:
        """The response id recorded with :meth:`set_response_id`, if any."""
        return self.message.response_id

    @property
    def content_delivered(self) -> bool:
        """Whether the consumer has taken any event after ``Start`` (then no restart)."""
        return self._started and self._buffer.handed_out > self._start_position + 1

    # -- start ----------------------------------------------------------------

    def start(self) -> None:
        """Sends ``Start`` (once; later calls do nothing)."""
        self._began = True
        if self._started or self._finished:
            return
        self._started = True
        buffer = self._buffer
        self._start_position = buffer.handed_out + len(buffer)
        self._push(Start(self.message))

    # -- text -----------------------------------------------------------------

    def text_start(self, text_signature: str | None = None) -> None:
        """Opens a new text block (closing the open block)."""
        if self._finished:
            return
        self._open(_TEXT, TextContent("", text_signature))
        self._push(TextStart(self._index, self.message))

    def text_delta(self, delta: str) -> None:
        """Appends text, opening a text block when another kind (or none) is open."""
        if not delta:
            return
        if self._kind != _TEXT:
            if self._finished:
                return
            self.text_start()
        block: TextContent = self._block
        # Drop the block's reference first so ``+=`` can grow the string in place
        # (CPython reuses a string with one reference): linear, not quadratic.
        text = block.text
        block.text = ""
        try:
            text += delta  # a non-str delta raises here, and the finally puts the text back
        finally:
            block.text = text
        output = self._output
        if output is not None and output.native:
            output.merger.feed(delta)
        self._push(TextDelta(self._index, delta, self.message))

    def text_end(self) -> None:
        """Closes the open text block (nothing happens when no block is open)."""
        self._end(_TEXT)

    def set_text_signature(self, signature: str, *, append: bool = False) -> None:
        """Sets (or extends) the signature of the open or the last text block."""
        if self._finished:
            return
        block = self._target(TextContent, "set_text_signature")
        block.text_signature = (block.text_signature or "") + signature if append else signature

    # -- thinking -------------------------------------------------------------

    def thinking_start(self, signature: str | None = None, *, redacted: bool = False, text: str = "") -> None:
        """Opens a new thinking block; a redacted block carries its payload as ``signature``."""
        if self._finished:
            return
        self._open(_THINKING, ThinkingContent(text, signature, redacted))
        self._push(ThinkingStart(self._index, self.message))

    def thinking_delta(self, delta: str) -> None:
        """Appends thinking text, opening a thinking block when another kind (or none) is open."""
        if not delta:
            return
        if self._kind != _THINKING:
            if self._finished:
                return
            self.thinking_start()
        block: ThinkingContent = self._block
        text = block.thinking
        block.thinking = ""
        try:
            text += delta
        finally:
            block.thinking = text
        self._push(ThinkingDelta(self._index, delta, self.message))

    def thinking_end(self) -> None:
        """Closes the open thinking block (nothing happens when no block is open)."""
        self._end(_THINKING)

    def set_thinking_signature(self, signature: str, *, append: bool = False, redacted: bool = False) -> None:
        """Sets (or extends) the signature of the open or the last thinking block.

        ``redacted`` marks the block redacted: its signature is then the encrypted payload.
        """
        if self._finished:
            return
        block = self._target(ThinkingContent, "set_thinking_signature")
        block.thinking_signature = (block.thinking_signature or "") + signature if append else signature
        if redacted:
            block.redacted = True

    # -- tool calls -----------------------------------------------------------

    def tool_call_start(self, id: str, name: str, *, thought_signature: str | None = None) -> None:
        """Opens a tool call whose arguments arrive as JSON fragments."""
        if self._finished:
            return
        block = ToolCall(id, name, None, thought_signature)
        merger = self._merger_factory()
        block.stream_arguments_from(merger)
        self._open(_TOOL_CALL, block)
        self._merger = merger
        output = self._output
        if output is not None and output.is_output_tool(name):
            # Structured output through a forced tool: the call is shown as the answer's text.
            shadow = self._shadow = TextContent("")
            self.message.content[self._index] = shadow
            output.follow(merger)
            self._push(TextStart(self._index, self.message))
            return
        self._push(ToolCallStart(self._index, self.message))

    def tool_call_delta(self, fragment: str) -> None:
        """Feeds a fragment of the open tool call's JSON arguments."""
        if not fragment:
            return
        if self._kind != _TOOL_CALL:
            if self._finished:
                return
            raise StreamProtocolError(
                f"tool_call_delta() with {_KIND_NAMES[self._kind]} open; call tool_call_start(id, name) first"
            )
        merger = self._merger
        merger.feed(fragment)
        if merger.too_deep:
            raise too_deep_arguments(self.message.model, self._block.name)
        shadow = self._shadow
        if shadow is not None:
            text = shadow.text
            shadow.text = ""
            text += fragment
            shadow.text = text
            self._push(TextDelta(self._index, fragment, self.message))
            return
        self._push(ToolCallDelta(self._index, fragment, self.message))

    def update_tool_call(
        self, *, id: str | None = None, name: str | None = None, thought_signature: str | None = None
    ) -> None:
        """Fills in the open tool call's id, name or signature when they arrive late."""
        if self._finished:
            return
        block = self._target(ToolCall, "update_tool_call")
        if id is not None:
            block.id = id
        if name is not None:
            block.name = name
        if thought_signature is not None:
            block.thought_signature = thought_signature

    def tool_call_end(self, arguments: dict[str, Any] | None = None) -> None:
        """Closes the open tool call, fixing its arguments (``arguments`` replaces them)."""
        if arguments is not None and self._kind == _TOOL_CALL:
            _check_arguments(arguments, self.message.model, self._block.name)
            shadow = self._shadow
            if shadow is not None and not shadow.text:
                self.tool_call_delta(orjson.dumps(arguments).decode())  # the answer arrived whole
            self._block.arguments = arguments
        self._end(_TOOL_CALL)

    def tool_call(
        self, id: str, name: str, arguments: dict[str, Any], *, thought_signature: str | None = None
    ) -> None:
        """A whole tool call at once (providers that do not stream arguments).

        Sends start, one delta with the arguments as JSON, and end, as pi-ai does.
        """
        if self._finished:
            return
        _check_arguments(arguments, self.message.model, name)
        output = self._output
        if output is not None and output.is_output_tool(name):
            self.tool_call_start(id, name, thought_signature=thought_signature)
            self.tool_call_delta(orjson.dumps(arguments).decode())
            self.tool_call_end()
            return
        self._open(_TOOL_CALL, ToolCall(id, name, arguments, thought_signature))
        index = self._index
        message = self.message
        self._push(ToolCallStart(index, message))
        self._push(ToolCallDelta(index, orjson.dumps(arguments).decode(), message))
        self._close()

    # -- tools the provider runs itself -------------------------------------

    def server_tool_start(
        self, id: str, name: str, *, input: dict[str, Any] | None = None, wire: dict[str, Any] | None = None
    ) -> None:
        """Opens a :class:`~alchemy.types.ServerToolCall` (status ``in_progress``).

        Without ``input`` the input streams as JSON fragments (:meth:`server_tool_delta`);
        with it, it is known already (and text fragments may extend one of its fields).
        """
        if self._finished:
            return
        if input is not None:
            _check_arguments(input, self.message.model, name)
        block = ServerToolCall(id, name, input, None, "in_progress", self.message.provider, wire)
        self._open(_SERVER_TOOL, block)
        if input is None:
            merger = self._merger_factory()
            block.stream_input_from(merger)
            self._merger = merger
        self._push(ServerToolStart(self._index, self.message))

    def server_tool_delta(self, fragment: str, *, field: str | None = None) -> None:
        """A fragment of the open server tool's input.

        ``field=None``: a JSON fragment of the whole input (Anthropic's ``input_json_delta``,
        MCP arguments). ``field="code"``: text appended to that field of the input (OpenAI's
        code interpreter streams the code itself).
        """
        if not fragment:
            return
        if self._kind != _SERVER_TOOL:
            if self._finished:
                return
            raise StreamProtocolError(
                f"server_tool_delta() with {_KIND_NAMES[self._kind]} open; call server_tool_start(id, name) first"
            )
        block: ServerToolCall = self._block
        if field is None:
            merger = self._merger
            if merger is None:
                raise StreamProtocolError("server_tool_delta() without field= on a server tool whose input was given")
            merger.feed(fragment)
            if merger.too_deep:
                raise too_deep_arguments(self.message.model, block.name)
        else:
            if self._merger is not None:  # text fragments: the input is a plain dict from here on
                block.stream_input_from(None)
                self._merger = None
            current = block.input.get(field)
            block.input[field] = (current if isinstance(current, str) else "") + fragment
        self._push(ServerToolDelta(self._index, fragment, self.message))

    def update_server_tool(
        self,
        *,
        input: dict[str, Any] | None = None,
        result: Any = _KEEP,
        status: ServerToolStatus | None = None,
        wire: dict[str, Any] | None = None,
    ) -> None:
        """Changes the open server tool (no event): its whole input, result, status or wire fields."""
        if self._finished:
            return
        block = self._target(ServerToolCall, "update_server_tool")
        self._apply_server_tool(block, input, result, status, wire)

    def server_tool_end(
        self,
        *,
        input: dict[str, Any] | None = None,
        result: Any = _KEEP,
        status: ServerToolStatus | None = "completed",
        wire: dict[str, Any] | None = None,
    ) -> None:
        """Closes the open server tool with its result and final status (``ServerToolEnd``)."""
        if self._finished or self._kind != _SERVER_TOOL:
            self._end(_SERVER_TOOL)
            return
        self._apply_server_tool(self._block, input, result, status, wire)
        self._end(_SERVER_TOOL)

    def server_tool(
        self,
        id: str,
        name: str,
        input: dict[str, Any],
        result: Any = None,
        *,
        status: ServerToolStatus = "completed",
        wire: dict[str, Any] | None = None,
    ) -> None:
        """A whole server tool call at once: ``ServerToolStart`` then ``ServerToolEnd``."""
        if self._finished:
            return
        self.server_tool_start(id, name, input=input, wire=wire)
        self.server_tool_end(result=result, status=status)

    def complete_server_tool(
        self,
        id: str,
        *,
        result: Any = _KEEP,
        status: ServerToolStatus | None = "completed",
        wire: dict[str, Any] | None = None,
    ) -> bool:
        """Gives the result (and more ``wire`` fields) to a server tool of this message that was
        already closed (no event: the final message has it). Returns whether one had that id."""
        if self._finished:
            return False
        for block in reversed(self.message.content):
            if type(block) is ServerToolCall and block.id == id:
                self._apply_server_tool(block, None, result, status, wire)
                return True
        return False

    def _apply_server_tool(
        self,
        block: ServerToolCall,
        input: dict[str, Any] | None,
        result: Any,
        status: ServerToolStatus | None,
        wire: dict[str, Any] | None,
    ) -> None:
        if input is not None:
            _check_arguments(input, self.message.model, block.name)
            if block is self._block:
                self._merger = None
            block.input = input
        if result is not _KEEP:
            if result is not None and exceeds_json_depth(result):
                raise too_deep_arguments(self.message.model, block.name)
            block.result = result
        if status is not None:
            if status not in SERVER_TOOL_STATUSES:
                raise ValueError(f"server tool status must be one of {SERVER_TOOL_STATUSES}, got {status!r}")
            block.status = status
        if wire is not None:
            block.wire = {**block.wire, **wire} if block.wire else wire

    # -- citations --------------------------------------------------------------

    def add_citations(self, citations: Iterable[Citation], *, index: int | None = None) -> None:
        """Adds sources to a text block: the open or last one, or the one at ``index`` (no event;
        they are on the block by its ``TextEnd``, and in the final message)."""
        if self._finished:
            return
        if index is None:
            block = self._target(TextContent, "add_citations")
        else:
            block = self.message.content[index]
            if type(block) is not TextContent:
                raise StreamProtocolError(f"add_citations(index={index}) names a {type(block).__name__}, not text")
        added = list(citations)
        if added:
            block.citations = (block.citations or []) + added

    # -- refusals ------------------------------------------------------------

    def refusal_delta(self, delta: str) -> None:
        """A piece of the model's refusal (OpenAI's ``refusal`` deltas), kept in ``message.refusal``.

        Without structured output it is shown as text too, as before; with it, the text
        stays the answer's JSON and the stream ends as a refusal (an ``error``).
        """
        if not delta or self._finished:
            return
        message = self.message
        message.refusal = (message.refusal or "") + delta
        if self._output is None:
            self.text_delta(delta)

    def set_refusal(self, text: str) -> None:
        """Records why the model refused (Anthropic's ``stop_reason: "refusal"``) as ``message.refusal``."""
        if self._finished:
            return
        self.message.refusal = text

    # -- response metadata ----------------------------------------------------

    def set_usage(self, usage: Usage) -> None:
        """Replaces the message's usage with the token counts reported, priced when the model is known.

        Parsers report every change through this call (never by editing
        ``message.usage``), so the cost always matches the counts.
        """
        if self._finished:
            return
        if not isinstance(usage, Usage):
            raise TypeError(f"set_usage() expects a Usage, got {type(usage).__name__}")
        price = self._price
        if price is not None:
            usage.cost = price(usage)
        self.message.usage = usage

    def add_logprobs(self, items: Iterable[TokenLogprob]) -> None:
        """Appends token log-probabilities to the message (``message.logprobs``, created on first use)."""
        if self._finished:
            return
        logprobs = self.message.logprobs
        if logprobs is None:
            logprobs = self.message.logprobs = []
        logprobs.extend(items)

    def set_response_id(self, response_id: str) -> None:
        if self._finished:
            return
        self.message.response_id = response_id

    def set_stop_reason(self, reason: StopReason) -> None:
        """Records the stop reason ``done()`` will report (``stop``, ``length`` or ``toolUse``)."""
        if self._finished:
            return
        final = _done_reason(reason)
        if self._output is not None:
            final = self._output.stop_reason(final, self.has_tool_calls)
        self.message.stop_reason = final

    def set_paused(self) -> None:
        """Marks the message as a turn the provider paused (Anthropic ``pause_turn``); it ends
        with stop reason ``"stop"`` and ``message.paused`` (see :mod:`alchemy.server_tools`)."""
        if not self._finished:
            self.message.paused = True

    # -- the end --------------------------------------------------------------

    def done(self, reason: StopReason | None = None) -> None:
        """Closes the open block and ends the stream with ``Done``.

        ``reason`` defaults to the one given to :meth:`set_stop_reason`, else ``"stop"``.
        """
        if self._finished:
            return
        message = self.message
        final = _done_reason(message.stop_reason if reason is None else reason)
        if not self._started:
            self.start()
        self._settle_usage(final=True)
        if self._kind != _NONE:
            self._close()
        output = self._output
        if output is not None:
            final = output.stop_reason(final, self.has_tool_calls)
            failure = output.finish(final)
            if failure is not None:  # no valid object: the stream ends as an error, the raw text kept
                kind, text = failure
                self.error(text, info=ErrorInfo(kind=kind))
                return
        message.stop_reason = final
        self._finished = True
        self._push(Done(final, message))  # type: ignore[arg-type]
        self._buffer.end(message)

    def error(self, message: str, *, aborted: bool = False, info: ErrorInfo | None = None) -> None:
        """Ends the stream with ``Error``, keeping every block and the usage received.

        ``aborted`` gives the reason ``"aborted"`` (the consumer or a signal stopped
        it) instead of ``"error"``. ``info`` is what is known of the failure, set as
        ``message.error`` (:meth:`~alchemy.errors.ErrorInfo.from_exception` makes it
        from an exception); without it the kind is read from ``message`` by
        :func:`~alchemy.overflow.classify_error`; an abort is always kind ``aborted``.
        The open block gets no end event; a tool call keeps its best-effort arguments.
        """
        if self._finished:
            return
        flush, self.before_early_end = self.before_early_end, None
        if flush is not None:
            self._flush_held(flush)
            if self._finished:
                return
        if self._kind == _TOOL_CALL:
            self._block.stream_arguments_from(None)
        elif self._kind == _SERVER_TOOL:
            self._block.stream_input_from(None)
        self._kind = _NONE
        self._block = None
        self._merger = None
        self._shadow = None
        if self._output is not None:
            self._output.abandon()
        self._settle_usage(final=False, aborted=aborted)
        partial = self.message
        reason: ErrorReason = "aborted" if aborted else "error"
        partial.stop_reason = reason
        partial.error_message = self.secrets.redact(message) if message else "Unknown error"
        partial.error = self._error_info(message, aborted, info)
        self._finished = True
        self._push(Error(reason, partial))
        self._buffer.end(partial)

    def abort(self, message: str = ABORTED_MESSAGE) -> None:
        """Ends the stream with ``Error(reason="aborted")``."""
        self.error(message, aborted=True)

    def _flush_held(self, flush: Callable[[], None]) -> None:
        """Runs a parser's ``flush_pending``; a failure there must not keep the stream from ending."""
        try:
            flush()
        except Exception as exc:
            _logger.debug("alchemy: flushing held events before the end failed (%s)", type(exc).__name__)

    async def drain(self) -> None:
        """Waits while the buffer is full (for producers that run ahead as a task)."""
        await self._buffer.wait_writable()

    # -- retries --------------------------------------------------------------

    def restart(self) -> None:
        """Discards the current attempt so a runner can retry the request cleanly.

        Allowed while the consumer has seen nothing after ``Start``
        (:attr:`content_delivered` is false) and the stream has not ended. Queued
        events are dropped and the message is emptied in place (content, usage, stop
        reason, response id). If ``Start`` already reached the consumer it is not
        sent again; otherwise the next attempt sends it.
        """
        if self._finished:
            raise StreamProtocolError("restart() after the stream ended")
        if self.content_delivered:
            raise StreamProtocolError("restart() after events reached the consumer; the attempt cannot be undone")
        buffer = self._buffer
        start_delivered = self._started and buffer.handed_out > self._start_position
        buffer.clear()
        self.before_early_end = None  # the discarded attempt's parser holds nothing of the next
        if self._kind == _TOOL_CALL:
            self._block.stream_arguments_from(None)
        elif self._kind == _SERVER_TOOL:
            self._block.stream_input_from(None)
        self._kind = _NONE
        self._index = -1
        self._block = None
        self._merger = None
        self._started = start_delivered
        self._began = False
        message = self.message
        message.content.clear()
        message.usage = Usage()
        message.stop_reason = "stop"
        message.error_message = None
        message.error = None
        message.response_id = None
        message.logprobs = None
        message.paused = False
        self._shadow = None
        if self._output is not None:
            self._output.reset()

    # -- internals ------------------------------------------------------------

    def _error_info(self, message: str, aborted: bool, info: ErrorInfo | None) -> ErrorInfo:
        """``message.error``: ``info`` or the kind ``message`` reads as; the provider's words
        redacted, and the request id of the response (``metrics``) when the error has none."""
        if aborted:
            info = info if info is not None and info.kind == "aborted" else ErrorInfo(kind="aborted")
        elif info is None:
            from .overflow import classify_error

            kind = classify_error(text=message)
            info = ErrorInfo(kind=kind, retryable=ERROR_KINDS[kind].retryable)
        changes: dict[str, Any] = {}
        shown = info.provider_message
        if shown and self.secrets.redact(shown) != shown:
            changes["provider_message"] = self.secrets.redact(shown)
        metrics = self.message.metrics
        if info.request_id is None and metrics is not None and metrics.request_id:
            changes["request_id"] = metrics.request_id
        return dataclasses.replace(info, **changes) if changes else info

    def _settle_usage(self, *, final: bool, aborted: bool = False) -> None:
        """Fills in usage the provider never sent, estimated (see the module docstring)."""
        context, model = self._context, self._model
        if context is None or model is None or not self._began:
            return
        usage = self.message.usage
        reported_input = usage.input or usage.cache_read or usage.cache_write
        if final and (reported_input or usage.output):
            return
        from .tokens import estimate_usage

        try:
            # An abort must end at once: it counts with tiktoken only when it is already loaded.
            estimate = estimate_usage(model, context, self.message, load_tokenizer=not aborted)
        except Exception:  # an estimate must never turn an ending into a crash
            return
        settled = dataclasses.replace(usage)
        if not reported_input:
            settled.input = estimate.input
        if estimate.output > 2 * usage.output:
            settled.output = estimate.output
            settled.reasoning = max(usage.reasoning, estimate.reasoning)
        if settled.input == usage.input and settled.output == usage.output:
            return
        settled.total_tokens = settled.input + settled.output + settled.cache_read + settled.cache_write
        settled.estimated = True
        price = self._price
        if price is not None:
            settled.cost = price(settled)
        self.message.usage = settled

    def _open(self, kind: int, block: Any) -> None:
        if not self._started:
            self.start()
        if self._kind != _NONE:
            self._close()
        content = self.message.content
        self._index = len(content)
        content.append(block)
        self._kind = kind
        self._block = block
        self._merger = None

    def _close(self) -> None:
        kind = self._kind
        block = self._block
        index = self._index
        message = self.message
        self._kind = _NONE
        self._block = None
        self._merger = None
        if kind == _TEXT:
            self._push(TextEnd(index, block.text, message))
        elif kind == _THINKING:
            self._push(ThinkingEnd(index, block.thinking, message))
        elif kind == _SERVER_TOOL:
            block.stream_input_from(None)
            self._push(ServerToolEnd(index, block, message))
        else:
            block.stream_arguments_from(None)  # the final parse; the merger is let go
            shadow = self._shadow
            if shadow is not None:  # the structured-output tool, shown as text
                self._shadow = None
                self._push(TextEnd(index, shadow.text, message))
                return
            self._push(ToolCallEnd(index, block, message))

    def _end(self, kind: int) -> None:
        if self._finished or self._kind == _NONE:
            return
        if self._kind != kind:
            wanted = _KIND_NAMES[kind]
            raise StreamProtocolError(f"closing {wanted} while {_KIND_NAMES[self._kind]} is open")
        self._close()

    def _target(self, cls: type[Any], caller: str) -> Any:
        """The open block if it is a ``cls``, else the last block if it is one."""
        if self._kind != _NONE and isinstance(self._block, cls):
            return self._block
        content = self.message.content
        if content and isinstance(content[-1], cls):
            return content[-1]
        raise StreamProtocolError(f"{caller}() with no {cls.__name__} block to apply it to")


def describe_exception(exc: BaseException, secrets: Secrets | str | None = None) -> str:
    """The ``error_message`` for an exception that ended a stream (never showing a secret).

    alchemy's own exceptions carry messages written for users and are shown as
    they are; others are prefixed with their type (``ConnectionResetError: ...``).
    ``secrets`` is the stream's redactor (or one key).
    """
    text = str(exc)
    if not isinstance(exc, AlchemyError) or not text:
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if secrets:
        text = (secrets if isinstance(secrets, Secrets) else Secrets((secrets,))).redact(text)
    return text


def _done_reason(reason: str) -> StopReason:
    if reason not in DONE_REASONS:
        raise ValueError(
            f"a response can only be done with 'stop', 'length' or 'toolUse', got {reason!r}; "
            "use error() for failures"
        )
    return reason  # type: ignore[return-value]


def _check_arguments(arguments: object, model: str, tool_name: str) -> None:
    if not isinstance(arguments, dict):
        raise TypeError(f"tool-call arguments must be a dict, got {type(arguments).__name__}")
    if exceeds_json_depth(arguments):
        raise too_deep_arguments(model, tool_name)


def too_deep_arguments(model: str, tool_name: str) -> InvalidOutputError:
    """What ends a stream whose tool call nests deeper than ``MAX_JSON_DEPTH``.

    The call keeps its arguments up to that depth, so the conversation stays usable
    (``repr``, ``to_json``, the next request).
    """
    return InvalidOutputError(
        f"{model} produced a call of tool {tool_name!r} whose arguments nest arrays and objects deeper "
        f"than {MAX_JSON_DEPTH} levels (the limit is alchemy.json.MAX_JSON_DEPTH); the stream stops here "
        "and the call keeps its arguments up to that depth"
    )
