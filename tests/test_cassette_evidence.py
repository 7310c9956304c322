"""``sora-mock cassettes report``: what recorded traffic shows against each contract's
assumptions. A maintainer turns a line of it into a fact in ``contracts/README.md``, so each
line must count what was recorded, no more: the status words in the order seen (and those the
contract lacks), the progress scale, timestamp types, statuses per operation, error shapes,
undeclared fields, headers, downloads made before the job ended, how long jobs took, drift.

The cassettes are built here in memory (``Cassette`` objects, answer by answer), so each test
reads the exact line a miscount would change."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from mockserver.conformance import evidence
from mockserver.conformance.cassettes import Cassette
from mockserver.conformance.evidence import Evidence, _ordered, _shape, _type
from mockserver.conformance.results import Drift

EXAMPLE = Path(__file__).parent / "examples" / "cassettes"
VIDEOS = ("gptge-videos", "createVideo", "getVideo", "getVideoContent")
V3 = ("gptproto-v3", "createSora2ImageToVideo", "getPredictionResult", None)


def answer(
    status: int = 200, body: Any = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    found: dict[str, Any] = {"status": status, "headers": headers or {}}
    if body is not None:
        found["body"] = body
    return found


def read(
    operation: str,
    offset: float,
    response: dict[str, Any],
    problems: list[Any] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    return {
        "operation": operation,
        "offset": offset,
        "method": "GET",
        "path": "/x",
        "response": response,
        "verdict": {"ok": not problems, "problems": list(problems)},
    }


def cassette(
    api: tuple[str, str, str, str | None],
    create: dict[str, Any],
    polls: list[tuple[float, dict[str, Any]]] = (),  # type: ignore[assignment]
    downloads: list[tuple[float, dict[str, Any]]] = (),  # type: ignore[assignment]
    *,
    problems: list[Drift] = (),  # type: ignore[assignment]
    create_problems: list[dict[str, str]] = (),  # type: ignore[assignment]
) -> Cassette:
    contract, create_op, poll_op, download_op = api
    data = {
        "contract": contract,
        "create": read(create_op, 0.0, create, create_problems),
        "polls": [read(poll_op, offset, a) for offset, a in polls],
        "downloads": [read(download_op or "?", offset, a) for offset, a in downloads],
    }
    return Cassette(Path("c.json"), data, list(problems))


def video(status: str, progress: Any = 0, **extra: Any) -> dict[str, Any]:
    return {"id": "video_1", "status": status, "progress": progress, **extra}


def lines_of(contract: str, *items: Cassette) -> list[str]:
    return Evidence(contract, list(items)).lines()


def line(lines: list[str], start: str) -> str | None:
    found = [text for text in lines if text.startswith(start)]
    assert len(found) <= 1, found
    return found[0] if found else None


def one_job() -> Cassette:
    return cassette(
        VIDEOS,
        answer(200, video("queued", 0, created_at=1)),
        [
            (2.0, answer(200, video("in_progress", 40, created_at=1))),
            (4.5, answer(200, video("completed", 100, created_at=1, completed_at=5))),
            (6.0, answer(200, video("completed", 100, created_at=1, completed_at=5))),
        ],
        [(7.0, answer(200, headers={"content-type": "video/mp4"}))],
    )


def test_one_clean_job_reads_as_expected() -> None:
    assert lines_of("gptge-videos", one_job()) == [
        "## gptge-videos",
        "",
        "- cassettes: 1",
        "- status words seen: queued, in_progress, completed "
        "(the contract allows: queued, in_progress, completed, failed)",
        "- progress seen: 0..100 (integer); the contract says 0..100",
        "- `completed_at` types seen: integer ×2",
        "- `created_at` types seen: integer ×4",
        "- `createVideo` HTTP statuses: 200 ×1",
        "- `getVideo` HTTP statuses: 200 ×3",
        "- `getVideoContent` HTTP statuses: 200 ×1",
        "- time from create to the end: 4.5..4.5 s (as recorded, over 1 job(s))",
        "- drift: none",
        "",
    ]


def test_status_words_the_contract_lacks_are_named_in_the_order_seen() -> None:
    job = cassette(
        VIDEOS,
        answer(200, video("queued")),
        [(1.0, answer(200, video("rendering"))), (2.0, answer(200, video("Done")))],
    )
    assert line(lines_of("gptge-videos", job), "- status words") == (
        "- status words seen: queued, rendering, Done "
        "(the contract allows: queued, in_progress, completed, failed); "
        "NOT in the contract: rendering, Done"
    )


def test_a_job_ends_at_its_first_terminal_word_in_any_case() -> None:
    job = cassette(
        VIDEOS,
        answer(200, video("queued")),
        [(3.0, answer(200, video("FAILED"))), (9.0, answer(200, video("completed")))],
    )
    other = cassette(VIDEOS, answer(200, video("queued")), [(12.5, answer(200, video("failed")))])
    lines = lines_of("gptge-videos", job, other)
    assert "- time from create to the end: 3..12.5 s (as recorded, over 2 job(s))" in lines
    assert "- cassettes: 2" in lines


def test_a_job_that_never_ended_has_no_duration_and_all_its_downloads_are_early() -> None:
    job = cassette(
        VIDEOS,
        answer(200, video("queued")),
        [(2.0, answer(200, video("in_progress")))],
        [
            (3.0, answer(404, {"error": {"code": "x", "message": "y"}}, {"content-type": "a/j"})),
            (4.0, answer(409)),
        ],
    )
    lines = lines_of("gptge-videos", job)
    assert line(lines, "- time from create") is None
    assert line(lines, "- downloads before the job ended answered") == (
        "- downloads before the job ended answered: 404 a/j ×1, 409 ? ×1"
    )


def test_only_downloads_made_before_the_end_are_early() -> None:
    job = cassette(
        VIDEOS,
        answer(200, video("queued")),
        [(5.0, answer(200, video("completed")))],
        [
            (4.0, answer(404, headers={"content-type": "application/json"})),
            (5.0, answer(200, headers={"content-type": "video/mp4"})),
            (8.0, answer(200, headers={"content-type": "video/mp4"})),
        ],
    )
    assert line(lines_of("gptge-videos", job), "- downloads before") == (
        "- downloads before the job ended answered: 404 application/json ×1"
    )
    assert line(lines_of("gptge-videos", one_job()), "- downloads before") is None


def test_progress_shows_its_range_its_types_and_the_contract_scale() -> None:
    job = cassette(
        VIDEOS,
        answer(200, video("queued", 7.5)),
        [(1.0, answer(200, video("in_progress", 3))), (2.0, answer(200, video("queued", "50%")))],
    )
    assert line(lines_of("gptge-videos", job), "- progress") == (
        "- progress seen: 3..7.5 (integer, number, string); the contract says 0..100"
    )
    words = cassette(VIDEOS, answer(200, video("queued", "half")))
    assert line(lines_of("gptge-videos", words), "- progress") == (
        "- progress seen: none numeric (string); the contract says 0..100"
    )


def test_an_answer_without_progress_adds_none() -> None:
    job = cassette(VIDEOS, answer(200, {"id": "v", "status": "queued"}))
    assert line(lines_of("gptge-videos", job), "- progress") is None


def test_a_contract_that_does_not_bound_progress_says_nothing_of_it() -> None:
    body = {"data": {"id": "p", "status": "processing", "progress": 0.5}}
    job = cassette(V3, answer(200, body), [(1.0, answer(200, body))])
    lines = lines_of("gptproto-v3", job)
    assert line(lines, "- progress") == "- progress seen: 0.5..0.5 (number)"
    # v3 keeps its fields under /data: those are the ones checked against its schema
    assert (
        line(lines, "- fields the contract")
        == "- fields the contract does not declare: `progress` ×2"
    )


def test_status_words_are_read_where_the_contract_puts_them() -> None:
    job = cassette(
        V3,
        answer(200, {"data": {"id": "p", "status": "created", "created_at": "2026"}}),
        [(4.0, answer(200, {"data": {"id": "p", "status": "completed", "created_at": None}}))],
    )
    lines = lines_of("gptproto-v3", job)
    assert line(lines, "- status words") == (
        "- status words seen: created, completed "
        "(the contract allows: created, processing, completed, failed)"
    )
    assert "- `created_at` types seen: null ×1, string ×1" in lines
    assert "- time from create to the end: 4..4 s (as recorded, over 1 job(s))" in lines


def test_an_answer_without_the_status_field_or_not_an_object_is_skipped() -> None:
    job = cassette(
        V3,
        answer(200, {"data": {"id": "p"}, "status": "completed"}),
        [
            (1.0, answer(200, {"code": 200, "message": "ok"})),
            (2.0, answer(200, ["completed"])),
            (3.0, answer(200)),
            (4.0, answer(200, {"data": "completed"})),
        ],
    )
    lines = lines_of("gptproto-v3", job)
    assert line(lines, "- status words") is None
    assert line(lines, "- time from create") is None
    assert line(lines, "- fields the contract") is None


def test_fields_the_contract_does_not_declare_are_counted() -> None:
    job = cassette(
        VIDEOS,
        answer(200, video("queued", extra_field=1, zeta=2)),
        [(1.0, answer(200, video("queued", extra_field=None)))],
    )
    assert line(lines_of("gptge-videos", job), "- fields the contract") == (
        "- fields the contract does not declare: `extra_field` ×2, `zeta` ×1"
    )


def test_a_contract_without_a_status_read_reports_statuses_and_drift_only() -> None:
    chat = ("gptproto-chat", "createChatCompletion", "?", None)
    job = cassette(chat, answer(200, {"status": "completed", "object": "chat.completion"}))
    assert lines_of("gptproto-chat", job) == [
        "## gptproto-chat",
        "",
        "- cassettes: 1",
        "- `createChatCompletion` HTTP statuses: 200 ×1",
        "- drift: none",
        "",
    ]


def test_error_answers_are_counted_by_shape_and_read_for_nothing_else() -> None:
    job = cassette(
        VIDEOS,
        answer(429, {"error": {"code": "rate", "message": "slow"}}, {"retry-after": "3"}),
        [
            (1.0, answer(500, video("completed"))),
            (2.0, answer(502)),
            (3.0, answer(429, {"error": {"code": "bad", "message": "no"}})),
            (4.0, answer(404, ["x"])),
        ],
    )
    lines = lines_of("gptge-videos", job)
    assert line(lines, "- error bodies seen") == (
        "- error bodies seen: 429: {error: {code, message}} ×2; "
        "500: {id, status, progress} ×1; 502: text ×1; 404: list ×1"
    )
    # the 500's body says "completed": an error is not the job's word, nor its end
    assert line(lines, "- status words") is None
    assert line(lines, "- time from create") is None
    assert "- `getVideo` HTTP statuses: 404 ×1, 429 ×1, 500 ×1, 502 ×1" in lines
    assert "- `createVideo` HTTP statuses: 429 ×1" in lines


def test_a_status_below_400_is_not_an_error() -> None:
    job = cassette(VIDEOS, answer(200, video("queued")), [(1.0, answer(399, video("queued")))])
    lines = lines_of("gptge-videos", job)
    assert line(lines, "- error bodies seen") is None
    assert line(lines, "- status words") is not None
    assert "- `getVideo` HTTP statuses: 399 ×1" in lines


def test_the_headers_worth_knowing_are_counted_per_status() -> None:
    job = cassette(
        VIDEOS,
        answer(200, video("queued"), {"openai-poll-after-ms": "500", "x-request-id": "r1"}),
        [
            (1.0, answer(429, headers={"retry-after": "2", "x-request-id": "r2"})),
            (2.0, answer(200, video("queued"), {"x-request-id": "r3", "etag": "e"})),
        ],
    )
    assert line(lines_of("gptge-videos", job), "- headers seen") == (
        "- headers seen: openai-poll-after-ms (on 200) ×1, retry-after (on 429) ×1, "
        "x-request-id (on 200) ×2, x-request-id (on 429) ×1"
    )


def test_drift_recorded_and_found_again_is_listed_most_common_first() -> None:
    where = {"where": "body /status", "message": "'done' is not one of"}
    job = cassette(
        VIDEOS,
        answer(200, video("queued")),
        problems=[Drift("poll /x body", "changed"), Drift("poll /x body", "changed")],
        create_problems=[where],
    )
    job.data["polls"] = [read("getVideo", 1.0, answer(200, video("queued")), [where, where])]
    lines = lines_of("gptge-videos", job)
    assert lines[-6:] == [
        "",
        "Drift found by the contract's validators:",
        "",
        "- body /status: 'done' is not one of (×3)",
        "- (today's contract) poll /x body: changed (×2)",
        "",
    ]
    assert "- drift: none" not in lines


def test_the_helpers_name_shapes_and_types() -> None:
    assert _shape({"error": {"code": 1, "detail": {"a": 1}}, "x": [1]}) == (
        "{error: {code, detail: {a}}, x}"
    )
    assert _shape("text") == "str" and _shape(None) == "NoneType"
    assert [_type(v) for v in (None, "s", 1, 1.5, True, [1], {})] == [
        "null",
        "string",
        "integer",
        "number",
        "bool",
        "list",
        "dict",
    ]
    assert _ordered(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]
    assert _ordered([]) == []


def test_the_report_reads_a_directory_per_contract_and_redacts(tmp_path: Path) -> None:
    target = tmp_path / "cassettes"
    shutil.copytree(EXAMPLE, target)
    [path] = target.glob("*.json")
    data = json.loads(path.read_text())
    data["polls"][0]["response"]["body"]["status"] = "sk-LEAKED-0123456789"
    path.write_text(json.dumps(data))
    text = evidence.report(target)
    assert text.startswith(
        f"# What the recorded traffic in {target} shows\n\n1 cassette(s). Compare each line "
        "with the contract's assumption rows in `contracts/README.md`.\n\n## gptge-videos\n"
    )
    assert "sk-LEAKED" not in text and "[REDACTED]" in text
    assert "- cassettes: 1" in text


def test_the_report_lists_contracts_in_name_order(tmp_path: Path) -> None:
    target = tmp_path / "cassettes"
    shutil.copytree(EXAMPLE, target)
    [path] = target.glob("*.json")
    assert evidence.report(target).count("## ") == 1
    shutil.copy(path, target / "b.json")
    text = evidence.report(target)
    assert text.count("## gptge-videos") == 1 and "- cassettes: 2" in text
    assert "2 cassette(s)." in text


def test_a_job_done_at_its_create_took_no_time() -> None:
    job = cassette(
        VIDEOS,
        answer(200, video("completed", 100)),
        [(1.0, answer(200, video("completed", 100)))],
        [(0.5, answer(200, headers={"content-type": "video/mp4"}))],
    )
    lines = lines_of("gptge-videos", job)
    assert "- time from create to the end: 0..0 s (as recorded, over 1 job(s))" in lines
    assert line(lines, "- downloads before") is None  # made after the end


def test_a_400_is_an_error_answer() -> None:
    job = cassette(VIDEOS, answer(400, video("queued")))
    lines = lines_of("gptge-videos", job)
    assert line(lines, "- error bodies seen") == (
        "- error bodies seen: 400: {id, status, progress} ×1"
    )
    assert line(lines, "- status words") is None


def test_an_unreadable_answer_does_not_stop_the_reading_of_the_next() -> None:
    job = cassette(
        VIDEOS,
        answer(200, ["not", "an", "object"]),
        [
            (1.0, answer(200, {"id": "video_1"})),
            (2.0, answer(200, video("in_progress", 50))),
            (3.0, answer(200, video("completed", 100))),
        ],
    )
    lines = lines_of("gptge-videos", job)
    assert line(lines, "- status words") == (
        "- status words seen: in_progress, completed "
        "(the contract allows: queued, in_progress, completed, failed)"
    )
    assert "- time from create to the end: 3..3 s (as recorded, over 1 job(s))" in lines


def test_early_downloads_with_the_same_answer_are_counted_together() -> None:
    early = answer(404, {"error": {"code": "x", "message": "y"}}, {"content-type": "a/j"})
    job = cassette(
        VIDEOS,
        answer(200, video("queued")),
        [(9.0, answer(200, video("completed")))],
        [(1.0, early), (2.0, early), (3.0, answer(409, headers={"content-type": "a/j"}))],
    )
    assert line(lines_of("gptge-videos", job), "- downloads before") == (
        "- downloads before the job ended answered: 404 a/j ×2, 409 a/j ×1"
    )
