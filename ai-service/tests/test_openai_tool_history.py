"""/ai/v1/chat/completions passes a client's own tool loop on to the model: assistant tool calls
and the tool results that answer them, checked with the OpenAI SDK against the fake provider."""

from __future__ import annotations

import httpx2
import openai
import pytest
from openai import AsyncOpenAI, DefaultAsyncHttpxClient

CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
HISTORY = [
    {"role": "user", "content": "what is the weather in Oslo"},
    {"role": "assistant", "content": None, "tool_calls": [CALL]},
    {"role": "tool", "tool_call_id": "call_1", "content": '{"celsius": 3}'},
]


def _sdk(app, token: str) -> AsyncOpenAI:
    return AsyncOpenAI(
        base_url="http://ai/ai/v1",
        api_key=token,
        max_retries=0,
        http_client=DefaultAsyncHttpxClient(transport=httpx2.ASGITransport(app=app)),
    )


async def test_tool_calls_and_results_reach_the_model_plain_and_streamed(h, company, fake):
    sdk = _sdk(h.client.app, company.user().token)
    answer = await sdk.chat.completions.create(model="any", messages=HISTORY)
    assert answer.choices[0].message.content == "Echo: what is the weather in Oslo"
    sent = fake.chat_requests[-1]["messages"]
    assert sent[0]["role"] == "system"  # the platform's prompt first, then the client's history as it came
    assert sent[1:] == [
        HISTORY[0],
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"celsius": 3}'},
    ]
    stream = await sdk.chat.completions.create(model="any", messages=HISTORY, stream=True)
    text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    assert text == "Echo: what is the weather in Oslo"
    assert fake.chat_requests[-1]["messages"][1:] == sent[1:]


async def test_a_tool_result_that_answers_no_call_is_a_422_naming_it(h, company, fake):
    sdk = _sdk(h.client.app, company.user().token)
    before = len(fake.chat_requests)
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        await sdk.chat.completions.create(model="any", messages=[HISTORY[0], HISTORY[2]])
    errors = caught.value.response.json()["errors"]
    assert errors[0]["path"].endswith("messages[1].tool_call_id") and errors[0]["code"] == "unknown_tool_call"
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        await sdk.chat.completions.create(
            model="any",
            messages=[HISTORY[0], HISTORY[1], {"role": "tool", "content": "x"}],
        )
    assert caught.value.response.json()["errors"][0]["path"].endswith("messages[2].tool_call_id")
    assert len(fake.chat_requests) == before  # nothing went to the model
