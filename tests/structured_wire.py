"""Recordings of structured-output answers, written in each wire API's documented stream shapes.

Each builder returns the payloads one provider streams (the fixture line format: one
JSON value per event, framed by the replay server) for an answer whose JSON text
arrives in the given fragments:

* :func:`native` -- the API's structured-output mode: the JSON arrives as text
  (Chat Completions / Mistral ``delta.content``, Responses ``output_text`` deltas,
  Anthropic ``text_delta``, Gemini text parts, Bedrock ``contentBlockDelta.text``);
* :func:`tool` -- a forced tool call whose arguments are the JSON (Gemini sends the
  arguments whole, as ``functionCall.args``);
* :func:`refusal` -- the model refuses (OpenAI ``refusal`` deltas; Anthropic
  ``stop_reason: "refusal"`` with ``stop_details``).
"""

from __future__ import annotations

from typing import Any

import orjson

Payloads = list[dict[str, Any]]

_COMPLETIONS_HEAD = {"id": "chatcmpl-structured", "object": "chat.completion.chunk", "created": 1767225600}


def _completions_chunk(model: str, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        **_COMPLETIONS_HEAD,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        **extra,
    }


_USAGE = {"prompt_tokens": 40, "completion_tokens": 20, "total_tokens": 60}


def _completions(model: str, deltas: list[dict[str, Any]], finish: str) -> Payloads:
    out = [_completions_chunk(model, {"role": "assistant", "content": ""})]
    out += [_completions_chunk(model, delta) for delta in deltas]
    out.append(_completions_chunk(model, {}, finish))
    out.append({**_COMPLETIONS_HEAD, "model": model, "choices": [], "usage": _USAGE})
    return out


def _mistral(model: str, deltas: list[dict[str, Any]], finish: str) -> Payloads:
    out = [_completions_chunk(model, {"role": "assistant", "content": ""})]
    out += [_completions_chunk(model, delta) for delta in deltas]
    out.append(_completions_chunk(model, {"content": ""}, finish, usage=_USAGE))
    return out


def _responses_envelope(items: Payloads, status: str = "completed") -> Payloads:
    response = {"id": "resp_structured", "object": "response", "status": "in_progress", "model": "gpt-5.1", "output": []}
    done = {**response, "status": status, "usage": {
        "input_tokens": 40, "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 60}}
    events = [{"type": "response.created", "response": response}, *items,
              {"type": f"response.{status}", "response": done}]
    return [{**event, "sequence_number": i} for i, event in enumerate(events)]


def _responses_message(part_type: str, delta_type: str, fragments: list[str]) -> Payloads:
    item_id = "msg_structured"
    key = "text" if part_type == "output_text" else "refusal"
    full = "".join(fragments)
    part_done: dict[str, Any] = {"type": part_type, key: full}
    if part_type == "output_text":
        part_done["annotations"] = []
    return [
        {"type": "response.output_item.added", "output_index": 0,
         "item": {"id": item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}},
        {"type": "response.content_part.added", "item_id": item_id, "output_index": 0, "content_index": 0,
         "part": {**part_done, key: ""}},
        *({"type": delta_type, "item_id": item_id, "output_index": 0, "content_index": 0, "delta": f}
          for f in fragments),
        {"type": "response.content_part.done", "item_id": item_id, "output_index": 0, "content_index": 0,
         "part": part_done},
        {"type": "response.output_item.done", "output_index": 0,
         "item": {"id": item_id, "type": "message", "status": "completed", "role": "assistant",
                  "content": [part_done]}},
    ]


def _anthropic(blocks: Payloads, stop: str, **delta_extra: Any) -> Payloads:
    start = {"type": "message_start", "message": {
        "id": "msg_structured", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 40, "output_tokens": 1}}}
    end = {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None, **delta_extra},
           "usage": {"output_tokens": 20}}
    return [start, *blocks, end, {"type": "message_stop"}]


def _gemini(parts: list[dict[str, Any]], finish: str = "STOP") -> Payloads:
    out: Payloads = []
    for i, part in enumerate(parts):
        candidate: dict[str, Any] = {"content": {"parts": [part], "role": "model"}, "index": 0}
        if i == len(parts) - 1:
            candidate["finishReason"] = finish
        out.append({"candidates": [candidate],
                    "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 20, "totalTokenCount": 60},
                    "modelVersion": "gemini-2.5-flash", "responseId": "structured"})
    return out


def _bedrock(blocks: Payloads, stop: str) -> Payloads:
    return [{"messageStart": {"role": "assistant"}}, *blocks, {"messageStop": {"stopReason": stop}},
            {"metadata": {"usage": {"inputTokens": 40, "outputTokens": 20, "totalTokens": 60},
                          "metrics": {"latencyMs": 100}}}]


def _cohere(events: Payloads, finish: str) -> Payloads:
    start = {"id": "structured", "type": "message-start",
             "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [],
                                   "citations": []}}}
    end = {"type": "message-end", "delta": {"finish_reason": finish, "usage": {
        "billed_units": {"input_tokens": 40, "output_tokens": 20}, "tokens": {"input_tokens": 40, "output_tokens": 20}}}}
    return [start, *events, end]


