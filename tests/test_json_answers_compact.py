"""Every JSON answer is compact (no spaces after ``,`` or ``:``), whichever writer wrote it:
the standard library's fallback for what orjson refuses writes the same compact form."""

from __future__ import annotations

from mockserver.state._json import dumps, dumps_text


def test_text_that_is_no_valid_unicode_is_written_compact_and_escaped() -> None:
    assert dumps({"prompt": "a\ud800", "n": [1, 2]}) == b'{"prompt":"a\\ud800","n":[1,2]}'
    assert dumps_text({"prompt": "\udfff", "ok": True}) == '{"prompt":"\\udfff","ok":true}'


def test_what_orjson_refuses_is_written_compact_too() -> None:
    assert (
        dumps({"n": 2**70, "m": {"k": [1, None]}})
        == f'{{"n":{2**70},"m":{{"k":[1,null]}}}}'.encode()
    )
    assert dumps({1: "é"}) == '{"1":"é"}'.encode()
