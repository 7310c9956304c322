"""GPTProto's "reverse" v3 format (contract ``gptproto-v3``), a WaveSpeed-style prediction API.

One documented create URL for both models, ``POST /api/v3/openai/reverse/sora-2/image-to-video``
with ``model`` (``sora-2`` or ``sora-2-pro``) in the body, then
``GET /api/v3/predictions/{id}/result``. The body has no pixel size, only ``size``
(small/large) and ``orientation``, so the neutral arguments are mapped:

==========================  ===========================  ================================
neutral ``size``            v3 ``size`` + ``orientation``  pixels the image must have
==========================  ===========================  ================================
``720x1280``                small, portrait              720x1280
``1280x720``                small, landscape             1280x720
``1024x1792``               large, portrait              1024x1792 (sora-2-pro only)
``1792x1024``               large, landscape             1792x1024 (sora-2-pro only)
None, with an image         from the image's pixels      (the image's own)
None, no image              small (the documented default)
``small`` / ``large``       passed through; ``orientation`` from ``extra`` (default portrait)
==========================  ===========================  ================================

(The pixels behind small/large are this project's assumption, contracts/README.md.)
``seconds`` -> ``duration`` (an integer: 10 or 15, and 25 on sora-2-pro, per the contract).
``model`` (default sora-2) is always sent: the document's table marks it required. The image goes in
``images`` as given when it is a URL, else as a ``data:`` URL. v3 reports no progress: a job
reads 0.0 until it completes.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from sora_client._exceptions import InvalidRequestError
from sora_client._models import Job, Status, parse_timestamp
from sora_client._providers.base import Adapter, CreateSpec, request_id, text_or_none

#: neutral pixel size -> (v3 size, orientation); an assumption recorded in contracts/README.md
SIZES: dict[str, tuple[str, str]] = {
    "720x1280": ("small", "portrait"),
    "1280x720": ("small", "landscape"),
    "1024x1792": ("large", "portrait"),
    "1792x1024": ("large", "landscape"),
}
PIXELS: dict[tuple[str, str], tuple[int, int]] = {
    words: (int(w), int(h)) for size, words in SIZES.items() for w, h in [size.split("x")]
}
DEFAULT_MODEL = "sora-2"
#: the one create URL the document prints; the model goes in the body (both models)
CREATE_PATH = "/api/v3/openai/reverse/sora-2/image-to-video"
CREATE_SCHEMA = "#/components/schemas/CreateRequest"


class GptprotoV3(Adapter):
    name = "gptproto-v3"
    contract_name = "gptproto-v3"
    env_var = "GPTPROTO_API_KEY"
    image_field = "images"
    status_words: ClassVar[dict[str, Status]] = {
        "created": "queued",
        "processing": "in_progress",
        "completed": "completed",
        "failed": "failed",
    }

    def models(self) -> list[str]:
        """The models the create body's ``model`` takes (from the contract)."""
        return list(self.schema(CREATE_SCHEMA)["properties"]["model"]["enum"])

    def _words(self, spec: CreateSpec) -> tuple[str, str | None]:
        orientation = spec.extra.get("orientation")
        if spec.size is not None and spec.size in SIZES:
            word, implied = SIZES[spec.size]
            if orientation is not None and orientation != implied:
                raise InvalidRequestError(
                    self.name,
                    "orientation",
                    f"{orientation!r} contradicts size {spec.size} ({implied})",
                )
            return word, implied
        if spec.size is not None:
            return spec.size, orientation
        if spec.image is not None and spec.image.size is not None:
            width, height = spec.image.size
            if f"{width}x{height}" in SIZES:
                return SIZES[f"{width}x{height}"]
            return "small", orientation or ("landscape" if width > height else "portrait")
        return "small", orientation

    def build_create(self, spec: CreateSpec) -> httpx.Request:
        model = spec.model or DEFAULT_MODEL
        word, orientation = self._words(spec)
        # the table marks `model` required: always sent, whatever the server's default
        body: dict[str, Any] = {"model": model, "prompt": spec.prompt}
        if spec.image is not None:
            body["images"] = [spec.image.url_or_data_url()]
        body["size"] = word
        if orientation is not None:
            body["orientation"] = orientation
        if spec.seconds is not None:
            body["duration"] = spec.seconds
        body.update({k: v for k, v in spec.extra.items() if k != "orientation"})
        return self.json_request("POST", CREATE_PATH, body)

    def pixel_target(self, spec: CreateSpec) -> tuple[int, int] | None:
        word, orientation = self._words(spec)
        return PIXELS.get((word, orientation or "portrait"))

    def build_get(self, job_id: str) -> httpx.Request:
        return self.get_request(f"/api/v3/predictions/{self.quote_id(job_id)}/result")

    def parse_job(self, body: Any, response: httpx.Response) -> Job:
        if not isinstance(body, dict):
            raise ValueError("the answer is not a JSON object")
        data = body.get("data")
        code = body.get("code")
        if not isinstance(data, dict):
            if isinstance(code, int) and code >= 400:
                # an error wrapped in a 200 envelope: read it as the error it names
                fake = httpx.Response(code, headers=response.headers, json=body)
                raise self.error(fake, fake.content)
            raise ValueError("the envelope has no data object")
        job_id = data["id"]
        if not isinstance(job_id, str) or not job_id:
            raise ValueError("the prediction has no id")
        status = self.neutral_status(data["status"])
        outputs = data.get("outputs")
        urls = [o for o in outputs if isinstance(o, str) and o] if isinstance(outputs, list) else []
        url = urls[0] if urls else None
        error = text_or_none(data.get("error"))
        return Job(
            id=job_id,
            provider=self.name,
            status=status,
            progress=1.0 if status == "completed" else 0.0,
            video_url=url,
            error_code=None,
            error_message=error if status == "failed" else None,
            raw=body,
            model=text_or_none(data.get("model")),
            created_at=parse_timestamp(data.get("created_at")),
            request_id=request_id(response),
        )
