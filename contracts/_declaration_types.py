"""The words of an ``x-sora-mock`` declaration and what a read one holds: the roles, the
lifecycle's statuses, the names each kind of template may use, and the frozen records
(:class:`Declaration`, :class:`Model`, :class:`Role`, :class:`Webhooks`, :class:`Signature`)
that ``contracts/_declaration_reader.py`` builds (ARCHITECTURE.md, "Providers as data")."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts import _decl_answers as answers_words

KEY = "x-sora-mock"
ROLES = ("create", "read", "content", "models", "list", "delete", "remix")
#: the lifecycle's statuses, each of which the declaration words in the provider's terms
STATUSES = ("queued", "in_progress", "completed", "failed")
#: the names a template may use, and what they hold
JOB_VALUES = {
    "job.id": "the job's id",
    "job.model": "the model asked for",
    "job.prompt": "the prompt",
    "job.seconds": "the duration in seconds (integer)",
    "job.size": "WIDTHxHEIGHT",
    "job.width": "width in pixels (integer)",
    "job.height": "height in pixels (integer)",
    "job.created_at": "creation time, unix seconds (integer)",
    "status": "the provider's word for the job's status",
    "progress": "progress from 0 to 1 (number)",
    "progress_percent": "progress from 0 to 100 (integer; 100 only when completed)",
    "completed_at": "completion time, unix seconds (integer), or null",
    "expires_at": "when the job is purged, unix seconds (integer), or null",
    "base_url": "the provider's base URL on the mock (http://host/prefix)",
    "video_url": "the video's own URL on the mock",
    "cost": "the mock's price of the job in USD (number)",
    "error.code": "the failure's code",
    "error.message": "the failure's message",
    "job.seconds_text": 'the duration in seconds, as text ("4")',
    "cost_text": 'the mock\'s price of the job in USD, as text with four decimals ("1.2000")',
    "job.notes": "what the mock did in place of the real thing (a list of strings, maybe empty)",
    "job.remixed_from": "the id of the job this one remixes, or null",
    "job.created_at_unix_text": 'creation time, unix seconds as text ("1760592434")',
    "completed_at_unix_text": "completion time, unix seconds as text, or null",
    "expires_at_unix_text": "when the job is purged, unix seconds as text, or null",
    "poll_after_ms": "a tenth of the render in milliseconds, between 250 and 5000 (integer)",
    **answers_words.JOB_VALUES,
}
#: a model's own values (its `values`) are ``model.NAME`` in a job template: null for a model
#: that does not declare NAME
MODEL_VALUE = "model."
ERROR_VALUES = {
    "status": "the HTTP status (integer)",
    "message": "the error's text",
    "code": "the provider's code, or null",
    "param": "the field at fault, or null",
    "code_or_status": "the provider's code, else the HTTP status as text",
    "param_message": "the error's text, after `param: ` when a field is at fault and the text "
    "does not already start with its name",
    "type": "the error's type, from the declared `types` (by code, by status, by status class)",
    **answers_words.ERROR_VALUES,
}
#: the names a list answer may use
LIST_VALUES = {
    "jobs": "the page's jobs, each in the `job` template",
    "first_id": "the page's first job's id, or null",
    "last_id": "the page's last job's id, or null",
    "has_more": "true when more jobs follow the page",
}
#: the names a delete answer may use: the deleted job's, and `deleted`
DELETE_VALUES = {**JOB_VALUES, "deleted": "true"}
MODELS_VALUES = {"models": "every model's `listing` object, in declared order"}
#: the names a webhook's body and headers may use: a job's, and its event's
WEBHOOK_VALUES = {
    **JOB_VALUES,
    "event": "the event's name (the `events` entry of the job's terminal status)",
    "event.created_at": "when the job ended, ISO 8601 UTC on the mock's clock (text)",
    "event.created_at_unix": "when the job ended, unix seconds (integer)",
}
#: the names a webhook signature's templates may use
SIGNATURE_VALUES = {
    "timestamp": "the attempt's unix seconds (integer)",
    "body": "the raw body sent (text)",
    "signature": "the hex digest of `signed` under the signing secret",
}
#: the lifecycle's statuses a job ends in: each may have an event
TERMINAL = ("completed", "failed")
SIGNATURE_ALGORITHMS = ("hmac-sha256",)
_REF = re.compile(r"\{([a-z_.]+)\}")


@dataclass(frozen=True)
class Model:
    id: str
    sizes: tuple[str, ...]
    durations: tuple[int, ...]
    #: what the models operation lists for it (any JSON the contract allows)
    listing: Mapping[str, Any]
    #: False: the model takes no reference image (a create with one is a 400)
    image: bool = True
    #: the model's own values, ``{model.NAME}`` in the job template
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Role:
    operation_id: str
    role: str
    #: the HTTP status of a success
    status: int = 200
    #: create: field name -> pointer into the body; read/content: "id" (and "index") -> the
    #: path (query) parameter's name
    fields: Mapping[str, str] = field(default_factory=dict)
    #: create: the reference image must be the video's size; the words of the 400 when not
    image_mismatch: str | None = None
    #: list, delete: the answer's template
    answer: Any = None
    #: content: what a job not yet completed (queued, in_progress) or failed gets: "job" (the
    #: job, as the read answers it) or an Answer; None: the engine's 404
    not_ready: Answer | str | None = None
    failed: Answer | str | None = None
    #: remix: the answer when the source has not completed
    not_completed: Answer | None = None
    #: content: its URL is a completed job's video URL when the job names none (the client)
    video_url: bool = False


@dataclass(frozen=True)
class Answer:
    """An error answer a declaration words: its status, code and message (``{id}``: the job's)."""

    status: int
    message: str
    code: str | None = None


@dataclass(frozen=True)
class Signature:
    """How a webhook is signed: ``value`` (in header ``header``) holds the hex HMAC of the text
    ``signed`` under the signing secret (``serve --webhook-secret``)."""

    header: str
    value: str
    signed: str
    algorithm: str = "hmac-sha256"


@dataclass(frozen=True)
class Webhooks:
    """A provider's webhooks: the create body's pointer to the callback URL, the event name
    per terminal status, the body and headers POSTed (templates), and the signature."""

    url: str
    events: Mapping[str, str]
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)
    signature: Signature | None = None


