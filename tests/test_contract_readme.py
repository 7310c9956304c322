"""contracts/README.md tells the truth about itself.

- Every row's **source** uses the README's four words, and a row that says a document prints
  something quotes it: the quote is looked up in that document, character for character.
- Every row of "What the mock adds that no document states" is a behaviour the mock has: each
  row has a test here, named in ``ROWS``, that drives the mock and checks what the row says.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from providers import APIS, data_url, png

from mockserver.http.app import create_app
from mockserver.testing import SoraMock, test_config

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "contracts" / "README.md"
SOURCES = ROOT / "contracts" / "sources"
ADDED = "### What the mock adds that no document states"
SOURCE_WORD = re.compile(
    r"^(printed: doc (\d{3})|inferred: doc (\d{3})|outside: [^+]+|mock's choice)$"
)
#: a quote long enough to say something ("completed" alone would prove nothing)
MIN_QUOTE = 12
HEADERS = {"Authorization": "Bearer sk-test"}


def _norm(text: str) -> str:
    return " ".join(text.split())


def _document(number: str) -> str:
    (path,) = SOURCES.glob(f"{number}_*.txt")
    return _norm(path.read_text(encoding="utf-8"))


def _tables(text: str) -> Iterator[tuple[str, list[str], list[str]]]:
    """(section heading, header cells, row cells) for every table row of the README."""
    section, header = "", None
    for line in text.splitlines():
        if line.startswith("#"):
            section, header = line, None
            continue
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if header is None:
            header = cells
        elif not set(line) <= set("|-: "):
            yield section, header, cells


def _sourced_rows() -> list[tuple[str, str, str, str]]:
    """(section, first cell, source, evidence) of every row of a table with a source column."""
    rows = []
    for section, header, cells in _tables(README.read_text(encoding="utf-8")):
        if "source" in header:
            at = header.index("source")
            rows.append(
                (section, cells[0], cells[at], cells[at + 1] if at + 1 < len(cells) else "")
            )
    return rows


def _quotes(evidence: str) -> list[str]:
    """What the evidence quotes: "…" and `…` spans (pieces of an ellipsis each on their own)."""
    spans = re.findall(r'"([^"`]+)"', evidence) + re.findall(r"`([^`]+)`", evidence)
    return [part.strip() for span in spans for part in span.split("…")]


def test_the_readme_has_sourced_rows_in_every_provider_section() -> None:
    sections = {section for section, *_ in _sourced_rows()}
    for name in ("gptproto-v3", "gptproto-videos", "gptproto-chat", "gptge-videos", "vtrix"):
        assert any(name in s for s in sections), name
    assert any(ADDED in s for s in sections)


@pytest.mark.parametrize(
    ("section", "row", "source", "evidence"),
    [
        pytest.param(*row, id=f"{row[0].lstrip('# ').split(' (')[0]}/{row[1][:40]}")
        for row in _sourced_rows()
    ],
)
def test_every_row_says_where_it_comes_from(
    section: str, row: str, source: str, evidence: str
) -> None:
    parts = [p.strip() for p in source.split(" + ")]
    for part in parts:
        assert SOURCE_WORD.match(part), f"{section} / {row}: {part!r} is not one of the words"
    for part in parts:
        printed = re.fullmatch(r"printed: doc (\d{3})", part)
        if printed is None:
            continue
        document = _document(printed.group(1))
        found = [q for q in _quotes(evidence) if len(q) >= MIN_QUOTE and _norm(q) in document]
        assert found, (
            f"{section} / {row}: labelled {part!r}, but no quote of {MIN_QUOTE}+ characters in "
            f"its evidence is in that document: {_quotes(evidence)}"
        )


def test_a_misquote_is_caught() -> None:
    """The check above is a real check: a paraphrase is not a quote."""
    document = _document("000")
    assert _norm("Only sora-2-pro supports high-definition (large)") in document
    assert _norm("Only sora-2-pro supports HD (large)") not in document
    assert not SOURCE_WORD.match("F")
    assert not SOURCE_WORD.match("printed in the RFC")


# ---------------------------------------------------------------- behaviours the mock adds


@pytest.fixture(scope="module")
def mock() -> SoraMock:
    return SoraMock(create_app(test_config(rate_limit_rpm=None)))


def _create(mock: SoraMock, api: str, **kwargs: object) -> httpx.Response:
    spec = APIS[api]
    with mock.client(spec.provider) as client:
        return spec.create(client, HEADERS, **kwargs)


def _read(mock: SoraMock, api: str, job_id: str) -> httpx.Response:
    spec = APIS[api]
    with mock.client(spec.provider) as client:
        return client.get(spec.status_path(job_id))


def remote_image_urls(mock: SoraMock) -> None:
    body = {
        "prompt": "p",
        "images": ["https://images.example/cat.png"],
        "size": "small",
        "duration": 10,
        "model": "sora-2",
    }
    with mock.client("gptproto") as client:
        created = client.post("/api/v3/openai/reverse/sora-2/image-to-video", json=body)
        assert created.status_code == 200, created.text
        assert "placeholder frame" in created.headers["X-Mock-Notes"]
        assert "--fetch-remote-images" in created.headers["X-Mock-Notes"]
        vtrix = {
            "model": "sora_2_pro_i2v",
            "prompt": "p",
            "input_reference": "https://images.example/cat.png",
        }
    with mock.client("vtrix") as client:
        task = client.post("/model/v1/generation", json=vtrix).json()
    assert "placeholder frame" in " ".join(task["metadata"]["mock_notes"])


def an_unknown_model(mock: SoraMock) -> None:
    body = {"prompt": "p", "images": [data_url(png(720, 1280))], "size": "small"}
    with mock.client("gptproto") as client:
        answer = client.post(
            "/api/v3/openai/reverse/sora-2/image-to-video", json=body | {"model": "sora-3"}
        )
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "400" and "model" in answer.json()["error"]["message"]
    with mock.client("gptge") as client:
        answer = client.post(
            "/v1/videos",
            data={"prompt": "p", "model": "sora-3"},
            files={"input_reference": ("a.png", png(720, 1280), "image/png")},
        )
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "model"
    assert answer.json()["error"]["code"] != "model_not_found"


def mock_notes(mock: SoraMock) -> None:
    body = {"model": "sora_2_pro_i2v", "prompt": "p", "input_reference": "https://x.example/a.png"}
    with mock.client("vtrix") as client:
        task = client.post("/model/v1/generation", json=body).json()
        again = client.get(f"/model/v1/generation/task/{task['id']}").json()
    assert again["metadata"]["mock_notes"] == task["metadata"]["mock_notes"]
    plain = _create(mock, "gptge-videos")
    assert "X-Mock-Notes" not in plain.headers, "a job the mock served as asked carries no note"


def prompt_in_every_videos_job(mock: SoraMock) -> None:
    for api in ("gptproto-videos", "gptge-videos"):
        created = _create(mock, api).json()
        assert created["prompt"] == "Put a hat on the cat"
        assert _read(mock, api, created["id"]).json()["prompt"] == "Put a hat on the cat"
        with mock.client(APIS[api].provider) as client:
            listed = client.get("/v1/videos").json()["data"]
        assert all("prompt" in job for job in listed)


def a_failed_videos_job(mock: SoraMock) -> None:
    mock.set_scenario("generation_failed", api_key="sk-test", times=2)
    try:
        gptge = _create(mock, "gptge-videos").json()
        gptproto = _create(mock, "gptproto-videos").json()
    finally:
        mock.clear_scenarios()
    mock.advance(3600)
    failed = _read(mock, "gptge-videos", gptge["id"]).json()
    assert failed["status"] == "failed"
    assert failed["error"] == {
        "code": "video_generation_failed",
        "message": "Video generation failed",
    }
    with mock.client("gptge") as client:
        content = client.get(f"/v1/videos/{gptge['id']}/content")
    assert content.status_code == 404 and content.json()["error"]["code"] == "video_failed"
    with mock.client("gptproto") as client:
        content = client.get(f"/v1/videos/{gptproto['id']}/content")
    assert content.status_code == 200 and content.json()["status"] == "failed"


def v3_execution_time(mock: SoraMock) -> None:
    created = _create(mock, "gptproto-v3").json()["data"]
    assert created["executionTime"] == 0 and created["has_nsfw_contents"] == []
    job = mock.service.find(created["id"], "gptproto-v3")
    assert job is not None
    state = mock.service.state(job)
    started = job.created_at + job.queue_seconds
    mock.advance(started + 1.5 - mock.now())
    running = _read(mock, "gptproto-v3", created["id"]).json()["data"]
    assert running["status"] == "processing" and running["executionTime"] == 1500
    assert running["timings"]["inference"] == 1500 and running["has_nsfw_contents"] == []
    mock.advance(3600)
    done = _read(mock, "gptproto-v3", created["id"]).json()["data"]
    state = mock.service.state(job)
    assert state.finished_at is not None and state.started_at is not None
    assert done["executionTime"] == round((state.finished_at - state.started_at) * 1000)
    assert done["has_nsfw_contents"] == [False]


def vtrix_content_policy(mock: SoraMock) -> None:
    with mock.client("vtrix") as client:
        answer = APIS["vtrix-generation"].create(
            client, HEADERS | {"X-Mock-Scenario": "content_policy"}
        )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "content_policy_violation"
    assert answer.json()["error"]["error_message"]


def rate_limit(mock: SoraMock) -> None:
    limited = SoraMock(create_app(test_config(rate_limit_rpm=2)))
    with limited.client("gptge", api_key="sk-rate") as client:
        answers = [client.get("/v1/videos/video_nope") for _ in range(3)]
        other = limited.client("gptge", api_key="sk-other").get("/v1/videos/video_nope")
    assert [a.status_code for a in answers] == [404, 404, 429]
    error = answers[2].json()["error"]
    assert error["message"] == "Rate limit reached for requests per minute"
    assert error["code"] == "rate_limit_exceeded"
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 30
    assert other.status_code == 404, "the bucket is per key"


def chat_ids(mock: SoraMock) -> None:
    body = {
        "model": "sora-2",
        "stream": False,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "a cat"},
                    {"type": "image_url", "image_url": {"url": data_url(png(720, 1280))}},
                ],
            }
        ],
    }
    with mock.stepping(5.0), mock.client("gptproto") as client:
        answer = client.post("/v1/chat/completions", json=body)
    assert answer.status_code == 200, answer.text
    assert re.fullmatch(r"chatcmpl-[0-9a-f]+", answer.json()["id"]), answer.json()["id"]


def request_ids(mock: SoraMock) -> None:
    with mock.client("gptge") as client:
        answers = [
            client.get("/v1/videos"),
            client.get("/v1/videos/video_nope"),
            client.get("/__mock/jobs"),
            client.get("/nowhere"),
        ]
    ids = [a.headers.get("x-request-id", "") for a in answers]
    assert all(re.fullmatch(r"req_[0-9a-f]+", i) for i in ids), ids
    assert len(set(ids)) == len(ids)


def vtrix_content_size(mock: SoraMock) -> None:
    created = _create(mock, "vtrix-generation").json()
    mock.advance(3600)
    task = _read(mock, "vtrix-generation", created["id"]).json()
    assert task["output"][0]["content"][0]["size"] == "1280x720" == task["metadata"]["size"]


#: the first cell of each row of "What the mock adds" -> the test that shows the mock has it
ROWS: dict[str, Callable[[SoraMock], None]] = {
    "remote reference image URLs": remote_image_urls,
    "an unknown model": an_unknown_model,
    "`X-Mock-Notes`, Vtrix `metadata.mock_notes`": mock_notes,
    "`prompt` in `/v1/videos` jobs": prompt_in_every_videos_job,
    "a failed `/v1/videos` job": a_failed_videos_job,
    "v3 `executionTime`, `timings.inference`, `has_nsfw_contents`": v3_execution_time,
    "Vtrix content policy": vtrix_content_policy,
    "`--rate-limit N`": rate_limit,
    "chat completion ids": chat_ids,
    "`x-request-id`": request_ids,
    "Vtrix `content[].size`": vtrix_content_size,
}


def test_every_added_behaviour_has_a_row_and_a_test() -> None:
    rows = [row for section, row, _, _ in _sourced_rows() if section.startswith(ADDED)]
    assert sorted(rows) == sorted(ROWS), "README rows and ROWS differ"


@pytest.mark.parametrize("row", list(ROWS))
def test_the_mock_has_the_behaviour_its_row_names(mock: SoraMock, row: str) -> None:
    ROWS[row](mock)
