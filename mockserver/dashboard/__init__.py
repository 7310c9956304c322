"""The dashboard: a page in the browser over the admin API and the provider APIs.

Plain HTML, CSS and JavaScript served by the mock itself (``static/``): no build step, no
CDN, nothing fetched from elsewhere, so it works offline. Everything it shows comes from the
admin API (``/__mock/...``) and everything it does goes through the provider APIs, so a script
can do the same. It is served at ``/__mock/`` and at ``/`` when a browser asks for HTML.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

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


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
