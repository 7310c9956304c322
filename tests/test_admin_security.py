"""Who the mock answers, what the admin API takes from whom, how much it keeps, what it writes.

In-process (each test builds its app, ~40 ms): the Host check (guard.HostCheck,
hosts.HostPolicy), the cross-origin rule of state-changing admin calls
(guard.cross_origin_refusal), the uploads' quota (MockService.store_file), keys masked in the
console, journal and stores (exchange.finish), and the dashboard's own requests marked
(X-Mock-Client). The same rules in a real Chromium: tests/test_admin_security_browser.py.
"""

from __future__ import annotations

import io
import json
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from PIL import Image

from mockserver.http.app import create_app, service_of
from mockserver.http.console import RequestLog
from mockserver.http.hosts import HostPolicy, host_name
from mockserver.testing import SoraMock, test_config
from tests.client_helpers import png

#: a key not shaped like any known secret (no `sk-`, no scheme): only its literal can be masked
PLAIN_KEY = "Q7wz0aLmN3pX9vB2cR5tY8uE1iO4kJ6hG0fD3sA7"
assert len(PLAIN_KEY) == 40 and set(PLAIN_KEY) <= set(string.ascii_letters + string.digits)
SK_KEY = "sk-canary0123456789abcdef"
JOB = {"model": "sora_2_pro_i2v", "prompt": "a cat"}


def http(app: Flask, base: str = "http://127.0.0.1:8000", **headers: str) -> httpx.Client:
    return httpx.Client(
        base_url=base, transport=httpx.WSGITransport(app=app), headers=headers, timeout=10.0
    )


def create(client: httpx.Client, **extra: Any) -> str:
    created = client.post(
        "/vtrix/model/v1/generation", json=JOB | extra, headers={"Authorization": "Bearer sk-a"}
    )
    assert created.status_code == 200, created.text
    job_id: str = created.json()["id"]
    return job_id


def jobs(client: httpx.Client) -> int:
    return len(client.get("/__mock/jobs").json()["data"])


# ------------------------------------------------------------------ Host


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:8000",
        "localhost:8000",
        "LOCALHOST.:8000",
        "[::1]:8000",
        "app.localhost",
        "192.168.1.20:8000",  # an address: never a rebinding page's
        "[fe80::1]",
        "sora-mock.test",  # reserved top-level domains: no public DNS answers them
        "mock.example:9000",
        "ci.invalid",
        "mock.internal:8000",  # --allowed-host mock.internal
        "a.b.corp.lan",  # --allowed-host .corp.lan
        "corp.lan",
        "10.1.2.3",
    ],
)
def test_a_host_the_mock_knows_is_answered(host: str) -> None:
    policy = HostPolicy("0.0.0.0", ("mock.internal", ".corp.lan"))
    assert host in policy


@pytest.mark.parametrize(
    "host",
    [
        "attacker.net",
        "attacker.net:8000",
        "127.0.0.1.attacker.net",  # an address as a label of a name is a name
        "localhost.attacker.net",
        "mock.internal.attacker.net",
        "xcorp.lan",  # .corp.lan is a domain, not a suffix of any text
        "evil.com@127.0.0.1",
        "",
    ],
)
def test_any_other_host_is_refused(host: str) -> None:
    policy = HostPolicy("0.0.0.0", ("mock.internal", ".corp.lan"))
    assert host not in policy
    assert host in HostPolicy(None, ("*",))


def test_the_bind_address_and_host_names_parse_as_a_browser_writes_them() -> None:
    assert host_name("[::1]:8000") == "::1"
    assert host_name("Mock.Test.:80") == "mock.test"
    assert "devbox.lan:8000" in HostPolicy("devbox.lan")
    assert "devbox.lan:8000" not in HostPolicy("127.0.0.1")


@pytest.fixture(scope="module")
def app() -> Flask:
    return create_app(test_config())


@pytest.fixture
def mock(app: Flask) -> Iterator[SoraMock]:
    mock = SoraMock(app)
    mock.reset()
    yield mock


