"""An event whose JSON spans several ``data:`` lines is one event: its lines are joined with
newlines (the SSE specification), in the contract checker the verifier and the proxy share, and
in the client. Every other stream test uses one-line events, so a reader that kept only the last
``data:`` line (and reported drift that is not there) went unseen."""

from __future__ import annotations

import json

import pytest

import contracts
from contracts._sse import iter_events
from mockserver.conformance.contract_map import ContractMap
from mockserver.conformance.validation import StreamCheck
from sora_client._sse import SSEDecoder

CHUNK = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 0,
    "model": "sora-2",
    "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}}],
}
#: the chunk pretty-printed: one event of many `data:` lines
SPREAD = "".join(f"data: {line}\n" for line in json.dumps(CHUNK, indent=2).splitlines())
STREAM = f"{SPREAD}\ndata: [DONE]\n\n"


def test_the_lines_of_one_event_are_joined() -> None:
    events = list(iter_events(STREAM))
    assert len(events) == 2
    assert json.loads(events[0]["data"]) == CHUNK
    assert events[1]["data"] == "[DONE]"


@pytest.mark.parametrize("piece", [1, 7, len(STREAM)], ids=["bytewise", "7-byte", "whole"])
def test_the_checker_the_proxy_and_verifier_share_finds_no_drift(piece: int) -> None:
    contract = contracts.load("gptproto-chat")
    op = contract.operation("createChatCompletion")
    media = ContractMap(contract).media(op, 200, "text/event-stream")
    assert media, "the contract declares the stream"
    check = StreamCheck(contract, media)
    data = STREAM.encode()
    judged = [
        (event, problems)
        for start in range(0, len(data), piece)
        for _, event, problems in check.feed(data[start : start + piece])
    ]
    assert [json.loads(e["data"]) if e and e["data"] != "[DONE]" else e for e, _ in judged] == [
        CHUNK,
        {"data": "[DONE]"},
    ]
    assert [p for _, p in judged] == [[], []] and check.finish() == []


def test_the_client_joins_them_too() -> None:
    decoder = SSEDecoder()
    events = [*decoder.feed(STREAM.encode())]
    assert json.loads(events[0].data) == CHUNK and events[1].data == "[DONE]"
