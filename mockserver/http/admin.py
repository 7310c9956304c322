"""The admin API under /__mock/ (contract: contracts/mock-admin.yaml).

Jobs in a provider-neutral view, the request journal, reset, the virtual clock, scenarios,
uploaded reference images and the rendered media every provider's URLs point at.
"""

from __future__ import annotations

import io
import math
from typing import Any

from flask import Blueprint, Response, current_app, request, send_file

import contracts
from contracts import ContractViolation
from mockserver import media
from mockserver.http import guard
from mockserver.http.binding import check_response, openapi_request
from mockserver.http.responses import json_response, note_error
from mockserver.state.faults import Scenario, UnknownScenario, parse
from mockserver.state.lifecycle import Job, key_fingerprint, state_at
from mockserver.state.service import MEDIA_VARIANTS, FilesFull, MockService, send_asset
from mockserver.state.store import Filters

blueprint = Blueprint("mock_admin", __name__, url_prefix="/__mock")
ADMIN_CONTRACT = "mock-admin"


def service() -> MockService:
    svc: MockService = current_app.extensions["sora_mock"]
    return svc


def admin_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    note_error(message)
    return json_response({"error": {"message": message, "type": str(status)}}, status, headers)


@blueprint.before_request
def refuse_cross_origin_changes() -> Response | None:
    """A state-changing call a page on another origin could have sent is a 403
    (guard.cross_origin_refusal; contracts/mock-admin.yaml, "Who may call")."""
    why = guard.cross_origin_refusal(
        request.method,
        request.headers.get("Origin"),
        request.headers.get("Content-Type", ""),
        guard.CLIENT_HEADER in request.headers,
        request.host_url.rstrip("/"),
    )
    return None if why is None else admin_error(403, why)


@blueprint.before_request
def validate_against_admin_contract() -> Response | None:
    contract = contracts.load(ADMIN_CONTRACT)
    rule = request.url_rule
    op = _admin_operation(contract, rule.rule if rule else None, request.method)
    if op is None:
        return None  # let Flask answer 404/405 with its Allow header
    try:
        if "requestBody" in op.definition:
            contract.validate_request(openapi_request(""))
        else:
            contract.validate_parameters(op.operation_id, request.view_args or {}, request.args)
    except ContractViolation as exc:
        status = 415 if "media_type" in exc.kinds else 400
        return admin_error(status, "; ".join(str(p) for p in exc.problems[:3]))
    return None


@blueprint.after_request
def check_against_admin_contract(response: Response) -> Response:
    svc = service()
    # a 413 was answered without reading the body: there is no request to validate against
    if svc.config.strict and request.url_rule is not None and response.status_code != 413:
        check_response(contracts.load(ADMIN_CONTRACT), svc, openapi_request(""), response)
    return response


def _admin_operation(
    contract: contracts.Contract, rule: str | None, method: str
) -> contracts.Operation | None:
    if rule is None:
        return None
    for op in contract.operations.values():
        if op.flask_rule == rule and op.method == method.lower():
            return op
    return None


def neutral(job: Job, svc: MockService) -> dict[str, Any]:
    # the state alone: listing jobs (the dashboard polls it) never starts a render
    state = state_at(job, svc.clock.now())
    return {
        "id": job.id,
        "api": job.api,
        "provider": job.api.split("-")[0],
        "model": job.model,
        "prompt": job.prompt,
        "width": job.width,
        "height": job.height,
        "seconds": job.seconds,
        "status": state.status.value,
        "progress": round(state.progress, 4),
        "created_at": job.created_at,
        "started_at": state.started_at,
        "finished_at": state.finished_at,
        "planned": {
            "queue_seconds": job.queue_seconds,
            "render_seconds": job.render_seconds,
            "outcome": job.outcome,
        },
        "error": (
            {"code": state.error_code, "message": state.error_message}
            if state.error_code or state.error_message
            else None
        ),
        "has_reference_image": job.image_key is not None,
        "remixed_from": job.remixed_from,
        "scenario": job.scenario,
        "notes": job.notes,
        "media_url": request.host_url.rstrip("/") + svc.media_path(job.id),
        "replay": {"cassette": job.replay} if job.replay else None,
        "webhook": svc.webhooks.status(job),
    }


@blueprint.get("/health")
def health() -> Response:
    """200 when the store answers (a container's health check, a load balancer's probe), else
    503: a read of the store's clock, the cheapest read every store has."""
    svc = service()
    spec = svc.config.store
    kind = "memory" if spec == "memory" else "sqlite" if spec.startswith("sqlite:") else "redis"
    try:
        svc.store.clock_get(0.0)
    except Exception as exc:  # any failure of the store's read means "down", classified or not
        from mockserver.state.store_guard import RETRY_AFTER_SECONDS, StoreUnavailable

        reason = exc.reason if isinstance(exc, StoreUnavailable) else f"{type(exc).__name__}: {exc}"
        retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return admin_error(503, f"the {kind} store does not answer ({reason[:200]})", retry)
    return json_response(
        {
            "status": "ok",
            "clock": svc.clock.kind,
            "now": svc.clock.now(),
            "store": kind,
            "strict": svc.config.strict,
        }
    )