@pytest.mark.parametrize(
    ("method", "path", "shape"),
    [
        # the poll lane's path (a status read) as well as Flask's
        ("GET", "/vtrix/model/v1/generation/task/{job}", "vtrix"),
        ("GET", "/gptge/v1/videos", "openai"),
        ("POST", "/gptge/v1/videos", "openai"),
        ("GET", "/__mock/jobs", "admin"),
        ("GET", "/__mock/jobs/{job}", "admin"),
        ("POST", "/__mock/reset", "admin"),
        ("GET", "/", "admin"),
    ],
)
def test_a_rebinding_page_gets_nothing_from_any_path(
    mock: SoraMock, method: str, path: str, shape: str
) -> None:
    with http(mock.app) as own:
        job = create(own)
    headers = {"Authorization": "Bearer sk-a", "X-Mock-Client": "x", "Accept": "*/*"}
    with http(mock.app, "http://attacker.net:8000", **headers) as page:
        answer = page.request(method, path.format(job=job))
    assert answer.status_code == 421, answer.text
    body = answer.json()
    message = {
        "vtrix": lambda: body["error"]["error_message"],
        "openai": lambda: body["error"]["message"] if body["error"]["type"] else None,
        "admin": lambda: body["error"]["message"] if body["error"]["type"] == "421" else None,
    }[shape]()
    assert "attacker.net" in message and "--allowed-host" in message
    assert "sora_2_pro_i2v" not in answer.text and "a cat" not in answer.text
    with http(mock.app) as own:
        assert jobs(own) == 1  # nothing was reset
        entries = own.get("/__mock/journal").json()["data"]
    if shape != "admin":  # journalled like any provider answer
        assert (entries[-1]["path"], entries[-1]["status"]) == (path.format(job=job), 421)


def test_a_providers_own_host_pointed_at_the_mock_is_answered() -> None:
    """``/etc/hosts`` (or a respx route) sending ``api.gpt.ge`` to the mock."""
    app = create_app(test_config())
    for base in ("https://api.gpt.ge", "https://gptproto.com", "https://cloud.vtrix.ai"):
        with http(app, base) as client:
            assert client.get("/__mock/health").status_code == 200, base
    with http(app, "https://api.gpt.ge.attacker.net") as client:
        assert client.get("/__mock/health").status_code == 421


def test_allowed_host_names_more_hosts() -> None:
    app = create_app(test_config(bind_host="0.0.0.0", allowed_hosts=("mock.internal",)))
    with http(app, "http://mock.internal:8000") as named:
        assert named.get("/__mock/health").status_code == 200
    with http(app, "http://other.internal:8000") as other:
        assert other.get("/__mock/health").status_code == 421
    with http(create_app(test_config(allowed_hosts=("*",))), "http://other.internal") as any_:
        assert any_.get("/__mock/health").status_code == 200


def test_the_cli_passes_allowed_hosts_on() -> None:
    from mockserver import cli

    parser = cli.argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cli._serve_parser(sub)
    args = parser.parse_args(["serve", "--allowed-host", "a.lan", "--allowed-host", ".corp"])
    config = cli.config_from(args)
    assert config.allowed_hosts == ("a.lan", ".corp")
    assert config.files_quota == 1000 and config.files_quota_bytes == 256 * 1024 * 1024
    assert not config.log_dashboard
    args = parser.parse_args(["serve", "--files-quota", "3", "--files-quota-bytes", "1M"])
    assert (cli.config_from(args).files_quota, cli.config_from(args).files_quota_bytes) == (
        3,
        1024 * 1024,
    )
    assert cli.config_from(parser.parse_args(["serve", "--log-dashboard"])).log_dashboard


# ------------------------------------------------------------------ cross-origin changes

OTHER_ORIGIN = "http://127.0.0.1:9999"


@pytest.mark.parametrize(
    ("headers", "body", "allowed"),
    [
        ({"Origin": OTHER_ORIGIN}, None, False),  # fetch(..., {mode: "no-cors"})
        ({"Origin": OTHER_ORIGIN, "Content-Type": "text/plain"}, b"{}", False),
        ({"Origin": OTHER_ORIGIN, "Content-Type": "application/x-www-form-urlencoded"}, b"", False),
        ({"Origin": "null"}, None, False),  # a sandboxed frame, a file: page
        ({}, None, True),  # no Origin: no browser's POST (every browser sends one): curl, a script
        ({"Origin": "http://127.0.0.1:8000"}, None, True),  # the dashboard's own origin
        ({"Origin": OTHER_ORIGIN, "X-Mock-Client": "script"}, None, True),  # needs a preflight
        ({"X-Mock-Client": "curl"}, None, True),
        ({"Content-Type": "application/json"}, b"{}", True),
    ],
)
def test_a_reset_a_page_elsewhere_could_send_is_refused(
    mock: SoraMock, headers: dict[str, str], body: bytes | None, allowed: bool
) -> None:
    with http(mock.app) as own:
        create(own)
        answer = own.post("/__mock/reset", headers=headers, content=body)
        assert answer.status_code == (200 if allowed else 403), answer.text
        assert jobs(own) == (0 if allowed else 1)
    if not allowed:
        error = answer.json()["error"]
        assert error["type"] == "403" and "X-Mock-Client" in error["message"]


