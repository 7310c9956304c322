"""A declared job's template values, one place for every template that names them: the job
template of a read (``declared.DeclaredDialect.values``) and a webhook's body
(``mockserver.http.webhooks.job_values``)."""

from __future__ import annotations

from typing import Any

from contracts import _declaration as decl
from mockserver.state.lifecycle import Job, JobState, Status


def job_values(declaration: decl.Declaration, job: Job, state: JobState) -> dict[str, Any]:
    """The job's own values (``JOB_VALUES`` but the URLs and the words later moves added):
    what the job is, its status in the declaration's words, its progress, times, cost and
    failure (a failure's message is its code's when the declaration lists failure codes)."""
    completed = state.status is Status.COMPLETED
    failed = state.status is Status.FAILED
    message = None
    if failed:
        message = state.error_message or declaration.failure[1]
        codes = declaration.failure_codes
        if codes:
            code = state.error_code or declaration.failure[0]
            message = codes.get(code, declaration.failure[1])
    price = declaration.price_per_second * job.seconds
    return {
        "job.id": job.id,
        "job.model": job.model,
        "job.prompt": job.prompt,
        "job.seconds": job.seconds,
        "job.size": f"{job.width}x{job.height}",
        "job.width": job.width,
        "job.height": job.height,
        "job.created_at": int(job.created_at),
        "status": declaration.statuses[state.status.value],
        "progress": round(state.progress, 3),
        "progress_percent": 100 if completed else min(99, int(state.progress * 100)),
        "completed_at": int(state.finished_at) if completed and state.finished_at else None,
        "expires_at": int(job.expires_at) if completed and job.expires_at else None,
        "cost": round(price, 4),
        "error.code": (state.error_code or declaration.failure[0]) if failed else None,
        "error.message": message,
        # the values a seed API's template needed (Vtrix): text forms, notes, remix source
        "job.seconds_text": str(job.seconds),
        "cost_text": f"{price:.4f}",
        "job.notes": list(job.notes),
        "job.remixed_from": job.remixed_from,
    }


class JobValues(dict[str, Any]):
    """A job's template values: the known ones held, each group of ``later`` worked out (in
    order) only when a template asks for a name not yet held (``__missing__``: a plain dict's
    lookup otherwise). A poll's template names a handful of values; working out every one
    (the request's host parsed for two URLs among them) was a third of a declared poll's CPU.
    ``whole()`` is every value (a ``**`` copy holds only those worked out so far)."""

    __slots__ = ("_later",)

    def __init__(self, known: dict[str, Any], later: tuple[Any, ...]) -> None:
        super().__init__(known)
        self._later = list(later)

    def __missing__(self, name: str) -> Any:
        while self._later:
            self.update(self._later.pop(0)())
            if name in self:
                return self[name]
        raise KeyError(name)

    def whole(self) -> dict[str, Any]:
        while self._later:
            self.update(self._later.pop(0)())
        return dict(self)
