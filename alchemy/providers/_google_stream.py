"""The stream parser shared by Gemini and Vertex AI (``streamGenerateContent?alt=sse``).

Each SSE event is a whole ``GenerateContentResponse`` (the stream has no ``[DONE]``):

* ``candidates[0].content.parts``: ``text`` parts become text, ``thought: true``
  parts thinking; a ``thoughtSignature`` is kept on its block (``text_signature`` /
  ``thinking_signature``; a later part without one does not erase it; an empty part
  that carries only a signature signs the open block of its kind). ``functionCall``
  parts are whole tool calls (start, one delta with the JSON arguments, end); Vertex
  may stream one call's arguments over several parts (``partialArgs`` /
  ``willContinue``), assembled by :mod:`._google_partial_args`. A call without an
  ``id``, or with one already used in this message, gets a generated id that stays
  the same for the rest of the message.
* Tools Google ran (:mod:`._google_server_tools` has the whole mapping):
  ``executableCode`` parts open a :class:`~alchemy.types.ServerToolCall`
  ``"code_execution"`` that the next ``codeExecutionResult`` part completes
  (``failed`` unless ``OUTCOME_OK``); ``toolCall`` / ``toolResponse`` parts likewise
  (named after their ``toolType``). A call that never gets its result ends
  ``incomplete``. ``candidates[0].groundingMetadata`` and ``urlContextMetadata``
  (merged over every event that has them) become a ``"google_search"`` and a
  ``"url_context"`` block when the response ends: they are the **last blocks** of
  the message, after the text they ground, because Gemini sends them with its last
  events. The grounding supports become citations on the text blocks then, their
  UTF-8 byte offsets turned into character offsets of the right block.
* ``candidates[0].logprobsResult`` (asked for with ``logprobs`` / ``top_logprobs``):
  each event's ``chosenCandidates`` with the ``topCandidates`` of the same step are
  appended to ``message.logprobs``.
* ``usageMetadata``: ``input`` is ``promptTokenCount`` minus the cached tokens
  (``cachedContentTokenCount``, reported as ``cache_read``) plus the tokens of
  tool-use prompts; ``output`` is the candidates' tokens plus the thinking tokens
  (``thoughtsTokenCount``, counted once, also in ``reasoning``). Gemini repeats
  the metadata in every event with running counts. The usage is reported to the
  emitter (which prices it, so counts and cost always agree) when counts first
  arrive, when the prompt side changes, whenever the output has grown by
  ``USAGE_STEP`` tokens, and exactly from the last counts when the response ends;
  so a stream that fails keeps usage at most ``USAGE_STEP`` output tokens behind the
  last event, and a finished one has the exact figures. (Reporting, hence pricing,
  every event would cost more than all the rest of the parsing.)
* ``finishReason``: ``STOP`` ends with ``stop`` (``toolUse`` when the message has
  tool calls), ``MAX_TOKENS`` with ``length`` (``toolUse`` when whole tool calls
  arrived before the cut); every other reason (``SAFETY``, ``RECITATION``,
  ``MALFORMED_FUNCTION_CALL``, ...) ends the stream with an error naming it.
* ``promptFeedback.blockReason`` (the prompt itself was refused) and an ``error``
  object inside the stream end it with an error; overload and quota errors are
  retryable.

The end of the body after a ``finishReason`` is success; the end of the body
without one is an interrupted stream.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import orjson

from ..errors import ErrorKind, ProviderStreamError, StreamInterruptedError
from ..overflow import classify_error
from ..types import ServerToolCall, TextContent, ThinkingContent, TokenLogprob, Usage
from ._chunks import NOT_JSON, loads_replacing_lone_surrogates
from ._google_partial_args import PartialArguments
from ._google_server_tools import (
    CODE_EXECUTION,
    URL_CONTEXT,
    TextLayout,
    code_status,
    grounding_citations,
    grounding_input,
    grounding_name,
    grounding_result,
    merge_metadata,
    part_extras,
    url_context_input,
    url_context_status,
)
from .base import SSEParser

if TYPE_CHECKING:
    from ..emitter import EventEmitter
    from ..types import StopReason

__all__ = ["FINISH_REASON_ERRORS", "GOOGLE_ERROR_KINDS", "GeminiStreamParser", "gemini_usage"]

FINISH_REASON_ERRORS: Final[dict[str, str]] = {
    "SAFETY": "the response was blocked by the safety filters",
    "RECITATION": "the response was stopped because it recited training data",
    "LANGUAGE": "the response was stopped because of an unsupported language",
    "BLOCKLIST": "the response contained terms from a blocklist",
    "PROHIBITED_CONTENT": "the response was blocked for prohibited content",
    "SPII": "the response contained sensitive personally identifiable information",
    "MALFORMED_FUNCTION_CALL": "the model produced a function call that is not valid",
    "UNEXPECTED_TOOL_CALL": "the model called a tool although no tools are enabled",
    "TOO_MANY_TOOL_CALLS": "the model made too many tool calls in a row",
    "MISSING_THOUGHT_SIGNATURE": "the request lacked a thought signature the model needs",
    "MODEL_ARMOR": "the response was blocked by Model Armor",
    "IMAGE_SAFETY": "the generated image was blocked by the safety filters",
    "IMAGE_PROHIBITED_CONTENT": "the generated image was blocked for prohibited content",
    "IMAGE_RECITATION": "the generated image was stopped for recitation",
    "IMAGE_OTHER": "image generation stopped for another reason",
    "NO_IMAGE": "the model was expected to generate an image but did not",
    "OTHER": "the response stopped for an unspecified reason",
    "FINISH_REASON_UNSPECIFIED": "the response stopped for an unspecified reason",
}
"""The finish reasons that end a stream with an error, and what each means."""

GOOGLE_ERROR_KINDS: Final[Mapping[str, ErrorKind]] = {
    # google.rpc status names (HTTP error bodies and error objects in the stream)
    "invalid_argument": "invalid_request",
    "failed_precondition": "invalid_request",
    "out_of_range": "invalid_request",
    "unauthenticated": "auth",
    "permission_denied": "permission",
    "not_found": "not_found",
    "resource_exhausted": "rate_limit",
    "internal": "server",
    "unknown": "server",
    "data_loss": "server",
    "aborted": "server",
    "unavailable": "overloaded",
    "deadline_exceeded": "timeout",
    # finish reasons that end the response with an error (FINISH_REASON_ERRORS)
    "safety": "content_filter",
    "recitation": "content_filter",
    "blocklist": "content_filter",
    "prohibited_content": "content_filter",
    "spii": "content_filter",
    "model_armor": "content_filter",
    "image_safety": "content_filter",
    "image_prohibited_content": "content_filter",
    "image_recitation": "content_filter",
    "language": "invalid_request",
    "missing_thought_signature": "invalid_request",
    "malformed_function_call": "invalid_output",
    "unexpected_tool_call": "invalid_output",
    "too_many_tool_calls": "invalid_output",
    "no_image": "invalid_output",
}
"""Gemini's error statuses and failing finish reasons (lowercase) -> kind. Overload
(``UNAVAILABLE``), quota (``RESOURCE_EXHAUSTED``), ``INTERNAL`` and ``DEADLINE_EXCEEDED``
are retried before content."""
_NOT_ID_CHAR: Final = re.compile(r"[^A-Za-z0-9_-]")
_COUNT_KEYS: Final = ("promptTokenCount", "candidatesTokenCount", "totalTokenCount", "thoughtsTokenCount")
USAGE_STEP: Final = 64
"""Output tokens by which the running usage may trail the stream before it is reported again."""


def gemini_usage(meta: Mapping[str, Any]) -> Usage | None:
    """The :class:`Usage` of a ``usageMetadata`` object, or ``None`` when it holds no counts."""
    if not any(key in meta for key in _COUNT_KEYS):
        return None
    prompt = _count(meta, "promptTokenCount")
    cached = min(_count(meta, "cachedContentTokenCount"), prompt)
    thoughts = _count(meta, "thoughtsTokenCount")
    tool_prompt = _count(meta, "toolUsePromptTokenCount")
    input_tokens = prompt - cached + tool_prompt
    output = _count(meta, "candidatesTokenCount") + thoughts
    total = _count(meta, "totalTokenCount") or input_tokens + output + cached
    return Usage(
        input=input_tokens, output=output, cache_read=cached, cache_write=0, total_tokens=total, reasoning=thoughts
    )


def _token_logprob(candidate: Mapping[str, Any]) -> tuple[str, float]:
    """``(token, logProbability)`` of a logprobs candidate; proto JSON leaves out empty strings and zeros."""
    token = candidate.get("token", "")
    logprob = candidate.get("logProbability", 0.0)
    if type(token) is not str or type(logprob) not in (int, float):
        raise TypeError(f"a logprobs candidate must have a string token and a number, got {dict(candidate)!r}")
    return token, float(logprob)


def _count(meta: Mapping[str, Any], key: str) -> int:
    value = meta.get(key)
    return value if type(value) is int and value > 0 else 0


class GeminiStreamParser(SSEParser):
    """Parses one ``streamGenerateContent`` response body into the emitter (see the module doc)."""

    __slots__ = (
        "_label",
        "_finish_reason",
        "_response_id_seen",
        "_last_counts",
        "_pending_usage",
        "_reported_at",
        "_call",
        "_call_cut",
        "_ids",
        "_id_token",
        "_id_counter",
        "_awaiting",
        "_grounding",
        "_supports",
        "_url_context",
    )

    def __init__(self, label: str, emitter: EventEmitter) -> None:
        super().__init__(emitter)
        self._label = label
        self._finish_reason: str | None = None
        self._response_id_seen = False
        self._last_counts: tuple[Any, ...] | None = None
        self._pending_usage: dict[str, Any] | None = None
        self._reported_at: tuple[Any, Any, int] | None = None  # (prompt, cached, output) last reported
        self._call: PartialArguments | None = None
        self._call_cut = False
        self._ids: set[str] = set()
        self._id_token = secrets.token_hex(4)
        self._id_counter = 0
        self._awaiting: dict[str, ServerToolCall] = {}  # server tool calls waiting for their result, by id
        self._grounding: dict[str, Any] | None = None
        self._supports: list[tuple[dict[str, Any], list[Any] | None]] = []
        self._url_context: dict[str, Any] | None = None

    # -- events ------------------------------------------------------------------------

    def on_event(self, event: str, data: bytes) -> None:
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            chunk = loads_replacing_lone_surrogates(data)
            if chunk is NOT_JSON:
                raise StreamInterruptedError(
                    f"{self._label} sent an event that is not valid JSON ({exc}): {_preview(data)}"
                ) from None
        if type(chunk) is not dict:
            raise StreamInterruptedError(f"{self._label} sent an event that is not a JSON object: {_preview(data)}")
        try:
            self._response(chunk)
        except (AttributeError, TypeError, KeyError, IndexError) as exc:
            raise ProviderStreamError(
                f"{self._label} sent an event of an unexpected shape ({type(exc).__name__}: {exc}): {_preview(data)}"
            ) from None

    def _response(self, chunk: dict[str, Any]) -> None:
        """One ``GenerateContentResponse``."""
        candidates = chunk.get("candidates")
        if not candidates:
            error = chunk.get("error")
            if error is not None:
                raise _stream_error(self._label, error)
        if not self._response_id_seen:
            response_id = chunk.get("responseId")
            if type(response_id) is str and response_id:
                self._response_id_seen = True
                self.emitter.set_response_id(response_id)
        if candidates:
            candidate = candidates[0]
            reason = candidate.get("finishReason")
            meta = chunk.get("usageMetadata")
            if meta is not None:
                self._usage(meta, reason is not None or self._finish_reason is not None)
            content = candidate.get("content")
            if content:
                parts = content.get("parts")
                if parts:
                    self._parts(parts)
            logprobs = candidate.get("logprobsResult")
            if logprobs:
                self._logprobs(logprobs)
            grounding = candidate.get("groundingMetadata")
            if grounding:
                self._grounding_metadata(grounding)
            url_context = candidate.get("urlContextMetadata")
            if url_context:
                self._url_context_metadata(url_context)
            if reason:
                self._finish(reason, candidate)
            return
        meta = chunk.get("usageMetadata")
        if meta is not None:
            self._usage(meta, True)
        feedback = chunk.get("promptFeedback")
        if feedback and feedback.get("blockReason"):
            raise _blocked(self._label, feedback)

    def finish(self) -> None:
        self._flush_usage()
        if self._finish_reason is None:
            raise StreamInterruptedError(
                f"{self._label}'s stream ended before a finishReason arrived: the connection closed early"
            )
        self._end_call()
        self._end_server_tools()
        self.emitter.done(self._stop_reason())

    # -- parts ---------------------------------------------------------------------------

    def _parts(self, parts: list[Any]) -> None:
        emitter = self.emitter
        for part in parts:
            text = part.get("text")
            if text is not None:
                if type(text) is not str:
                    raise TypeError(f"a part's text must be a string, got {type(text).__name__}")
                if self._call is not None:
                    self._end_call()
                if part.get("thought") is True:
                    if text:
                        emitter.thinking_delta(text)
                    signature = part.get("thoughtSignature")
                    if signature:
                        self._sign(ThinkingContent, signature)
                else:
                    if text:
                        emitter.text_delta(text)
                    signature = part.get("thoughtSignature")
                    if signature:
                        self._sign(TextContent, signature)
                continue
            call = part.get("functionCall")
            if call is not None:
                self._function_call(call, part.get("thoughtSignature"))
                continue
            if self._server_part(part):
                continue
            signature = part.get("thoughtSignature")
            if signature and self._call is None:
                self._sign(ThinkingContent if part.get("thought") is True else TextContent, signature)

    # -- tools the provider ran (see ._google_server_tools) ---------------------------

    def _server_part(self, part: Mapping[str, Any]) -> bool:
        """An ``executableCode`` / ``codeExecutionResult`` / ``toolCall`` / ``toolResponse``
        part as a server tool call or its result; ``False`` for any other part."""
        code = part.get("executableCode")
        if code is not None:
            self._server_call(part, "executableCode", _object(code, "executableCode"), CODE_EXECUTION, None)
            return True
        result = part.get("codeExecutionResult")
        if result is not None:
            result = _object(result, "codeExecutionResult")
            self._server_result(part, "codeExecutionResult", result, result.get("id"), CODE_EXECUTION, None)
            return True
        call = part.get("toolCall")
        if call is not None:
            call = _object(call, "toolCall")
            tool_type = str(call.get("toolType") or "tool")
            args = call.get("args")
            self._server_call(part, "toolCall", args if isinstance(args, dict) else {}, tool_type.lower(), call)
            return True
        response = part.get("toolResponse")
        if response is not None:
            response = _object(response, "toolResponse")
            tool_type = str(response.get("toolType") or "tool")
            value = response.get("response")
            self._server_result(part, "toolResponse", value, response.get("id"), tool_type.lower(), tool_type)
            return True
        return False

    def _server_call(
        self, part: Mapping[str, Any], key: str, input: dict[str, Any], name: str, tool_call: Mapping[str, Any] | None
    ) -> None:
        """Opens a server tool call; it stays open for its result, which usually comes next."""
        self._end_call()
        emitter = self.emitter
        wire: dict[str, Any] = {}
        if tool_call is not None:
            wire["toolType"] = tool_call.get("toolType")
        extras = part_extras(part, key)
        if extras:
            wire["callPart"] = extras
        given = (tool_call if tool_call is not None else input).get("id")
        call_id = self._call_id(given, name)
        emitter.server_tool_start(call_id, name, input=dict(input), wire=wire or None)
        block = emitter.open_block
        if isinstance(block, ServerToolCall):
            self._awaiting[call_id] = block

    def _server_result(
        self, part: Mapping[str, Any], key: str, result: Any, given_id: object, name: str, tool_type: str | None
    ) -> None:
        """Gives ``result`` to the call it answers (by id, else the last one waiting of that
        name); a result that answers no call becomes a block of its own."""
        self._end_call()
        emitter = self.emitter
        status = code_status(result) if key == "codeExecutionResult" else "completed"
        extras = part_extras(part, key)
        wire = {"resultPart": extras} if extras else None
        block = self._awaiting.pop(given_id, None) if isinstance(given_id, str) else None
        if block is None:
            for call_id in reversed(self._awaiting):
                if self._awaiting[call_id].name == name:
                    block = self._awaiting.pop(call_id)
                    break
        if block is None:
            own_wire: dict[str, Any] = {"toolType": tool_type} if tool_type is not None else {}
            if extras:
                own_wire["resultPart"] = extras
            emitter.server_tool(self._call_id(given_id, name), name, {}, result, status=status, wire=own_wire or None)
            return
        if emitter.open_block is block:
            emitter.server_tool_end(result=result, status=status, wire=wire)
            return
        emitter.complete_server_tool(block.id, result=result, status=status, wire=wire or None)

    def _grounding_metadata(self, metadata: Any) -> None:
        """Keeps one event's ``groundingMetadata``: supports for the citations, the rest merged."""
        metadata = _object(metadata, "groundingMetadata")
        chunks = metadata.get("groundingChunks")
        for support in metadata.get("groundingSupports") or ():
            if isinstance(support, dict):
                self._supports.append((support, chunks if isinstance(chunks, list) else None))
        rest = grounding_result(metadata)
        if any(rest.values()):
            if self._grounding is None:
                self._grounding = {}
            merge_metadata(self._grounding, rest)

    def _url_context_metadata(self, metadata: Any) -> None:
        metadata = _object(metadata, "urlContextMetadata")
        if self._url_context is None:
            self._url_context = {}
        merge_metadata(self._url_context, metadata)

    def _end_server_tools(self) -> None:
        """At the end of the response: calls that got no result are ``incomplete``; the grounding
        and URL-context blocks are added (the last blocks, after the text they ground), and the
        grounding supports become citations on the text blocks."""
        emitter = self.emitter
        for call_id, block in self._awaiting.items():
            if emitter.open_block is block:
                emitter.server_tool_end(status="incomplete")
            else:
                emitter.complete_server_tool(call_id, status="incomplete")
        self._awaiting.clear()
        grounding = self._grounding
        if grounding is not None or self._supports:
            grounding = grounding or {}
            name = grounding_name(grounding)
            emitter.server_tool(
                self._call_id(None, name), name, grounding_input(grounding), grounding,
                wire={"from": "groundingMetadata"},
            )
        url_context = self._url_context
        if url_context is not None:
            emitter.server_tool(
                self._call_id(None, URL_CONTEXT), URL_CONTEXT, url_context_input(url_context), url_context,
                status=url_context_status(url_context), wire={"from": "urlContextMetadata"},
            )
        if self._supports:
            self._cite()

    def _cite(self) -> None:
        """The grounding supports as citations on the text blocks (byte offsets -> characters)."""
        emitter = self.emitter
        texts = [(i, block.text) for i, block in emitter.text_blocks()]
        chunks = (self._grounding or {}).get("groundingChunks")
        fallback = chunks if isinstance(chunks, list) else []
        supports = [(support, own if own is not None else fallback) for support, own in self._supports]
        by_block: dict[int, list[Any]] = {}
        for index, citation in grounding_citations(supports, TextLayout(texts)):
            by_block.setdefault(index, []).append(citation)
        for index, citations in by_block.items():
            emitter.add_citations(citations, index=index)

    def _logprobs(self, result: Mapping[str, Any]) -> None:
        """One event's ``logprobsResult``: per step the chosen token, with that step's top candidates."""
        tops = result.get("topCandidates") or ()
        items = []
        for step, chosen in enumerate(result.get("chosenCandidates") or ()):
            alternatives = tops[step].get("candidates") or () if step < len(tops) else ()
            items.append(TokenLogprob(*_token_logprob(chosen), tuple(map(_token_logprob, alternatives))))
        if items:
            self.emitter.add_logprobs(items)

    def _sign(self, kind: type[Any], signature: object) -> None:
        """Puts ``signature`` on the open block of ``kind``, or on a new empty one."""
        if type(signature) is not str:
            raise TypeError(f"thoughtSignature must be a string, got {type(signature).__name__}")
        emitter = self.emitter
        if type(emitter.open_block) is kind:
            if kind is TextContent:
                emitter.set_text_signature(signature)
            else:
                emitter.set_thinking_signature(signature)
        elif kind is TextContent:
            emitter.text_start(signature)
        else:
            emitter.thinking_start(signature)

    def _function_call(self, call: Mapping[str, Any], signature: str | None) -> None:
        emitter = self.emitter
        name = call.get("name")
        partial_args = call.get("partialArgs")
        continues = call.get("willContinue") is True
        if self._call is not None:
            if not name:
                self._continue_call(call, partial_args, continues, signature)
                return
            self._end_call()
        if not name:
            if partial_args:
                raise ProviderStreamError(
                    f"{self._label} streamed function-call arguments with no function call to add them to"
                )
            return  # the empty part that ends a streamed call we already closed
        call_id = self._call_id(call.get("id"), str(name))
        if continues or partial_args:
            emitter.tool_call_start(call_id, str(name), thought_signature=signature or None)
            self._call = PartialArguments()
            self._continue_call(call, partial_args, continues, None)
            return
        args = call.get("args")
        if args is None:
            args = {}
        elif not isinstance(args, dict):
            raise ProviderStreamError(
                f"{self._label} sent arguments for {name!r} that are not a JSON object: {orjson.dumps(args)[:200]!r}"
            )
        emitter.tool_call(call_id, str(name), args, thought_signature=signature or None)

    def _continue_call(
        self, call: Mapping[str, Any], partial_args: Any, continues: bool, signature: str | None
    ) -> None:
        assembler = self._call
        assert assembler is not None
        emitter = self.emitter
        if signature:
            emitter.update_tool_call(thought_signature=signature)
        if partial_args:
            for partial in partial_args:
                try:
                    fragment = assembler.add(partial)
                except ValueError as exc:
                    raise ProviderStreamError(
                        f"{self._label} streamed a function-call argument alchemy cannot place: {exc}"
                    ) from None
                emitter.tool_call_delta(fragment)
        args = call.get("args")
        if isinstance(args, dict) and args:
            emitter.tool_call_delta(assembler.whole(args))
        if not continues:
            self._end_call()

    def _end_call(self) -> None:
        """Closes the streamed function call, if one is open."""
        assembler = self._call
        if assembler is None:
            return
        self._call = None
        emitter = self.emitter
        emitter.tool_call_delta(assembler.finish())
        emitter.tool_call_end(assembler.value)

    def _call_id(self, given: object, name: str) -> str:
        ids = self._ids
        if type(given) is str and given and given not in ids:
            ids.add(given)
            return given
        while True:
            self._id_counter += 1
            generated = f"{_NOT_ID_CHAR.sub('_', name)[:40]}_{self._id_token}_{self._id_counter}"
            if generated not in ids:
                ids.add(generated)
                return generated

    # -- usage and the end --------------------------------------------------------------

    def _usage(self, meta: Any, final: bool) -> None:
        """Takes one event's ``usageMetadata``; reports it now or keeps it pending (see the module doc)."""
        if type(meta) is not dict:
            return
        get = meta.get
        counts = (
            get("promptTokenCount"),
            get("candidatesTokenCount"),
            get("thoughtsTokenCount"),
            get("cachedContentTokenCount"),
            get("toolUsePromptTokenCount"),
            get("totalTokenCount"),
        )
        if counts == self._last_counts:
            if final:
                self._flush_usage()
            return
        self._last_counts = counts
        self._pending_usage = meta
        reported_at = self._reported_at
        if (
            final
            or reported_at is None
            or reported_at[0] != counts[0]
            or reported_at[1] != counts[3]
            or (counts[1] or 0) + (counts[2] or 0) - reported_at[2] >= USAGE_STEP
        ):
            self._flush_usage()

    def _flush_usage(self) -> None:
        meta = self._pending_usage
        if meta is None:
            return
        self._pending_usage = None
        usage = gemini_usage(meta)
        if usage is None:
            return
        self._reported_at = (meta.get("promptTokenCount"), meta.get("cachedContentTokenCount"), usage.output)
        self.emitter.set_usage(usage)

    def _finish(self, reason: Any, candidate: Mapping[str, Any]) -> None:
        reason = str(reason)
        self._finish_reason = reason
        if reason in ("STOP", "MAX_TOKENS"):
            if reason == "MAX_TOKENS" and self._call is not None:
                self._call_cut = True
            self._end_call()
            return
        explanation = FINISH_REASON_ERRORS.get(reason, "the response stopped")
        message = f"{self._label} ended the response with finishReason {reason}: {explanation}"
        detail = candidate.get("finishMessage")
        if isinstance(detail, str) and detail:
            message += f" ({detail})"
        raise ProviderStreamError(message, kind=GOOGLE_ERROR_KINDS.get(reason.lower(), "unknown"), code=reason)

    def _stop_reason(self) -> StopReason:
        has_tool_calls = self.emitter.has_tool_calls
        if self._finish_reason == "MAX_TOKENS":
            return "toolUse" if has_tool_calls and not self._call_cut else "length"
        return "toolUse" if has_tool_calls else "stop"


