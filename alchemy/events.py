"""The stream events: one protocol for every provider, modelled on pi-ai's.

A stream yields, in order:

* one :class:`Start`;
* blocks, one after the other, each ``*Start``, any number of ``*Delta``, then
  ``*End``: text (:class:`TextStart` / :class:`TextDelta` / :class:`TextEnd`),
  thinking (:class:`ThinkingStart` ...), tool calls (:class:`ToolCallStart` ...),
  tools the provider runs itself (:class:`ServerToolStart` / :class:`ServerToolDelta` /
  :class:`ServerToolEnd`, types ``servertool_*``, alchemy's own: pi-ai has none);
* exactly one terminal event, :class:`Done` or :class:`Error`, and nothing after it.

:func:`alchemy.run_tools` streams several responses in a row, and after each turn
that called tools one :class:`ToolResult` per executed call (``tool_result``).

``content_index`` is the block's position in the final ``message.content``.
``partial`` is the one in-progress :class:`~alchemy.types.AssistantMessage`, the same
object in every event, updated in place (copy it if you need history). On
:class:`Error` the blocks and usage received so far are kept, but an open block
gets no ``*End`` event. :class:`Start` may be missing before an :class:`Error` when
the request failed before the response began.

Events are created per chunk on the hot path, so they are small slotted objects.
``type`` equals pi-ai's event type string and ``to_dict()`` gives pi-ai's JSON
shape (camelCase keys).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Union

from .types import AssistantMessage, ServerToolCall, ToolCall, ToolResultMessage

__all__ = [
    "AssistantMessageEvent",
    "Done",
    "DoneReason",
    "Error",
    "ErrorReason",
    "ServerToolDelta",
    "ServerToolEnd",
    "ServerToolStart",
    "Start",
    "TextDelta",
    "TextEnd",
    "TextStart",
    "ThinkingDelta",
    "ThinkingEnd",
    "ThinkingStart",
    "ToolCallDelta",
    "ToolCallEnd",
    "ToolCallStart",
    "ToolResult",
    "ToolRunEvent",
]

DoneReason = Literal["stop", "length", "toolUse"]
ErrorReason = Literal["error", "aborted"]

# Python attribute -> pi-ai JSON key, for to_dict().
_JSON_KEYS: dict[str, str] = {
    "content_index": "contentIndex",
    "delta": "delta",
    "content": "content",
    "tool_call": "toolCall",
    "server_tool_call": "serverToolCall",
    "partial": "partial",
    "reason": "reason",
    "message": "message",
    "error": "error",
    "result": "result",
}


class _Event:
    """Shared behaviour: equality by fields, a readable repr and pi-ai's JSON shape."""

    __slots__ = ()
    type: ClassVar[str]

    def _fields(self) -> tuple[str, ...]:
        return self.__slots__

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self._fields())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = []
        for name in self._fields():
            value = getattr(self, name)
            if isinstance(value, AssistantMessage):
                shown.append(f"{name}=<AssistantMessage {len(value.content)} blocks, {value.stop_reason}>")
            else:
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def to_dict(self) -> dict[str, Any]:
        """The event in pi-ai's JSON shape (messages and tool calls as their ``to_dict()``)."""
        out: dict[str, Any] = {"type": self.type}
        for name in self._fields():
            value = getattr(self, name)
            if isinstance(value, (AssistantMessage, ToolCall, ServerToolCall, ToolResultMessage)):
                value = value.to_dict()
            out[_JSON_KEYS[name]] = value
        return out


class Start(_Event):
    """The response began; ``partial`` is the message every later event updates."""

    __slots__ = ("partial",)
    __match_args__ = ("partial",)
    type: ClassVar[Literal["start"]] = "start"

    def __init__(self, partial: AssistantMessage) -> None:
        self.partial = partial


