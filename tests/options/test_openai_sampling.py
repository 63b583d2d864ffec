"""OpenAI's reasoning models refuse sampling options: the call raises before any I/O, naming the
option, where OpenAI's or Azure's own service would reject the request (alchemy.model_facts)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import alchemy
from alchemy.models import get_model

CONTEXT = alchemy.Context(messages=[alchemy.UserMessage("hi")])
KEY = {"api_key": "test-key-not-real"}


def _model(key: str, api: str | None = None) -> alchemy.Model:
    model = get_model(key)
    return model if api is None else dataclasses.replace(model, api=api)


def _sends(model: alchemy.Model, **options: Any) -> None:
    stream = alchemy.stream(model, CONTEXT, **KEY, **options)  # checked here; nothing is sent until iterated
    stream.close()


@pytest.mark.parametrize("api", [None, "openai-completions"])
@pytest.mark.parametrize(
    ("key", "options", "refused"),
    [
        ("openai/o3", {"top_p": 0.5}, "top_p"),
        ("openai/gpt-5", {"logprobs": True}, "logprobs"),
        ("openai/gpt-5.1-codex", {"top_p": 0.1}, "top_p"),
        ("openai/gpt-5.1", {"top_p": 0.5, "reasoning_effort": "low"}, "top_p"),
        ("openai/gpt-5.1", {"top_logprobs": 3, "reasoning": "high"}, "top_logprobs"),
    ],
)
def test_reasoning_models_refuse_sampling_at_the_call(key: str, options: dict[str, Any], refused: str, api: str | None) -> None:
    model = _model(key, api)
    with pytest.raises(ValueError, match=rf"option {refused} cannot be sent to {model.key}.*reasoning models reject it"):
        alchemy.stream(model, CONTEXT, **KEY, **options)


@pytest.mark.parametrize("name", ["frequency_penalty", "presence_penalty"])
def test_penalties_too_on_chat_completions(name: str) -> None:
    model = _model("openai/gpt-5", "openai-completions")
    with pytest.raises(ValueError, match=rf"option {name} cannot be sent"):
        alchemy.stream(model, CONTEXT, **{name: 0.2}, **KEY)


def test_the_hint_says_how_when_the_model_can_stop_reasoning() -> None:
    with pytest.raises(ValueError, match=r"reasoning_effort='none' \(or reasoning='off'\)"):
        alchemy.stream(_model("openai/gpt-5.1"), CONTEXT, top_p=0.5, reasoning_effort="medium", **KEY)
    with pytest.raises(ValueError, match=r"reject it$"):
        alchemy.stream(_model("openai/o3"), CONTEXT, top_p=0.5, **KEY)


@pytest.mark.parametrize(
    ("key", "options"),
    [
        ("openai/gpt-5.1", {"top_p": 0.5}),  # its default effort is none
        ("openai/gpt-5.1", {"top_p": 0.5, "reasoning_effort": "none"}),
        ("openai/gpt-5.1", {"logprobs": True, "reasoning": "off"}),
        ("openai/gpt-4o", {"top_p": 0.5, "logprobs": True}),  # not a reasoning model
        ("openai/gpt-5-chat-latest", {"top_p": 0.5}),  # a chat model
        ("openai/gpt-5", {"logprobs": False}),  # asks for nothing
        ("openrouter/openai/gpt-5", {"top_p": 0.5}),  # not OpenAI's own service
    ],
)
def test_what_openai_takes_passes(key: str, options: dict[str, Any]) -> None:
    _sends(_model(key), **options)


def test_azure_refuses_as_openai_does() -> None:
    model = _model("azure-openai-responses/gpt-5")
    with pytest.raises(ValueError, match="option top_p cannot be sent"):
        alchemy.stream(model, CONTEXT, top_p=0.5, azure_base_url="http://127.0.0.1:9/openai/v1", **KEY)