def native(api: str, fragments: list[str], *, model: str = "model") -> Payloads:
    """The answer's JSON streamed as text, in ``api``'s shapes."""
    if api == "openai-completions":
        return _completions(model, [{"content": f} for f in fragments], "stop")
    if api == "mistral-conversations":
        return _mistral(model, [{"content": f} for f in fragments], "stop")
    if api in ("openai-responses", "azure-openai-responses"):
        return _responses_envelope(_responses_message("output_text", "response.output_text.delta", fragments))
    if api == "anthropic-messages":
        blocks: Payloads = [{"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}]
        blocks += [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f}}
                   for f in fragments]
        blocks.append({"type": "content_block_stop", "index": 0})
        return _anthropic(blocks, "end_turn")
    if api in ("google-generative-ai", "google-vertex"):
        return _gemini([{"text": f} for f in fragments])
    if api == "bedrock-converse-stream":
        deltas: Payloads = [{"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": f}}} for f in fragments]
        return _bedrock([*deltas, {"contentBlockStop": {"contentBlockIndex": 0}}], "end_turn")
    if api == "cohere-chat":
        parts: Payloads = [{"type": "content-start", "index": 0,
                            "delta": {"message": {"content": {"type": "text", "text": ""}}}}]
        parts += [{"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": f}}}}
                  for f in fragments]
        parts.append({"type": "content-end", "index": 0})
        return _cohere(parts, "COMPLETE")
    raise ValueError(api)


def tool(api: str, name: str, fragments: list[str], *, model: str = "model") -> Payloads:
    """The answer's JSON as the arguments of a call of tool ``name``, in ``api``'s shapes."""
    if api in ("openai-completions", "mistral-conversations"):
        first = {"tool_calls": [{"index": 0, "id": "call_structured1", "type": "function",
                                 "function": {"name": name, "arguments": ""}}]}
        rest = [{"tool_calls": [{"index": 0, "function": {"arguments": f}}]} for f in fragments]
        build = _completions if api == "openai-completions" else _mistral
        return build(model, [first, *rest], "tool_calls")
    if api in ("openai-responses", "azure-openai-responses"):
        item = {"id": "fc_structured", "type": "function_call", "status": "in_progress", "call_id": "call_s1",
                "name": name, "arguments": ""}
        full = "".join(fragments)
        return _responses_envelope([
            {"type": "response.output_item.added", "output_index": 0, "item": item},
            *({"type": "response.function_call_arguments.delta", "item_id": "fc_structured", "output_index": 0,
               "delta": f} for f in fragments),
            {"type": "response.function_call_arguments.done", "item_id": "fc_structured", "output_index": 0,
             "arguments": full},
            {"type": "response.output_item.done", "output_index": 0,
             "item": {**item, "status": "completed", "arguments": full}},
        ])
    if api == "anthropic-messages":
        blocks: Payloads = [{"type": "content_block_start", "index": 0, "content_block": {
            "type": "tool_use", "id": "toolu_structured", "name": name, "input": {}}}]
        blocks += [{"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": f}}
                   for f in fragments]
        blocks.append({"type": "content_block_stop", "index": 0})
        return _anthropic(blocks, "tool_use")
    if api in ("google-generative-ai", "google-vertex"):
        return _gemini([{"functionCall": {"name": name, "args": orjson.loads("".join(fragments))}}])
    if api == "bedrock-converse-stream":
        deltas: Payloads = [{"contentBlockStart": {"contentBlockIndex": 0, "start": {
            "toolUse": {"toolUseId": "tooluse_structured", "name": name}}}}]
        deltas += [{"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"toolUse": {"input": f}}}}
                   for f in fragments]
        return _bedrock([*deltas, {"contentBlockStop": {"contentBlockIndex": 0}}], "tool_use")
    if api == "cohere-chat":
        calls: Payloads = [{"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": {
            "id": "Person_structured1", "type": "function", "function": {"name": name, "arguments": ""}}}}}]
        calls += [{"type": "tool-call-delta", "index": 0,
                   "delta": {"message": {"tool_calls": {"function": {"arguments": f}}}}} for f in fragments]
        calls.append({"type": "tool-call-end", "index": 0})
        return _cohere(calls, "TOOL_CALL")
    raise ValueError(api)


def refusal(api: str, fragments: list[str], *, model: str = "model") -> Payloads:
    """A refusal: OpenAI's ``refusal`` deltas, or Anthropic's ``refusal`` stop reason."""
    if api == "openai-completions":
        return _completions(model, [{"refusal": f} for f in fragments], "stop")
    if api in ("openai-responses", "azure-openai-responses"):
        return _responses_envelope(_responses_message("refusal", "response.refusal.delta", fragments))
    if api == "anthropic-messages":
        details = {"type": "refusal", "category": "cyber", "explanation": "".join(fragments)}
        return _anthropic([], "refusal", stop_details=details)
    raise ValueError(f"{api} has no refusal shape")


def split(text: str, size: int = 7) -> list[str]:
    """``text`` cut into fragments of ``size`` characters."""
    return [text[i : i + size] for i in range(0, len(text), size)]
