"""gpt.ge `/v1/videos` (seed 003): OpenAI's surface and error shape, integer timestamps, a
required reference image whose size must match."""

from __future__ import annotations

from typing import Any

from mockserver.dialects.base import register
from mockserver.dialects.errors import openai_error
from mockserver.dialects.openai_videos import OpenAIVideos


@register
class GptgeVideos(OpenAIVideos):
    contract_name = "gptge-videos"
    prefix = "gptge"
    family = "gptge"
    #: "Expiration time, currently null" (seed 003, response table)
    expiry_seconds = None

    def error_body(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None
    ) -> dict[str, Any]:
        return openai_error(status, message, code=code, param=param)
