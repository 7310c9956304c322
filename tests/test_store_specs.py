"""``open_store``: which store each ``--store`` spec names, and a store that cannot be opened
told in one line at start-up (``mockserver.state.stores``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockserver.state.stores import open_store


def test_a_sqlite_path_whose_directory_cannot_be_made_is_one_line_naming_why(
    tmp_path: Path,
) -> None:
    (tmp_path / "a_file").write_text("")
    path = tmp_path / "a_file" / "state.sqlite"
    with pytest.raises(ValueError) as refused:
        open_store(f"sqlite:{path}")
    assert str(refused.value) == f"cannot use the store {path}: File exists"  # (mkdir's words)
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


def test_a_sqlite_path_sqlite_cannot_open_is_one_line_with_sqlites_words(
    tmp_path: Path,
) -> None:
    (tmp_path / "a_directory").mkdir()
    path = tmp_path / "a_directory"
    with pytest.raises(ValueError) as refused:
        open_store(f"sqlite:{path}")
    assert str(refused.value) == f"cannot use the store {path}: unable to open database file"


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("redis://127.0.0.1:1/0", "127.0.0.1:1"),
        ("rediss://127.0.0.1:1/0", "127.0.0.1:1"),
        ("unix:///nonexistent/redis.sock", "/nonexistent/redis.sock"),
    ],
)
def test_each_redis_scheme_opens_a_redis_store(spec: str, named: str) -> None:
    """Nobody answers at these addresses: the Redis store's own refusal says the spec was
    taken for Redis (not "unknown store")."""
    with pytest.raises(ValueError, match=f"^cannot reach Redis at {named}"):
        open_store(spec)
