"""Each provider document's own request example, sent as written with the host swapped for
the mock, succeeds; and the status/content examples' paths answer too."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import seeds
from providers import png

from mockserver.testing import SoraMock

PREFIX = {"000": "gptproto", "001": "gptproto", "002": "gptproto", "003": "gptge"}


def send(
    mock: SoraMock, prefix: str, example: seeds.CurlExample, job_id: str | None
) -> httpx.Response:
    _, host = seeds.SEED_CONTRACT[prefix]
    url = example.url.replace(host, mock.base_url(PREFIX[prefix]))
    url = url.replace("{{id}}", job_id or "").replace("{id}", job_id or "")
    headers = dict(example.headers)
    with httpx.Client(transport=mock.transport()) as client:
        if example.json_body is not None:
            return client.request(example.method, url, headers=headers, json=example.json_body)
        if example.form or example.files:
            headers.pop("Content-Type", None)
            # the document's file path stands for an image of the default size, 720x1280
            files = {
                k: (Path(v).name, png(720, 1280), "image/png") for k, v in example.files.items()
            }
            return client.request(
                example.method, url, headers=headers, data=example.form, files=files
            )
        return client.request(example.method, url, headers=headers)


def job_id_of(body: dict) -> str:
    return body["data"]["id"] if "data" in body else body["id"]


@pytest.mark.parametrize("prefix", ["000", "001", "003"])
def test_seed_examples_as_written_succeed(sora_mock: SoraMock, prefix: str) -> None:
    examples = [
        e for e in seeds.curl_examples(prefix) if e.method == "GET" or e.json_body or e.form
    ]
    creates = [e for e in examples if e.method == "POST"]
    reads = [e for e in examples if e.method == "GET"]
    assert creates, "the document has a request example"
    job_id = None
    for example in creates:
        response = send(sora_mock, prefix, example, None)
        assert response.status_code == 200, response.text
        job_id = job_id_of(response.json())
    sora_mock.advance(120)
    for example in reads:
        response = send(sora_mock, prefix, example, job_id)
        assert response.status_code == 200, (example.url, response.text)
        if not example.url.endswith("/content"):
            # the read is about the job just made, and that job is done
            body = response.json()
            assert job_id_of(body) == job_id, example.url
            status = body["data"]["status"] if "data" in body else body["status"]
            assert status == "completed", (example.url, body)
        else:
            # a content read is the video itself: an MP4 (its `ftyp` box first)
            assert response.headers["content-type"] == "video/mp4", example.url
            assert response.content[4:8] == b"ftyp" and len(response.content) > 1000


def test_seed_chat_example_as_written_streams_to_the_video_link(sora_mock: SoraMock) -> None:
    (example,) = [e for e in seeds.curl_examples("002") if "<string>" not in str(e.json_body)]
    assert example.json_body["stream"] is True
    _, host = seeds.SEED_CONTRACT["002"]
    url = example.url.replace(host, sora_mock.base_url("gptproto"))
    with httpx.Client(transport=sora_mock.transport()) as client:
        sora_mock.advance(0)  # the job is created when the request arrives
        with client.stream(
            "POST", url, headers=example.headers, json=example.json_body
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            sora_mock.advance(120)  # the job ends before the stream is read
            lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert "Video generated successfully" in "".join(lines)
