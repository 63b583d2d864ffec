"""Reading an OpenAI Chat Completions stream: chunks in, emitter calls out (no I/O).

The wire is server-sent events, one ``chat.completion.chunk`` JSON object per
``data:`` line, ended by ``data: [DONE]``. :class:`CompletionsStreamParser` maps
each chunk onto the emitter:

* ``delta.content`` -> text; ``delta.refusal`` (OpenAI's structured-output refusal)
  -> ``message.refusal``, and text as well unless the call asked for structured output;
* the first non-empty of ``delta.reasoning_content`` / ``reasoning`` /
  ``reasoning_text`` -> thinking, the field name kept as the block's signature (the
  field it must be replayed in; some servers send two of them with the same text);
* ``delta.tool_calls[]`` -> tool calls, routed by ``index`` when present and by
  ``id`` otherwise. A delta whose ``id`` differs from the id of the call already
  at its index starts a new call when it names a function: servers such as Ollama
  send every parallel call at index 0, and their arguments must not be glued
  together. A new id *without* a name continues the call at that index (gateways
  that change a call's id mid-call); the call keeps its first id. Arguments stream
  through the emitter's JSON delta merger. A fragment for a call that was already
  closed (a server interleaving two calls) is merged into that call's final
  arguments when the stream ends;
* ``delta.reasoning_details`` (OpenRouter) -> collected, pieces of one item merged;
  encrypted items whose ``id`` names a tool call become that call's
  ``thought_signature``, the rest is kept as a JSON array in the signature of the
  thinking block it came with, so the next request can send it back;
* ``usage`` on the chunk, else on the choice (Moonshot), else ``x_groq.usage``
  (Groq) -> :func:`completions_usage`, reported to the emitter (which prices it);
* ``choices[0].logprobs.content[]`` (when ``logprobs`` was asked for) -> token
  log-probabilities with their ``top_logprobs``, appended to ``message.logprobs``;
* sources -> :class:`~alchemy.types.Citation` (kind ``"url"``) on text blocks, each source
  once however often the server repeats its list: OpenAI's search models and OpenRouter's
  web plugin send ``annotations`` (``{type: "url_citation", url_citation: {url, title,
  start_index, end_index, content?}}``) on the delta (OpenAI: one annotation-only delta at
  the end) or on a ``message``; the indices are character offsets into the message's whole
  text (exclusive end), so each goes to the text block holding its start with the range
  made relative to that block (``content`` -> ``cited_text``; ``wire`` = the annotation as
  sent). An annotation is placed once the text it covers has arrived, the rest when the
  stream ends. Perplexity sends its sources on every chunk, ``search_results`` (``{title,
  url, date, ...}``, kept whole as ``wire``) and ``citations`` (bare URLs, ``wire``
  ``{"url": ...}``): they cite the whole answer (``start`` / ``end`` ``None``) and go on
  the open (else last) text block, an empty one being opened at the end if the answer has
  no text. Other annotation types are logged and skipped. Chat Completions shows no
  server tool calls: what a search produced arrives only as these citations;
* ``finish_reason`` -> the stop reason (``content_filter`` and ``error`` end the
  stream with an error event once the rest of the body was read, keeping the usage);
* an ``error`` object inside the 200 stream -> :class:`ProviderStreamError`, its
  kind read from :data:`OPENAI_ERROR_KINDS` (retryable for overload, rate limit and
  server errors).

A body that ends without ``[DONE]`` was cut short (:class:`StreamInterruptedError`),
unless the ``finish_reason`` and the usage both arrived: then nothing is missing
but the marker, which some servers leave out. A cut after the ``finish_reason`` but
before the usage chunk that follows it is an interruption like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import orjson

from .._speedups import JsonDeltaMerger
from .._speedups._limits import exceeds_json_depth
from ..emitter import too_deep_arguments
from ..errors import ErrorKind, ProviderStreamError, StreamInterruptedError
from ..overflow import classify_error
from ..types import Citation, StopReason, ThinkingContent, TokenLogprob, ToolCall, Usage
from ._chunks import NOT_JSON, loads_replacing_lone_surrogates
from .base import SSEParser

if TYPE_CHECKING:
    from ..emitter import EventEmitter

__all__ = [
    "REASONING_FIELDS",
    "CompletionsStreamParser",
    "completions_usage",
    "OPENAI_ERROR_KINDS",
    "map_finish_reason",
    "stream_error",
]

logger = logging.getLogger("alchemy")

REASONING_FIELDS: Final = ("reasoning_content", "reasoning", "reasoning_text")
"""The delta fields servers stream reasoning in, in the order they are looked at."""

_STOP: Final = frozenset({"stop", "end", "eos", "stop_sequence", "end_turn"})
_LENGTH: Final = frozenset({"length", "max_tokens", "model_length", "model_context_window_exceeded"})
_TOOL_USE: Final = frozenset({"tool_calls", "function_call", "tool_use"})
_FILTERED: Final = frozenset({"content_filter", "safety", "refusal", "recitation", "prohibited_content", "blocklist"})
OPENAI_ERROR_KINDS: Final[Mapping[str, ErrorKind]] = {
    "invalid_request_error": "invalid_request",
    "invalid_api_key": "auth",
    "invalid_authentication": "auth",
    "authentication_error": "auth",
    "unauthorized": "auth",
    "permission_error": "permission",
    "permission_denied": "permission",
    "unsupported_country_region_territory": "permission",
    "insufficient_quota": "permission",
    "model_not_found": "not_found",
    "not_found_error": "not_found",
    "not_found": "not_found",
    "context_length_exceeded": "context_overflow",
    "string_above_max_length": "context_overflow",
    "rate_limit_exceeded": "rate_limit",
    "rate_limit_error": "rate_limit",
    "rate_limit": "rate_limit",
    "rate_limited": "rate_limit",
    "too_many_requests": "rate_limit",
    "requests": "rate_limit",
    "tokens": "rate_limit",
    "content_filter": "content_filter",
    "content_policy_violation": "content_filter",
    "invalid_prompt": "content_filter",
    "server_error": "server",
    "internal_error": "server",
    "internal_server_error": "server",
    "api_error": "server",
    "overloaded": "overloaded",
    "overloaded_error": "overloaded",
    "server_overloaded": "overloaded",
    "server_is_overloaded": "overloaded",
    "service_unavailable": "overloaded",
    "unavailable": "overloaded",
    "insufficient_system_resource": "overloaded",
    "timeout": "timeout",
}
"""OpenAI's error types and codes (and those OpenAI-compatible servers use) -> kind, for
HTTP bodies and errors inside the stream; the Responses API reads it too. Overload,
rate limits, server errors and timeouts are retried before content; ``insufficient_quota``
is a billing stop, not a rate limit to wait out."""

# What kind of block the parser wrote last (the emitter closes blocks on its own).
_NONE: Final = 0
_TEXT: Final = 1
_THINKING: Final = 2
_TOOL: Final = 3


def map_finish_reason(reason: str) -> StopReason:
    """A Chat Completions ``finish_reason`` as alchemy's stop reason (``error`` for failures)."""
    if reason in _STOP:
        return "stop"
    if reason in _LENGTH:
        return "length"
    if reason in _TOOL_USE:
        return "toolUse"
    return "error"


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return int(value) if value > 0 else 0


