"""A declared job's template values, one place for every template that names them: the job
template of a read (``declared.DeclaredDialect.values``) and a webhook's body
(``mockserver.http.webhooks.job_values``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
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


#: a group of later values: the names it gives, and what works them out
Group = tuple[frozenset[str], Callable[[], Mapping[str, Any]]]


class JobValues(dict[str, Any]):
    """A job's template values: the known ones held, each group of ``later`` worked out only
    when a template asks for a name it gives and that is not yet held (``__missing__``: a
    plain dict's lookup otherwise). A poll's template names a handful of values; working out
    every one was a third of a declared poll's CPU, and working out the groups before the one
    asked for (the request's host parsed for two URLs, to give gpt.ge's poll hint) another
    tenth. A group names what it gives; a name no group names is a KeyError. ``whole()`` is
    every value (a ``**`` copy holds only those worked out so far)."""

    __slots__ = ("_later",)

    def __init__(self, known: Mapping[str, Any], later: tuple[Group, ...]) -> None:
        super().__init__(known)
        self._later = list(later)

    def __missing__(self, name: str) -> Any:
        for i, (names, make) in enumerate(self._later):
            if name in names:
                del self._later[i]
                self.update(make())
                return self[name]
        raise KeyError(name)

    def whole(self) -> dict[str, Any]:
        for _names, make in self._later:
            self.update(make())
        self._later.clear()
        return dict(self)
