"""How the client reads a provider's timestamps into ``Job.created_at``
(``sora_client._models.parse_timestamp``): Unix seconds in any of the shapes GPTProto sends,
or a ``YYYY-MM-DD HH:MM:SS`` text, always as an aware UTC datetime (an offset the text gives
is kept); anything else reads as None and never raises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sora_client._models import parse_timestamp

MOMENT = datetime(2025, 12, 24, 6, 7, 21, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [1766556441, 1766556441.0, "1766556441", " 1766556441 ", "2025-12-24 06:07:21"],
)
def test_every_shape_of_the_same_moment_reads_as_that_utc_moment(value: object) -> None:
    read = parse_timestamp(value)
    assert read == MOMENT
    assert read is not None and read.tzinfo is not None and read.utcoffset() == timedelta(0)


def test_fractions_of_a_second_are_kept() -> None:
    assert parse_timestamp(1766556441.25) == MOMENT + timedelta(seconds=0.25)


def test_an_offset_in_the_text_is_kept_not_replaced_by_utc() -> None:
    read = parse_timestamp("2025-12-24 08:07:21+02:00")
    assert read is not None and read.utcoffset() == timedelta(hours=2)
    assert read == MOMENT
    assert read.tzinfo == timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    "value",
    [None, True, False, "yesterday", "", "2025-12-24", "2025-13-45 06:07:21", [1], {}, 1e30],
)
def test_what_is_not_a_timestamp_reads_as_none(value: object) -> None:
    assert parse_timestamp(value) is None
