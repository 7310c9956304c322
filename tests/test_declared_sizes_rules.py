"""The client's side of sizes named in words (``sora_client._providers.declared_sizes``), rule
by rule, on the module alone: the fields a neutral size, an image's pixels, a size the table
does not name or no size at all become, which ``extra`` fields agree or contradict, which
``extra`` names the size's fields take, and the order of a create's fields. The adapter is a
stand-in holding only its name. In-process and fast: the module's own tests for mutation runs
(tests/mutation/mutate.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from sora_client._exceptions import InvalidRequestError
from sora_client._images import Image
from sora_client._providers import CreateSpec
from sora_client._providers import declared_sizes as sizes

ADAPTER = SimpleNamespace(name="wrap-clips")
TABLE = {
    "720x1280": {"/scale": "lo", "/shape": "tall"},
    "1280x720": {"/scale": "lo", "/shape": "wide"},
    "1024x1792": {"/scale": "hi", "/shape": "tall"},
    "1792x1024": {"/scale": "hi", "/shape": "wide"},
}


def _image(width: int | None, height: int | None) -> Image:
    return Image(b"x", None, "image/png", width, height, "x.png")


def _fields(spec: CreateSpec, table: Any = TABLE, default: Any = "lo") -> dict[str, Any]:
    return sizes.named_fields(ADAPTER, table, "/scale", spec, default)


@pytest.mark.parametrize("size", list(TABLE))
def test_a_size_the_table_names_becomes_its_words(size: str) -> None:
    found = _fields(CreateSpec("x", size=size))
    assert found == TABLE[size] and found is not TABLE[size]


def test_a_size_with_extra_words_that_agree_is_taken() -> None:
    spec = CreateSpec("x", size="1280x720", extra={"shape": "wide", "seed": 1})
    assert _fields(spec) == {"/scale": "lo", "/shape": "wide"}


def test_a_size_with_extra_words_that_contradict_it_is_refused() -> None:
    with pytest.raises(InvalidRequestError) as refused:
        _fields(CreateSpec("x", _image(1280, 720), size="720x1280", extra={"shape": "wide"}))
    assert (refused.value.provider, refused.value.field) == ("wrap-clips", "shape")
    assert refused.value.rule == "'wide' contradicts size 720x1280 (tall)"


def test_a_contradiction_is_named_by_the_fields_top_name() -> None:
    table = {"1x2": {"/s": "a", "/o/k": "tall"}, "2x1": {"/s": "a", "/o/k": "wide"}}
    spec = CreateSpec("x", size="1x2", extra={"o": "wide"})
    with pytest.raises(InvalidRequestError) as refused:
        sizes.named_fields(ADAPTER, table, "/s", spec, None)
    assert refused.value.field == "o"
    assert refused.value.rule == "'wide' contradicts size 1x2 (tall)"


def test_the_size_field_given_in_extra_is_not_checked_against_the_size() -> None:
    spec = CreateSpec("x", size="720x1280", extra={"scale": "hi"})
    assert _fields(spec) == {"/scale": "lo", "/shape": "tall"}


@pytest.mark.parametrize(
    ("extra", "found"),
    [
        ({}, {"/scale": "hi"}),
        ({"shape": "wide"}, {"/scale": "hi", "/shape": "wide"}),
        ({"scale": "lo", "seed": 2}, {"/scale": "hi"}),  # the size's own field: the size wins
    ],
)
def test_a_size_the_table_does_not_name_is_sent_as_given(extra: Any, found: Any) -> None:
    assert _fields(CreateSpec("x", _image(720, 1280), size="hi", extra=extra)) == found


@pytest.mark.parametrize("size", list(TABLE))
def test_no_size_and_an_image_of_a_named_size_takes_its_entry(size: str) -> None:
    width, height = (int(n) for n in size.split("x"))
    assert _fields(CreateSpec("x", _image(width, height))) == TABLE[size]
    # its pixels decide, whatever extra says
    told = CreateSpec("x", _image(width, height), extra={"shape": "round"})
    assert _fields(told) == TABLE[size]


@pytest.mark.parametrize(
    ("pixels", "extra", "size"),
    [
        ((800, 600), {}, "1280x720"),  # wide: the first wide entry
        ((600, 800), {}, "720x1280"),  # tall: the first tall one
        ((1000, 1000), {}, "720x1280"),  # a square counts as tall
        ((800, 600), {"shape": "tall"}, "720x1280"),  # none agreeing is wide: the first agreeing
        ((800, 600), {"scale": "hi"}, "1280x720"),  # the size's own field is not a given word
        ((600, 800), {"shape": "round"}, "720x1280"),  # none agrees: the first of them all
        ((800, 600), {"shape": "round"}, "1280x720"),
    ],
)
def test_no_size_and_other_pixels_pick_an_agreeing_entry_of_the_images_orientation(
    pixels: tuple[int, int], extra: Any, size: str
) -> None:
    assert _fields(CreateSpec("x", _image(*pixels), extra=extra)) == TABLE[size]


def test_the_first_agreeing_entry_is_the_tall_fallback_when_none_is_wide() -> None:
    table = {
        "9x16": {"/scale": "a", "/shape": "tall"},
        "1x2": {"/scale": "b", "/shape": "tall"},
        "16x9": {"/scale": "c", "/shape": "wide"},
    }
    spec = CreateSpec("x", _image(800, 600), extra={"shape": "tall"})
    assert _fields(spec, table) == table["9x16"]


def test_a_square_size_in_the_table_is_tall() -> None:
    table = {
        "1024x1024": {"/scale": "sq", "/shape": "square"},
        "1280x720": {"/scale": "lo", "/shape": "wide"},
        "720x1280": {"/scale": "lo", "/shape": "tall"},
    }
    assert _fields(CreateSpec("x", _image(1000, 1000)), table) == table["1024x1024"]
    assert _fields(CreateSpec("x", _image(600, 800)), table) == table["1024x1024"]
    assert _fields(CreateSpec("x", _image(800, 600)), table) == table["1280x720"]


@pytest.mark.parametrize(
    ("image", "extra", "default", "found"),
    [
        (None, {}, "lo", {"/scale": "lo"}),
        (None, {"shape": "wide"}, "lo", {"/scale": "lo", "/shape": "wide"}),
        (None, {}, None, {}),
        (None, {"shape": "tall"}, None, {"/shape": "tall"}),
        (None, {}, 0, {"/scale": 0}),
        (_image(None, 720), {}, "lo", {"/scale": "lo"}),  # an image without pixels
        (_image(1280, None), {"shape": "w"}, None, {"/shape": "w"}),
    ],
)
def test_no_size_and_no_pixels_send_the_size_fields_default(
    image: Image | None, extra: Any, default: Any, found: Any
) -> None:
    assert _fields(CreateSpec("x", image, extra=extra), default=default) == found


def test_the_extra_names_the_sizes_words_take() -> None:
    assert sizes.left_out(TABLE, "/scale") == {"shape"}
    assert sizes.left_out(TABLE, "/shape") == {"scale"}
    table = {"1x2": {"/s": "a", "/o/k": "t", "/p": 1}, "2x1": {"/s": "b", "/o/k": "w", "/p": 2}}
    assert sizes.left_out(table, "/s") == {"o", "p"}
    assert sizes.left_out({}, "/s") == set()


def test_an_extra_name_is_the_pointers_first_step_whatever_its_letters_and_depth() -> None:
    table = {"1x2": {"/s": "a", "/Xo/k/j": "t", "/pX/": 1}}
    assert sizes.left_out(table, "/s") == {"Xo", "pX"}


SCHEMA = {"properties": {"model": {}, "prompt": {}, "size": {}, "orientation": {}}}


def test_a_bodys_fields_go_in_the_schemas_order_then_the_others_as_put() -> None:
    body = {"zeta": 1, "size": "s", "alpha": 2, "prompt": "p", "model": "m"}
    ordered = sizes.in_schema_order(body, SCHEMA)
    assert list(ordered.items()) == [
        ("model", "m"),
        ("prompt", "p"),
        ("size", "s"),
        ("zeta", 1),
        ("alpha", 2),
    ]


@pytest.mark.parametrize("schema", [{}, {"properties": None}, {"type": "object"}])
def test_a_schema_without_properties_keeps_the_order_put(schema: Any) -> None:
    body = {"b": 1, "a": 2, "c": 3}
    assert list(sizes.in_schema_order(body, schema)) == ["b", "a", "c"]
