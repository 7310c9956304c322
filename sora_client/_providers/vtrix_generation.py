"""Vtrix's task API for ``sora_2_pro_i2v`` (contract ``vtrix-generation``), Bearer auth.

``POST /model/v1/generation`` then ``GET /model/v1/generation/task/{id}``. Neutral -> Vtrix:
``model`` defaults to the contract's only model (its ``const``); ``seconds`` -> ``seconds``
(a string); ``size`` -> ``size`` (``WxH``; with no ``size``, the image's own pixels); the image
goes in ``input_reference`` as given when it is a URL, else as a ``data:`` URL. Statuses
``pending``/``processing``/``in_progress``/``completed``/``failed``; a failed task carries
``error.code`` (``003000095``...) and ``error_message`` (or ``message``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from sora_client._images import parse_size
from sora_client._models import Job, Status, parse_timestamp
from sora_client._providers.base import Adapter, CreateSpec, clamp01, request_id, text_or_none

REQUEST = "#/components/schemas/GenerationRequest"


class VtrixGeneration(Adapter):
    name = "vtrix"
    contract_name = "vtrix-generation"
    env_var = "VTRIX_API_KEY"
    status_words: ClassVar[dict[str, Status]] = {
        "pending": "queued",
        "processing": "in_progress",
        "in_progress": "in_progress",
        "completed": "completed",
        "failed": "failed",
    }

    def default_model(self) -> str:
        model = self.schema(REQUEST)["properties"]["model"]
        return str(model.get("const") or model.get("default"))

    def _size(self, spec: CreateSpec) -> str | None:
        if spec.size is not None:
            return spec.size
        if spec.image is not None and spec.image.size is not None:
            width, height = spec.image.size
            return f"{width}x{height}"
        return None

    def build_create(self, spec: CreateSpec) -> httpx.Request:
        body: dict[str, Any] = {"model": spec.model or self.default_model(), "prompt": spec.prompt}
        size = self._size(spec)
        if size is not None:
            body["size"] = size
        if spec.seconds is not None:
            body["seconds"] = str(spec.seconds)
        if spec.image is not None:
            body["input_reference"] = spec.image.url_or_data_url()
        body.update(spec.extra)
        return self.json_request("POST", "/model/v1/generation", body)

    def pixel_target(self, spec: CreateSpec) -> tuple[int, int] | None:
        size = self._size(spec) or self.schema(REQUEST)["properties"]["size"].get("default")
        return parse_size(size) if isinstance(size, str) else None

    def build_remix(self, job_id: str, prompt: str, extra: dict[str, Any]) -> httpx.Request:
        """Vtrix remixes through create: ``remix_video_id`` names the completed source."""
        body = {"model": self.default_model(), "prompt": prompt, "remix_video_id": job_id}
        return self.json_request("POST", "/model/v1/generation", {**body, **extra})

    def build_get(self, job_id: str) -> httpx.Request:
        return self.get_request(f"/model/v1/generation/task/{self.quote_id(job_id)}")

    def parse_job(self, body: Any, response: httpx.Response) -> Job:
        job_id, status, code, message = self.job_fields(body)
        return Job(
            id=job_id,
            provider=self.name,
            status=status,
            progress=1.0 if status == "completed" else clamp01(body.get("progress")),
            video_url=_video_url(body.get("output")),
            error_code=code,
            error_message=message,
            raw=body,
            model=text_or_none(body.get("model")),
            created_at=parse_timestamp(body.get("created_at")),
            request_id=request_id(response),
        )


def _video_url(output: Any) -> str | None:
    """``output[].content[]``: the first item of type video (else the first with a URL)."""
    if not isinstance(output, list):
        return None
    contents = [
        c
        for item in output
        if isinstance(item, dict) and isinstance(item.get("content"), list)
        for c in item["content"]
        if isinstance(c, dict) and isinstance(c.get("url"), str) and c["url"]
    ]
    videos = [c for c in contents if c.get("type") == "video"]
    chosen = videos or contents
    return str(chosen[0]["url"]) if chosen else None
