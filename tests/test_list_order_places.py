"""Where a declared provider's ``list-order`` puts it among the providers
(``contracts._declaration_registry.place``, used by the client's PROVIDERS, the contracts'
PROVIDER_CONTRACTS and the mock's dialects): at that place, never before a declared one of a
lower ``list-order`` already placed, last without one."""

from __future__ import annotations

from typing import Any

from contracts._declaration_registry import place


def _placed(fixed: list[str], declared: list[tuple[str, int | None]]) -> list[str]:
    items: list[tuple[Any, Any]] = [(name, None) for name in fixed]
    orders: dict[Any, int] = {}
    for name, at in declared:  # in ascending list-order, as declarations() gives them
        place(items, (name, None), at, orders)
    return [name for name, _ in items]


def test_each_goes_to_its_place_among_the_python_ones() -> None:
    assert _placed(["chat"], [("v3", 0), ("videos", 1), ("gptge", 3), ("vtrix", 4)]) == [
        "v3",
        "videos",
        "chat",
        "gptge",
        "vtrix",
    ]


def test_one_without_a_list_order_goes_last() -> None:
    assert _placed(["chat"], [("v3", 0), ("open", None)]) == ["v3", "chat", "open"]
    assert _placed([], [("open", None), ("later", None)]) == ["open", "later"]


def test_an_added_one_at_a_taken_place_goes_first_and_the_next_stays_after_both() -> None:
    """GPTProto v3 at 0, a provider added at 0, GPTProto /v1/videos at 1: the added one
    first, then v3; /v1/videos is not put between them (its 1 is behind both 0s)."""
    assert _placed(["chat"], [("v3", 0), ("added", 0), ("videos", 1)]) == [
        "added",
        "v3",
        "videos",
        "chat",
    ]


def test_a_place_past_the_end_is_the_end() -> None:
    assert _placed(["chat"], [("far", 9)]) == ["chat", "far"]


def test_the_orders_placed_are_kept_for_the_next() -> None:
    items: list[tuple[Any, Any]] = [("chat", 1)]
    orders: dict[Any, int] = {}
    place(items, ("v3", 2), 0, orders)
    place(items, ("open", 3), None, orders)
    assert items == [("v3", 2), ("chat", 1), ("open", 3)]
    assert orders == {"v3": 0}, "one without a list-order holds no place"