def completions_usage(raw: Mapping[str, Any], *, completion_excludes_reasoning: bool = False) -> Usage:
    """A Chat Completions ``usage`` object as alchemy's :class:`Usage` (cost not yet filled).

    ``input`` is ``prompt_tokens`` minus the cached reads (``prompt_tokens_details.
    cached_tokens``, DeepSeek's ``prompt_cache_hit_tokens``, Moonshot's
    ``cached_tokens``) and the cache writes (OpenRouter's ``cache_write_tokens``);
    ``output`` includes the reasoning tokens once. Most servers count reasoning inside
    ``completion_tokens`` (OpenAI, DeepSeek, Groq, Alibaba, Moonshot); xAI counts it
    beside them. Which one a response used is read from ``total_tokens`` when that
    settles it, else ``completion_excludes_reasoning`` (the provider's habit) decides.
    """
    prompt = _count(raw.get("prompt_tokens"))
    completion = _count(raw.get("completion_tokens"))
    prompt_details = raw.get("prompt_tokens_details")
    cached = cache_write = 0
    if isinstance(prompt_details, Mapping):
        cached = _count(prompt_details.get("cached_tokens"))
        cache_write = _count(prompt_details.get("cache_write_tokens"))
    if not cached:
        cached = (
            _count(raw.get("prompt_cache_hit_tokens"))
            or _count(raw.get("cached_tokens"))
            or _count(raw.get("cache_read_input_tokens"))
        )
    if not cache_write:
        cache_write = _count(raw.get("cache_creation_input_tokens"))
    completion_details = raw.get("completion_tokens_details")
    reasoning = 0
    if isinstance(completion_details, Mapping):
        reasoning = _count(completion_details.get("reasoning_tokens"))
    excludes = completion_excludes_reasoning
    total = raw.get("total_tokens")
    if reasoning and isinstance(total, int) and not isinstance(total, bool):
        if total == prompt + completion + reasoning:
            excludes = True
        elif total == prompt + completion:
            excludes = False
    output = completion + reasoning if excludes else max(completion, reasoning)
    input_tokens = max(prompt - cached - cache_write, 0)
    return Usage(
        input=input_tokens,
        output=output,
        cache_read=cached,
        cache_write=cache_write,
        total_tokens=input_tokens + output + cached + cache_write,
        reasoning=reasoning,
    )


