"""The provider-neutral job, and the timestamp reader every adapter shares."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Status = Literal["queued", "in_progress", "completed", "failed"]
#: the neutral statuses, in lifecycle order (failed and completed are both terminal)
STATUSES: tuple[Status, ...] = ("queued", "in_progress", "completed", "failed")
TERMINAL: frozenset[str] = frozenset({"completed", "failed"})
#: lifecycle rank: a status never moves to a lower rank
RANK = {"queued": 0, "in_progress": 1, "completed": 2, "failed": 2}

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}")


@dataclass
class Job:
    """One video job, in neutral words, whatever the provider.

    ``raw`` is the provider's own last body (for chat mode, the last chunk). ``progress`` is
    0.0..1.0; providers that report none (GPTProto v3) read 0.0 until completed.
    """

    id: str
    provider: str
    status: Status
    progress: float = 0.0
    video_url: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    raw: Any = field(default=None, repr=False)
    model: str | None = None
    created_at: datetime | None = None
    request_id: str | None = None
    #: the server's poll hint (``openai-poll-after-ms``), in seconds
    _poll_after: float | None = field(default=None, repr=False, compare=False)
    #: chat mode: the open event stream the job is reported on
    _stream: Any = field(default=None, repr=False, compare=False)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    @property
    def failed(self) -> bool:
        return self.status == "failed"


def parse_timestamp(value: Any) -> datetime | None:
    """Unix seconds as an int, a float or a string of digits, or ``YYYY-MM-DD HH:MM:SS``
    (UTC): GPTProto sends all of these. Anything else reads as None, never an error."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(float(value), UTC)
        if isinstance(value, str):
            text = value.strip()
            if text.isdigit():
                return datetime.fromtimestamp(int(text), UTC)
            if _DATETIME.match(text):
                parsed = datetime.fromisoformat(text.replace(" ", "T", 1))
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None
