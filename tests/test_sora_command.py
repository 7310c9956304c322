"""The ``sora`` command against a fake gpt.ge (``httpx.MockTransport``, in-process, no mock
server): what each subcommand prints and where (stdout for results, stderr for notes and
errors, printed as given, never read as markup, never wrapped), its exit code, the options it
passes on to the client, the help a user reads, and the hint that comes with each error."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from sora_client import DEFAULT_WAIT_TIMEOUT
from sora_client.cli import main

BASE = "http://127.0.0.1:9/gptge"
REMOTE = "https://gpt.ge.example/api"
KEY = "sk-test-CLI-5e0b7d21"
VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200
JOB = "video_1"


def _job(job_id: str, status: str, progress: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "id": job_id,
        "object": "video",
        "status": status,
        "progress": progress,
        "model": "sora-2",
        "created_at": 1766556441,
        "seconds": "4",
        "size": "720x1280",
        **extra,
    }


class Fake:
    """A gpt.ge that answers from a script of job states and records every request."""

    def __init__(self, states: list[dict[str, Any]] | None = None) -> None:
        self.states = states or [
            _job(JOB, "in_progress", 37),
            _job(JOB, "completed", 100),
        ]
        self.requests: list[httpx.Request] = []
        self.listing = [_job(f"video_{n}", "completed", 100) for n in range(5)]
        self.answer: httpx.Response | None = None
        self.created = JOB

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.answer is not None:
            return self.answer
        path = "/v1" + request.url.path.split("/v1", 1)[1]
        if request.method == "POST" and path == "/v1/videos":
            return httpx.Response(200, json=_job(self.created, "queued"))
        if request.method == "POST" and path.endswith("/remix"):
            body = json.loads(request.content)
            note = {"code": None, "message": f"[i]remix of[/i] {body['prompt']}"}
            return httpx.Response(200, json=_job("video_remix", "queued", error=note))
        if request.method == "GET" and path == "/v1/videos":
            return httpx.Response(
                200, json={"object": "list", "data": self.listing, "has_more": False}
            )
        if request.method == "DELETE":
            gone = not path.endswith("_kept")
            return httpx.Response(200, json={"id": "x", "object": "video.deleted", "deleted": gone})
        if path.endswith("/content") and request.url.params.get("variant") == "thumbnail":
            return httpx.Response(200, content=b"RIFF-webp", headers={"content-type": "image/webp"})
        if path.endswith("/content"):
            return httpx.Response(200, content=VIDEO, headers={"content-type": "video/mp4"})
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return httpx.Response(200, json=state)


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GPTPROTO_API_KEY", "GPTGE_API_KEY", "VTRIX_API_KEY"):
        monkeypatch.setenv(var, KEY)


@pytest.fixture
def cat(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "cat.png"
    Image.new("RGB", (720, 1280), (40, 120, 200)).save(path, "PNG")
    return path


def sora(fake: Fake | None, *argv: str, base: str | None = BASE) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    tail = ["--provider", "gptge", *(["--base-url", base] if base else [])]
    code = main(
        [*argv, *tail],
        transport=httpx.MockTransport(fake) if fake else None,
        sleep=lambda seconds: None,
        stdout=out,
        stderr=err,
    )
    text_out, text_err = out.getvalue(), err.getvalue()
    assert KEY not in text_out + text_err, "the key was printed"
    return code, text_out, text_err


# ---------------------------------------------------------------------- generate


def test_generate_creates_waits_and_saves_the_video(cat: Path, tmp_path: Path) -> None:
    fake = Fake()
    target = tmp_path / "[b]a very long directory name that goes past eighty columns" / "cat.mp4"
    target.parent.mkdir()
    code, out, err = sora(
        fake,
        "generate",
        "--prompt",
        "A cat in a hat",
        "--image",
        str(cat),
        "-o",
        str(target),
        "--model",
        "sora-2-pro",
        "--seconds",
        "8",
        "--size",
        "720x1280",
    )
    assert code == 0, err
    assert target.read_bytes() == VIDEO
    assert out == f"saved {target} ({len(VIDEO)} bytes) from gptge job {JOB}\n"
    assert err.startswith(f"created gptge job {JOB}\n")
    create = fake.requests[0]
    assert (create.method, create.url.path) == ("POST", "/gptge/v1/videos")
    assert create.headers["Authorization"] == f"Bearer {KEY}"
    for field in (b'name="prompt"\r\n\r\nA cat in a hat', b'name="model"\r\n\r\nsora-2-pro'):
        assert field in create.content
    assert b'name="seconds"\r\n\r\n8' in create.content
    assert b'name="size"\r\n\r\n720x1280' in create.content
    assert b'filename="cat.png"' in create.content
    # the progress bar's last state stays on stderr: the status in words, the bar full
    assert re.search(r"\ncompleted\s.*100%", err)


def test_a_size_the_image_does_not_have_is_refused_before_sending(
    cat: Path, tmp_path: Path
) -> None:
    fake = Fake()
    code, _, err = sora(
        fake,
        "generate",
        "--prompt",
        "p",
        "--image",
        str(cat),
        "-o",
        str(tmp_path / "o"),
        "--size",
        "1280x720",
    )
    assert code == 2, err
    assert "size" in err and "1280x720" in err
    assert fake.requests == []


def test_generate_prints_the_created_jobs_id_as_the_provider_sent_it(
    cat: Path, tmp_path: Path
) -> None:
    fake = Fake()
    fake.created = "video_[b]2"  # an id the contract's paths refuse: the wait cannot ask for it
    code, _, err = sora(fake, "generate", "--prompt", "p", "--image", str(cat), "-o", str(tmp_path))
    assert code == 2
    assert err.startswith("created gptge job video_[b]2\n")


def test_generate_says_where_the_job_was_when_the_wait_gives_up(cat: Path, tmp_path: Path) -> None:
    fake = Fake([_job(JOB, "in_progress", 40)])
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["generate", "-p", "gptge", "--base-url", BASE, "--prompt", "p", "--image", str(cat)]
        + ["-o", str(tmp_path / "o.mp4"), "--timeout", "30"],
        transport=httpx.MockTransport(fake),
        sleep=sleep,
        stdout=out,
        stderr=err,
    )
    text = err.getvalue()
    assert code == 6, text
    assert out.getvalue() == ""
    # the fake sleeps add up to --timeout, less the (real) time the polls took
    assert 20 < clock[0] <= 30, "the wait lasted --timeout seconds of the client's clock"
    assert f"error: gptge job {JOB} still in_progress (40%) after 30 s; wait again later" in text
    assert (
        f"the job goes on: check it with `sora status --provider gptge {JOB}` and save it with "
        f"`sora download --provider gptge {JOB} -o FILE`\n"
    ) in text
    # the bar's last state: the status in words, the share done, the time it took
    assert re.search(r"\nin progress\s.*40% 0:00:\d\d\n", text), text
    assert not (tmp_path / "o.mp4").exists()


def test_the_default_wait_is_the_clients_default(cat: Path, tmp_path: Path) -> None:
    fake = Fake([_job(JOB, "queued")])
    clock = [0.0]
    code = main(
        ["generate", "-p", "gptge", "--base-url", BASE, "--prompt", "p", "--image", str(cat)]
        + ["--output", str(tmp_path / "o.mp4")],
        transport=httpx.MockTransport(fake),
        sleep=lambda s: clock.__setitem__(0, clock[0] + s),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert code == 6
    assert DEFAULT_WAIT_TIMEOUT - 60 < clock[0] <= DEFAULT_WAIT_TIMEOUT


def test_a_failed_generation_exits_5_with_the_providers_reason(cat: Path, tmp_path: Path) -> None:
    failed = _job(JOB, "failed", error={"code": "x_[b]y[/b]", "message": "it [i]broke[/i]"})
    code, out, err = sora(
        Fake([failed]), "generate", "--prompt", "p", "--image", str(cat), "-o", str(tmp_path / "o")
    )
    assert code == 5
    assert out == ""
    assert f"error: gptge job {JOB} failed (x_[b]y[/b]): it [i]broke[/i]\n" in err
    assert "the provider could not render this video; trying again may work\n" in err


# ---------------------------------------------------------------------- the other commands


def test_status_prints_the_job_as_indented_json() -> None:
    failed = _job(JOB, "failed", 12.34567, error={"code": "c", "message": "déjà [b]vu[/b]"})
    code, out, err = sora(Fake([failed]), "status", JOB)
    assert code == 0, err
    assert err == ""
    assert json.loads(out) == {
        "id": JOB,
        "provider": "gptge",
        "status": "failed",
        "progress": 0.1235,
        "video_url": None,
        "error_code": "c",
        "error_message": "déjà [b]vu[/b]",
        "model": "sora-2",
        "created_at": "2025-12-24T06:07:21+00:00",
    }
    assert out.startswith('{\n  "id": ')
    assert '"déjà [b]vu[/b]"' in out


def test_status_of_a_job_without_a_date_prints_null() -> None:
    undated = _job(JOB, "queued")
    del undated["created_at"]
    code, out, _ = sora(Fake([undated]), "status", JOB)
    assert code == 0
    assert json.loads(out)["created_at"] is None


def test_list_prints_one_json_line_per_job_up_to_max() -> None:
    fake = Fake()
    fake.listing[0]["error"] = {"code": "c", "message": "ünïcode [b]x[/b] " + "y" * 100}
    code, out, err = sora(fake, "list", "--limit", "2", "--order", "asc", "--max", "3")
    assert code == 0, err
    lines = out.splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["video_0", "video_1", "video_2"]
    assert "ünïcode [b]x[/b]" in lines[0]
    params = fake.requests[0].url.params
    assert (params["limit"], params["order"]) == ("2", "asc")
    every = Fake()
    code, out, _ = sora(every, "list")
    assert len(out.splitlines()) == 5
    assert "limit" not in every.requests[0].url.params
    assert "order" not in every.requests[0].url.params
    code, out, _ = sora(Fake(), "list", "--max", "0")
    assert (code, out) == (0, "")


def test_delete_says_whether_the_job_was_deleted() -> None:
    fake = Fake()
    code, out, _ = sora(fake, "delete", JOB)
    assert (code, json.loads(out)) == (0, {"id": JOB, "deleted": True})
    assert fake.requests[0].method == "DELETE"
    assert fake.requests[0].url.path == "/gptge/v1/videos/video_1"
    code, out, _ = sora(Fake(), "delete", "video_kept")
    assert (code, json.loads(out)) == (7, {"id": "video_kept", "deleted": False})


def test_remix_prints_the_new_job() -> None:
    fake = Fake()
    code, out, _ = sora(fake, "remix", JOB, "--prompt", "The same cat, à minuit")
    assert code == 0
    assert json.loads(out)["id"] == "video_remix"
    assert json.loads(out)["error_message"] == "[i]remix of[/i] The same cat, à minuit"
    assert '"[i]remix of[/i] The same cat, à minuit"' in out
    assert out.startswith('{\n  "id": "video_remix"')
    assert json.loads(fake.requests[0].content) == {"prompt": "The same cat, à minuit"}
    assert fake.requests[0].url.path.endswith("/remix")


def test_download_saves_the_video_and_says_where(tmp_path: Path) -> None:
    fake = Fake()
    target = tmp_path / ("[b]" + "x" * 90 + ".mp4")
    code, out, err = sora(fake, "download", JOB, "-o", str(target))
    assert code == 0, err
    assert target.read_bytes() == VIDEO
    assert out == f"saved {target} ({len(VIDEO)} bytes)\n"
    assert fake.requests[-1].url.path.endswith("/content")
    assert "variant" not in fake.requests[-1].url.params
    fake = Fake()
    thumbnail = tmp_path / "t.webp"
    code, out, err = sora(
        fake, "download", JOB, "--output", str(thumbnail), "--variant", "thumbnail"
    )
    assert code == 0, err
    assert thumbnail.read_bytes() == b"RIFF-webp"
    assert fake.requests[-1].url.params["variant"] == "thumbnail"


# ---------------------------------------------------------------------- keys


def test_a_missing_key_is_named_before_anything_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GPTGE_API_KEY")
    fake = Fake()
    code, out, err = sora(fake, "status", JOB, base=REMOTE)
    assert (code, out) == (3, "")
    assert err == "error: no API key: set GPTGE_API_KEY for gptge\n"
    assert fake.requests == []
    monkeypatch.setenv("GPTGE_API_KEY", "   ")
    assert sora(fake, "status", JOB, base=REMOTE)[0] == 3
    assert sora(fake, "status", JOB, base=None)[0] == 3
    assert fake.requests == []


def test_a_loopback_base_url_needs_no_key_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GPTGE_API_KEY")
    fake = Fake()
    base = "http://127.0.0.1:9/[b]relay/gptge"  # printed as given, not read as markup
    code, out, err = sora(fake, "status", JOB, base=base)
    assert code == 0
    assert err == f"note: no GPTGE_API_KEY; {base} is loopback, a placeholder key is sent\n"
    assert json.loads(out)["id"] == JOB


def test_a_set_key_is_used_without_a_note() -> None:
    fake = Fake()
    code, _, err = sora(fake, "status", JOB, base=REMOTE)
    assert (code, err) == (0, "")
    assert fake.requests[0].url.host == "gpt.ge.example"
    assert fake.requests[0].headers["Authorization"] == f"Bearer {KEY}"


# ---------------------------------------------------------------------- errors and their hints


def _answer(status: int, body: Any, **headers: str) -> Fake:
    fake = Fake()
    fake.answer = httpx.Response(status, json=body, headers=headers)
    return fake


def _err(message: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}


@pytest.mark.parametrize(
    ("answer", "code", "hint"),
    [
        (_answer(401, _err("bad key")), 3, "check that GPTGE_API_KEY holds a valid gptge key"),
        (
            _answer(404, _err("model not found", "model_not_found")),
            2,
            "gptge does not serve this model (retired?): pick another with --model",
        ),
        (
            _answer(403, _err("no money", "insufficient_quota")),
            3,
            "top up your gptge account, then try again",
        ),
        (
            _answer(403, _err("forbidden")),
            3,
            "this GPTGE_API_KEY key may not do that; check its permissions",
        ),
        (
            _answer(429, _err("slow"), **{"retry-after": "2.5"}),
            4,
            "rate limited: try again after 2.5 s",
        ),
        (_answer(429, _err("slow")), 4, "rate limited: try again later"),
        (
            _answer(400, _err("blocked", "moderation_blocked")),
            5,
            "the provider refused the prompt or image: rephrase it or use another image",
        ),
        (_answer(404, _err("no such video")), 7, None),
        (_answer(500, _err("boom")), 7, None),
    ],
)
def test_each_error_has_its_exit_code_and_hint(answer: Fake, code: int, hint: str | None) -> None:
    exit_code, out, err = sora(answer, "status", JOB)
    assert exit_code == code, err
    assert out == ""
    first, *rest = err.splitlines()
    assert first.startswith("error: gptge answered ")
    assert rest == ([hint] if hint else [])


def test_an_error_is_printed_as_given_not_as_markup() -> None:
    message = "[bold]no[/bold] video " + "z" * 120
    _, _, err = sora(_answer(404, _err(message)), "status", JOB)
    assert err == f"error: gptge answered 404, invalid_request_error: {message}\n"


def test_a_read_timeout_says_to_try_later() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("too slow", request=request)

    code, _, err = sora(slow, "status", JOB)  # type: ignore[arg-type]
    assert code == 6
    assert err.endswith("\nthe provider did not answer in time; try again later\n")


def test_a_network_failure_is_exit_7_without_a_hint() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    code, _, err = sora(refused, "status", JOB)  # type: ignore[arg-type]
    assert code == 7
    assert err == "error: could not reach gptge: refused\n"


def test_a_video_not_ready_says_to_wait_for_completed(tmp_path: Path) -> None:
    fake = Fake()
    fake.answer = httpx.Response(404, json=_err("not ready", "video_not_ready"))
    code, _, err = sora(fake, "download", JOB, "-o", str(tmp_path / "v.mp4"))
    assert code in (7,), err
    fake = Fake()

    def json_content(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=_job(JOB, "in_progress"))

    code, _, err = sora(json_content, "download", JOB, "-o", str(tmp_path / "v.mp4"))  # type: ignore[arg-type]
    assert code == 7
    assert err.splitlines()[-1] == (
        f"wait until `sora status --provider gptge {JOB}` says completed"
    )


def test_an_ambiguous_create_exits_7_without_a_hint(cat: Path, tmp_path: Path) -> None:
    code, _, err = sora(
        _answer(502, _err("bad gateway")),
        "generate",
        "--prompt",
        "p",
        "--image",
        str(cat),
        "-o",
        str(tmp_path / "o.mp4"),
    )
    assert code == 7
    (line,) = err.splitlines()
    assert line.startswith("error: the create request to gptge sent at ")


def test_an_invalid_request_is_a_usage_error_without_a_hint(cat: Path, tmp_path: Path) -> None:
    fake = Fake()
    code, _, err = sora(
        fake,
        "generate",
        "--prompt",
        "p",
        "--image",
        str(cat),
        "-o",
        str(tmp_path / "o"),
        "--seconds",
        "7",
    )
    assert code == 2
    assert err.startswith("error: invalid request for gptge: seconds: ")
    assert len(err.splitlines()) == 1
    assert fake.requests == []


def test_an_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    code, out, err = sora(interrupted, "status", JOB)  # type: ignore[arg-type]
    assert (code, out, err) == (130, "", "interrupted\n")


# ---------------------------------------------------------------------- usage and help


def _usage(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    code = main(list(argv), stdout=io.StringIO(), stderr=err)
    return code, err.getvalue()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "sora: the following arguments are required: command"),
        (
            ["generate", "--provider", "nope"],
            "sora generate: argument --provider/-p: invalid choice: 'nope'",
        ),
        (
            ["status", "--provider", "gptge"],
            "sora status: the following arguments are required: id",
        ),
        (["status", "v1"], "sora status: the following arguments are required: --provider/-p"),
        (
            ["generate", "-p", "gptge", "-o", "x"],
            "sora generate: the following arguments are required: --prompt",
        ),
        (
            ["generate", "-p", "gptge", "--prompt", "p"],
            "sora generate: the following arguments are required: --output/-o",
        ),
        (
            ["download", "-p", "gptge", "v1"],
            "sora download: the following arguments are required: --output/-o",
        ),
        (
            ["remix", "-p", "gptge", "v1"],
            "sora remix: the following arguments are required: --prompt",
        ),
        (["delete", "-p", "gptge"], "sora delete: the following arguments are required: id"),
        (
            ["list", "-p", "gptge", "--limit", "ten"],
            "sora list: argument --limit: invalid int value: 'ten'",
        ),
        (
            ["list", "-p", "gptge", "--max", "ten"],
            "sora list: argument --max: invalid int value: 'ten'",
        ),
        (
            ["list", "-p", "gptge", "--order", "up"],
            "sora list: argument --order: invalid choice: 'up'",
        ),
        (
            ["generate", "-p", "gptge", "--prompt", "p", "-o", "x", "--seconds", "4.5"],
            "argument --seconds: invalid int value: '4.5'",
        ),
        (
            ["generate", "-p", "gptge", "--prompt", "p", "-o", "x", "--timeout", "soon"],
            "argument --timeout: invalid float value: 'soon'",
        ),
        (["dance", "-p", "gptge"], "sora: argument command: invalid choice: 'dance'"),
        (["status", "-p", "[b]gptge", "v1"], "invalid choice: '[b]gptge'"),
    ],
)
def test_usage_errors_exit_2_with_the_usage_line(argv: list[str], message: str) -> None:
    code, err = _usage(*argv)
    assert code == 2
    assert message in err
    assert "\nusage: sora" in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            [],
            [
                "usage: sora [-h] {generate,status,download,list,delete,remix} ...",
                " Sora-2 image-to-video through GPTProto, gpt.ge or Vtrix. ",
                "generate create a video, wait for it, save it",
                "status show a job's status as JSON",
                "download save a completed job's video",
                "list list this key's jobs as JSON lines",
                "delete delete a job and its video",
                "remix create a new job from a completed one",
                " The key is read from GPTPROTO_API_KEY, GPTGE_API_KEY or VTRIX_API_KEY. ",
            ],
        ),
        (
            ["generate"],
            [
                "usage: sora generate [-h] --provider "
                "{gptproto-v3,gptproto-videos,gptproto-chat,gptge,vtrix,openrouter}",
                "--base-url BASE_URL the API's base URL (default: the provider's own host)",
                "--prompt PROMPT --image IMAGE reference image: a file, or a URL where allowed",
                "--output OUTPUT, -o OUTPUT where to save the MP4 --model MODEL --seconds SECONDS",
                "--size SIZE WIDTHxHEIGHT, e.g. 720x1280",
                "--timeout TIMEOUT seconds to wait for the video "
                f"(default {DEFAULT_WAIT_TIMEOUT:g})",
            ],
        ),
        (
            ["download"],
            [
                "usage: sora download [-h] --provider",
                "[--base-url BASE_URL] --output OUTPUT [--variant VARIANT] id",
                "--variant VARIANT video (default), thumbnail or spritesheet, "
                "where the provider has them",
            ],
        ),
        (
            ["list"],
            [
                "--limit LIMIT jobs per page (the provider's default)",
                "--max MAX stop after this many jobs",
                "--order {asc,desc}",
            ],
        ),
        (["status"], ["usage: sora status [-h] --provider", "[--base-url BASE_URL] id"]),
        (["delete"], ["usage: sora delete [-h] --provider", "[--base-url BASE_URL] id"]),
        (
            ["remix"],
            ["usage: sora remix [-h] --provider", "[--base-url BASE_URL] --prompt PROMPT id"],
        ),
    ],
)
def test_help_names_every_option_and_what_it_does(
    argv: list[str], expected: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--help"]) == 0
    shown = " " + " ".join(capsys.readouterr().out.split()) + " "
    for words in expected:
        assert words in shown


def test_short_options_work() -> None:
    fake = Fake()
    out = io.StringIO()
    assert (
        main(
            ["status", "-p", "gptge", "--base-url", BASE, JOB],
            transport=httpx.MockTransport(fake),
            stdout=out,
        )
        == 0
    )
    assert json.loads(out.getvalue())["id"] == JOB


def test_on_a_color_terminal_results_and_errors_stay_plain_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    code, out, _ = sora(Fake([_job(JOB, "in_progress", 40)]), "status", JOB)
    assert code == 0
    assert "\x1b[" not in out
    assert json.loads(out)["progress"] == 0.4
    code, _, err = sora(_answer(404, _err("no video 42")), "status", JOB)
    assert code == 7
    assert err == "error: gptge answered 404, invalid_request_error: no video 42\n"


def test_the_sleep_main_is_given_is_the_one_the_wait_sleeps_with(cat: Path, tmp_path: Path) -> None:
    slept: list[float] = []
    code = main(
        ["generate", "-p", "gptge", "--base-url", BASE, "--prompt", "p", "--image", str(cat)]
        + ["-o", str(tmp_path / "o.mp4")],
        transport=httpx.MockTransport(Fake()),
        sleep=slept.append,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert code == 0
    assert slept == [5.0, 5.0]