#: jobs a filtered page examines at most (mock-admin.yaml): a page never reads every job
PAGE_SCAN = 5000


@blueprint.get("/jobs")
def jobs() -> Response:
    svc = service()
    svc.purge_expired()
    args = request.args
    status = args.get("status")
    now = svc.clock.now()
    filters = Filters(
        api=args.get("api"),
        owner=args.get("key"),
        provider=args.get("provider"),
        where=(lambda job: state_at(job, now).status == status) if status else None,
    )
    page = svc.store.page(
        filters,
        order=args.get("order", "asc"),
        after=args.get("after"),
        limit=int(args.get("limit", 100)),
        scan=PAGE_SCAN if status else None,
    )
    return json_response(
        {
            # more jobs may have expired than one purge takes: none is listed
            "data": [neutral(j, svc) for j in page.jobs if not j.expired(now)],
            "has_more": page.has_more,
            "next_after": page.cursor if page.has_more else None,
        }
    )


@blueprint.get("/jobs/<job_id>")
def job(job_id: str) -> Response:
    svc = service()
    found = svc.live(job_id)
    if found is None:
        return admin_error(404, f"no job {job_id!r}")
    return json_response(neutral(found, svc))


@blueprint.get("/journal")
def journal() -> Response:
    svc = service()
    limit = int(request.args.get("limit", 100))
    job_id = request.args.get("job_id")
    if job_id is None:
        entries = svc.journal(limit)
    else:
        # a job's entries: the journal is bounded (journal_size), so this reads little
        entries = [e for e in svc.journal() if e.get("job_id") == job_id][-limit:]
    # what each request carried is GET /__mock/requests's (the journal stays light); the
    # entries may be the store's own (MemoryStore): copied, never changed
    data = [{k: v for k, v in e.items() if k != "request"} for e in entries]
    return json_response({"data": data})


@blueprint.get("/requests")
def requests_received() -> Response:
    """What each provider request carried, as data (mockserver.http.requests_log), filtered."""
    from mockserver.http.requests_log import records_of, select

    args = request.args
    criteria: dict[str, Any] = {
        name: args[name]
        for name in ("provider", "operation", "method", "path", "job_id", "scenario")
        if name in args
    }
    if "status" in args:
        criteria["status"] = int(args["status"])
    if "method" in criteria:
        criteria["method"] = criteria["method"].upper()
    limit = int(args.get("limit", 100))
    found = select(records_of(service().journal()), **criteria)[-limit:]
    return json_response({"data": [record.to_dict() for record in found]})


@blueprint.post("/reset")
def reset() -> Response:
    service().reset()
    return json_response({"reset": True})


@blueprint.get("/clock")
def clock() -> Response:
    svc = service()
    return json_response({"kind": svc.clock.kind, "now": svc.clock.now()})


@blueprint.post("/clock/advance")
def advance() -> Response:
    svc = service()
    advance_to = getattr(svc.clock, "advance", None)
    if advance_to is None:
        return admin_error(
            409, "the clock is real: start the mock with --clock virtual to advance it"
        )
    seconds = request.get_json()["seconds"]
    if not isinstance(seconds, int | float) or not math.isfinite(seconds):
        # the edge refuses NaN/Infinity already; a clock must never hold one
        return admin_error(400, "seconds must be a finite number")
    return json_response({"kind": svc.clock.kind, "now": advance_to(float(seconds))})


@blueprint.get("/faults")
def get_faults() -> Response:
    return _faults(*service().fault_settings())


@blueprint.put("/faults")
def set_faults() -> Response:
    body = request.get_json()
    return _faults(*service().set_faults(float(body["rate"]), body.get("seed")))


def _faults(rate: float, seed: int) -> Response:
    from mockserver.state.faults import RANDOM_FAULTS

    return json_response(
        {"rate": rate, "seed": seed, "scenarios": [s.value for s in RANDOM_FAULTS]}
    )


@blueprint.get("/sample-image")
def get_sample_image() -> Response:
    from mockserver import sample

    try:
        width, height = sample.parse_size(request.args.get("size", "720x1280"))
    except sample.SizeError as exc:
        return admin_error(400, str(exc))
    data = sample.sample_image(width, height)
    response = send_file(
        io.BytesIO(data), mimetype="image/png", download_name=f"cat-{width}x{height}.png"
    )
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@blueprint.get("/scenarios")
def scenarios() -> Response:
    svc = service()
    return json_response(
        {
            "known": [s.value for s in Scenario],
            "scenarios": [_scenario_effect(s, svc) for s in Scenario],
            "rules": [r.to_dict() for r in svc.store.rules()],
        }
    )