def test_every_state_changing_admin_call_follows_the_rule(mock: SoraMock) -> None:
    page = {"Origin": OTHER_ORIGIN, "Content-Type": "text/plain"}
    with http(mock.app) as own:
        for path in ("/__mock/clock/advance", "/__mock/scenarios", "/__mock/files"):
            assert own.post(path, headers=page, content=b"{}").status_code == 403, path
        assert own.post("/__mock/files", headers=page, content=png(8, 8)).status_code == 403
        # not POST: no page can send it across origins without a preflight
        assert own.delete("/__mock/scenarios", headers={"Origin": OTHER_ORIGIN}).status_code == 200
        # reads are free, and no read answer lets another origin in
        read = own.get("/__mock/jobs", headers={"Origin": OTHER_ORIGIN})
        assert read.status_code == 200
        assert not any(h.lower().startswith("access-control-") for h in read.headers)
        assert own.get("/__mock/clock").json()["now"] == mock.now()  # the clock never moved


# ------------------------------------------------------------------ uploads' quota


def upload(client: httpx.Client, data: bytes) -> httpx.Response:
    return client.post("/__mock/files", content=data, headers={"Content-Type": "image/png"})


def distinct(n: int) -> list[bytes]:
    """``n`` different PNGs of the video's size, a couple of hundred bytes each (one palette
    colour each: cheap to encode)."""
    images = []
    for i in range(n):
        image = Image.new("P", (720, 1280), 0)
        image.putpalette([i, 255 - i, 7])
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        images.append(buffer.getvalue())
    return images


def test_uploads_over_the_count_evict_the_oldest_file_no_job_uses() -> None:
    app = create_app(test_config(files_quota=3))
    images = distinct(6)
    with http(app) as client:
        ids = [upload(client, data).json()["id"] for data in images[:3]]
        # a job made from the second file: it stays
        create(client, input_reference=f"http://127.0.0.1:8000/__mock/files/{ids[1]}")
        ids.append(upload(client, images[3]).json()["id"])  # evicts ids[0], the oldest unused
        ids.append(upload(client, images[4]).json()["id"])  # evicts ids[2]; ids[1] is used
        status = {i: client.get(f"/__mock/files/{i}").status_code for i in ids}
    assert status == {ids[0]: 404, ids[1]: 200, ids[2]: 404, ids[3]: 200, ids[4]: 200}
    assert len(service_of(app).store.files()) == 3


def test_uploads_over_the_bytes_evict_first_and_a_full_quota_is_a_413() -> None:
    images = distinct(12)
    size = max(len(d) for d in images)
    app = create_app(test_config(files_quota=1000, files_quota_bytes=4 * size))
    with http(app) as client:
        for data in images:  # many distinct small images: the store never holds more than 4
            assert upload(client, data).status_code == 201
            assert sum(n for _, n in service_of(app).store.files()) <= 4 * size
        held = [key.split(":", 1)[1] for key, _ in service_of(app).store.files()]
        for file_id in held:  # every file left is used by a job: nothing can go
            create(client, input_reference=f"http://127.0.0.1:8000/__mock/files/{file_id}")
        fresh, bigger = distinct(14)[12:]
        refused = upload(client, fresh)
        too_big = upload(client, bigger + b"\0" * (4 * size))
        after = [key.split(":", 1)[1] for key, _ in service_of(app).store.files()]
    assert refused.status_code == 413
    error = refused.json()["error"]
    assert error["type"] == "413" and "--files-quota" in error["message"]
    assert too_big.status_code == 413 and "larger than the files quota" in too_big.text
    assert after == held  # a refusal evicts nothing a job uses


