"""Which Content-Encoding headers mean a plain body, and a deflate body read in the pieces the
network hands over (sora_client/_decoding.py): no header, an empty one and ``identity`` are
plain; a zlib deflate stream split anywhere, or after an empty chunk, decodes the same."""

from __future__ import annotations

import gzip
import zlib

import pytest

from sora_client._decoding import Inflater, codings

BODY = b'{"id": "video_1", "status": "completed"}' * 50


def _read(header: str | None, chunks: list[bytes]) -> bytes:
    inflater = Inflater(header)
    out = b"".join(piece for chunk in chunks for piece in inflater.feed(chunk))
    return out + b"".join(inflater.flush())


@pytest.mark.parametrize("header", [None, "", " ", "identity", "IDENTITY", "identity, identity"])
def test_no_coding_is_a_plain_body(header: str | None) -> None:
    assert codings(header) == []
    assert _read(header, [BODY[:10], BODY[10:]]) == BODY


def test_identity_beside_a_real_coding_is_left_out() -> None:
    assert codings("gzip, identity") == ["gzip"]
    assert codings("identity,, deflate") == ["deflate"]


@pytest.mark.parametrize("cut", [1, 2, 3, 5, 17, 40])
def test_a_deflate_body_split_anywhere_decodes_the_same(cut: int) -> None:
    stream = zlib.compress(BODY)
    pieces = [stream[i : i + cut] for i in range(0, len(stream), cut)]
    assert _read("deflate", pieces) == BODY


def test_a_deflate_body_after_an_empty_chunk_decodes() -> None:
    stream = zlib.compress(BODY)
    assert _read("deflate", [b"", stream[:3], b"", stream[3:]]) == BODY


def _raw_deflate(data: bytes, level: int) -> bytes:
    packer = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


def test_the_end_zlib_holds_back_is_not_lost() -> None:
    # a raw deflate stream of zeros just over one step: its last byte comes only from flush
    body = bytes(64 * 1024 + 1)
    inflater = Inflater("deflate")
    fed = b"".join(inflater.feed(_raw_deflate(body, 9)))
    held = b"".join(inflater.flush())
    assert (len(fed), held) == (len(body) - 1, b"\0")


def test_what_an_outer_layer_holds_back_goes_through_the_inner_ones() -> None:
    # deflate over gzip: the outer layer's last byte comes from its flush, and is the last byte
    # of the gzip trailer, which the inner layer must still read (not pass on as body)
    body = bytes(65514)
    inflater = Inflater("gzip, deflate")
    packed = _raw_deflate(gzip.compress(body, compresslevel=0, mtime=0), 9)
    fed = b"".join(inflater.feed(packed))
    outer = Inflater("deflate")
    b"".join(outer.feed(packed))
    assert b"".join(outer.flush()), "this zlib no longer holds the end back: pick another size"
    assert fed + b"".join(inflater.flush()) == body
