"""How the dashboard's page and files are served: HTML only to a client that prefers it (a
browser; a script asking ``*/*`` or nothing gets the JSON index), never cached stale, under a
policy that loads nothing from elsewhere. Each test builds a bare Flask app with only the
dashboard on it."""

from __future__ import annotations

import pytest
from flask import Flask

from mockserver.http import dashboard


def _app() -> Flask:
    app = Flask("dashboard-only")
    dashboard.init_app(app)
    return app


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (None, False),
        ("*/*", False),
        ("application/json", False),
        ("application/json, text/html;q=0.9", False),
        ("text/html;q=0.5, application/json;q=0.5", False),  # a tie goes to JSON
        ("text/html", True),
        ("text/html, application/json;q=0.9", True),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),  # Firefox
        ("image/png", False),
    ],
)
def test_only_a_client_that_prefers_html_gets_the_page(accept: str | None, html: bool) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    with _app().test_request_context("/", headers=headers):
        assert dashboard.prefers_html() is html


def test_the_page_is_the_dashboards_html_never_cached_stale() -> None:
    with _app().test_request_context("/"):
        page = dashboard.page()
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert page.get_data() == (dashboard.STATIC / "index.html").read_bytes()
    assert page.headers["Cache-Control"] == "no-cache"
    # the same address answers JSON to a script: a cache must keep the two apart
    assert page.headers["Vary"] == "Accept"
    assert page.headers["Content-Security-Policy"] == dashboard.CSP


def test_the_policy_loads_nothing_from_elsewhere() -> None:
    directives = dict(
        part.strip().split(" ", 1) for part in dashboard.CSP.split(";") if part.strip()
    )
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"  # no inline script
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "http" not in dashboard.CSP


def test_the_page_and_its_files_are_served_at_the_admin_prefix() -> None:
    client = _app().test_client()
    page = client.get("/__mock/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert page.headers["Content-Security-Policy"] == dashboard.CSP
    script = client.get("/__mock/ui/app.js")
    assert script.status_code == 200
    assert script.headers["Cache-Control"] == "no-cache"
    script.close()
    assert client.get("/__mock/ui/no-such-file.js").status_code == 404
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert "max-age=86400" in icon.headers["Cache-Control"]
    icon.close()