@dataclass(frozen=True, eq=False)  # one object per file read: compared (and hashed) by identity
class Declaration:
    contract: str
    prefix: str
    name: str
    hosts: tuple[str, ...]
    key_env: str
    id_prefix: str
    statuses: Mapping[str, str]
    failure: tuple[str, str]
    job: Any
    error: Any
    not_found: str
    model_not_found: tuple[int, str, str]
    scenario_codes: Mapping[str, str]
    models: tuple[Model, ...]
    roles: Mapping[str, Role]
    models_answer: Any = None
    #: seconds from completion to the job's purge; None: ``--retention``
    expiry_seconds: int | None = None
    price_per_second: float = 0.0
    #: where a create names its callback URL and what is POSTed there (None: no webhooks)
    webhooks: Webhooks | None = None
    #: status word -> lifecycle status: words the client also reads (the mock never sends them)
    statuses_accepted: Mapping[str, str] = field(default_factory=dict)
    #: failure code -> its message: a scenario may pick only these, a failed job says its own
    failure_codes: Mapping[str, str] = field(default_factory=dict)
    #: value name -> the pointers where the client looks for it in a job, in order
    job_places: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: where the provider comes when providers are listed (lower first); None: after those
    list_order: int | None = None
    #: an error's `{type}`: code -> type, then "404" -> type, then "4xx" -> type
    error_types: Mapping[str, str] = field(default_factory=dict)
    #: the words GPTProto v3's move added (client id, envelope, named sizes; _decl_answers)
    answers: answers_words.Answers = field(default_factory=answers_words.Answers)

    @property
    def client(self) -> str:
        """The client's name for the provider (``client``; default: the prefix)."""
        return self.answers.client or self.prefix

    @property
    def not_found_param(self) -> str | None:
        """The field a not-found answer names (``errors.not-found-param``), or None."""
        return self.answers.not_found_param

    def model(self, model_id: str) -> Model | None:
        return next((m for m in self.models if m.id == model_id), None)

    def role(self, role: str) -> Role | None:
        return next((r for r in self.roles.values() if r.role == role), None)
