"""GPTProto's official format (contract ``gptproto-videos``): OpenAI's surface, the raw key
in ``Authorization``, timestamps as strings or integers, ``soraVideoUrl`` once completed.
``/content`` answers the JSON job (status 200) until the video is ready: the client checks
Content-Type and raises ContentTypeError rather than save it."""

from __future__ import annotations

from typing import Any

from sora_client._providers.openai_videos import OpenAIVideos


class GptprotoVideos(OpenAIVideos):
    name = "gptproto-videos"
    contract_name = "gptproto-videos"
    env_var = "GPTPROTO_API_KEY"

    def video_url(self, body: dict[str, Any]) -> str | None:
        url = body.get("soraVideoUrl")
        return url if isinstance(url, str) and url else None