class TextStart(_Event):
    __slots__ = ("content_index", "partial")
    __match_args__ = ("content_index", "partial")
    type: ClassVar[Literal["text_start"]] = "text_start"

    def __init__(self, content_index: int, partial: AssistantMessage) -> None:
        self.content_index = content_index
        self.partial = partial


class TextDelta(_Event):
    __slots__ = ("content_index", "delta", "partial")
    __match_args__ = ("content_index", "delta", "partial")
    type: ClassVar[Literal["text_delta"]] = "text_delta"

    def __init__(self, content_index: int, delta: str, partial: AssistantMessage) -> None:
        self.content_index = content_index
        self.delta = delta
        self.partial = partial


class TextEnd(_Event):
    """``content`` is the block's whole text."""

    __slots__ = ("content_index", "content", "partial")
    __match_args__ = ("content_index", "content", "partial")
    type: ClassVar[Literal["text_end"]] = "text_end"

    def __init__(self, content_index: int, content: str, partial: AssistantMessage) -> None:
        self.content_index = content_index
        self.content = content
        self.partial = partial


class ThinkingStart(_Event):
    __slots__ = ("content_index", "partial")
    __match_args__ = ("content_index", "partial")
    type: ClassVar[Literal["thinking_start"]] = "thinking_start"

    def __init__(self, content_index: int, partial: AssistantMessage) -> None:
        self.content_index = content_index
        self.partial = partial


class ThinkingDelta(_Event):
    __slots__ = ("content_index", "delta", "partial")
    __match_args__ = ("content_index", "delta", "partial")
    type: ClassVar[Literal["thinking_delta"]] = "thinking_delta"

    def __init__(self, content_index: int, delta: str, partial: AssistantMessage) -> None:
        self.content_index = content_index
        self.delta = delta
        self.partial = partial


class ThinkingEnd(_Event):
    """``content`` is the block's whole thinking text."""

    __slots__ = ("content_index", "content", "partial")
    __match_args__ = ("content_index", "content", "partial")
    type: ClassVar[Literal["thinking_end"]] = "thinking_end"

    def __init__(self, content_index: int, content: str, partial: AssistantMessage) -> None:
        self.content_index = content_index
        self.content = content
        self.partial = partial


class ToolCallStart(_Event):
    __slots__ = ("content_index", "partial")
    __match_args__ = ("content_index", "partial")
    type: ClassVar[Literal["toolcall_start"]] = "toolcall_start"

    def __init__(self, content_index: int, partial: AssistantMessage) -> None:
        self.content_index = content_index
        self.partial = partial


class ToolCallDelta(_Event):
    """``delta`` is the raw JSON fragment of the arguments."""

    __slots__ = ("content_index", "delta", "partial")
    __match_args__ = ("content_index", "delta", "partial")
    type: ClassVar[Literal["toolcall_delta"]] = "toolcall_delta"

    def __init__(self, content_index: int, delta: str, partial: AssistantMessage) -> None:
        self.content_index = content_index
        self.delta = delta
        self.partial = partial


class ToolCallEnd(_Event):
    """``tool_call`` is the finished call, arguments parsed (not validated against the schema)."""

    __slots__ = ("content_index", "tool_call", "partial")
    __match_args__ = ("content_index", "tool_call", "partial")
    type: ClassVar[Literal["toolcall_end"]] = "toolcall_end"

    def __init__(self, content_index: int, tool_call: ToolCall, partial: AssistantMessage) -> None:
        self.content_index = content_index
        self.tool_call = tool_call
        self.partial = partial


class ServerToolStart(_Event):
    """The provider started running one of its own tools (``partial.content[content_index]``
    is the :class:`~alchemy.types.ServerToolCall`, ``status == "in_progress"``)."""

    __slots__ = ("content_index", "partial")
    __match_args__ = ("content_index", "partial")
    type: ClassVar[Literal["servertool_start"]] = "servertool_start"

    def __init__(self, content_index: int, partial: AssistantMessage) -> None:
        self.content_index = content_index
        self.partial = partial


