"""mockserver.state._json: every value the mock answers or stores comes back as the same JSON value,
whichever writer (orjson or the standard library's fallback) wrote it."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver.state._json import dumps, dumps_text

#: JSON values, with what orjson refuses: integers beyond 64 bits and lone surrogates
_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | _text
    | st.floats(allow_nan=False, allow_infinity=False)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300)
@given(_values)
def test_every_value_reads_back_the_same_with_the_standard_library(value):
    data = dumps(value)
    assert isinstance(data, bytes)
    assert json.loads(data) == value
    assert json.loads(dumps_text(value)) == value


def test_what_orjson_refuses_is_still_written():
    # a lone surrogate (a record stored before the edge refused such input), an integer
    # beyond 64 bits, a key that is no string
    assert json.loads(dumps({"prompt": "a\ud800b"})) == {"prompt": "a\ud800b"}
    assert dumps({"prompt": "a\ud800b"}).isascii()
    assert json.loads(dumps({"n": 2**70})) == {"n": 2**70}
    assert json.loads(dumps({1: "x"})) == {"1": "x"}


def test_valid_text_is_utf8_not_escaped():
    assert dumps({"prompt": "café 🎬"}) == '{"prompt":"café 🎬"}'.encode()
    # the fallback writes valid text as UTF-8 too
    assert dumps({"n": 2**70, "p": "é"}) == f'{{"n":{2**70},"p":"é"}}'.encode()
