"""Sizes a create names in words (``contracts._named_sizes``), rule by rule, on the module
alone: the ``size-fields`` table read from a declaration (each refusal's place and words, with
the declaration's reader as a stand-in that keeps what it is asked), the pixel size a body's
words name (an absent field read as its schema default), the defaults found through
``$ref``s and nested properties, and a size's pixels. In-process and fast: the module's own
tests for mutation runs (tests/mutation/mutate.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from contracts import _named_sizes as named
from contracts._document import resolve_pointer


class Refused(Exception):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


class Reader:
    def __init__(self, body_fields: set[str] | None = None) -> None:
        self.body_fields = body_fields
        self.asked: list[str] = []

    def fail(self, where: str, message: str) -> Refused:
        return Refused(where, message)

    def _body_fields(self, op_id: str) -> set[str] | None:
        self.asked.append(op_id)
        return self.body_fields


TABLE = {
    "720x1280": {"/size": "small", "/orientation": "portrait"},
    "1280x720": {"/size": "small", "/orientation": "landscape"},
    "1024x1792": {"/size": "large", "/orientation": "portrait"},
}
FIELDS = {"size", "orientation", "prompt", "model"}


def _block(table: Any = TABLE, size: str | None = "/size") -> dict[str, Any]:
    return {"role": "create", "fields": {"size": size}, "size-fields": table}


def _read(
    table: Any = TABLE,
    models: Any = None,
    fields: set[str] | None = FIELDS,
    block: Mapping[str, Any] | None = None,
) -> Any:
    raw = {"models": models} if models is not None else {}
    return named.read(Reader(fields), raw, "make", block or _block(table))


def _refused(**given: Any) -> Refused:
    with pytest.raises(Refused) as refused:
        _read(**given)
    return refused.value


def test_a_table_is_read_as_given_in_its_order() -> None:
    reader = Reader(FIELDS)
    models = [{"id": "m", "sizes": ["720x1280", "1280x720"]}, "odd", {"id": "n"}]
    table = named.read(reader, {"models": models}, "make", _block())
    assert table == TABLE and list(table) == list(TABLE)
    assert all(type(entry) is dict for entry in table.values())
    assert table["720x1280"] is not TABLE["720x1280"], "a copy"
    assert reader.asked == ["make"]


def test_no_size_fields_is_an_empty_table_and_asks_nothing() -> None:
    reader = Reader(FIELDS)
    assert named.read(reader, {}, "make", {"role": "create"}) == {}
    assert reader.asked == []


def test_numbers_are_values_too_and_unknown_body_fields_are_not_checked() -> None:
    table = {"720x1280": {"/size": 1, "/deep/er": "x"}, "1280x720": {"/size": 2, "/deep/er": "x"}}
    assert _read(table, fields=None) == table


@pytest.mark.parametrize("table", [{}, [], "720x1280", 3])
def test_size_fields_must_be_a_mapping_with_entries(table: Any) -> None:
    refused = _refused(table=table)
    assert refused.where == "/operations/make/size-fields"
    assert refused.message == "a mapping of WIDTHxHEIGHT to the body fields naming it"


@pytest.mark.parametrize(
    "size", ["720-1280", "0x720", "720x0", "720x", "x720", " 720x1280", 720, "720x1280\n"]
)
def test_a_size_must_be_width_x_height(size: Any) -> None:
    refused = _refused(table={**TABLE, size: {"/size": "huge", "/orientation": "portrait"}})
    assert refused.where == f"/operations/make/size-fields/{size}"
    assert refused.message == f"{size!r} is not WIDTHxHEIGHT"


@pytest.mark.parametrize("entry", [{}, [], "small", None])
def test_an_entry_must_be_a_mapping_with_fields(entry: Any) -> None:
    refused = _refused(table={"720x1280": entry})
    assert refused.where == "/operations/make/size-fields/720x1280"
    assert refused.message == "a mapping of pointers into the body to values (/size: small)"


@pytest.mark.parametrize("pointer", ["size", 3, ""])
def test_an_entrys_keys_are_json_pointers(pointer: Any) -> None:
    refused = _refused(table={"720x1280": {pointer: "small"}})
    assert refused.where == "/operations/make/size-fields/720x1280"
    assert refused.message == f"{pointer!r} is not a JSON pointer (/size)"


def test_an_entrys_pointer_must_start_in_the_body() -> None:
    refused = _refused(table={"720x1280": {"/size": "small", "/shape/of": "tall"}})
    assert refused.where == "/operations/make/size-fields/720x1280"
    expected = f"the body of `make` has no `shape`: use one of {', '.join(FIELDS)}"
    assert refused.message == expected
    # the first step of the pointer is the body's field, whatever follows
    assert _read({"720x1280": {"/size": "s", "/orientation/x/y": "p"}})["720x1280"] == {
        "/size": "s",
        "/orientation/x/y": "p",
    }
    odd = {"720x1280": {"//size/": "s"}}
    assert _read(fields={"size"}, block=_block(odd, "//size/")) == odd


def test_a_body_fields_name_is_read_whole_whatever_letters_it_holds() -> None:
    table = {"720x1280": {"/shapeX": "t", "/size": "s"}, "1280x720": {"/shapeX": "w", "/size": "s"}}
    assert _read(table, fields={"size", "shapeX"}) == table
    refused = _refused(table=table, fields={"shape"})
    assert refused.message == "the body of `make` has no `shapeX`: use one of shape"


@pytest.mark.parametrize("value", [True, False, None, 1.5, ["small"], {"a": 1}])
def test_a_value_is_text_or_a_number(value: Any) -> None:
    refused = _refused(table={"720x1280": {"/size": "small", "/orientation": value}})
    assert refused.where == "/operations/make/size-fields/720x1280/orientation"
    assert refused.message == "the field's value (text or a number)"


def test_every_entry_names_the_same_fields() -> None:
    more = {**TABLE, "1792x1024": {"/size": "large", "/orientation": "l", "/model": "m"}}
    refused = _refused(table=more)
    assert refused.where == "/operations/make/size-fields/1792x1024"
    assert refused.message == "every size names the same fields: /orientation, /size"
    fewer = _refused(table={**TABLE, "1792x1024": {"/size": "large"}})
    assert fewer.message == "every size names the same fields: /orientation, /size"


def test_each_entry_has_words_of_its_own_whatever_their_order() -> None:
    twin = {"/orientation": "landscape", "/size": "small"}
    refused = _refused(table={**TABLE, "1792x1024": twin})
    assert refused.where == "/operations/make/size-fields/1792x1024"
    assert refused.message == "the same words as 1280x720: each size needs its own"


def test_the_same_values_under_other_fields_are_other_words() -> None:
    table = {
        "720x1280": {"/size": "a", "/orientation": "b"},
        "1280x720": {"/size": "b", "/orientation": "a"},
    }
    assert _read(table) == table


def test_the_creates_size_field_must_be_among_the_fields_named() -> None:
    for size in ("/orientation", "/size"):
        assert _read(block=_block(size=size)) == TABLE
    for size, shown in (("/length", "/length"), (None, "None")):
        refused = _refused(block=_block(size=size))
        assert refused.where == "/operations/make/size-fields"
        assert refused.message == (
            f"the create's `fields.size` ({shown}) must be one of the fields named"
        )
    refused = _refused(block={"role": "create", "size-fields": TABLE})
    assert refused.message == "the create's `fields.size` (None) must be one of the fields named"


@pytest.mark.parametrize(
    ("models", "where", "size"),
    [
        ([{"id": "a", "sizes": ["720x1280", "1792x1024"]}], "/models/0/sizes", "1792x1024"),
        (
            [{"id": "a", "sizes": []}, "odd", {"id": "c", "sizes": ["1x1"]}],
            "/models/2/sizes",
            "1x1",
        ),
    ],
)
def test_every_declared_models_size_has_an_entry(models: Any, where: str, size: str) -> None:
    refused = _refused(models=models)
    assert refused.where == where
    assert refused.message == f"{size} has no entry in /operations/make/size-fields"


def test_models_without_a_list_of_sizes_are_left_alone() -> None:
    models = [{"id": "a"}, {"id": "b", "sizes": "720x1280 9x9"}, {"id": "c", "sizes": None}]
    assert _read(models=models) == TABLE


DEFAULTS = {"/orientation": "portrait"}


@pytest.mark.parametrize(
    ("body", "size"),
    [
        ({"size": "small", "orientation": "portrait"}, "720x1280"),
        ({"size": "small", "orientation": "landscape"}, "1280x720"),
        ({"size": "large", "orientation": "portrait"}, "1024x1792"),
        ({"size": "large"}, "1024x1792"),  # the orientation's default
        ({"size": "large", "orientation": None}, "1024x1792"),  # a null reads as absent
        ({"size": "large", "orientation": "landscape"}, None),
        ({"orientation": "portrait"}, None),  # no default for the size
        ({}, None),
        ("small", None),
    ],
)
def test_a_body_names_the_first_size_whose_words_it_holds(body: Any, size: str | None) -> None:
    assert named.size_of(TABLE, body, DEFAULTS) == size


def test_the_first_entry_that_fits_wins() -> None:
    table = {"1x1": {"/a": "x"}, "2x2": {"/a": "x"}}
    assert named.size_of(table, {"a": "x"}, {}) == "1x1"
    assert named.size_of({}, {"a": "x"}, {}) is None


def test_a_field_given_wins_over_its_default_and_a_nested_pointer_reads_deep() -> None:
    table = {"1x1": {"/o/k": "in"}, "2x2": {"/o/k": "out"}}
    assert named.size_of(table, {"o": {"k": "out"}}, {"/o/k": "in"}) == "2x2"
    assert named.size_of(table, {"o": {}}, {"/o/k": "in"}) == "1x1"
    assert named.size_of(table, {"o": {"k": 0}}, {"/o/k": 0}) is None


class Doc:
    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec
        self.resolved: list[str] = []

    def resolve(self, ref: str) -> Any:
        self.resolved.append(ref)
        return resolve_pointer(self.spec, ref)


SPEC = {
    "components": {
        "schemas": {
            "Body": {"$ref": "#/components/schemas/Real"},
            "Real": {
                "type": "object",
                "properties": {
                    "size": {"type": "string", "default": "small"},
                    "orientation": {"$ref": "#/components/schemas/Orientation"},
                    "model": {"type": "string"},
                    "nested": {"properties": {"deep": {"default": 0}}},
                    "odd": True,
                },
            },
            "Orientation": {"$ref": "#/components/schemas/Orientation2"},
            "Orientation2": {"enum": ["portrait", "landscape"], "default": "portrait"},
        }
    }
}


def test_each_named_fields_default_is_read_through_refs_and_nesting() -> None:
    table = {
        "1x1": {"/size": "a", "/orientation": "b", "/model": "c", "/nested/deep": 1},
        "2x2": {"/size": "b", "/orientation": "a", "/model": "d", "/nested//deep/": 2},
    }
    doc = Doc(SPEC)
    found = named.defaults(doc, {"$ref": "#/components/schemas/Body"}, table)
    assert found == {
        "/size": "small",
        "/orientation": "portrait",
        "/nested/deep": 0,
        "/nested//deep/": 0,
    }, "a field without a default has none; empty steps are no steps"


def test_a_fields_default_is_its_own_whatever_letters_its_name_holds() -> None:
    schema = {"properties": {"X": {"default": "x"}, "Xs": {"default": "xs"}, "s": {"default": "s"}}}
    table = {"1x1": {"/X": "a", "/Xs": "b"}}
    assert named.defaults(Doc({}), schema, table) == {"/X": "x", "/Xs": "xs"}


def test_a_fields_name_keeps_its_spaces() -> None:
    schema = {"properties": {"s ": {"default": "spaced"}, "s": {"default": "plain"}}}
    assert named.defaults(Doc({}), schema, {"1x1": {"/s ": "a"}}) == {"/s ": "spaced"}


def test_a_default_of_a_field_the_schema_does_not_list_is_none() -> None:
    doc = Doc(SPEC)
    table = {"1x1": {"/odd": "a", "/missing/deeper": "b", "/size/x": "c"}}
    assert named.defaults(doc, SPEC["components"]["schemas"]["Real"], table) == {}
    assert named.defaults(doc, None, table) == {}
    assert named.defaults(doc, {"properties": None}, table) == {}


def test_a_default_may_be_falsy() -> None:
    schema = {"properties": {"n": {"default": 0}, "s": {"default": ""}, "z": {"default": None}}}
    table = {"1x1": {"/n": 1, "/s": "a", "/z": "b"}}
    assert named.defaults(Doc({}), schema, table) == {"/n": 0, "/s": "", "/z": None}


@pytest.mark.parametrize(
    ("schema", "found"),
    [
        (
            {"$ref": "#/components/schemas/Orientation"},
            {"enum": ["portrait", "landscape"], "default": "portrait"},
        ),
        ({"type": "string"}, {"type": "string"}),
        (True, {}),
        (None, {}),
        ("text", {}),
    ],
)
def test_a_schema_is_resolved_to_a_mapping(schema: Any, found: Any) -> None:
    assert named._resolved(Doc(SPEC), schema) == found


@pytest.mark.parametrize(
    ("size", "pixels"), [("720x1280", (720, 1280)), ("1792x1024", (1792, 1024)), ("1x22", (1, 22))]
)
def test_a_sizes_pixels_are_its_width_and_height(size: str, pixels: tuple[int, int]) -> None:
    assert named.pixels(size) == pixels