def stream_error(label: str, error: object) -> ProviderStreamError:
    """The error of an error object found in a 200 stream, its kind read from its type or code."""
    if not isinstance(error, Mapping):
        text = f"{label} reported an error in the stream: {error}"
        return ProviderStreamError(text, kind=classify_error(text=text))
    message = error.get("message")
    kind = error.get("type") or error.get("code") or error.get("status")
    code = error.get("code")
    text = message if isinstance(message, str) and message else orjson.dumps(error).decode()
    metadata = error.get("metadata")
    if isinstance(metadata, Mapping):
        raw = metadata.get("raw")
        if isinstance(raw, str) and raw and raw not in text:
            text = f"{text} ({raw})"  # OpenRouter: the upstream provider's own words
    kind_text = str(kind) if kind is not None else ""
    if kind_text and kind_text not in text:
        text = f"{kind_text}: {text}"
    # OpenRouter gives the upstream HTTP status as a numeric code: it classifies, it is not ours.
    status = code if isinstance(code, int) and not isinstance(code, bool) else None
    names = [name for name in (code, kind_text) if isinstance(name, str) and name]
    found = next((name for name in names if name.lower() in OPENAI_ERROR_KINDS), names[0] if names else None)
    return ProviderStreamError(
        f"{label} reported an error in the stream: {text}",
        kind=classify_error(status=status, code=found, text=text, codes=OPENAI_ERROR_KINDS),
        code=found,
        provider_message=message if isinstance(message, str) and message else None,
    )


class _Call:
    """One streamed tool call: where it sits, and every argument fragment it received."""

    __slots__ = ("index", "id", "block", "parts", "late")

    def __init__(self, index: Any, call_id: str, block: ToolCall) -> None:
        self.index = index
        self.id = call_id
        self.block = block
        self.parts: list[str] = []
        self.late = False


