"""What every provider adapter is made of. Adapters build ``httpx.Request`` objects and read
``httpx.Response`` bodies; they never send anything.

An adapter knows its contract (``contracts/<name>.yaml``), which gives it the live base URL,
the form of the ``Authorization`` header and every rule a request must follow: requests are
validated against the contract before they are sent, and no enum is restated here.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

import contracts
from sora_client._decoding import ACCEPTED
from sora_client._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ContentPolicyError,
    InsufficientBalanceError,
    InvalidRequestError,
    ModelUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnexpectedResponseError,
    UnsupportedOperation,
)
from sora_client._images import Image
from sora_client._models import Job, Status
from sora_client._retry import retry_after

USER_AGENT = f"sora-client/0.1 httpx/{httpx.__version__}"
#: provider codes that mean "refused on content-policy grounds"
CONTENT_POLICY_CODES = frozenset(
    {"content_policy_violation", "moderation_blocked", "content_filter", "content_policy"}
)
#: provider codes that mean "no money left": OpenAI's `insufficient_quota` (a 429), the
#: one-api / new-api relays' `insufficient_user_quota` and `pre_consume_token_quota_failed`
#: (403s), GPTProto-style `insufficient_balance` (contracts/README.md cites each)
BALANCE_CODES = frozenset(
    {
        "insufficient_balance",
        "insufficient_quota",
        "insufficient_user_quota",
        "pre_consume_token_quota_failed",
        "quota_exceeded",
    }
)
#: provider codes that mean "this model is not served" (OpenAI, new-api)
MODEL_CODES = frozenset({"model_not_found", "model_not_available"})
#: the words of a "model not found" from a provider with no code for it (Vtrix)
MODEL_WORDS = re.compile(
    r"\bmodel\b.{0,80}\b(not found|does not exist|not exist|unavailable|retired)", re.IGNORECASE
)
BALANCE_WORDS = re.compile(r"balance|quota|credit|insufficient funds|top.?up", re.IGNORECASE)
#: keys shorter than this are not searched for in text (every "a" would be redacted)
MIN_REDACTED = 6
POLICY_WORDS = re.compile(r"content.?polic|moderation|safety", re.IGNORECASE)


@dataclass
class CreateSpec:
    """A create request in neutral words, before any provider mapping."""

    prompt: str
    image: Image | None = None
    model: str | None = None
    seconds: int | None = None
    size: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Adapter:
    #: the client's provider id: gptproto-v3, gptproto-videos, gptproto-chat, gptge, vtrix
    name: ClassVar[str]
    contract_name: ClassVar[str]
    env_var: ClassVar[str]
    #: the provider has a status endpoint (chat mode has none)
    has_status: ClassVar[bool] = True
    #: create answers with an event stream that is the job (chat mode)
    streams: ClassVar[bool] = False
    #: the request field the reference image goes in (named in InvalidRequestError)
    image_field: ClassVar[str] = "input_reference"
    #: provider status word -> neutral status (checked against the contract by the tests)
    status_words: ClassVar[dict[str, Status]] = {}

    def __init__(
        self,
        api_key: str,
        base_url: str | httpx.URL | None = None,
        default_headers: dict[str, str] | None = None,
    ) -> None:
        self.contract = contracts.load(self.contract_name)
        url = httpx.URL(str(base_url or self.contract.spec["info"]["x-provider-base-url"]))
        if url.scheme not in ("http", "https") or not url.host:
            raise ConfigurationError(
                f"base_url must be an http(s) URL such as {self.default_base_url()}, "
                f"not {str(url)!r}"
            )
        self.base_url = url
        self.base_path = url.path.rstrip("/")
        self._api_key = api_key
        self._headers = {"User-Agent": USER_AGENT, **(default_headers or {})}
        self._auth = self._authorization(api_key)

    @classmethod
    def default_base_url(cls) -> str:
        return str(contracts.load(cls.contract_name).spec["info"]["x-provider-base-url"])

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.base_url}>"

    # ------------------------------------------------------------------ auth, from the contract

    def _authorization(self, api_key: str) -> str:
        """``Authorization`` in the form of the contract's first security scheme."""
        schemes = self.contract.security_schemes
        for requirement in self.contract.spec.get("security", []):
            for scheme_name in requirement:
                scheme = schemes.get(scheme_name, {})
                if scheme.get("type") == "http" and scheme.get("scheme", "").lower() == "bearer":
                    return f"Bearer {api_key}"
                if (
                    scheme.get("type") == "apiKey"
                    and scheme.get("in") == "header"
                    and scheme.get("name", "").lower() == "authorization"
                ):
                    return api_key
        return f"Bearer {api_key}"

    # ------------------------------------------------------------------ building requests

    def url(self, path: str) -> httpx.URL:
        return self.base_url.copy_with(path=f"{self.base_path}{path}")

    def quote_id(self, job_id: str) -> str:
        if not job_id:
            raise InvalidRequestError(self.name, "id", "a job id cannot be empty")
        return quote(job_id, safe=":@-._~")

    def headers(self, **extra: str) -> dict[str, str]:
        return {
            "Accept-Encoding": ACCEPTED,
            **self._headers,
            "Authorization": self._auth,
            "Accept": "application/json",
            **extra,
        }

    def json_request(self, method: str, path: str, body: Any) -> httpx.Request:
        try:
            content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRequestError(self.name, "prompt", "text is not valid Unicode") from None
        return httpx.Request(
            method,
            self.url(path),
            content=content,
            headers=self.headers(**{"Content-Type": "application/json"}),
        )

    def multipart_request(
        self, path: str, fields: dict[str, str], files: list[tuple[str, str, bytes, str]]
    ) -> httpx.Request:
        """multipart/form-data, even with no file part (httpx would send a urlencoded form)."""
        content, content_type = encode_multipart(fields, files)
        return httpx.Request(
            "POST",
            self.url(path),
            content=content,
            headers=self.headers(**{"Content-Type": content_type}),
        )

    def get_request(self, path: str, **headers: str) -> httpx.Request:
        return httpx.Request("GET", self.url(path), headers=self.headers(**headers))

    def build_create(self, spec: CreateSpec) -> httpx.Request:
        raise NotImplementedError

    def pixel_target(self, spec: CreateSpec) -> tuple[int, int] | None:
        """The pixel size the reference image must have, when the provider requires one."""
        return None

    def build_get(self, job_id: str) -> httpx.Request:
        raise UnsupportedOperation(f"{self.name} has no status endpoint")

    def build_content(self, job_id: str, variant: str = "video") -> httpx.Request | None:
        """The provider's own download endpoint, or None when videos are fetched by URL."""
        if variant != "video":
            raise self.unsupported(f"download(variant={variant!r})", "content variants")
        return None

    # ------------------------------------------------------------------ the rest of the API

    def unsupported(self, call: str, what: str) -> UnsupportedOperation:
        return UnsupportedOperation(
            f"{self.name} has no {what}: {call} is not part of its API "
            f"(contracts/{self.contract_name}.yaml)"
        )

    def build_list(self, limit: int | None, order: str | None, after: str | None) -> httpx.Request:
        raise self.unsupported("list()", "list endpoint")

    def parse_list(self, body: Any, response: httpx.Response) -> tuple[list[Job], bool, str | None]:
        """(jobs, has_more, the cursor of the next page)."""
        raise self.unsupported("list()", "list endpoint")

    def build_delete(self, job_id: str) -> httpx.Request:
        raise self.unsupported("delete()", "delete endpoint")

    def parse_deleted(self, body: Any) -> bool:
        raise self.unsupported("delete()", "delete endpoint")

    def build_remix(self, job_id: str, prompt: str, extra: dict[str, Any]) -> httpx.Request:
        raise self.unsupported("remix()", "remix operation")

    def build_video_url(self, url: str) -> httpx.Request:
        """GET a video by URL. The key goes only to the provider's own origin, never to a CDN."""
        target = httpx.URL(url)
        headers = dict(self._headers)
        headers["Accept"] = "video/mp4, application/octet-stream;q=0.9, */*;q=0.1"
        headers["Accept-Encoding"] = "identity"
        same_origin = (target.scheme, target.host, target.port) == (
            self.base_url.scheme,
            self.base_url.host,
            self.base_url.port,
        )
        if same_origin:
            headers["Authorization"] = self._auth
        return httpx.Request("GET", target, headers=headers)

    # ------------------------------------------------------------------ the contract

    def validate(self, request: httpx.Request) -> None:
        """Raise InvalidRequestError if the contract does not allow ``request``."""
        try:
            self.contract.validate_request(
                contracts.request_from_httpx(request, strip_prefix=self.base_path)
            )
        except contracts.ContractViolation as exc:
            # every problem is redacted, not only the first: the message names them all, and
            # a key pasted into a field (model=KEY) is echoed by the contract's rule
            problems = [
                (self.redact(name) if name else name, self.redact(rule))
                for name, rule in (self.explain(p.kind, p.field, p.message) for p in exc.problems)
            ]
            field_name, rule = problems[0]
            raise InvalidRequestError(self.name, field_name, rule, problems) from None

    def explain(self, kind: str, field_name: str | None, message: str) -> tuple[str | None, str]:
        """Turn one contract problem into (field, rule) words for the user."""
        return field_name, message

    def schema(self, pointer: str) -> Any:
        return self.contract.resolve(pointer)

    # ------------------------------------------------------------------ reading answers

    def parse_job(self, body: Any, response: httpx.Response) -> Job:
        raise NotImplementedError

    def apply_chunk(self, job: Job | None, chunk: Any, response: httpx.Response) -> Job:
        """Streaming providers only: the job after one event of its stream."""
        raise UnsupportedOperation(f"{self.name} does not stream")

    def job_fields(self, body: Any) -> tuple[str, Status, str | None, str | None]:
        """(id, neutral status, error code, error message) of a flat job object, as the
        /v1/videos and Vtrix answers are; raises ValueError for a body that is not one."""
        if not isinstance(body, dict):
            raise ValueError("the job is not a JSON object")
        job_id = body["id"]
        if not isinstance(job_id, str) or not job_id:
            raise ValueError("the job has no id")
        status = self.neutral_status(body["status"])
        error = body.get("error")
        code = message = None
        if isinstance(error, dict):
            # the Vtrix seed says `error_message`; OpenAI and other Vtrix pages say `message`
            code = text_or_none(error.get("code"))
            message = text_or_none(error.get("error_message") or error.get("message"))
        return job_id, status, code, message

    def neutral_status(self, word: Any) -> Status:
        if not isinstance(word, str) or word not in self.status_words:
            raise ValueError(f"unknown status {word!r}")
        return self.status_words[word]

    def error(self, response: httpx.Response, content: bytes) -> APIError:
        """The typed error for an error status, from the provider's own error body."""
        status = response.status_code
        body: Any
        try:
            body = json.loads(content) if content else None
        except (ValueError, UnicodeDecodeError):
            body = content.decode("utf-8", "replace")[:2000]
        body = self.redact_value(body)
        message, code = _message_and_code(body)
        if not message:
            message = response.reason_phrase or f"HTTP {status}"
        kwargs: dict[str, Any] = {
            "provider": self.name,
            "status_code": status,
            "provider_code": code,
            "request_id": request_id(response),
            "body": body,
        }
        lowered = (code or "").lower()
        policy = lowered in CONTENT_POLICY_CODES
        if policy or (status == 400 and POLICY_WORDS.search(message)):
            return ContentPolicyError(message, **kwargs)
        if lowered in MODEL_CODES or (status in (404, 503) and MODEL_WORDS.search(message)):
            return ModelUnavailableError(message, **kwargs)
        if status == 401:
            return AuthenticationError(message, **kwargs)
        if (
            status == 402
            or (status in (403, 429) and lowered in BALANCE_CODES)
            or (status == 403 and BALANCE_WORDS.search(message))
        ):
            return InsufficientBalanceError(message, **kwargs)
        if status == 403:
            return PermissionDeniedError(message, **kwargs)
        if status == 404:
            return NotFoundError(message, **kwargs)
        if status == 429:
            return RateLimitError(message, retry_after=retry_after(response), **kwargs)
        if 400 <= status < 500:
            return BadRequestError(message, **kwargs)
        if status >= 500:
            return ServerError(message, **kwargs)
        return UnexpectedResponseError(message, **kwargs)

    def unexpected(self, response: httpx.Response, reason: str, body: Any) -> APIError:
        return UnexpectedResponseError(
            f"cannot read the answer: {reason}",
            provider=self.name,
            status_code=response.status_code,
            request_id=request_id(response),
            body=self.redact_value(body),
        )

    # ------------------------------------------------------------------ secrets

    def redact(self, text: str) -> str:
        key = self._api_key
        return text.replace(key, "[redacted]") if len(key) >= MIN_REDACTED else text

    def redact_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self.redact(str(k)): self.redact_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.redact_value(v) for v in value]
        return value