def _stream_error(label: str, error: object) -> ProviderStreamError:
    if not isinstance(error, dict):
        return ProviderStreamError(f"{label} reported an error in the stream: {error!r}")
    code = error.get("code")
    status = error.get("status")
    text = error.get("message") or "no message"
    head = " ".join(str(x) for x in (code, status) if x)
    message = f"{label} error{' ' + head if head else ''}: {text}"
    number = code if isinstance(code, int) and not isinstance(code, bool) else None
    name = status if isinstance(status, str) and status else None
    return ProviderStreamError(
        message,
        kind=classify_error(status=number, code=name, text=message, codes=GOOGLE_ERROR_KINDS),
        code=name,
        provider_message=text if isinstance(text, str) else None,
    )


def _blocked(label: str, feedback: Mapping[str, Any]) -> ProviderStreamError:
    reason = feedback.get("blockReason")
    message = f"{label} blocked the prompt (blockReason {reason})"
    detail = feedback.get("blockReasonMessage")
    if isinstance(detail, str) and detail:
        message += f": {detail}"
    return ProviderStreamError(message, kind="content_filter", code=reason if isinstance(reason, str) else None)


def _preview(data: bytes) -> str:
    text = data[:200].decode("utf-8", "replace")
    return text + ("..." if len(data) > 200 else "")


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"a part's {name} must be a JSON object, got {type(value).__name__}")
    return value