class _Details:
    """OpenRouter ``reasoning_details`` of one thinking block, streamed pieces merged."""

    __slots__ = ("owner", "items", "_by_key")

    def __init__(self, owner: ThinkingContent | None) -> None:
        self.owner = owner
        self.items: list[dict[str, Any]] = []
        self._by_key: dict[tuple[Any, Any], dict[str, Any]] = {}

    def add(self, item: Mapping[str, Any]) -> None:
        kind = item.get("type")
        index = item.get("index")
        key = (kind, index)
        existing = self._by_key.get(key) if index is not None else None
        if existing is None:
            merged = dict(item)
            self.items.append(merged)
            if index is not None:
                self._by_key[key] = merged
            return
        for name, value in item.items():
            if value is None:
                continue
            if name in ("text", "summary", "data") and isinstance(value, str):
                previous = existing.get(name)
                existing[name] = (previous if isinstance(previous, str) else "") + value
            else:
                existing[name] = value


def _offset(value: object) -> int | None:
    """A character offset as sent (a non-negative int), else ``None``."""
    return value if type(value) is int and value >= 0 else None


def _text_or_none(value: object) -> str | None:
    return value if type(value) is str else None


class _Sources:
    """The sources of one stream, each kept once, waiting until a text block can hold them.

    ``whole`` cite the whole answer (Perplexity); ``ranged`` carry character offsets into
    the message's whole text (annotations) and are placed once that text has arrived.
    """

    __slots__ = ("by_url", "annotation_keys", "whole", "ranged", "last_urls", "last_results")

    def __init__(self) -> None:
        self.by_url: dict[str, Citation] = {}
        self.annotation_keys: set[tuple[Any, ...]] = set()
        self.whole: list[Citation] = []
        self.ranged: list[Citation] = []
        self.last_urls: Any = None
        self.last_results: Any = None

    def search_results(self, results: object, urls: object) -> None:
        """Perplexity's ``search_results`` and ``citations`` of one chunk (repeated on every chunk)."""
        if results == self.last_results and urls == self.last_urls:
            return
        self.last_results, self.last_urls = results, urls
        by_url = self.by_url
        if type(results) is list:
            for entry in results:
                if type(entry) is not dict or type(entry.get("url")) is not str:
                    continue
                url = entry["url"]
                title = _text_or_none(entry.get("title"))
                known = by_url.get(url)
                if known is None:
                    citation = Citation("url", url=url, title=title, wire=dict(entry))
                    by_url[url] = citation
                    self.whole.append(citation)
                elif known.wire == {"url": url}:  # a bare URL seen first: the full entry replaces it
                    known.title = title
                    known.wire = dict(entry)
        if type(urls) is list:
            for url in urls:
                if type(url) is str and url not in by_url:
                    citation = Citation("url", url=url, wire={"url": url})
                    by_url[url] = citation
                    self.whole.append(citation)

    def annotations(self, items: object) -> None:
        """``annotations`` of a delta or message: ``url_citation`` objects, each kept once."""
        if type(items) is not list:
            return
        for item in items:
            if type(item) is not dict:
                continue
            kind = item.get("type")
            body = item.get(kind) if type(kind) is str else None
            if kind != "url_citation" or type(body) is not dict or type(body.get("url")) is not str:
                logger.debug("openai-completions: skipped an annotation of type %r", kind)
                continue
            start, end = _offset(body.get("start_index")), _offset(body.get("end_index"))
            if start is None or end is None or end < start:
                start = end = None
            key = (body["url"], start, end, body.get("title"))
            if key in self.annotation_keys:
                continue
            self.annotation_keys.add(key)
            citation = Citation(
                "url",
                url=body["url"],
                title=_text_or_none(body.get("title")),
                cited_text=_text_or_none(body.get("content")),
                start=start,
                end=end,
                wire=item,
            )
            (self.whole if start is None else self.ranged).append(citation)

    def place(self, emitter: EventEmitter, *, final: bool) -> None:
        """Puts the waiting sources on text blocks (see the module docstring); at the end, all of them."""
        texts = emitter.text_blocks()
        if not texts:
            if not final:
                return
            emitter.text_start()  # sources of an answer with no text: an empty text block holds them
            texts = emitter.text_blocks()
        if self.whole:
            emitter.add_citations(self.whole, index=texts[-1][0])
            self.whole = []
        if not self.ranged:
            return
        total = 0
        for _, block in texts:
            total += len(block.text)
        waiting: list[Citation] = []
        placed: dict[int, list[Citation]] = {}
        for citation in self.ranged:
            assert citation.start is not None and citation.end is not None
            if citation.end > total and not final:
                waiting.append(citation)
                continue
            index, local = _local_range(emitter, citation)
            placed.setdefault(index, []).append(local)
        for index, citations in placed.items():
            emitter.add_citations(citations, index=index)
        self.ranged = waiting