@pytest.mark.parametrize("store", ["memory", "sqlite", "redis"])
def test_the_quota_counts_and_evicts_in_every_store(
    store: str, tmp_path: Path, redis_url: str
) -> None:
    spec = {"memory": "memory", "sqlite": f"sqlite:{tmp_path / 'mock.db'}"}.get(store, redis_url)
    app = create_app(test_config(store=spec, files_quota=2))
    service_of(app).reset()
    with http(app) as client:
        ids = [upload(client, data).json()["id"] for data in distinct(4)]
        assert [client.get(f"/__mock/files/{i}").status_code for i in ids] == [404, 404, 200, 200]
    assert [key for key, _ in service_of(app).store.files()] == [f"file:{i}" for i in ids[2:]]
    service_of(app).reset()
    assert service_of(app).store.files() == []


# ------------------------------------------------------------------ keys masked


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    from mockserver.testing import redis_server

    try:
        with redis_server() as url:
            yield url
    except RuntimeError as exc:
        pytest.skip(str(exc))


def leaks(app: Flask, console: io.StringIO, *keys: str) -> dict[str, list[str]]:
    """Where any of ``keys`` (or its URL-escaped form) is written: the console, the journal
    (admin API), the store's files (every byte on disk) or Redis (every value)."""
    service = service_of(app)
    service.journal_writer.flush()
    with http(app) as client:
        journal = client.get("/__mock/journal", params={"limit": 1000}).text
    places = {"console": console.getvalue().encode(), "journal": journal.encode()}
    store = service.config.store
    if store.startswith("sqlite:"):
        base = Path(store[len("sqlite:") :])
        for path in base.parent.iterdir():
            if path.is_file():
                places[path.name] = path.read_bytes()
            elif path.is_dir():
                for inner in path.rglob("*"):
                    if inner.is_file():
                        places[str(inner)] = inner.read_bytes()
    redis_client = getattr(service.store, "redis", None)
    if redis_client is not None:
        for name in redis_client.scan_iter("*"):
            kind = redis_client.type(name)
            if kind == b"string":
                values = [redis_client.get(name)]
            elif kind == b"list":
                values = redis_client.lrange(name, 0, -1)
            elif kind == b"zset":
                values = redis_client.zrange(name, 0, -1)
            elif kind == b"hash":
                values = [*redis_client.hkeys(name), *redis_client.hvals(name)]
            else:
                values = [name]
            places[f"redis {name!r}"] = b"\n".join([name, *values])
    return {key: [where for where, data in places.items() if key.encode() in data] for key in keys}


def _misplaced_keys(app: Flask, key: str) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    with http(app) as client:
        assert client.get(f"/gptge/v1/{key}/videos", headers=auth).status_code == 404
        assert client.get(f"/gptge/v1/videos/{key}", headers=auth).status_code == 404
        assert client.get(f"/vtrix/model/v1/generation/task/{key}", headers=auth).status_code == 404
        scenario = client.get("/gptge/v1/videos", headers=auth | {"X-Mock-Scenario": key})
        assert scenario.status_code == 400 and "unknown scenario" in scenario.text
        # the client's answer names what it sent (it is the client's own key)
        assert key in scenario.text
    # a key-shaped text the request's credentials do not name: the generic patterns
    with http(app, Authorization="Bearer sk-a") as client:
        client.get(f"/gptge/v1/{SK_KEY}/videos")
        client.get("/gptge/v1/videos", headers={"X-Mock-Scenario": SK_KEY})


@pytest.mark.parametrize("store", ["memory", "sqlite", "redis"])
def test_a_key_in_the_path_or_the_scenario_header_is_written_nowhere(
    store: str, tmp_path: Path, redis_url: str
) -> None:
    spec = {"memory": "memory", "sqlite": f"sqlite:{tmp_path / 'mock.db'}", "redis": redis_url}
    app = create_app(test_config(store=spec[store], log_format="text"))
    service_of(app).reset()
    console = io.StringIO()
    app.extensions["sora_mock_console"] = RequestLog("text", console)
    _misplaced_keys(app, PLAIN_KEY)
    assert app.extensions["sora_mock_console"].flush()
    found = leaks(app, console, PLAIN_KEY, SK_KEY)
    assert found == {PLAIN_KEY: [], SK_KEY: []}
    # what was written is still the request, masked
    assert console.getvalue().count("[REDACTED]") >= 6
    entries = service_of(app).journal()
    assert [e["status"] for e in entries] == [404, 404, 404, 400, 404, 400]
    assert entries[0]["path"] == "/gptge/v1/[REDACTED]/videos"
    assert entries[1]["job_id"] == "[REDACTED]"
    assert "unknown scenario '[REDACTED]'" in entries[3]["error"]


