"""JSON pointers (RFC 6901) and path templates, as verify, the proxy, the recorder, replay and
the cassette report use them: where a job's id and status word sit in an answer, and the
concrete path a link leads to. A pointer that reads the wrong field, or a path with an id
left unescaped, makes every one of them follow the wrong job."""

from __future__ import annotations

import pytest

from mockserver.conformance.pointers import fill_path, pointer, pointer_get

ANSWER = {"data": {"id": "task-1", "status": "running"}, "id": "top", "items": ["a", "b"]}


def test_an_empty_pointer_is_the_whole_document() -> None:
    assert pointer_get(ANSWER, "") is ANSWER


def test_a_pointer_follows_objects_and_arrays() -> None:
    assert pointer_get(ANSWER, "/id") == "top"
    assert pointer_get(ANSWER, "/data/id") == "task-1"
    assert pointer_get(ANSWER, "/data/status") == "running"
    assert pointer_get(ANSWER, "/items/0") == "a"
    assert pointer_get(ANSWER, "/items/1") == "b"


@pytest.mark.parametrize(
    "missing", ["/nope", "/data/nope", "/items/2", "/items/-1", "/items/x", "/id/0", "/data/id/x"]
)
def test_a_pointer_that_leads_nowhere_is_a_key_error_naming_it(missing: str) -> None:
    with pytest.raises(KeyError) as caught:
        pointer_get(ANSWER, missing)
    assert caught.value.args == (missing,)


def test_a_pointer_reads_escaped_names() -> None:
    document = {"a/b": 1, "m~n": 2, "~1": 3}
    assert pointer_get(document, "/a~1b") == 1
    assert pointer_get(document, "/m~0n") == 2
    # "~01" is "~1" (unescape ~1 first, then ~0), not "/"
    assert pointer_get(document, "/~01") == 3


def test_a_pointer_is_built_with_its_names_escaped() -> None:
    assert pointer(["data", "id"]) == "/data/id"
    assert pointer(["items", 0]) == "/items/0"
    assert pointer(["a/b", "m~n"]) == "/a~1b/m~0n"
    # "~1" is written "~01": escaping ~ first keeps it apart from an escaped "/"
    assert pointer(["~1"]) == "/~01"
    assert pointer([]) == ""


def test_a_built_pointer_reads_back_what_it_names() -> None:
    document = {"a/b": {"~x": ["v"]}}
    assert pointer_get(document, pointer(["a/b", "~x", 0])) == "v"


def test_a_path_template_is_filled_with_its_values() -> None:
    assert fill_path("/v1/videos/{video_id}", {"video_id": "video_1"}) == "/v1/videos/video_1"
    assert (
        fill_path("/v1/{a}/x/{b}/content", {"a": "one", "b": 2, "c": "unused"})
        == "/v1/one/x/2/content"
    )


def test_a_value_is_escaped_into_one_path_segment() -> None:
    # an id holding "/" or "?" must not open another segment or a query
    assert fill_path("/v1/videos/{id}", {"id": "a/b?c d"}) == "/v1/videos/a%2Fb%3Fc%20d"
    # characters a segment may hold stay as they are
    assert fill_path("/t/{id}", {"id": "task:1@x-y_z.~"}) == "/t/task:1@x-y_z.~"


def test_a_value_not_given_leaves_the_segment_empty() -> None:
    assert fill_path("/v1/videos/{video_id}/content", {}) == "/v1/videos//content"


def test_a_path_without_parameters_is_unchanged() -> None:
    assert fill_path("/v1/videos", {"video_id": "x"}) == "/v1/videos"