def encode_multipart(
    fields: dict[str, str], files: list[tuple[str, str, bytes, str]]
) -> tuple[bytes, str]:
    """(body, Content-Type) of a multipart/form-data request; text fields are UTF-8."""
    boundary = secrets.token_hex(16)
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote_param(name)}"'
            "\r\n\r\n".encode()
            + value.encode("utf-8")
            + b"\r\n"
        )
    for name, filename, data, media_type in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote_param(name)}"; '
            f'filename="{_quote_param(filename)}"\r\nContent-Type: {media_type}\r\n\r\n'
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _quote_param(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def request_id(response: httpx.Response) -> str | None:
    return response.headers.get("x-request-id") or response.headers.get("request-id")


def _message_and_code(body: Any) -> tuple[str, str | None]:
    """(message, provider code) from any of the three error shapes the providers use."""
    if not isinstance(body, dict):
        return (body.strip()[:500] if isinstance(body, str) else ""), None
    error = body.get("error")
    source = error if isinstance(error, dict) else body
    message = source.get("message") or source.get("error_message") or source.get("msg")
    if not isinstance(message, str):
        message = error if isinstance(error, str) else ""
    code = source.get("code")
    if code is None:
        kind = source.get("type")
        code = kind if isinstance(kind, str) and not kind.isdigit() else None
    return message, (str(code) if code is not None and code != "" else None)


def clamp01(value: Any, scale: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    result = float(value) / scale
    if result != result:  # NaN
        return 0.0
    return min(1.0, max(0.0, result))


def text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)
