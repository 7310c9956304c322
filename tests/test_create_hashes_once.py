"""A multipart create hashes its reference image once for the mock's own needs: the probe's
memo of decoded images, the store's key of the image and the journal's capture of the request
are the same SHA-256 (each was ~150,000 instructions of a create of the bench's 5.5 kB PNG:
benchmarks/README.md)."""

from __future__ import annotations

import hashlib
import io
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image

from mockserver.http import requests_log
from mockserver.http.app import create_app
from mockserver.media import images
from mockserver.providers import declared
from mockserver.state import service
from mockserver.testing import SoraMock, test_config


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (720, 1280), (10, 200, 30)).save(buf, "PNG")
    return buf.getvalue()


def test_a_multipart_create_hashes_its_image_once_and_keeps_it_under_that_hash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = png()
    hashed: list[bytes] = []

    def sha256(data: bytes = b"") -> Any:
        hashed.append(bytes(data))
        return hashlib.sha256(data)

    counting = SimpleNamespace(sha256=sha256)
    for module in (declared, images, service, requests_log):
        monkeypatch.setattr(module, "hashlib", counting)
    app = create_app(test_config())
    response = app.test_client().post(
        "/gptge/v1/videos",
        headers={"Authorization": "Bearer sk-test"},
        data={
            "prompt": "a cat",
            "size": "720x1280",
            "input_reference": (io.BytesIO(image), "cat.png", "image/png"),
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert hashed.count(image) == 1
    (job,) = SoraMock(app).service.store.jobs(
        api="gptge-videos", owner=None, order="desc", after=None, limit=5
    )[0]
    assert job.image_key == "image:" + hashlib.sha256(image).hexdigest()
    assert SoraMock(app).service.image_of(job) == image
    (record,) = SoraMock(app).requests()
    assert record.image is not None
    assert record.image["sha256"] == hashlib.sha256(image).hexdigest()
    assert record.fields is not None
    assert record.fields["input_reference"]["file"]["sha256"] == record.image["sha256"]


def test_a_capture_uses_a_handlers_digest_only_for_the_same_bytes() -> None:
    """The capture takes a handler's ``(bytes, digest)`` only when its bytes are the ones
    captured: equal length and other bytes get their own hash."""
    data = b"\x89PNG one"
    other = b"\x89PNG two"
    planted = (other, b"\x01" * 32)  # a digest no bytes have: used only if taken
    assert requests_log._image_of(data, "image/png", "f", planted)["sha256"] == (
        hashlib.sha256(data).hexdigest()
    )
    same = (data, b"\x01" * 32)
    assert requests_log._image_of(data, "image/png", "f", same)["sha256"] == "01" * 32
    assert requests_log._image_of(data, None, "f")["sha256"] == hashlib.sha256(data).hexdigest()
