"""The dashboard: a page in the browser over the admin API and the provider APIs.

Plain HTML, CSS and JavaScript served by the mock itself (``static/``): no build step, no
CDN, nothing fetched from elsewhere, so it works offline. Everything it shows comes from the
admin API (``/__mock/...``) and everything it does goes through the provider APIs, so a script
can do the same. It is served at ``/__mock/`` and at ``/`` when a browser asks for HTML.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, request, send_from_directory

STATIC = Path(__file__).resolve().parent / "static"
#: the dashboard loads only what the mock serves: no CDN, no remote image, no inline script
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

blueprint = Blueprint("mock_dashboard", __name__)


@lru_cache(maxsize=1)
def _page_html() -> bytes:
    return (STATIC / "index.html").read_bytes()


def prefers_html() -> bool:
    """True when the client prefers HTML to JSON (a browser); ``*/*`` and no Accept get JSON."""
    accept = request.accept_mimetypes
    best = accept.best_match(["application/json", "text/html"])
    return best == "text/html"


def page() -> Response:
    response = Response(_page_html(), mimetype="text/html")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-cache"
    response.vary.add("Accept")
    return response


@blueprint.get("/__mock/")
def dashboard() -> Response:
    return page()


@blueprint.get("/__mock/ui/<path:name>")
def asset(name: str) -> Response:
    response = send_from_directory(STATIC, name, max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@blueprint.get("/favicon.ico")
def favicon() -> Response:
    return send_from_directory(STATIC, "favicon.svg", mimetype="image/svg+xml", max_age=86400)


#: the forms made, by dialect class (a declaration changed, by a models file, is another class)
_FORMS: dict[type, dict[str, Any] | None] = {}


def declared_form(dialect: type) -> dict[str, Any] | None:
    """How the page drives a declared provider's API (its form, its card's snippets), read
    from the declaration: the create's path and its JSON body with ``{model}``, ``{prompt}``,
    ``{seconds}``, ``{size}`` and ``{image}`` where the values go, the status path
    (``{id}``), where the job's id is in an answer, the models with their sizes and
    durations, and the client's name for it. None for a Python dialect (the page knows it)."""
    if dialect not in _FORMS:
        _FORMS[dialect] = _form(getattr(dialect, "declaration", None))
    return _FORMS[dialect]


def _form(declaration: Any) -> dict[str, Any] | None:
    import contracts
    from contracts import _declaration as decl
    from contracts._decl_answers import client_name

    if not isinstance(declaration, decl.Declaration):
        return None
    contract = contracts.load(declaration.contract)
    create = declaration.role("create")
    assert create is not None  # a declaration has exactly one create (checked at load)
    create_op = contract.operation(create.operation_id)
    read = declaration.role("read")
    status_path = None
    if read is not None:
        status_path = contract.operation(read.operation_id).path
        status_path = status_path.replace("{" + read.fields["id"] + "}", "{id}")
    values = {"model": "{model}", "prompt": "{prompt}", "seconds": "{seconds}", "size": "{size}"}
    return {
        "client": client_name(declaration),
        "label": f"{declaration.name} · {create_op.path}",
        "method": create_op.method.upper(),
        "create_path": create_op.path,
        "status_path": status_path,
        "id_pointer": decl.places(declaration.job).get("job.id", "/id"),
        "body": decl.create_body(contract, declaration, {**values, "image": "{image}"}),
        "body_without_image": decl.create_body(contract, declaration, values),
        "models": {
            m.id: {"sizes": list(m.sizes), "durations": list(m.durations), "image": m.image}
            for m in declaration.models
        },
        # WxH -> the body fields naming it in words (GPTProto v3's small + portrait), if any
        **({"size_fields": dict(table)} if (table := declaration.answers.size_fields) else {}),
    }


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
