"""gpt.ge ``/v1/videos`` (contract ``gptge-videos``): OpenAI's surface, Bearer auth, integer
timestamps; ``input_reference`` is required and must match ``size`` exactly. The video is
downloaded from ``/v1/videos/{id}/content`` (a 404 ``video_not_ready`` before completion)."""

from __future__ import annotations

from sora_client._providers.openai_videos import OpenAIVideos


class GptgeVideos(OpenAIVideos):
    name = "gptge"
    contract_name = "gptge-videos"
    env_var = "GPTGE_API_KEY"
