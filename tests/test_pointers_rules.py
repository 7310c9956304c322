"""The searching pointers of a declaration's ``job-places`` (``contracts._pointers``), rule by
rule: what each kind of step takes (a key, an index, ``*``, ``[key=value]``), what a step that
does not fit leaves, and which value :func:`first` settles on. In-process and fast: the module's
own tests for mutation runs (tests/mutation/mutate.py)."""

from __future__ import annotations

from typing import Any

import pytest

from contracts._pointers import first, pick_all

JOB: dict[str, Any] = {
    "id": "j1",
    "outputs": [
        {"type": "image", "url": "https://cdn.test/a.png"},
        {"type": "video", "url": "https://cdn.test/a.mp4"},
        {"type": "video", "url": "https://cdn.test/b.mp4"},
        "not a mapping",
        {"url": "https://cdn.test/untyped.mp4"},
    ],
    "meta": {"seconds": 8, "size": None},
}


@pytest.mark.parametrize(
    ("pointer", "found"),
    [
        ("", [JOB]),  # no step: the body itself
        ("/", [JOB]),
        ("/id", ["j1"]),
        ("/id/", ["j1"]),  # empty steps are no steps
        ("id", ["j1"]),
        ("//meta//seconds", [8]),
        ("/meta/seconds", [8]),
        ("/meta/size", []),  # a null is nothing found
        ("/meta/missing", []),
        ("/id/deeper", []),  # a text has no keys
        ("/outputs/1/url", ["https://cdn.test/a.mp4"]),
        ("/outputs/0/type", ["image"]),
        ("/outputs/4/url", ["https://cdn.test/untyped.mp4"]),
        ("/outputs/5/url", []),  # past the end: nothing, not an error
        ("/outputs/-1/url", []),  # not an index
        ("/meta/0", []),  # an index into a mapping
        ("/outputs/*/type", ["image", "video", "video"]),
        (
            "/outputs/*/url",
            [
                "https://cdn.test/a.png",
                "https://cdn.test/a.mp4",
                "https://cdn.test/b.mp4",
                "https://cdn.test/untyped.mp4",
            ],
        ),
        ("/outputs/*", JOB["outputs"]),
        ("/meta/*", []),  # `*` takes a list's entries only
        ("/outputs/[type=video]/url", ["https://cdn.test/a.mp4", "https://cdn.test/b.mp4"]),
        ("/outputs/[type=image]/url", ["https://cdn.test/a.png"]),
        ("/outputs/[type=audio]/url", []),
        ("/outputs/[type=None]/url", ["https://cdn.test/untyped.mp4"]),  # the text of a missing key
        ("/meta/[type=video]", []),  # a filter takes a list's entries only
        ("/outputs/[type=video]", [JOB["outputs"][1], JOB["outputs"][2]]),
    ],
)
def test_each_kind_of_step_takes_what_it_names(pointer: str, found: list[Any]) -> None:
    assert pick_all(JOB, pointer) == found


def test_a_filter_compares_the_text_of_the_value_and_an_empty_value_matches_empty_text() -> None:
    body = {"a": [{"n": 4, "v": "four"}, {"n": "4", "v": "text"}, {"n": "", "v": "empty"}]}
    assert pick_all(body, "/a/[n=4]/v") == ["four", "text"]
    assert pick_all(body, "/a/[n=]/v") == ["empty"]
    # the key is the part before `=`, the value the part after it
    assert pick_all({"a": [{"k": "v", "v": "k", "x": 1}]}, "/a/[k=v]/x") == [1]
    assert pick_all({"a": [{"k": "v", "v": "k", "x": 1}]}, "/a/[v=v]/x") == []
    # a step that only looks like a filter is a key
    assert pick_all({"[=x]": 1, "a": [{"": "x", "y": 2}]}, "/[=x]") == [1]
    assert pick_all({"a": [{"": "x", "y": 2}]}, "/a/[=x]/y") == []


def test_every_node_of_a_step_is_searched_and_their_finds_kept_in_order() -> None:
    body = {"a": [{"b": [1, 2]}, {"b": [3]}, {"c": [9]}, {"b": [4, None, 5]}]}
    assert pick_all(body, "/a/*/b/*") == [1, 2, 3, 4, 5]
    assert pick_all(body, "/a/*/b/0") == [1, 3, 4]
    assert pick_all(body, "/a/*/b/2") == [5]
    assert pick_all(body, "/a/*/b/3") == []
    assert pick_all([[10, 11], [12]], "/*/1") == [11]
    assert pick_all([[10, 11], [12]], "/1/0") == [12]


def test_keys_are_taken_as_written() -> None:
    body = {"X": 1, " a ": 2, "a": 3, "*": 4, "XX": {"X": 5}}
    assert pick_all(body, "/X") == [1]
    assert pick_all(body, "X/") == [1]
    assert pick_all(body, "/XX/X") == [5]
    assert pick_all(body, "/ a ") == [2]
    assert pick_all(body, "/a") == [3]
    assert pick_all({"*": 4}, "/*") == []  # `*` is always "each entry"


@pytest.mark.parametrize(
    ("body", "pointers", "value"),
    [
        ({"a": "x", "b": "y"}, ["/a", "/b"], "x"),  # the pointers in order
        ({"a": "x", "b": "y"}, ["/b", "/a"], "y"),
        ({"a": "", "b": "y"}, ["/a", "/b"], "y"),  # an empty text is nothing
        ({"a": 0, "b": "y"}, ["/a", "/b"], 0),  # but a zero is a number
        ({"a": 0.0, "b": "y"}, ["/a", "/b"], 0.0),
        ({"a": 2.5, "b": "y"}, ["/a", "/b"], 2.5),
        ({"a": True, "b": "y"}, ["/a", "/b"], "y"),  # a boolean is no number
        ({"a": False, "b": "y"}, ["/a", "/b"], "y"),
        ({"a": {"k": 1}, "b": [1], "c": 3}, ["/a", "/b", "/c"], 3),  # nor a mapping or a list
        ({"a": ["", True, "z", "w"]}, ["/a/*"], "z"),  # the first that fits of a search
        ({"a": None}, ["/a", "/b"], None),
        ({"a": "x"}, [], None),
    ],
)
def test_first_takes_the_first_number_or_non_empty_text(
    body: Any, pointers: list[str], value: Any
) -> None:
    found = first(body, pointers)
    assert found == value and type(found) is type(value)


def test_first_reads_the_pointers_lazily_in_order() -> None:
    read: list[str] = []

    def pointers() -> Any:
        for pointer in ("/a", "/b", "/c"):
            read.append(pointer)
            yield pointer

    assert first({"b": 5, "c": 6}, pointers()) == 5
    assert read == ["/a", "/b"]
