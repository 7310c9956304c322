"""The app factory: every provider dialect, the admin API and the index, in one Flask app."""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

import contracts
from mockserver.http import admin, dashboard, exchange, guard
from mockserver.http._routing import MockFlask
from mockserver.http.binding import bind
from mockserver.http.console import RequestLog
from mockserver.http.hints import not_found_message
from mockserver.http.hosts import HostPolicy, provider_hosts
from mockserver.http.responses import json_response, note_error, store_unavailable
from mockserver.media import RenderCrashed
from mockserver.providers import registered
from mockserver.providers.errors import PREFIX_ERRORS
from mockserver.settings.config import MockConfig
from mockserver.state.service import MockService, service_of
from mockserver.state.store_guard import StoreUnavailable

log = logging.getLogger("mockserver")


def create_app(config: MockConfig | None = None, **overrides: Any) -> Flask:
    """Build a mock server; ``overrides`` replace fields of ``config`` (``clock="virtual"``)."""
    config = dataclasses.replace(config or MockConfig(), **overrides)
    _load_providers(config)
    service = MockService.from_config(config)
    app = MockFlask("mockserver", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    # multipart text fields are short (a prompt): larger ones are a 413, file parts spool
    app.config["MAX_FORM_MEMORY_SIZE"] = min(config.max_body_bytes, 1024 * 1024)
    app.config["MAX_FORM_PARTS"] = 100
    # OPTIONS is no operation of any contract: answer it 405 with Allow, like any other
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["sora_mock"] = service

    dialects = [cls(service) for cls in registered().values()]
    for dialect in dialects:
        bind(app, dialect)
    app.register_blueprint(admin.blueprint)
    app.add_url_rule("/", "index", _index, provide_automatic_options=False)
    if service.metrics is not None:  # --no-metrics: /metrics is an unknown path (404)
        app.add_url_rule(
            "/metrics", "metrics", _metrics, methods=["GET"], provide_automatic_options=False
        )
    dashboard.init_app(app)
    if config.log_format is not None:
        app.extensions["sora_mock_console"] = RequestLog(
            config.log_format, show_dashboard=config.log_dashboard
        )
        service.webhooks.console = app.extensions["sora_mock_console"]  # a line per attempt

    app.before_request(_start)
    guard.init_app(
        app, _error_json, max_json_bytes=config.max_json_bytes, max_depth=config.max_json_depth
    )
    if config.replay_dir is not None:  # recorded jobs answer before the simulated ones
        from mockserver.conformance.replay import install

        install(app, service, dialects)
    app.after_request(_finish)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    if config.replay_dir is None:  # polls and creates skip Flask's request context (lane.py)
        from mockserver.http.lane import PollLane

        app.wsgi_app = PollLane(  # type: ignore[method-assign]
            app,
            app.wsgi_app,
            _error_json,
            functools.partial(http_error, app),
            functools.partial(unexpected, service),
        )
    # outermost: a Host the mock does not answer to never reaches the lane or Flask
    live = provider_hosts([d.contract.spec for d in dialects])
    policy = HostPolicy(config.bind_host, config.allowed_hosts, live)
    app.wsgi_app = guard.HostCheck(app, app.wsgi_app, policy)  # type: ignore[method-assign]
    return app


def _load_providers(config: MockConfig) -> None:
    """The provider files and the models file the configuration names, loaded before any
    dialect is made (each again in a spawned worker: adding the same file twice is nothing)."""
    for path in config.providers:
        contracts.add_provider(path)
    if config.models_file is not None:
        contracts.use_models(config.models_file)


def _index() -> Response:
    if dashboard.prefers_html():
        return dashboard.page()
    base = request.host_url.rstrip("/")
    providers: dict[str, dict[str, Any]] = {}
    for name, cls in registered().items():
        entry = providers.setdefault(
            cls.prefix,
            {"base_url": f"{base}/{cls.prefix}", "live_base_url": None, "contracts": []},
        )
        contract = contracts.load(name)
        entry["live_base_url"] = contract.spec["info"].get("x-provider-base-url")
        entry["contracts"].append(
            {
                "name": name,
                "url": f"{base}/__mock/contracts/{name}.yaml",
                "operations": [
                    f"{op.method.upper()} {op.path}" for op in contract.operations.values()
                ],
            }
        )
        form = dashboard.declared_form(cls)
        if form is not None:  # a declared provider: the dashboard drives it from this
            entry["contracts"][-1]["declared"] = form
    response = json_response(
        {
            "name": "sora-mock",
            "providers": providers,
            "admin": {
                "base_url": f"{base}/__mock",
                "contract": f"{base}/__mock/contracts/mock-admin.yaml",
                "dashboard": f"{base}/__mock/",
            },
            "scenario_header": "X-Mock-Scenario",
        }
    )
    response.vary.add("Accept")
    return response


def _start() -> None:
    exchange.begin()
    service_of_current().request_opened()


def _prefix() -> str:
    return _prefix_of(request.path)


def _prefix_of(path: str) -> str:
    return path.strip("/").split("/", 1)[0]


def _finish(response: Response) -> Response:
    return exchange.finish(
        service_of_current(),
        current_app.extensions.get("sora_mock_console"),
        exchange.end(),
        request.method,
        request.path,
        response,
        request.view_args,
        request._get_current_object(),  # type: ignore[attr-defined]
    )


def service_of_current() -> MockService:
    from flask import current_app

    return service_of(current_app)


def _error_json(
    status: int, message: str, prefix: str | None = None, message_too: bool = False
) -> Response:
    """The error in the shape of the prefix's provider. ``message_too``: Vtrix's text is
    ``error_message``, and its contract allows ``message`` as well (some of its pages use it);
    the ``openai`` package shows only ``error.message``, so a route hint is given in both."""
    note_error(message)
    family = PREFIX_ERRORS.get(prefix or _prefix())
    if family is None:
        body: dict[str, Any] = {"error": {"message": message, "type": str(status)}}
    else:
        body = family(status, message)
        if message_too and "message" not in body["error"]:
            body["error"]["message"] = message
    return json_response(body, status)


def _http_error(exc: HTTPException) -> Response:
    return http_error(current_app, exc, request.method, request.path)


def http_error(app: Flask, exc: HTTPException, method: str, path: str) -> Response:
    """The answer to an HTTP exception raised for ``method path`` (Flask's handler, and the
    lane's: it is given the request's method and path, not Flask's request)."""
    status = exc.code or 500
    messages = {
        404: f"Unknown path {path!r}",
        405: f"Method {method} is not allowed on {path!r}",
        413: "Request body is too large",
    }
    prefix = _prefix_of(path)
    if status == 404:
        messages[404], found = not_found_message(app, path, method)
        prefix = found or prefix
    # a wrong URL is what an OpenAI-style client meets first: its hint also goes in `message`
    response = _error_json(
        status, messages.get(status, exc.description or exc.name), prefix, status in (404, 405)
    )
    original = exc.get_response()
    for header in ("Allow", "Content-Range", "Retry-After"):
        if header in original.headers:
            response.headers[header] = original.headers[header]
    return response


def _metrics() -> Response:
    """Prometheus' text exposition of the whole server (every worker): mockserver.state.metrics."""
    from mockserver.state.metrics import CONTENT_TYPE

    metrics = service_of_current().metrics
    assert metrics is not None  # the route exists only with metrics on
    response = Response(metrics.exposition(), mimetype=None, content_type=CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response


def _unexpected(exc: Exception) -> Response:
    return unexpected(service_of_current(), exc, request.method, request.path)


def unexpected(service: MockService, exc: Exception, method: str, path: str) -> Response:
    """The answer to an exception raised for ``method path`` (Flask's handler, and the
    lane's): a store outage's 503, a render's crash, or the mock's own 500 (noted)."""
    prefix = _prefix_of(path)
    if isinstance(exc, StoreUnavailable):
        return store_unavailable(_error_json, exc, prefix, service.metrics)
    if isinstance(exc, RenderCrashed):  # the job failed; the console said so once
        return _error_json(500, f"The video could not be rendered: {exc}", prefix)
    service.note_error(exc, f"{method} {path}")
    return _error_json(500, "An internal server error occurred in the mock", prefix)
