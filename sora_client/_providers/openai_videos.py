"""The OpenAI ``/v1/videos`` surface, as GPTProto's official format speaks it (gpt.ge, the
other clone, is driven from its contract's declaration: ``declared.py``).

Neutral -> provider: ``model`` as is; ``seconds`` -> ``seconds`` (a string: "4", "8", "12");
``size`` -> ``size`` (``WxH``); with no ``size``, the image's own pixel size is asked for
(it must match anyway). The image is uploaded as the ``input_reference`` file part; a remote
URL cannot be uploaded and is refused before anything is sent.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from sora_client._exceptions import InvalidRequestError
from sora_client._images import parse_size
from sora_client._models import Job, Status, parse_timestamp
from sora_client._providers.base import Adapter, CreateSpec, clamp01, request_id, text_or_none
from sora_client._retry import poll_after


class OpenAIVideos(Adapter):
    status_words: ClassVar[dict[str, Status]] = {
        "queued": "queued",
        "in_progress": "in_progress",
        "completed": "completed",
        "failed": "failed",
    }
    #: the create body's schema, for defaults
    create_schema = "#/components/schemas/CreateVideoRequest"

    def _size(self, spec: CreateSpec) -> str | None:
        if spec.size is not None:
            return spec.size
        if spec.image is not None and spec.image.size is not None:
            width, height = spec.image.size
            return f"{width}x{height}"
        return None

    def build_create(self, spec: CreateSpec) -> httpx.Request:
        image = spec.image
        if image is not None and image.data is None:
            raise InvalidRequestError(
                self.name,
                "input_reference",
                f"{self.name} uploads the image as a file: pass a path or bytes, not a URL "
                f"({(image.url or '')[:60]!r})",
            )
        fields: dict[str, str] = {"prompt": spec.prompt}
        if spec.model is not None:
            fields["model"] = spec.model
        if spec.seconds is not None:
            fields["seconds"] = str(spec.seconds)
        size = self._size(spec)
        if size is not None:
            fields["size"] = size
        for key, value in spec.extra.items():
            fields[key] = value if isinstance(value, str) else str(value)
        files = []
        if image is not None and image.data is not None:
            files.append(("input_reference", image.filename, image.data, image.media_type or ""))
        return self.multipart_request("/v1/videos", fields, files)

    def pixel_target(self, spec: CreateSpec) -> tuple[int, int] | None:
        size = self._size(spec)
        if size is None:
            size = self.schema(self.create_schema)["properties"]["size"].get("default")
        return parse_size(size) if isinstance(size, str) else None

    def build_get(self, job_id: str) -> httpx.Request:
        return self.get_request(f"/v1/videos/{self.quote_id(job_id)}")

    def build_content(self, job_id: str, variant: str = "video") -> httpx.Request:
        accept = (
            "video/mp4, application/octet-stream;q=0.9, application/json;q=0.1"
            if variant == "video"
            else "image/*, application/octet-stream;q=0.9, application/json;q=0.1"
        )
        request = self.get_request(f"/v1/videos/{self.quote_id(job_id)}/content", Accept=accept)
        if variant != "video":
            # the contract's enum decides which variants exist (validated before sending)
            request.url = request.url.copy_merge_params({"variant": variant})
        return request

    def build_list(self, limit: int | None, order: str | None, after: str | None) -> httpx.Request:
        request = self.get_request("/v1/videos")
        params = {"limit": limit, "order": order, "after": after}
        request.url = request.url.copy_merge_params(
            {k: str(v) for k, v in params.items() if v is not None}
        )
        return request

    def parse_list(self, body: Any, response: httpx.Response) -> tuple[list[Job], bool, str | None]:
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise ValueError("the list has no data array")
        jobs = [self.parse_job(item, response) for item in body["data"]]
        last = body.get("last_id") or (jobs[-1].id if jobs else None)
        return jobs, bool(body.get("has_more")), text_or_none(last)

    def build_delete(self, job_id: str) -> httpx.Request:
        return httpx.Request(
            "DELETE", self.url(f"/v1/videos/{self.quote_id(job_id)}"), headers=self.headers()
        )

    def parse_deleted(self, body: Any) -> bool:
        if not isinstance(body, dict) or not isinstance(body.get("deleted"), bool):
            raise ValueError("the answer does not say whether the video was deleted")
        return bool(body["deleted"])

    def build_remix(self, job_id: str, prompt: str, extra: dict[str, Any]) -> httpx.Request:
        return self.json_request(
            "POST", f"/v1/videos/{self.quote_id(job_id)}/remix", {"prompt": prompt, **extra}
        )

    def video_url(self, body: dict[str, Any]) -> str | None:
        """A video URL the provider puts in the job (GPTProto's ``soraVideoUrl``)."""
        return None

    def _content_url(self, job_id: str, status: Status) -> str | None:
        """Once completed, the video is at the content endpoint: that is the job's URL (it
        needs the key: ``download()`` fetches it with the key, a browser cannot)."""
        if status != "completed":
            return None
        return str(self.url(f"/v1/videos/{self.quote_id(job_id)}/content"))

    def parse_job(self, body: Any, response: httpx.Response) -> Job:
        job_id, status, code, message = self.job_fields(body)
        return Job(
            id=job_id,
            provider=self.name,
            status=status,
            progress=1.0 if status == "completed" else clamp01(body.get("progress"), 100.0),
            video_url=self.video_url(body) or self._content_url(job_id, status),
            error_code=code,
            error_message=message,
            raw=body,
            model=text_or_none(body.get("model")),
            created_at=parse_timestamp(body.get("created_at")),
            request_id=request_id(response),
            _poll_after=poll_after(response),
        )
