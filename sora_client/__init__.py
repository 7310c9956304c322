"""One client for the Sora-2 image-to-video APIs of GPTProto (v3, ``/v1/videos``, chat mode),
gpt.ge and Vtrix::

    from sora_client import SoraClient

    with SoraClient("gptge") as client:              # GPTGE_API_KEY from the environment
        job = client.generate("A cat in a hat", image="cat-720x1280.png", path="cat.mp4")

Point ``base_url`` at the mock (``http://127.0.0.1:8000/gptge``) and nothing else changes.
``AsyncSoraClient`` has the same methods, awaited. Every error is a :class:`SoraError`
(the tree is drawn in ``sora_client._exceptions``).
"""

from sora_client._base_client import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    DEFAULT_WAIT_TIMEOUT,
)
from sora_client._client import PROVIDER_NAMES, AsyncSoraClient, SoraClient
from sora_client._exceptions import (
    AmbiguousCreateError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConnectError,
    ContentPolicyError,
    ContentTypeError,
    GenerationFailedError,
    IncompleteDownloadError,
    InsufficientBalanceError,
    InvalidRequestError,
    ModelUnavailableError,
    NetworkError,
    NotFoundError,
    PermissionDeniedError,
    PollTimeoutError,
    ProtocolError,
    RateLimitError,
    ReadTimeoutError,
    ResponseTooLargeError,
    ServerError,
    SoraError,
    TransportError,
    UnexpectedResponseError,
    UnsupportedOperation,
    VideoNotReadyError,
)
from sora_client._models import STATUSES, Job, Status
from sora_client._providers import add_provider

__version__ = "0.1.0"

__all__ = [
    "add_provider",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WAIT_TIMEOUT",
    "PROVIDER_NAMES",
    "STATUSES",
    "APIError",
    "AmbiguousCreateError",
    "AsyncSoraClient",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConnectError",
    "ContentPolicyError",
    "ContentTypeError",
    "GenerationFailedError",
    "IncompleteDownloadError",
    "InsufficientBalanceError",
    "InvalidRequestError",
    "ModelUnavailableError",
    "Job",
    "NetworkError",
    "NotFoundError",
    "PermissionDeniedError",
    "PollTimeoutError",
    "ProtocolError",
    "RateLimitError",
    "ReadTimeoutError",
    "ResponseTooLargeError",
    "ServerError",
    "SoraClient",
    "SoraError",
    "Status",
    "TransportError",
    "UnexpectedResponseError",
    "UnsupportedOperation",
    "VideoNotReadyError",
]
