"""The demo server without a browser: content negotiation at /, the request console, the
journal's error messages, 404s that name the right URL, the mock's own URLs under any loopback
name, the sample image, the fault rate set at run time, and `--help`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest
from PIL import Image

from mockserver import cli
from mockserver.http.app import create_app, service_of
from mockserver.http.console import RequestLog
from mockserver.sample import sample_image
from mockserver.testing import SoraMock, test_config

KEY = "sk-very-secret-key-0123456789"


@pytest.fixture
def mock(sora_mock: SoraMock) -> SoraMock:
    return sora_mock


def http(mock: SoraMock, host: str = "http://127.0.0.1:8000", key: str = KEY) -> httpx.Client:
    return httpx.Client(
        base_url=host, transport=mock.transport(), headers={"Authorization": f"Bearer {key}"}
    )


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, format="PNG")
    return out.getvalue()


# ------------------------------------------------------------------ / for people and programs


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (None, False),
        ("*/*", False),
        ("application/json", False),
        ("application/json, text/html;q=0.9", False),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("text/html", True),
    ],
    ids=["no-accept", "any", "json", "json-first", "browser", "html"],
)
def test_index_is_json_unless_the_client_prefers_html(
    mock: SoraMock, accept: str | None, html: bool
) -> None:
    headers = {"Accept": accept} if accept else {}
    with http(mock) as client:
        response = client.get("/", headers=headers)
    assert response.status_code == 200
    assert "Accept" in response.headers["Vary"]
    if html:
        assert response.headers["content-type"].startswith("text/html")
        assert '<form id="create-form"' in response.text
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    else:
        assert response.json()["admin"]["dashboard"].endswith("/__mock/")


def test_dashboard_and_its_assets_are_served_by_the_mock(mock: SoraMock) -> None:
    with http(mock) as client:
        page = client.get("/__mock/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        for asset in ("app.js", "app.css", "favicon.svg"):
            assert client.get(f"/__mock/ui/{asset}").status_code == 200, asset
        assert client.get("/__mock/ui/../app.py").status_code == 404
    # nothing in the page or its assets points anywhere but the mock itself
    static = Path(__file__).resolve().parent.parent / "mockserver" / "http" / "dashboard" / "static"
    for path in static.iterdir():
        text = path.read_text()
        assert "https://" not in text.replace("https://gptproto.com", ""), path.name


# ------------------------------------------------------------------ the console and the journal


def console_app(fmt: str) -> tuple[SoraMock, io.StringIO]:
    app = create_app(test_config(log_format=fmt))
    stream = io.StringIO()
    app.extensions["sora_mock_console"] = RequestLog(fmt, stream)
    return SoraMock(app), stream


def test_console_prints_one_line_per_request_with_the_error_and_never_the_key() -> None:
    mock, stream = console_app("text")
    with http(mock) as client:
        client.get("/gptge/v1/videos")
        client.get("/gptge/v1/videos", headers={"X-Mock-Scenario": "rate_limited"})
        client.get("/gptge/v1/videos/video_missing")
        client.get("/__mock/jobs")  # the dashboard's polling: not a line
        client.post("/__mock/clock/advance", json={"seconds": 1})
    assert mock.app.extensions["sora_mock_console"].flush()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4, lines
    ok, limited, missing, admin = lines
    assert "GET" in ok and "/gptge/v1/videos" in ok and " 200 " in ok and "gptge" in ok
    assert " ms" in ok
    assert " 429 " in limited and "[rate_limited]" in limited
    assert '"You have exceeded your rate limit"' in limited
    assert " 404 " in missing and "Video with id 'video_missing' not found." in missing
    assert "POST" in admin and "/__mock/clock/advance" in admin
    assert KEY not in stream.getvalue() and "sk-" not in stream.getvalue()


def test_console_json_is_one_object_a_line() -> None:
    mock, stream = console_app("json")
    with http(mock) as client:
        client.get("/vtrix/model/v1/generation/task/nope", headers={"X-Mock-Scenario": "forbidden"})
    assert mock.app.extensions["sora_mock_console"].flush()
    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["method"] == "GET" and entry["status"] == 403 and entry["provider"] == "vtrix"
    assert entry["scenario"] == "forbidden"
    assert entry["error"].startswith("Your API key does not have permission")
    assert entry["path"] == "/vtrix/model/v1/generation/task/nope"
    assert entry["time"].endswith("Z") and isinstance(entry["latency_ms"], float)
    assert KEY not in line


def test_quiet_means_no_console_at_all() -> None:
    args = cli_args("serve", "--quiet")
    app = create_app(cli.config_from(args))
    assert "sora_mock_console" not in app.extensions
    assert cli.config_from(cli_args("serve", "--log-format", "json")).log_format == "json"
    assert cli.config_from(cli_args("serve")).log_format == "text"


def cli_args(*argv: str) -> object:
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cli._serve_parser(sub)
    return parser.parse_args(list(argv))


def test_journal_keeps_the_error_message_and_the_job(mock: SoraMock) -> None:
    with http(mock) as client:
        created = client.post(
            "/vtrix/model/v1/generation",
            json={"model": "sora_2_pro_i2v", "prompt": "a cat", "size": "720x1280"},
        ).json()
        client.get(f"/vtrix/model/v1/generation/task/{created['id']}")
        refused = client.post(
            "/vtrix/model/v1/generation", json={"model": "sora_2_pro_i2v", "prompt": ""}
        )
        mine = client.get("/__mock/journal", params={"job_id": created["id"]}).json()["data"]
    assert refused.status_code == 400
    create, read, bad = mock.journal
    assert create["job_id"] == read["job_id"] == created["id"] and create["error"] is None
    assert bad["status"] == 400 and bad["error"] == refused.json()["error"]["error_message"]
    assert bad["job_id"] is None
    assert [e["request_id"] for e in mine] == [create["request_id"], read["request_id"]]


# ------------------------------------------------------------------ 404s that say where to go


@pytest.mark.parametrize(
    ("method", "path", "hint", "shape"),
    [
        ("POST", "/v1/videos", "did you mean /gptproto/v1/videos or /gptge/v1/videos?", "message"),
        ("GET", "/gptge/v1/v1/videos", "did you mean /gptge/v1/videos?", "message"),
        ("GET", "/gptge/gptge/v1/videos", "did you mean /gptge/v1/videos?", "message"),
        (
            "POST",
            "/gptge/model/v1/generation",
            "gpt.ge has no POST /model/v1/generation: its routes are POST /gptge/v1/videos",
            "message",
        ),
        ("GET", "/model/v1/generation/task/t1", "did you mean /vtrix/model/v1", "error_message"),
        (
            "POST",
            "/vtrix/v1/videos",
            "Vtrix has no POST /v1/videos: its routes are POST /vtrix/model/v1/generation, "
            "GET /vtrix/model/v1/generation/task/{task_id}; /v1/videos is GPTProto's "
            "(/gptproto/v1/videos) and gpt.ge's (/gptge/v1/videos)",
            "message",
        ),
        (
            "POST",
            "/gptge/videos",
            "did you mean /gptge/v1/videos? An OpenAI-style base URL ends in /v1: .../gptge/v1",
            "message",
        ),
        ("POST", "/vtrix/model/generation", "did you mean /vtrix/model/v1/generation?", "message"),
        ("POST", "/gptge/v1/video", "did you mean /gptge/v1/videos?", "message"),
        (
            "GET",
            "/vtrix/model/v1/generation/tasks/t1",
            "did you mean /vtrix/model/v1/generation/task/t1?",
            "message",
        ),
        ("GET", "/nothing/here", "every provider is under its prefix", "message"),
    ],
    ids=[
        "no-prefix",
        "double-v1",
        "double-prefix",
        "other-provider",
        "vtrix-no-prefix",
        "vtrix-prefix-wrong-api",
        "no-v1",
        "vtrix-no-v1",
        "singular",
        "misspelt-segment",
        "unknown",
    ],
)
def test_an_unknown_path_answers_404_naming_the_right_url(
    mock: SoraMock, method: str, path: str, hint: str, shape: str
) -> None:
    with http(mock) as client:
        response = client.request(method, path)
    assert response.status_code == 404
    error = response.json()["error"]
    assert hint in error[shape], error


def test_a_404_under_a_prefix_keeps_that_providers_error_shape(mock: SoraMock) -> None:
    with http(mock) as client:
        openai_shape = client.get("/gptge/v2/videos").json()["error"]
        vtrix_shape = client.get("/vtrix/model/v2/generation").json()["error"]
    assert set(openai_shape) == {"message", "type", "param", "code"}
    # Vtrix words it `error_message`; a route hint is in `message` too (the openai package)
    assert set(vtrix_shape) == {"code", "error_message", "message"}
    assert vtrix_shape["message"] == vtrix_shape["error_message"]


# ------------------------------------------------------------------ the mock's own URLs


@pytest.mark.parametrize(
    "image_host",
    ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "0.0.0.0:8000", "LOCALHOST:8000"],
)
def test_an_image_uploaded_under_one_loopback_name_is_found_under_another(
    mock: SoraMock, image_host: str
) -> None:
    with http(mock, "http://localhost:8000") as client:
        uploaded = client.post(
            "/__mock/files", content=png(720, 1280), headers={"content-type": "image/png"}
        ).json()
    url = uploaded["url"].replace("localhost:8000", image_host)
    with http(mock, "http://127.0.0.1:8000") as client:
        created = client.post(
            "/vtrix/model/v1/generation",
            json={"model": "sora_2_pro_i2v", "prompt": "a cat", "input_reference": url},
        )
        job = client.get(f"/__mock/jobs/{created.json()['id']}").json()
    assert created.status_code == 200, created.text
    assert job["has_reference_image"] is True and job["notes"] == []
    assert "mock_notes" not in created.json()["metadata"]


@pytest.mark.parametrize(
    "image_host", ["127.0.0.1:9999", "example.com:8000", "192.0.2.7:8000", "localhost.example"]
)
def test_another_servers_url_is_not_the_mocks_own(mock: SoraMock, image_host: str) -> None:
    with http(mock) as client:
        created = client.post(
            "/vtrix/model/v1/generation",
            json={
                "model": "sora_2_pro_i2v",
                "prompt": "a cat",
                "input_reference": f"http://{image_host}/__mock/files/file_x",
            },
        ).json()
    assert "placeholder frame" in created["metadata"]["mock_notes"][0]


def test_the_bind_address_names_the_mock() -> None:
    app = create_app(test_config(bind_host="10.1.2.3"))
    mock = SoraMock(app)
    with http(mock, "http://localhost:8000") as client:
        file_id = client.post(
            "/__mock/files", content=png(720, 1280), headers={"content-type": "image/png"}
        ).json()["id"]
        created = client.post(
            "/vtrix/model/v1/generation",
            json={
                "model": "sora_2_pro_i2v",
                "prompt": "a cat",
                "input_reference": f"http://10.1.2.3:8000/__mock/files/{file_id}",
            },
        ).json()
    assert "mock_notes" not in created["metadata"]
    assert service_of(app).image_of(service_of(app).store.get(created["id"])) == png(720, 1280)


# ------------------------------------------------------------------ sample image, faults, help


def test_sample_image_command_writes_a_png_of_the_size_asked(tmp_path: Path) -> None:
    target = tmp_path / "cat-720x1280.png"
    assert cli.main(["sample-image", "--size", "720x1280", "-o", str(target)]) == 0
    with Image.open(target) as image:
        assert image.format == "PNG" and image.size == (720, 1280)
        assert len(image.convert("RGB").getcolors(maxcolors=100_000) or []) > 50
    assert target.read_bytes() == sample_image(720, 1280)
    assert cli.main(["sample-image", "--size", "720 by 1280", "-o", str(target)]) == 2
    assert cli.main(["sample-image", "--size", "8x8", "-o", str(target)]) == 2


def test_sample_image_endpoint_matches_the_size(mock: SoraMock) -> None:
    with http(mock) as client:
        landscape = client.get("/__mock/sample-image", params={"size": "1792x1024"})
        refused = client.get("/__mock/sample-image", params={"size": "9000x10"})
    with Image.open(io.BytesIO(landscape.content)) as image:
        assert image.size == (1792, 1024)
    assert refused.status_code == 400


def test_fault_rate_set_at_run_time_applies_and_reset_restores_it(mock: SoraMock) -> None:
    with http(mock) as client:
        assert client.get("/__mock/faults").json() == {
            "rate": 0.0,
            "seed": 0,
            "scenarios": ["rate_limited", "server_error"],
        }
        assert client.put("/__mock/faults", json={"rate": 1, "seed": 3}).json()["rate"] == 1
        statuses = [client.get("/gptge/v1/videos").status_code for _ in range(6)]
        assert client.put("/__mock/faults", json={"rate": 2}).status_code == 400
        client.post("/__mock/reset", headers={"X-Mock-Client": "test"})
        assert client.get("/__mock/faults").json()["rate"] == 0.0
        assert client.get("/gptge/v1/videos").status_code == 200
    assert set(statuses) <= {429, 500} and len(statuses) == 6


def test_fault_rate_is_shared_by_workers_on_one_store(tmp_path: Path) -> None:
    store = f"sqlite:{tmp_path / 'mock.db'}"
    one, two = (SoraMock(create_app(test_config(store=store))) for _ in range(2))
    with http(one) as client:
        client.put("/__mock/faults", json={"rate": 1.0})
    with http(two) as client:
        assert client.get("/__mock/faults").json()["rate"] == 1.0
        assert client.get("/gptge/v1/videos").status_code in (429, 500)


def test_jobs_filters_and_limit(mock: SoraMock) -> None:
    with http(mock) as client:
        for prompt in ("one", "two"):
            client.post(
                "/vtrix/model/v1/generation", json={"model": "sora_2_pro_i2v", "prompt": prompt}
            )
        client.post(
            "/vtrix/model/v1/generation",
            json={"model": "sora_2_pro_i2v", "prompt": "three"},
            headers={"X-Mock-Scenario": "generation_failed"},
        )
        mock.advance(60)
        failed = client.get("/__mock/jobs", params={"status": "failed"}).json()
        newest = client.get("/__mock/jobs", params={"limit": 2, "order": "desc"}).json()
        gptge = client.get("/__mock/jobs", params={"provider": "gptge"}).json()
        all_three = client.get("/__mock/jobs", params={"limit": 3}).json()
        vtrix_newest = client.get(
            "/__mock/jobs", params={"provider": "vtrix", "limit": 1, "order": "desc"}
        ).json()
        rest = client.get("/__mock/jobs", params={"after": newest["next_after"], "order": "desc"})
    assert [j["prompt"] for j in failed["data"]] == ["three"] and not failed["has_more"]
    assert failed["data"][0]["scenario"] == "generation_failed"
    assert [j["prompt"] for j in newest["data"]] == ["three", "two"] and newest["has_more"]
    assert [j["prompt"] for j in rest.json()["data"]] == ["one"]
    assert [j["prompt"] for j in all_three["data"]] == ["one", "two", "three"]
    assert not all_three["has_more"]
    assert [j["prompt"] for j in vtrix_newest["data"]] == ["three"] and vtrix_newest["has_more"]
    assert gptge == {"data": [], "has_more": False, "next_after": None}


def test_help_lists_scenarios_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])
    text = capsys.readouterr().out
    from mockserver.state.faults import Scenario

    for scenario in Scenario:
        assert scenario.value in text
    flat = " ".join(text.split())  # however the help wraps
    for default in ("(default: 127.0.0.1)", "(default: 8000)", "(default: text)"):
        assert default in flat
