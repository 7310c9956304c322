"""What the mock writes down of each request (mockserver.http.exchange): the ``x-request-id``
header, the journal entry (provider requests only) and the console line, with the sender's
``X-Mock-Client`` cleaned and every credential it sent masked; request ids unique per worker."""

from __future__ import annotations

import io
import json
import os
import re
from typing import Any

import pytest
from flask import Flask
from providers import APIS

from mockserver.http import exchange
from mockserver.http.app import create_app
from mockserver.http.console import RequestLog
from mockserver.http.exchange import caller_of, masking
from mockserver.testing import CLOCK_START, SoraMock, test_config

KEY = "sk-records-0123456789"


def journal(app: Flask) -> list[dict[str, Any]]:
    return app.test_client().get("/__mock/journal").json["data"]


class Console(io.StringIO):
    """A console's stream that waits for its writer thread before it is read."""

    log: RequestLog

    def getvalue(self) -> str:
        assert self.log.flush()
        return super().getvalue()


def with_console(**config: Any) -> tuple[Flask, io.StringIO]:
    app = create_app(test_config(**config))
    out = Console()
    out.log = app.extensions["sora_mock_console"] = RequestLog("json", out)
    return app, out


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]


# -- the sender -------------------------------------------------------------------------------


def test_the_client_header_is_cleaned_and_cut_to_40() -> None:
    assert caller_of({"HTTP_X_MOCK_CLIENT": " my script/1.0 (x) "})[0] == "my_script_1.0_x_"
    assert caller_of({"HTTP_X_MOCK_CLIENT": "a" * 50})[0] == "a" * 40
    assert caller_of({"HTTP_X_MOCK_CLIENT": "dashboard"})[0] == "dashboard"
    assert caller_of({"HTTP_X_MOCK_CLIENT": ""})[0] is None
    assert caller_of({"HTTP_X_MOCK_CLIENT": "  "})[0] is None
    assert caller_of({})[0] is None


def test_every_credential_header_is_a_secret_with_and_without_its_scheme() -> None:
    environ = {
        "HTTP_AUTHORIZATION": " Bearer sk-one ",
        "HTTP_X_API_KEY": "two",
        "HTTP_API_KEY": "Token three",
        "HTTP_PROXY_AUTHORIZATION": "Basic Zm9v",
        "HTTP_COOKIE": "not=one",
    }
    assert caller_of(environ)[1] == (
        "Bearer sk-one",
        "sk-one",
        "two",
        "Token three",
        "three",
        "Basic Zm9v",
        "Zm9v",
    )


def test_a_value_whose_first_word_is_no_scheme_stays_whole() -> None:
    assert caller_of({"HTTP_AUTHORIZATION": "sk-1 2"})[1] == ("sk-1 2",)
    assert caller_of({"HTTP_AUTHORIZATION": "Bearer  "})[1] == ("Bearer",)
    assert caller_of({"HTTP_AUTHORIZATION": "Bearer"})[1] == ("Bearer",)


def test_an_exchange_begun_takes_the_sender_noted_at_the_edge() -> None:
    token = exchange.enter({"HTTP_X_MOCK_CLIENT": "ci", "HTTP_AUTHORIZATION": "Bearer k"})
    try:
        begun = exchange.begin()
        assert exchange.current() is begun
        assert begun.client == "ci"
        assert begun.secrets == ("Bearer k", "k")
        exchange.note_error("refused")
        assert begun.error == "refused"
        assert exchange.end() is begun
        assert exchange.current() is None
    finally:
        exchange.leave(token)
    assert exchange.begin().client is None
    exchange.end()


def test_an_exchange_never_begun_ends_as_a_fresh_one_and_notes_nothing() -> None:
    exchange.note_error("nobody listens")  # no exchange: nothing to note, no error
    fresh = exchange.end()
    assert fresh.error is None and fresh.client is None
    assert fresh.request_id.startswith("req_")


# -- request ids ------------------------------------------------------------------------------