def _scenario_effect(scenario: Scenario, svc: MockService) -> dict[str, Any]:
    """What a scenario does, as the dashboard shows it: the statuses it answers with (none
    when the request succeeds: the job fails later, or the answer comes late) and in words."""
    from mockserver.providers.errors import MODEL_NOT_FOUND
    from mockserver.state.faults import SCENARIOS

    spec = SCENARIOS[scenario]
    statuses = [spec.status] if spec.status is not None else []
    effect = spec.message
    summary = ""
    if scenario is Scenario.MODEL_UNAVAILABLE:
        statuses = sorted({status for status, _, _ in MODEL_NOT_FOUND.values()})
        effect = "each provider's own model-not-found answer to a create"
    elif scenario is Scenario.GENERATION_FAILED:
        effect = "the create succeeds, then the job fails with the provider's code"
        summary = "job fails later"
    elif scenario is Scenario.SLOW:
        effect = f"answers normally, {svc.config.slow_seconds:g} s late"
        summary = f"{svc.config.slow_seconds:g} s late"
    return {
        "name": scenario.value,
        "statuses": statuses,
        "summary": summary or "/".join(str(s) for s in statuses),
        "create_only": spec.create_only,
        "effect": effect,
    }


@blueprint.post("/scenarios")
def add_scenario() -> Response:
    svc = service()
    body = request.get_json()
    try:
        parse(body["scenario"], "rule")
    except UnknownScenario as exc:
        return admin_error(400, str(exc))
    key = key_fingerprint(body["api_key"]) if body.get("api_key") else None
    rule = svc.store.add_rule(body["scenario"], key, body.get("provider"), body.get("times"))
    return json_response(rule.to_dict(), 201)


@blueprint.delete("/scenarios")
def clear_scenarios() -> Response:
    svc = service()
    key = request.args.get("api_key")
    removed = svc.store.clear_rules(key_fingerprint(key) if key else None)
    return json_response({"removed": removed})


@blueprint.delete("/scenarios/<rule_id>")
def remove_scenario_rule(rule_id: str) -> Response:
    # the contract has checked rule_id is an integer of 1 or more
    removed = service().store.remove_rule(int(rule_id))
    if removed is None:
        return admin_error(404, f"no rule {rule_id} in force (used up, removed or reset?)")
    return json_response(removed.to_dict())


@blueprint.post("/files")
def upload_file() -> Response:
    svc = service()
    data = request.get_data()
    try:
        file_id = svc.store_file(data)
    except media.ImageError as exc:
        return admin_error(400, str(exc))
    except FilesFull as exc:
        # 413, not 507: the uploads are the client's to free (the quota is its use, not the
        # server's fault), 413 is already this operation's "too much", and a 5xx would read
        # as a failure of the mock to generic clients and to schemathesis
        return admin_error(413, str(exc))
    url = f"{request.host_url.rstrip('/')}/__mock/files/{file_id}"
    return json_response({"id": file_id, "url": url}, 201)


@blueprint.get("/files/<file_id>")
def get_file(file_id: str) -> Response:
    data = service().store.get_blob(f"file:{file_id}")
    if data is None:
        return admin_error(404, f"no file {file_id!r}")
    # probed once, at upload: the type is read from the magic bytes, nothing is decoded again
    mimetype = media.sniff_mime(data)
    return send_file(io.BytesIO(data), mimetype=mimetype, conditional=True, etag=file_id)


@blueprint.get("/media/<job_id>/<name>")
def get_media(job_id: str, name: str) -> Response:
    from mockserver.state.lifecycle import Status

    svc = service()
    variant = {v[0]: k for k, v in MEDIA_VARIANTS.items()}.get(name)
    found = svc.live(job_id)
    if found is None or variant is None:
        return admin_error(404, f"no media {name!r} for {job_id!r}")
    if svc.state(found).status is not Status.COMPLETED:
        return admin_error(404, f"job {job_id!r} has no video yet")
    return send_asset(svc, found, variant)


@blueprint.get("/contracts")
def list_contracts() -> Response:
    base = request.host_url.rstrip("/")
    return json_response(
        {
            "data": [
                {"name": name, "url": f"{base}/__mock/contracts/{name}.yaml"}
                for name in contracts.load_all()
            ]
        }
    )


@blueprint.get("/contracts/<name>.yaml")
def get_contract(name: str) -> Response:
    known = contracts.load_all()
    if name not in known:
        return admin_error(404, f"no contract {name!r}")
    return Response(known[name].path.read_bytes(), mimetype="application/yaml")