class ServerToolDelta(_Event):
    """A fragment of the tool's input as the provider streams it: JSON text (Anthropic's
    server tools, MCP arguments) or the code itself (OpenAI's code interpreter)."""

    __slots__ = ("content_index", "delta", "partial")
    __match_args__ = ("content_index", "delta", "partial")
    type: ClassVar[Literal["servertool_delta"]] = "servertool_delta"

    def __init__(self, content_index: int, delta: str, partial: AssistantMessage) -> None:
        self.content_index = content_index
        self.delta = delta
        self.partial = partial


class ServerToolEnd(_Event):
    """The block is complete: ``server_tool_call`` has its input, and its result and final
    status when the provider sent them in this response."""

    __slots__ = ("content_index", "server_tool_call", "partial")
    __match_args__ = ("content_index", "server_tool_call", "partial")
    type: ClassVar[Literal["servertool_end"]] = "servertool_end"

    def __init__(self, content_index: int, server_tool_call: ServerToolCall, partial: AssistantMessage) -> None:
        self.content_index = content_index
        self.server_tool_call = server_tool_call
        self.partial = partial


class Done(_Event):
    """The response finished; ``reason`` equals ``message.stop_reason``."""

    __slots__ = ("reason", "message")
    __match_args__ = ("reason", "message")
    type: ClassVar[Literal["done"]] = "done"

    def __init__(self, reason: DoneReason, message: AssistantMessage) -> None:
        self.reason = reason
        self.message = message

    @property
    def partial(self) -> AssistantMessage:
        """The same message as ``message`` (every event has ``partial``)."""
        return self.message


class Error(_Event):
    """The response failed or was aborted.

    ``error`` is the message with ``stop_reason`` equal to ``reason``, an
    ``error_message``, and every block and token count received before the failure.
    """

    __slots__ = ("reason", "error")
    __match_args__ = ("reason", "error")
    type: ClassVar[Literal["error"]] = "error"

    def __init__(self, reason: ErrorReason, error: AssistantMessage) -> None:
        self.reason = reason
        self.error = error

    @property
    def partial(self) -> AssistantMessage:
        """The same message as ``error`` (every event has ``partial``)."""
        return self.error

    @property
    def message(self) -> AssistantMessage:
        """The same message as ``error``, under the name :class:`Done` uses."""
        return self.error


class ToolResult(_Event):
    """:func:`alchemy.run_tools` ran one tool call of the turn that just ended.

    ``result`` is the :class:`~alchemy.types.ToolResultMessage` added to the context
    (``is_error`` when the tool raised or the call was invalid); ``exception`` is what
    the tool raised, if anything (never sent to the model, which sees its message);
    ``partial`` is the turn's finished assistant message.
    """

    __slots__ = ("tool_call", "result", "partial", "exception")
    __match_args__ = ("tool_call", "result", "partial")
    type: ClassVar[Literal["tool_result"]] = "tool_result"

    def __init__(
        self,
        tool_call: ToolCall,
        result: ToolResultMessage,
        partial: AssistantMessage,
        exception: BaseException | None = None,
    ) -> None:
        self.tool_call = tool_call
        self.result = result
        self.partial = partial
        self.exception = exception

    def _fields(self) -> tuple[str, ...]:
        return ("tool_call", "result", "partial")


AssistantMessageEvent = Union[
    Start,
    TextStart,
    TextDelta,
    TextEnd,
    ThinkingStart,
    ThinkingDelta,
    ThinkingEnd,
    ToolCallStart,
    ToolCallDelta,
    ToolCallEnd,
    ServerToolStart,
    ServerToolDelta,
    ServerToolEnd,
    Done,
    Error,
]
"""Any event of a stream; match on the class or on ``event.type``."""

ToolRunEvent = Union[AssistantMessageEvent, ToolResult]
"""An event of :func:`alchemy.run_tools`: every turn's stream events and the tool results."""