def test_request_ids_are_distinct_and_hex() -> None:
    ids = {exchange.new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    for request_id in ids:
        assert re.fullmatch(r"req_[0-9a-f]{8}[0-9a-f]{16}", request_id)


def test_a_renewed_generator_draws_a_new_prefix() -> None:
    ids = exchange._RequestIds()
    first = ids()
    assert first.startswith(ids.prefix) and len(first) == len("req_") + 8 + 16
    before = ids.prefix
    ids.renew()  # a new random prefix (the same one once in 2**32)
    assert ids.prefix != before
    assert ids().startswith(ids.prefix)


def test_a_forked_worker_draws_its_own_prefix() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first id
        os.write(write, exchange.new_request_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child.startswith("req_")
    assert child[:12] != exchange.new_request_id()[:12]


# -- finish: the header, the journal, the console -----------------------------------------------


def test_each_answer_carries_its_request_id_and_the_journal_names_it() -> None:
    app = create_app(test_config())
    answer = app.test_client().get(
        "/gptge/v1/videos/video_x", headers={"Authorization": "Bearer k"}
    )
    request_id = answer.headers["x-request-id"]
    assert request_id.startswith("req_")
    (entry,) = journal(app)
    assert entry["request_id"] == request_id
    assert entry["method"] == "GET"
    assert entry["path"] == "/gptge/v1/videos/video_x"
    assert entry["provider"] == "gptge"
    assert entry["status"] == 404
    assert entry["time"] == CLOCK_START
    assert 0 <= entry["latency_ms"] < 60_000
    assert entry["error"] == answer.json["error"]["message"]


def test_a_provider_read_names_the_job_of_its_path() -> None:
    app = create_app(test_config())
    app.test_client().get("/gptge/v1/videos/video_named", headers={"Authorization": "Bearer k"})
    (entry,) = journal(app)
    assert entry["job_id"] == "video_named"
    assert entry["operation"] == "getVideo"


def test_a_success_has_no_error_and_admin_requests_are_not_journalled() -> None:
    app = create_app(test_config())
    api = APIS["gptge-videos"]
    with SoraMock(app).client("gptge") as client:
        created = api.create(client, {"Authorization": "Bearer k"})
    assert created.status_code == 200
    app.test_client().get("/__mock/jobs/nothing")
    (entry,) = journal(app)
    assert entry["status"] == 200 and entry["error"] is None
    assert entry["job_id"] == created.json()["id"]
    assert entry["key"].startswith("key_")


def test_no_retry_after_drops_the_header() -> None:
    headers = {"Authorization": "Bearer k", "X-Mock-Scenario": "rate_limited"}
    on = create_app(test_config()).test_client().get("/gptge/v1/videos", headers=headers)
    assert on.status_code == 429 and "Retry-After" in on.headers
    off_app = create_app(test_config(retry_after=False))
    off = off_app.test_client().get("/gptge/v1/videos", headers=headers)
    assert off.status_code == 429 and "Retry-After" not in off.headers


def test_the_console_line_holds_what_the_journal_holds() -> None:
    app, out = with_console()
    app.test_client().get(
        "/gptge/v1/videos/video_c",
        headers={
            "Authorization": "Bearer k",
            "X-Mock-Client": "my ci",
            "X-Mock-Scenario": "forbidden",
        },
    )
    (line,) = lines(out)
    (entry,) = journal(app)
    assert line["method"] == "GET" and line["path"] == "/gptge/v1/videos/video_c"
    assert line["status"] == entry["status"]
    assert line["provider"] == "gptge"
    assert line["job_id"] == "video_c"
    assert line["error"] == entry["error"]
    assert line["client"] == "my_ci" == entry["client"]
    assert line["scenario"] == "forbidden" == entry["scenario"]
    assert line["latency_ms"] == entry["latency_ms"]


def test_an_admin_request_is_on_the_console_without_a_provider() -> None:
    app, out = with_console()
    app.test_client().get("/__mock/jobs/nothing")
    (line,) = lines(out)
    assert line["provider"] is None
    assert line["status"] == 404
    assert line["error"] == "no job 'nothing'"


def test_metrics_count_each_answer_by_provider_operation_and_status() -> None:
    app = create_app(test_config())
    app.test_client().get("/gptge/v1/videos/video_m", headers={"Authorization": "Bearer k"})
    text = app.test_client().get("/metrics").get_data(as_text=True)
    counted = [
        line
        for line in text.splitlines()
        if line.startswith("sora_mock_requests_total{") and 'provider="gptge"' in line
    ]
    assert any('operation="getVideo"' in line and 'status="404"' in line for line in counted)


# -- masking --------------------------------------------------------------------------------


def test_a_key_sent_in_the_path_is_masked_in_the_journal_and_on_the_console() -> None:
    app, out = with_console()
    answer = app.test_client().get(
        f"/gptge/v1/videos/{KEY}", headers={"Authorization": f"Bearer {KEY}"}
    )
    assert answer.status_code in (400, 404)
    (entry,) = journal(app)
    (line,) = lines(out)
    for text in (json.dumps(entry), json.dumps(line)):
        assert KEY not in text
    assert "[REDACTED]" in entry["path"]
    assert entry["job_id"] is None or KEY not in entry["job_id"]


def test_a_configured_key_is_masked_though_the_request_sent_another() -> None:
    app = create_app(test_config(api_keys=("plainsecretvalue",)))
    app.test_client().get(
        "/gptge/v1/videos/plainsecretvalue", headers={"Authorization": "Bearer other"}
    )
    (entry,) = journal(app)
    assert "plainsecretvalue" not in json.dumps(entry)


def test_plain_texts_are_passed_through_untouched() -> None:
    mask = masking(("s3cret",))
    assert mask(None) is None
    assert mask("") == ""
    assert mask("/gptge/v1/videos/video_1") == "/gptge/v1/videos/video_1"
    assert mask("/x/s3cret") == "/x/[REDACTED]"
    assert "sk-abcdefghijklmnopqrstuvwx" not in (mask("key sk-abcdefghijklmnopqrstuvwx") or "")
    assert mask("a.b") == "a.b"  # no pattern matches: handed back as it was


@pytest.mark.parametrize("text", ["a b", "x=1", "a:b", "u@h", "a.b.c"])
def test_texts_a_pattern_could_match_go_through_the_redaction(text: str) -> None:
    seen: list[str] = []
    from mockserver.conformance import redaction

    class Spy(redaction.Redactor):
        def text(self, value: str) -> str:
            seen.append(value)
            return super().text(value)

    original = redaction.Redactor
    redaction.Redactor = Spy  # type: ignore[misc]
    try:
        mask = masking(())
        mask(text)
        mask(text)
    finally:
        redaction.Redactor = original  # type: ignore[misc]
    assert seen == [text, text]


# -- what the first round of mutation testing showed -------------------------------------------


def test_what_a_request_carried_is_kept_without_its_credentials() -> None:
    app = create_app(test_config())
    api = APIS["gptproto-v3"]
    with SoraMock(app).client("gptproto") as client:
        api.create(client, {"Authorization": f"Bearer {KEY}"})
    (record,) = app.test_client().get("/__mock/requests").json["data"]
    assert record["fields"]["prompt"] == "She turns around and smiles"
    assert KEY not in json.dumps(record)


def test_a_credential_of_several_words_is_a_secret_after_its_scheme() -> None:
    assert caller_of({"HTTP_AUTHORIZATION": "Bearer two words"})[1] == (
        "Bearer two words",
        "two words",
    )


def test_without_retry_after_an_answer_that_has_none_is_fine() -> None:
    app = create_app(test_config(retry_after=False))
    answer = app.test_client().get("/gptge/v1/videos", headers={"Authorization": "Bearer k"})
    assert answer.status_code == 200


def test_the_dashboards_own_requests_stay_off_the_console() -> None:
    app, out = with_console()
    app.test_client().get(
        "/gptge/v1/videos", headers={"Authorization": "Bearer k", "X-Mock-Client": "dashboard"}
    )
    app.test_client().get("/gptge/v1/videos", headers={"Authorization": "Bearer k"})
    assert [line.get("client") for line in lines(out)] == [None]


def test_a_path_that_only_starts_like_a_provider_is_not_journalled() -> None:
    app = create_app(test_config())
    app.test_client().get("/Xgptge/v1/videos")
    assert journal(app) == []


def finished(
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    *,
    elapsed: float = 0.0,
    error: str | None = None,
    path_values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The journal entry ``finish`` writes for an exchange begun at 10.0 s and ended
    ``elapsed`` seconds later (the performance counter stands still otherwise)."""
    from werkzeug.wrappers import Response

    app = create_app(test_config())
    service = app.extensions["sora_mock"]
    begun = exchange.Exchange(started=10.0, operation="getVideo", error=error)
    monkeypatch.setattr(exchange.time, "perf_counter", lambda: 10.0 + elapsed)
    exchange.finish(
        service, None, begun, "GET", "/gptge/v1/videos/v", Response("{}", status), path_values
    )
    monkeypatch.undo()
    (entry,) = service.journal()
    return entry


def test_the_latency_is_in_milliseconds_to_the_microsecond(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert finished(monkeypatch, 200, elapsed=0.0123456)["latency_ms"] == 12.346
    assert finished(monkeypatch, 200, elapsed=2.5)["latency_ms"] == 2500.0


def test_an_error_message_is_kept_for_an_error_status_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert finished(monkeypatch, 400, error="bad")["error"] == "bad"
    assert finished(monkeypatch, 401, error="who")["error"] == "who"
    assert finished(monkeypatch, 399, error="odd")["error"] is None
    assert finished(monkeypatch, 200, error="noted on the way")["error"] is None


def test_only_a_text_path_value_names_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    assert finished(monkeypatch, 200, path_values={"video_id": "video_9"})["job_id"] == "video_9"
    assert finished(monkeypatch, 200, path_values={"n": 5})["job_id"] is None


def test_the_metrics_count_answers_by_scenario() -> None:
    app = create_app(test_config())
    app.test_client().get(
        "/gptge/v1/videos", headers={"Authorization": "Bearer k", "X-Mock-Scenario": "forbidden"}
    )
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert any(
        line.startswith("sora_mock_requests_total{") and 'scenario="forbidden"' in line
        for line in text.splitlines()
    )


def test_a_key_in_an_otherwise_plain_path_is_masked() -> None:
    mask = masking(())
    masked = mask("/gptge/v1/videos/sk-abcdefghijklmnopqrstuvwx") or ""
    assert "sk-abcdefghijklmnopqrstuvwx" not in masked
    assert masked.startswith("/gptge/v1/videos/")


def test_every_generator_names_its_ids_req() -> None:
    ids = exchange._RequestIds()
    assert ids.prefix.startswith("req_")
    assert ids().startswith("req_")


def test_an_answer_that_names_its_own_request_id_keeps_it_and_the_journal_says_it() -> None:
    from werkzeug.wrappers import Response

    app = create_app(test_config())
    service = app.extensions["sora_mock"]
    begun = exchange.Exchange(operation="getVideo")
    answer = Response("{}", 200, headers={"X-Request-Id": "req_given", "Retry-After": "1"})
    exchange.finish(service, None, begun, "GET", "/gptge/v1/videos/v", answer)
    assert answer.headers.getlist("x-request-id") == ["req_given"]
    (entry,) = service.journal()
    assert entry["request_id"] == "req_given"
    fresh = Response("{}", 200, headers={"X-Request": "not it"})
    exchange.finish(service, None, exchange.Exchange(request_id="req_new"), "GET", "/x", fresh)
    assert fresh.headers.to_wsgi_list()[-1] == ("x-request-id", "req_new")


def _entry_of(begun: exchange.Exchange, path: str, status: int = 200) -> dict[str, Any]:
    """The journal entry ``finish`` writes for ``begun`` answered ``status`` at ``path``."""
    from werkzeug.wrappers import Response

    app = create_app(test_config(api_keys=(KEY,)))
    service = app.extensions["sora_mock"]
    exchange.finish(service, None, begun, "GET", path, Response("{}", status))
    (entry,) = service.journal()
    return entry


@pytest.mark.parametrize(
    ("path", "error", "job_id"),
    [
        (f"/gptge/v1/videos/{KEY}", None, "video_plain"),  # only the path holds the key
        ("/gptge/v1/videos/video_plain", f"no job {KEY}", None),  # only the error
        ("/gptge/v1/videos/video_plain", None, KEY),  # only the job the handler noted
    ],
)
def test_each_text_of_an_entry_is_masked_though_the_others_are_plain(
    path: str, error: str | None, job_id: str | None
) -> None:
    begun = exchange.Exchange(operation="getVideo", error=error, job_id=job_id)
    entry = _entry_of(begun, path, 404)
    assert KEY not in json.dumps(entry)
    assert entry["path"].startswith("/gptge/v1/videos/")


def test_an_entry_of_a_read_at_one_instant_has_that_instants_time() -> None:
    entry = _entry_of(exchange.Exchange(operation="getVideo", now=123.5), "/gptge/v1/videos/v")
    assert entry["time"] == 123.5  # (the service's clock says CLOCK_START)
    assert entry["operation"] == "getVideo"


def test_the_prefixes_and_the_entry_type_are_found_on_first_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mockserver.providers.errors import PREFIX_ERRORS
    from mockserver.state.journal import JournalEntry

    monkeypatch.setattr(exchange, "_PREFIXES", None)
    monkeypatch.setattr(exchange, "_ENTRY", None)
    entry = _entry_of(exchange.Exchange(operation="getVideo"), "/gptge/v1/videos/v")
    assert entry["provider"] == "gptge"
    assert exchange._PREFIXES is PREFIX_ERRORS and exchange._ENTRY is JournalEntry


def test_a_plain_text_is_known_plain_without_the_redaction() -> None:
    plain = exchange._plain
    assert plain(None, ()) and plain("", ("k",))
    assert plain("/gptge/v1/videos/video_1-a~b", ("s3cret",))
    assert not plain("/v1/videos/s3cret", ("s3cret",))
    assert not plain("/v1/videos/sk-1", ())
    assert not plain("/v1/videos/a.b", ())
