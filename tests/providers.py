"""How the tests drive each provider API over HTTP: one valid create, and where the status is.

This is the tests' own knowledge of the documents (what a user's code would send), not the
mock's: the mock answers from the contracts.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from PIL import Image


def png(width: int, height: int, color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def data_url(image: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(image).decode()}"


@dataclass(frozen=True)
class Api:
    """One provider API as the tests use it."""

    name: str  # the contract name
    provider: str  # the mock prefix
    #: (client, headers[, image]): the create this API documents, with its own image or this one
    create: Callable[..., httpx.Response]
    status_path: Callable[[str], str]
    job_id: Callable[[dict[str, Any]], str]
    status: Callable[[dict[str, Any]], str]
    progress: Callable[[dict[str, Any]], float]  # 0..1
    video_url: Callable[[dict[str, Any]], str | None]
    #: provider words in lifecycle order: queued, in_progress, completed, failed
    words: tuple[str, str, str, str]
    size: tuple[int, int]
    seconds: int


def _v3_create(model: str, size: str, duration: int) -> Callable[..., httpx.Response]:
    pixels = {"small": (720, 1280), "large": (1024, 1792)}[size]

    def create(
        client: httpx.Client, headers: dict[str, str], image: bytes | None = None
    ) -> httpx.Response:
        body = {
            "prompt": "She turns around and smiles",
            "images": [data_url(image or png(*pixels))],
            "size": size,
            "duration": duration,
            "model": model,
        }
        # one documented URL for both models; the body names the model (issue 12)
        return client.post(
            "/api/v3/openai/reverse/sora-2/image-to-video", json=body, headers=headers
        )

    return create


def _videos_create(model: str, size: str, seconds: str) -> Callable[..., httpx.Response]:
    width, height = (int(x) for x in size.split("x"))

    def create(
        client: httpx.Client, headers: dict[str, str], image: bytes | None = None
    ) -> httpx.Response:
        return client.post(
            "/v1/videos",
            data={
                "prompt": "Put a hat on the cat",
                "model": model,
                "seconds": seconds,
                "size": size,
            },
            files={"input_reference": ("cat.png", image or png(width, height), "image/png")},
            headers=headers,
        )

    return create


def _vtrix_create(
    client: httpx.Client, headers: dict[str, str], image: bytes | None = None
) -> httpx.Response:
    body = {
        "model": "sora_2_pro_i2v",
        "prompt": "A lighthouse keeper climbs the stairs",
        "size": "1280x720",
        "seconds": "4",
        "input_reference": data_url(image or png(1280, 720)),
    }
    return client.post("/model/v1/generation", json=body, headers=headers)


def _openai_url(body: dict[str, Any]) -> str | None:
    return body.get("soraVideoUrl")


V3 = dict(
    status_path=lambda i: f"/api/v3/predictions/{i}/result",
    job_id=lambda b: b["data"]["id"],
    status=lambda b: b["data"]["status"],
    progress=lambda b: {"created": 0.0, "processing": 0.5, "completed": 1.0, "failed": 1.0}[
        b["data"]["status"]
    ],
    video_url=lambda b: (b["data"]["outputs"] or [None])[0],
    words=("created", "processing", "completed", "failed"),
)
VIDEOS = dict(
    status_path=lambda i: f"/v1/videos/{i}",
    job_id=lambda b: b["id"],
    status=lambda b: b["status"],
    progress=lambda b: b["progress"] / 100,
    words=("queued", "in_progress", "completed", "failed"),
)

APIS = {
    "gptproto-v3": Api(
        "gptproto-v3",
        "gptproto",
        _v3_create("sora-2", "small", 10),
        size=(720, 1280),
        seconds=10,
        **V3,
    ),  # type: ignore[arg-type]
    "gptproto-v3-pro": Api(
        "gptproto-v3",
        "gptproto",
        _v3_create("sora-2-pro", "large", 25),
        size=(1024, 1792),
        seconds=25,
        **V3,
    ),  # type: ignore[arg-type]
    "gptproto-videos": Api(
        "gptproto-videos",
        "gptproto",
        _videos_create("sora-2", "720x1280", "4"),
        video_url=_openai_url,
        size=(720, 1280),
        seconds=4,
        **VIDEOS,
    ),  # type: ignore[arg-type]
    "gptge-videos": Api(
        "gptge-videos",
        "gptge",
        _videos_create("sora-2-pro", "1792x1024", "8"),
        video_url=lambda b: None,
        size=(1792, 1024),
        seconds=8,
        **VIDEOS,
    ),  # type: ignore[arg-type]
    "vtrix-generation": Api(
        "vtrix-generation",
        "vtrix",
        _vtrix_create,
        status_path=lambda i: f"/model/v1/generation/task/{i}",
        job_id=lambda b: b["id"],
        status=lambda b: b["status"],
        progress=lambda b: b["progress"],
        video_url=lambda b: b["output"][0]["content"][0]["url"] if "output" in b else None,
        words=("pending", "processing", "completed", "failed"),
        size=(1280, 720),
        seconds=4,
    ),
}