def test_a_configured_key_is_masked_even_when_the_request_sends_another() -> None:
    app = create_app(test_config(api_keys=(PLAIN_KEY,)))
    with http(app) as client:
        client.get(f"/gptge/v1/videos/{PLAIN_KEY}", headers={"Authorization": "Bearer other"})
    entries = service_of(app).journal()
    assert PLAIN_KEY not in json.dumps(entries)


# ------------------------------------------------------------------ the dashboard's own


def test_the_dashboards_own_requests_are_marked_and_off_the_console() -> None:
    app = create_app(test_config())
    console = io.StringIO()
    app.extensions["sora_mock_console"] = RequestLog("json", console)
    with http(app) as client:
        job = create(client)
        status = f"/vtrix/model/v1/generation/task/{job}"
        auth = {"Authorization": "Bearer sk-a"}
        client.get(status, headers=auth | {"X-Mock-Client": "dashboard"})  # the poll lane
        client.get("/gptge/v1/videos", headers=auth | {"X-Mock-Client": "dash board\n!"})
        client.get(status, headers=auth)
    entries = service_of(app).journal()
    assert [e["client"] for e in entries] == [None, "dashboard", "dash_board_", None]
    assert app.extensions["sora_mock_console"].flush()
    lines = [json.loads(line) for line in console.getvalue().splitlines()]
    assert [(line["path"], line["client"]) for line in lines] == [
        ("/vtrix/model/v1/generation", None),
        ("/gptge/v1/videos", "dash_board_"),
        (status, None),
    ]


def test_log_dashboard_shows_them_tagged() -> None:
    app = create_app(test_config())
    console = io.StringIO()
    app.extensions["sora_mock_console"] = RequestLog("text", console, show_dashboard=True)
    with http(app, **{"X-Mock-Client": "dashboard"}) as client:
        client.get("/gptge/v1/videos", headers={"Authorization": "Bearer sk-a"})
    assert app.extensions["sora_mock_console"].flush()
    assert "/gptge/v1/videos" in console.getvalue() and "(dashboard)" in console.getvalue()


# ------------------------------------------------------------------ a served mock, end to end


def test_served_mock_masks_keys_and_answers_only_its_names(tmp_path: Path) -> None:
    """``sora-mock serve`` (two workers, a SQLite store): the whole console output and every
    byte the store wrote hold no key; a foreign Host is a 421 unless ``--allowed-host``
    names it; a reset a page on another origin could send is a 403, a bare
    ``curl -X POST .../reset`` (no Origin: no browser's) a 200."""
    from tests.served import served, stop

    db = tmp_path / "store" / "mock.db"
    db.parent.mkdir()
    args = ["--store", f"sqlite:{db}", "--allowed-host", "mock.internal", "--clock", "virtual"]
    with served(*args, workers=2) as server:
        auth = {"Authorization": f"Bearer {PLAIN_KEY}"}
        with httpx.Client(base_url=server.url, timeout=30.0) as client:
            assert client.get(f"/gptge/v1/{PLAIN_KEY}/videos", headers=auth).status_code == 404
            scenario = client.get("/gptge/v1/videos", headers=auth | {"X-Mock-Scenario": PLAIN_KEY})
            assert scenario.status_code == 400
            journal = client.get("/__mock/journal").json()["data"]  # read: written by now
            stored = b"".join(p.read_bytes() for p in db.parent.rglob("*") if p.is_file())
            foreign = client.get("/__mock/health", headers={"Host": "attacker.net"})
            named = client.get("/__mock/health", headers={"Host": "mock.internal:80"})
            page = client.post("/__mock/reset", headers={"Origin": "http://attacker.net"})
            bare = client.post("/__mock/reset")
        stop(server)
        output = "".join(server.output)
    assert [e["status"] for e in journal] == [404, 400]
    assert "[REDACTED]" in journal[0]["path"] and "[REDACTED]" in journal[1]["error"]
    assert (foreign.status_code, named.status_code) == (421, 200)
    assert (page.status_code, bare.status_code) == (403, 200)
    assert "--allowed-host" in foreign.json()["error"]["message"]
    assert "[REDACTED]" in output and "/__mock/reset" in output  # the lines were written
    assert b"[REDACTED]" in stored  # the journal entries are in the store's files
    assert PLAIN_KEY not in output and PLAIN_KEY not in json.dumps(journal)
    assert PLAIN_KEY.encode() not in stored
