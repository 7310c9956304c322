"""How a ``text/event-stream`` answer is read and judged against its contract (contracts._sse):
events split on blank lines, comments skipped, ``data`` lines joined; each event checked
against the event schema and its ``data`` against the ``contentSchema``; a stream whose
contract names a terminator must end with it and say nothing after it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import contracts
from contracts._loader import Contract
from contracts._sse import EventStreamChecker, iter_events, sse_event

CHAT = contracts.load("gptproto-chat")
CHAT_MEDIA = {"schema": {"$ref": "#/components/schemas/ChatStreamEvent"}}


def _chunk(content: str = "hi", **changes: Any) -> str:
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "sora-2",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }
    return json.dumps({**chunk, **changes})


def _stream(*datas: str) -> str:
    return "".join(f"data: {d}\n\n" for d in datas)


# ------------------------------------------------------------------------- reading events


def test_events_are_split_on_blank_lines_and_data_lines_are_joined_with_newlines() -> None:
    text = "event: progress\ndata: one\ndata: two\nid: 7\n\ndata: three\n\n"
    assert list(iter_events(text)) == [
        {"event": "progress", "data": "one\ntwo", "id": "7"},
        {"data": "three"},
    ]


def test_a_last_event_without_its_blank_line_is_still_read() -> None:
    assert list(iter_events("data: a\n\ndata: b")) == [{"data": "a"}, {"data": "b"}]


def test_comment_lines_are_skipped_and_a_block_of_comments_is_no_event() -> None:
    text = ": keep-alive\n\n: ping\ndata: x\n: more\n\n\n\n"
    assert list(iter_events(text)) == [{"data": "x"}]
    assert sse_event([": keep-alive", ": again"]) is None
    assert sse_event([]) is None


def test_only_one_space_after_the_colon_is_dropped() -> None:
    assert sse_event(["data:x"]) == {"data": "x"}
    assert sse_event(["data:  two spaces"]) == {"data": " two spaces"}
    assert sse_event(["data: a: b"]) == {"data": "a: b"}


def test_a_field_without_a_colon_has_an_empty_value() -> None:
    assert sse_event(["data"]) == {"data": ""}
    assert sse_event(["data", "data"]) == {"data": "\n"}


# ----------------------------------------------------------------- judging against a contract


def test_a_documented_stream_has_no_problem() -> None:
    checker = EventStreamChecker(CHAT, CHAT_MEDIA)
    assert checker.terminator == "[DONE]"
    assert checker.check_stream(_stream(_chunk(), _chunk("done"), "[DONE]")) == []


def test_the_terminator_ends_the_stream_and_other_events_do_not() -> None:
    checker = EventStreamChecker(CHAT, CHAT_MEDIA)
    assert checker.check({"data": "[DONE]"}) == ([], True)
    assert checker.check({"data": _chunk()}) == ([], False)


def test_a_stream_without_its_terminator_is_a_problem() -> None:
    checker = EventStreamChecker(CHAT, CHAT_MEDIA)
    assert checker.check_stream(_stream(_chunk())) == [
        ("/", "the stream does not end with '[DONE]'")
    ]
    assert checker.check_stream("") == [("/", "the stream does not end with '[DONE]'")]


def test_an_event_after_the_terminator_is_a_problem_at_its_index() -> None:
    checker = EventStreamChecker(CHAT, CHAT_MEDIA)
    problems = checker.check_stream(_stream(_chunk(), "[DONE]", _chunk()))
    # and the stream no longer ends with the terminator either
    assert problems == [
        ("/2", "event after the stream's terminator"),
        ("/", "the stream does not end with '[DONE]'"),
    ]
    problems = checker.check_stream(_stream(_chunk(), "[DONE]", "[DONE]"))
    assert problems == [("/2", "event after the stream's terminator")]


def test_a_chunk_breaking_its_schema_is_named_by_event_index_and_json_pointer() -> None:
    checker = EventStreamChecker(CHAT, CHAT_MEDIA)
    problems = checker.check_stream(_stream(_chunk(), _chunk(created=-1), "[DONE]"))
    assert len(problems) == 1
    where, message = problems[0]
    assert where == "/1/data/created"
    assert "-1" in message


def test_data_that_is_not_json_is_a_problem_quoting_its_start() -> None:
    checker = EventStreamChecker(CHAT, CHAT_MEDIA)
    long = "x" * 200
    problems, ended = checker.check({"data": long})
    assert ended is False
    assert problems == [("/data", f"not JSON: {'x' * 80!r}")]


def test_an_event_breaking_the_event_schema_is_a_problem_at_its_root() -> None:
    checker = EventStreamChecker(CHAT, CHAT_MEDIA)
    problems, ended = checker.check({"event": "progress"})  # no data at all
    assert ended is False
    assert problems == [("/", "'data' is a required property")]


def test_a_stream_media_type_without_a_schema_accepts_every_event() -> None:
    checker = EventStreamChecker(CHAT, {})
    assert checker.terminator is None
    assert checker.check({"data": "not json"}) == ([], False)
    assert checker.check_stream(_stream("anything", "[DONE]", "more")) == []


def test_referenced_event_data_and_branches_are_followed() -> None:
    # every level behind a $ref (a ref to a ref, too): the terminator and the content schema
    # are found all the same
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {},
        "components": {
            "schemas": {
                "Event": {
                    "type": "object",
                    "required": ["data"],
                    "properties": {"data": {"$ref": "#/components/schemas/Data"}},
                },
                "Data": {"$ref": "#/components/schemas/DataBranches"},
                "DataBranches": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/End"},
                        {
                            "type": "string",
                            "not": {"const": "END"},
                            "contentSchema": {"$ref": "#/components/schemas/Doc"},
                        },
                    ]
                },
                "End": {"type": "string", "const": "END"},
                "Doc": {
                    "type": "object",
                    "required": ["n"],
                    "properties": {"n": {"type": "integer"}},
                },
            }
        },
    }
    contract = Contract("refs", Path("refs.yaml"), spec)
    checker = EventStreamChecker(contract, {"schema": {"$ref": "#/components/schemas/Event"}})
    assert checker.terminator == "END"
    assert checker.check({"data": "END"}) == ([], True)
    assert checker.check({"data": '{"n": 1}'}) == ([], False)
    problems, ended = checker.check({"data": '{"n": "one"}'})
    assert not ended
    assert [where for where, _ in problems] == ["/data/n"]
    assert checker.check_stream('data: {"n": 2}\n\ndata: END\n\n') == []


def test_an_inline_event_schema_is_checked_too() -> None:
    media = {
        "schema": {
            "type": "object",
            "required": ["data"],
            "properties": {"id": {"type": "string", "pattern": "^[0-9]+$"}},
        }
    }
    checker = EventStreamChecker(CHAT, media)
    assert checker.check({"data": "x", "id": "1"}) == ([], False)
    problems, _ = checker.check({"data": "x", "id": "a"})
    assert [where for where, _ in problems] == ["/id"]


def test_data_matching_any_one_content_schema_is_accepted() -> None:
    media = {
        "schema": {
            "type": "object",
            "properties": {
                "data": {
                    "anyOf": [
                        {"contentSchema": {"type": "object", "required": ["a"]}},
                        {"contentSchema": {"type": "object", "required": ["b"]}},
                    ]
                }
            },
        }
    }
    checker = EventStreamChecker(CHAT, media)
    assert checker.terminator is None
    assert checker.check({"data": '{"a": 1}'}) == ([], False)
    assert checker.check({"data": '{"b": 1}'}) == ([], False)
    # neither: the first schema's complaint is the one reported
    assert checker.check({"data": "{}"}) == ([("/data", "'a' is a required property")], False)


def test_pointers_escape_tilde_and_slash() -> None:
    media = {
        "schema": {
            "type": "object",
            "properties": {
                "data": {
                    "contentSchema": {
                        "type": "object",
                        "properties": {
                            "a/b~c": {"type": "object", "properties": {"n": {"type": "integer"}}}
                        },
                    }
                }
            },
        }
    }
    checker = EventStreamChecker(CHAT, media)
    problems, _ = checker.check({"data": '{"a/b~c": {"n": "x"}}'})
    assert [where for where, _ in problems] == ["/data/a~1b~0c/n"]


def test_an_event_schema_without_properties_checks_the_event_only() -> None:
    checker = EventStreamChecker(CHAT, {"schema": {"type": "object", "required": ["id"]}})
    assert checker.terminator is None
    assert checker.check({"id": "1", "data": "not json"}) == ([], False)
    assert checker.check({"data": "x"}) == ([("/", "'id' is a required property")], False)