def _local_range(emitter: EventEmitter, citation: Citation) -> tuple[int, Citation]:
    """The text block holding ``citation.start`` (offsets into the whole message text) and the
    citation with its range made relative to that block (cut at the block's end)."""
    assert citation.start is not None and citation.end is not None
    located = emitter.text_block_at(citation.start)
    assert located is not None  # placed only once a text block exists
    index, block, offset = located
    length = len(block.text)
    start = min(max(citation.start - offset, 0), length)
    end = min(max(citation.end - offset, start), length)
    citation.start, citation.end = start, end
    return index, citation


class CompletionsStreamParser(SSEParser):
    """The Chat Completions chunk parser (see the module docstring for the mapping)."""

    __slots__ = (
        "label",
        "_excludes_reasoning",
        "_text_delta",
        "_mode",
        "_finish_reason",
        "_saw_done",
        "_response_id",
        "_calls_by_index",
        "_calls_by_id",
        "_calls",
        "_current_call",
        "_last_thinking",
        "_details",
        "_usage_raw",
        "_service_tier",
        "_failure",
        "_failure_kind",
        "_sources",
    )

    def __init__(self, emitter: EventEmitter, *, label: str, completion_excludes_reasoning: bool) -> None:
        super().__init__(emitter)
        self.label = label
        self._excludes_reasoning = completion_excludes_reasoning
        self._text_delta = emitter.text_delta
        self._mode = _NONE
        self._finish_reason: str | None = None
        self._saw_done = False
        self._response_id: str | None = None
        self._calls_by_index: dict[Any, _Call] = {}
        self._calls_by_id: dict[str, _Call] = {}
        self._calls: list[_Call] = []
        self._current_call: _Call | None = None
        self._last_thinking: ThinkingContent | None = None
        self._details: list[_Details] = []
        self._usage_raw: Any = None
        self._service_tier: str | None = None
        self._failure: str | None = None
        self._failure_kind: ErrorKind = "unknown"
        self._sources: _Sources | None = None

    # -- one SSE event ------------------------------------------------------------------

    def on_event(self, event: str, data: bytes) -> None:
        if data == b"[DONE]":
            self._saw_done = True
            return
        if self._saw_done:
            return  # nothing counts after the end marker
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            chunk = self._salvage(data)
        if type(chunk) is not dict:
            raise StreamInterruptedError(
                f"{self.label} sent a chunk that is not a JSON object: {_preview(data)}", kind="malformed_response"
            )
        error = chunk.get("error")
        if error or event == "error":
            raise stream_error(self.label, error if error else chunk)
        if self._response_id is None:
            response_id = chunk.get("id")
            if response_id and type(response_id) is str:
                self._response_id = response_id
                self.emitter.set_response_id(response_id)
        usage = chunk.get("usage")
        choices = chunk.get("choices")
        if choices and type(choices) is list:
            choice = choices[0]
            if type(choice) is dict and not choice.get("index"):  # choice 0 only (n > 1 is not streamed apart)
                delta = choice.get("delta")
                if delta and type(delta) is dict:
                    content = delta.get("content")
                    if content:
                        if type(content) is str:
                            self._mode = _TEXT
                            self._text_delta(content)
                        else:
                            self._content_parts(content)
                    if content is None or len(delta) > 1:
                        self._other_delta(delta)
                logprobs = choice.get("logprobs")
                if logprobs and type(logprobs) is dict:
                    self._logprobs(logprobs.get("content"))
                reason = choice.get("finish_reason")
                if reason:
                    message = choice.get("message")
                    if message and type(message) is dict and message.get("annotations"):
                        self._sources_of().annotations(message["annotations"])
                    self._on_finish_reason(reason, choice)
                if not usage:
                    usage = choice.get("usage")  # Moonshot puts usage on the choice
        if not usage:
            groq = chunk.get("x_groq")
            if groq and type(groq) is dict:
                usage = groq.get("usage")
        if usage and type(usage) is dict:
            tier = chunk.get("service_tier")
            if tier and type(tier) is str:
                self._service_tier = tier
            self._on_usage(usage)
        if "citations" in chunk or "search_results" in chunk:  # Perplexity
            self._sources_of().search_results(chunk.get("search_results"), chunk.get("citations"))
        sources = self._sources
        if sources is not None and (sources.whole or sources.ranged):
            sources.place(self.emitter, final=False)

    def _sources_of(self) -> _Sources:
        sources = self._sources
        if sources is None:
            sources = self._sources = _Sources()
        return sources

    def _salvage(self, data: bytes) -> Any:
        """A chunk orjson refused (broken JSON, or bytes that are not UTF-8): the stream
        ends with an error that keeps everything received before it."""
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StreamInterruptedError(
                f"{self.label} sent a chunk that is not valid UTF-8 ({exc.reason} at byte {exc.start}): "
                f"{_preview(data)}",
                kind="malformed_response",
            ) from None
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            chunk = loads_replacing_lone_surrogates(data)
            if chunk is NOT_JSON:
                raise StreamInterruptedError(
                    f"{self.label} sent a chunk that is not valid JSON ({exc}): {_preview(data)}",
                    kind="malformed_response",
                ) from None
            return chunk

    # -- deltas -------------------------------------------------------------------------

    def _other_delta(self, delta: dict[str, Any]) -> None:
        tool_calls = delta.get("tool_calls")
        if tool_calls is not None and len(delta) == 1:  # the common tool-call chunk: nothing else to look at
            if type(tool_calls) is list:
                for item in tool_calls:
                    if type(item) is dict:
                        self._tool_call(item)
            return
        for name in REASONING_FIELDS:
            reasoning = delta.get(name)
            if reasoning and type(reasoning) is str:
                self._thinking(reasoning, name)
                break  # chutes.ai sends the same text in two fields
        refusal = delta.get("refusal")
        if refusal and type(refusal) is str:
            self._mode = _TEXT
            self.emitter.refusal_delta(refusal)  # text as well, unless the call asked for structured output
        if tool_calls and type(tool_calls) is list:
            for item in tool_calls:
                if type(item) is dict:
                    self._tool_call(item)
        details = delta.get("reasoning_details")
        if details and type(details) is list:
            for item in details:
                if type(item) is dict:
                    self._reasoning_detail(item)
        annotations = delta.get("annotations")
        if annotations:
            self._sources_of().annotations(annotations)

    def _content_parts(self, content: object) -> None:
        """``delta.content`` as a list of typed parts (a few compatible servers send that)."""
        if not isinstance(content, list):
            return
        for part in content:
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind == "text" and isinstance(part.get("text"), str):
                self._mode = _TEXT
                self._text_delta(part["text"])
            elif kind in ("thinking", "reasoning"):
                text = part.get("thinking") or part.get("text")
                if isinstance(text, str):
                    self._thinking(text, "reasoning_content")

    def _thinking(self, text: str, field_name: str) -> None:
        emitter = self.emitter
        if self._mode != _THINKING:
            emitter.thinking_start(field_name)
            self._mode = _THINKING
            block = emitter.open_block
            if isinstance(block, ThinkingContent):
                self._last_thinking = block
        emitter.thinking_delta(text)

    def _tool_call(self, item: dict[str, Any]) -> None:
        current = self._current_call
        if current is not None and len(item) == 2 and self._mode == _TOOL and item.get("index") == current.index:
            # The hot path: {"index": i, "function": {"arguments": "..."}} continuing the open call.
            function = item.get("function")
            if type(function) is dict and len(function) == 1:
                fragment = function.get("arguments")
                if type(fragment) is str:
                    if fragment:
                        current.parts.append(fragment)
                        self.emitter.tool_call_delta(fragment)
                    return
        index = item.get("index")
        raw_id = item.get("id")
        call_id = raw_id if raw_id and type(raw_id) is str else None
        function = item.get("function")
        name: str | None = None
        arguments: Any = None
        if type(function) is dict:
            raw_name = function.get("name")
            name = raw_name if raw_name and type(raw_name) is str else None
            arguments = function.get("arguments")
        if arguments is not None and type(arguments) is not str:
            arguments = orjson.dumps(arguments).decode()  # a server that sends the arguments as an object
        call = self._route(index, call_id, name)
        emitter = self.emitter
        if call is None:
            emitter.tool_call_start(call_id or "", name or "")
            self._mode = _TOOL
            block = emitter.open_block
            assert isinstance(block, ToolCall)
            call = _Call(index, call_id or "", block)
            self._calls.append(call)
            if index is not None:
                self._calls_by_index[index] = call
            if call_id:
                self._calls_by_id[call_id] = call
            self._current_call = call
        else:
            if call_id and not call.id:
                call.id = call_id
                call.block.id = call_id
            if call_id:
                self._calls_by_id.setdefault(call_id, call)  # a mutated id routes to the call it continues
            if name and not call.block.name:
                call.block.name = name
        if arguments:
            call.parts.append(arguments)
            if call is self._current_call and self._mode == _TOOL:
                emitter.tool_call_delta(arguments)
            else:
                call.late = True

    def _route(self, index: Any, call_id: str | None, name: str | None) -> _Call | None:
        """The call a tool-call delta continues, or ``None`` when it starts a new one."""
        if index is not None:
            call = self._calls_by_index.get(index)
            if call is None:
                return self._calls_by_id.get(call_id) if call_id else None
            if call_id is None or not call.id or call.id == call_id:
                return call
            known = self._calls_by_id.get(call_id)
            if known is not None or name is not None:
                return known  # another id with a name at a reused index: a new call
            return call  # another id without a name: the same call under a mutated id
        if call_id is not None:
            return self._calls_by_id.get(call_id)
        return self._current_call

    def _logprobs(self, items: object) -> None:
        """``choice.logprobs.content[]``: each token's log-probability and its ``top_logprobs``."""
        if not items or type(items) is not list:
            return
        self.emitter.add_logprobs(
            TokenLogprob(item["token"], float(item["logprob"]), _top_logprobs(item.get("top_logprobs")))
            for item in items
            if type(item) is dict and _is_logprob(item)
        )

    def _reasoning_detail(self, item: dict[str, Any]) -> None:
        owner = self._last_thinking
        group = self._details[-1] if self._details else None
        if group is None or group.owner is not owner:
            group = _Details(owner)
            self._details.append(group)
        group.add(item)

    # -- response metadata -----------------------------------------------------------------

    def _on_finish_reason(self, reason: object, choice: dict[str, Any]) -> None:
        if type(reason) is not str:
            return
        self._finish_reason = reason
        stop = map_finish_reason(reason)
        if stop != "error":
            self.emitter.set_stop_reason(stop)
            return
        if reason in _FILTERED:
            self._failure = (
                f"{self.label} stopped the response: its content filter was triggered (finish_reason {reason!r})"
            )
            self._failure_kind = "content_filter"
        elif reason == "insufficient_system_resource":  # DeepSeek cut the response short for lack of capacity
            self._failure = (
                f"{self.label} cut the response short: the server ran out of capacity (finish_reason {reason!r})"
            )
            self._failure_kind = "overloaded"
        elif reason == "error":
            error = choice.get("error")
            if error:
                failure = stream_error(self.label, error)
                self._failure, self._failure_kind = str(failure), failure.kind
            else:
                self._failure = f"{self.label} ended the response with finish_reason 'error'"
                self._failure_kind = "server"
        else:
            self._failure = f"{self.label} ended the response with an unknown finish_reason {reason!r}"

    def _on_usage(self, raw: dict[str, Any]) -> None:
        if raw == self._usage_raw:
            return  # Perplexity repeats the running usage on every chunk
        self._usage_raw = raw
        usage = completions_usage(raw, completion_excludes_reasoning=self._excludes_reasoning)
        usage.service_tier = self._service_tier
        self.emitter.set_usage(usage)

    # -- the end ---------------------------------------------------------------------------

    def finish(self) -> None:
        if self._failure is not None:
            raise ProviderStreamError(self._failure, kind=self._failure_kind, code=self._finish_reason)
        if not self._saw_done and self._finish_reason is None:
            raise StreamInterruptedError(
                f"{self.label} stream ended before the response was complete "
                "(no finish_reason and no [DONE]); the connection was probably cut"
            )
        if not self._saw_done and self._usage_raw is None:
            raise StreamInterruptedError(
                f"{self.label} stream ended after the finish_reason but before its usage and [DONE]; "
                "the connection was probably cut"
            )
        self._settle_late_arguments()
        self._settle_reasoning_details()
        emitter = self.emitter
        sources = self._sources
        if sources is not None and (sources.whole or sources.ranged):
            sources.place(emitter, final=True)
        reason = emitter.stop_reason
        if reason == "stop" and self._calls:
            reason = "toolUse"  # a server that says "stop" after calling tools (Gemini's compat endpoint)
        emitter.done(reason if reason in ("stop", "length", "toolUse") else "stop")

    def _settle_late_arguments(self) -> None:
        for call in self._calls:
            if not call.late:
                continue
            raw = "".join(call.parts)
            try:
                value = orjson.loads(raw)
                too_deep = exceeds_json_depth(value)
            except orjson.JSONDecodeError:
                merger = JsonDeltaMerger()
                merger.feed(raw)
                value = merger.value if merger.has_value else {}
                too_deep = merger.too_deep
            if too_deep:
                raise too_deep_arguments(self.emitter.message.model, call.block.name)
            call.block.arguments = value if isinstance(value, dict) else {}

    def _settle_reasoning_details(self) -> None:
        if not self._details:
            return
        by_id = {call.id: call for call in self._calls if call.id}
        orphans: list[dict[str, Any]] = []
        for group in self._details:
            kept: list[dict[str, Any]] = []
            for item in group.items:
                item_id = item.get("id")
                call = (
                    by_id.get(item_id)
                    if item.get("type") == "reasoning.encrypted" and isinstance(item_id, str)
                    else None
                )
                if call is not None:
                    call.block.thought_signature = orjson.dumps(item).decode()
                else:
                    kept.append(item)
            if not kept:
                continue
            if group.owner is None:
                orphans.extend(kept)
            else:
                group.owner.thinking_signature = orjson.dumps(kept).decode()
        if orphans:
            # Reasoning that came with no readable text: an empty thinking block carries it.
            self.emitter.thinking_start(orjson.dumps(orphans).decode())


def _is_logprob(item: Mapping[str, Any]) -> bool:
    """A ``{"token": str, "logprob": number}`` object."""
    logprob = item.get("logprob")
    return type(item.get("token")) is str and type(logprob) in (int, float)


def _top_logprobs(items: object) -> tuple[tuple[str, float], ...]:
    if not items or type(items) is not list:
        return ()
    return tuple((item["token"], float(item["logprob"])) for item in items if type(item) is dict and _is_logprob(item))


def _preview(data: bytes, limit: int = 200) -> str:
    text = data[:limit].decode("utf-8", "replace")
    return text + ("..." if len(data) > limit else "")
