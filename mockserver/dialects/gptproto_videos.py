"""GPTProto `/v1/videos` (seed 001): OpenAI's surface with string timestamps, `soraVideoUrl`,
and the JSON job object from `/content` until the video is ready."""

from __future__ import annotations

from typing import Any

from mockserver.dialects.base import register
from mockserver.dialects.errors import gptproto_error
from mockserver.dialects.openai_videos import OpenAIVideos


@register
class GptprotoVideos(OpenAIVideos):
    contract_name = "gptproto-videos"
    prefix = "gptproto"
    family = "gptproto"
    string_timestamps = True
    content_json_until_ready = True
    sora_video_url = True

    def error_body(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None
    ) -> dict[str, Any]:
        return gptproto_error(status, message, code=code, param=param)
