"""The reports of ``sora-mock verify`` (mockserver/conformance/reports.py), read as the people
and the CI that get them: the Markdown report line by line (the table, each operation's
requests and problems, notes, excerpts that cannot break the Markdown), the JUnit XML (one
testcase per operation, drift a <failure>, no answer or rejected credentials an <error>, a
blocker a testcase of its own, the counts), the one-line verdict and summary, and the key
masked in both files even where it was never redacted before."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import contracts
from mockserver.conformance import reports
from mockserver.conformance.redaction import REDACTED, Redactor
from mockserver.conformance.results import Drift, Exchange, OperationResult, RunResult

KEY = "sk-REPORTKEY-0123456789abcdef"
CONTRACT = contracts.load("gptge-videos")
OPS = CONTRACT.operations
VERSION = CONTRACT.spec["info"]["version"]


def ops(**given: OperationResult) -> dict[str, OperationResult]:
    found = {op_id: OperationResult(op) for op_id, op in OPS.items()}
    found.update(given)
    return found


def run(**kwargs: object) -> RunResult:
    result = RunResult(
        "gptge",
        CONTRACT,
        "https://api.gpt.ge",
        1,
        "2026-12-07T03:00:00Z",
        kwargs.pop("operations", ops()),  # type: ignore[arg-type]
        seconds=12.345,
    )
    for name, value in kwargs.items():
        setattr(result, name, value)
    return result


def ok(url: str, status: int = 200, kind: str = "probe: list", **kw: object) -> Exchange:
    return Exchange(kind, "GET", url, status=status, seconds=0.25, **kw)  # type: ignore[arg-type]


def mixed() -> RunResult:
    """One of everything: a clean read, drift with an excerpt, no answer, rejected
    credentials, an operation not sent with its reason, notes."""
    base = "https://api.gpt.ge/v1/videos"
    drifted = ok(
        f"{base}/video_1",
        kind="link status",
        problems=[Drift("/status", "'done' is not one of ['queued']"), Drift("header X", "a|b")],
        excerpt='{"status": "done"}\n```\x07',
        notes=["job status: done"],
    )
    return run(
        operations=ops(
            listVideos=OperationResult(OPS["listVideos"], [ok(base), ok(base, 404)]),
            getVideo=OperationResult(OPS["getVideo"], [ok(f"{base}/x", 404), drifted]),
            createVideo=OperationResult(
                OPS["createVideo"],
                [
                    Exchange("paid create", "POST", base, error="timed out\x1b", seconds=1.5),
                    Exchange(
                        "paid create",
                        "POST",
                        base,
                        status=401,
                        unverified="401: the credentials were rejected",
                        excerpt=f'{{"key": "{KEY}"}}',
                    ),
                ],
            ),
            deleteVideo=OperationResult(OPS["deleteVideo"], not_sent="not sent: it deletes | data"),
        ),
        notes=["no key set", "second note"],
        creates_sent=1,
    )


# --------------------------------------------------------------------------- small helpers


def test_an_excerpt_is_cut_at_its_limit_and_says_how_long_it_was() -> None:
    assert reports.safe_excerpt("  abc  ") == "abc"
    assert reports.safe_excerpt("x" * 400) == "x" * 400
    assert reports.safe_excerpt("x" * 401) == "x" * 400 + "... (401 characters)"
    assert reports.safe_excerpt(" abcdef ", 3) == "abc... (6 characters)"
    assert reports.safe_excerpt("abc", 3) == "abc"


def test_a_short_value_is_quoted_and_a_long_one_cut_at_80() -> None:
    assert reports.short("é") == "'é'"
    assert reports.short({"a": "é"}) == repr('{"a": "é"}')
    assert reports.short("y" * 80) == repr("y" * 80)
    assert reports.short("y" * 81) == repr("y" * 80) + "..."
    assert reports.short("abcd", 3) == "'abc'..."


def test_a_body_summary_names_each_field() -> None:
    assert reports.summary({"model": "sora-2", "n": 1}) == "{model='sora-2', n='1'}"
    assert reports.summary({"prompt": "p" * 61}) == "{prompt=" + repr("p" * 60) + "...}"
    assert reports.summary([1, 2]) == "'[1, 2]'"


# --------------------------------------------------------------------------- verdict and summary


def test_a_clean_run_says_no_drift() -> None:
    result = run(operations=ops(listVideos=OperationResult(OPS["listVideos"], [ok("u")])))
    assert reports.verdict(result) == "no drift"
    assert reports.verdict(result, markdown=True) == "**no drift**"


def test_a_retired_model_is_said_beside_no_drift() -> None:
    result = run(
        operations=ops(listVideos=OperationResult(OPS["listVideos"], [ok("u")])),
        retired_models=["sora-2", "sora-2-pro"],
    )
    said = (
        "RETIRED MODEL: the provider answers 'model not found' for sora-2, sora-2-pro "
        "(its lifecycle could not be checked)"
    )
    assert reports.verdict(result) == f"no drift; {said}"
    assert reports.verdict(result, markdown=True) == (
        "**no drift**; **RETIRED MODEL: the provider answers 'model not found' for sora-2, "
        "sora-2-pro** (its lifecycle could not be checked)"
    )


def test_the_verdict_names_drift_and_what_was_not_answered() -> None:
    result = mixed()
    assert reports.verdict(result) == (
        "DRIFT: 2 problem(s) in 1 operation(s) (getVideo); NOT VERIFIED: 2 request(s) "
        "without an answer (createVideo)"
    )
    assert reports.verdict(result, markdown=True) == (
        "**DRIFT: 2 problem(s) in 1 operation(s)** (getVideo); **NOT VERIFIED: 2 request(s) "
        "without an answer** (createVideo)"
    )


def test_blockers_replace_the_count_of_unanswered_requests() -> None:
    result = mixed()
    result.retired_models = ["sora-2"]
    result.block("credentials", "the provider rejected the credentials")
    result.block("no-answer", "1 of 6 request(s) got no answer")
    retired = "RETIRED MODEL: the provider answers 'model not found' for sora-2"
    drift = "DRIFT: 2 problem(s) in 1 operation(s)"
    assert reports.verdict(result) == (
        f"{retired} (its lifecycle could not be checked); {drift} (getVideo); NOT VERIFIED: "
        "the provider rejected the credentials; 1 of 6 request(s) got no answer"
    )
    assert reports.verdict(result, markdown=True).endswith(
        "**NOT VERIFIED**: the provider rejected the credentials; 1 of 6 request(s) got no answer"
    )
    # the console says the blockers on lines of their own
    assert reports.verdict(result, blockers=False) == (
        f"{retired} (its lifecycle could not be checked); {drift} (getVideo)"
    )


def test_the_summary_line_counts_checks_and_says_why_each_was_skipped() -> None:
    assert reports.summary_line(mixed()) == (
        "gptge: 3 check(s) run: 1 passed, 1 failed, 1 could not run; 3 skipped: "
        "deleteVideo: it deletes | data; getVideoContent, remixVideo: nothing to send"
    )


def test_a_skipped_run_gives_its_reason_to_every_operation() -> None:
    result = run(skipped="no check ran: GPTGE_API_KEY is not set")
    assert reports.summary_line(result) == (
        "gptge: 0 check(s) run: 0 passed, 0 failed, 0 could not run; 6 skipped: listVideos, "
        "createVideo, getVideo, deleteVideo, getVideoContent, remixVideo: no check ran: "
        "GPTGE_API_KEY is not set"
    )


# --------------------------------------------------------------------------- Markdown


def test_the_markdown_report_line_by_line() -> None:
    text = reports.markdown_report(mixed(), Redactor([KEY]))
    assert text == "\n".join(
        [
            "# Contract verification: gptge",
            "",
            f"- Contract: `contracts/gptge-videos.yaml` (version {VERSION})",
            "- Base URL: https://api.gpt.ge",
            "- Started: 2026-12-07T03:00:00Z, took 12.3 s",
            "- Requests sent: 6 (paid creates: 1 of at most 1)",
            "- Result: **DRIFT: 2 problem(s) in 1 operation(s)** (getVideo); **NOT VERIFIED: "
            "2 request(s) without an answer** (createVideo)",
            "- Note: no key set",
            "- Note: second note",
            "",
            "| operation | request | sent | statuses seen | problems |",
            "|---|---|---|---|---|",
            "| `listVideos` | GET `/v1/videos` | 2 | 200 ×1, 404 ×1 | 0 |",
            "| `createVideo` | POST `/v1/videos` | 2 | 401 ×1, no answer ×1 | 2 |",
            "| `getVideo` | GET `/v1/videos/{video_id}` | 2 | 200 ×1, 404 ×1 | 2 |",
            "| `deleteVideo` | DELETE `/v1/videos/{video_id}` | 0 | - | "
            "not sent: it deletes \\| data |",
            "| `getVideoContent` | GET `/v1/videos/{video_id}/content` | 0 | - | not sent |",
            "| `remixVideo` | POST `/v1/videos/{video_id}/remix` | 0 | - | not sent |",
            "",
            "## `listVideos`: GET `/v1/videos`",
            "",
            "Requests sent: 2 (probe: list ×2). Statuses seen: 200 ×1, 404 ×1.",
            "",
            "No drift.",
            "",
            "## `createVideo`: POST `/v1/videos`",
            "",
            "Requests sent: 2 (paid create ×2). Statuses seen: 401 ×1, no answer ×1.",
            "",
            "### Problems",
            "",
            "1. `POST https://api.gpt.ge/v1/videos` (paid create): no answer: timed out\\x1b",
            "2. `POST https://api.gpt.ge/v1/videos` (paid create): not verified: 401: the "
            "credentials were rejected",
            "",
            "## `getVideo`: GET `/v1/videos/{video_id}`",
            "",
            "Requests sent: 2 (probe: list ×1, link status ×1). Statuses seen: 200 ×1, 404 ×1.",
            "- note: job status: done",
            "",
            "### Problems",
            "",
            "1. `GET https://api.gpt.ge/v1/videos/video_1` (link status) -> 200",
            "   - at `/status`: 'done' is not one of ['queued']",
            "   - at `header X`: a|b",
            "",
            "   ```",
            '   {"status": "done"}',
            "'''\\x07",
            "   ```",
            "",
            "",
            "## `deleteVideo`: DELETE `/v1/videos/{video_id}`",
            "",
            "Not probed: not sent: it deletes | data.",
            "",
            "## `getVideoContent`: GET `/v1/videos/{video_id}/content`",
            "",
            "Not probed: nothing to send.",
            "",
            "## `remixVideo`: POST `/v1/videos/{video_id}/remix`",
            "",
            "Not probed: nothing to send.",
            "",
        ]
    )


def test_a_skipped_run_is_reported_in_one_line() -> None:
    result = run(skipped="GPTGE_API_KEY is not set")
    assert reports.markdown_report(result, Redactor()) == (
        "# Contract verification: gptge\n\n"
        f"- Contract: `contracts/gptge-videos.yaml` (version {VERSION})\n"
        "- Base URL: https://api.gpt.ge\n"
        "- Started: 2026-12-07T03:00:00Z, took 12.3 s\n"
        "- Result: **skipped**: GPTGE_API_KEY is not set\n\n"
    )
    result.block("no-key", "set GPTGE_API_KEY")
    assert "- Result: **NOT VERIFIED**: set GPTGE_API_KEY\n\n" in reports.markdown_report(
        result, Redactor()
    )


def test_a_clean_run_says_no_drift_in_its_result() -> None:
    result = run(operations=ops(listVideos=OperationResult(OPS["listVideos"], [ok("u")])))
    text = reports.markdown_report(result, Redactor())
    assert "- Result: **no drift**\n" in text
    assert "- Note" not in text


# --------------------------------------------------------------------------- JUnit XML


def junit(result: RunResult) -> tuple[str, ET.Element]:
    text = reports.junit_report(result, Redactor([KEY]))
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    (suite,) = root
    return text, suite


def test_the_junit_suite_has_one_testcase_per_operation_and_the_counts() -> None:
    text, suite = junit(mixed())
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>\n<testsuites>\n  <testsuite ')
    assert text.endswith("</testsuites>\n")
    assert suite.attrib == {
        "name": "sora-mock verify gptge (gptge-videos)",
        "timestamp": "2026-12-07T03:00:00Z",
        "time": "12.345",
        "tests": "6",
        "failures": "2",
        "errors": "2",
        "skipped": "3",
    }
    names = [(c.get("classname"), c.get("name"), c.get("time")) for c in suite]
    assert names == [
        ("verify.gptge", "listVideos (GET /v1/videos)", "0.500"),
        ("verify.gptge", "createVideo (POST /v1/videos)", "1.500"),
        ("verify.gptge", "getVideo (GET /v1/videos/{video_id})", "0.500"),
        ("verify.gptge", "deleteVideo (DELETE /v1/videos/{video_id})", "0.000"),
        ("verify.gptge", "getVideoContent (GET /v1/videos/{video_id}/content)", "0.000"),
        ("verify.gptge", "remixVideo (POST /v1/videos/{video_id}/remix)", "0.000"),
    ]


def test_drift_is_a_failure_and_no_answer_an_error_each_with_what_was_seen() -> None:
    _, suite = junit(mixed())
    listing, create, get, delete, content, _ = suite
    assert [c.tag for c in listing] == ["system-out"]
    assert listing[0].text == (
        "GET https://api.gpt.ge/v1/videos -> 200\nGET https://api.gpt.ge/v1/videos -> 404"
    )
    timeout, refused, out = create
    url = "POST https://api.gpt.ge/v1/videos"
    assert (timeout.tag, timeout.attrib, timeout.text) == (
        "error",
        {"message": f"{url}: timed out\\x1b", "type": "no-answer"},
        "timed out\\x1b",
    )
    assert (refused.tag, refused.attrib, refused.text) == (
        "error",
        {"message": f"{url}: 401: the credentials were rejected", "type": "credentials-rejected"},
        f'{url} (paid create) -> 401\n{{"key": "{REDACTED}"}}',
    )
    assert out.text == f"{url} -> no answer\n{url} -> 401"
    status, header, out = get
    seen = "GET https://api.gpt.ge/v1/videos/video_1 (link status) -> 200"
    assert (status.tag, status.attrib) == (
        "failure",
        {"message": "/status: 'done' is not one of ['queued']", "type": "drift"},
    )
    assert status.text == (
        f"{seen}\nat /status: 'done' is not one of ['queued']\n{{\"status\": \"done\"}}\n```\\x07"
    )
    assert (header.tag, header.get("message"), header.get("type")) == (
        "failure",
        "header X: a|b",
        "drift",
    )
    assert [(c.tag, c.attrib) for c in delete] == [
        ("skipped", {"message": "not sent: it deletes | data"})
    ]
    assert [(c.tag, c.attrib) for c in content] == [("skipped", {"message": ""})]


def test_each_blocker_is_an_error_testcase_of_its_own() -> None:
    result = mixed()
    result.block("credentials", "the provider rejected the credentials")
    result.block("no-answer", "1 of 6 request(s) got no answer")
    _, suite = junit(result)
    assert (suite.get("tests"), suite.get("errors"), suite.get("failures")) == ("8", "4", "2")
    blockers = list(suite)[6:]
    assert [(c.get("classname"), c.get("name"), c.get("time")) for c in blockers] == [
        ("verify.gptge", "gptge: could not verify (credentials)", "0.000"),
        ("verify.gptge", "gptge: could not verify (no-answer)", "0.000"),
    ]
    (error,) = blockers[0]
    assert (error.tag, error.attrib, error.text) == (
        "error",
        {"message": "gptge: the provider rejected the credentials", "type": "credentials"},
        "the provider rejected the credentials",
    )


def test_a_skipped_run_skips_every_testcase_with_its_reason() -> None:
    result = run(skipped="no check ran: GPTGE_API_KEY is not set")
    result.operations["listVideos"].exchanges.append(ok("u"))
    _, suite = junit(result)
    assert suite.get("skipped") == "6"
    assert {c[0].get("message") for c in suite} == {"no check ran: GPTGE_API_KEY is not set"}


def test_text_xml_cannot_hold_is_escaped_and_the_rest_kept() -> None:
    result = run(
        operations=ops(
            listVideos=OperationResult(
                OPS["listVideos"], [ok("u", problems=[Drift("/a\x00", "bad \x0b\ufffe é\t\n")])]
            )
        )
    )
    _, suite = junit(result)
    failure = suite[0][0]
    assert failure.get("message") == "/a\\x00: bad \\x0b\\xfffe é\t\n"
    assert failure.text == "GET u (probe: list) -> 200\nat /a\\x00: bad \\x0b\\xfffe é\t\n\n"


# --------------------------------------------------------------------------- the key


def test_the_key_is_masked_in_both_reports_wherever_it_hides(tmp_path: Path) -> None:
    result = mixed()
    result.notes.append(f"raw {KEY}")
    result.operations["listVideos"].exchanges[0].url = f"https://api.gpt.ge/v1/videos?k={KEY}"
    result.block("credentials", f"said: {KEY}")
    markdown, xml = reports.write_reports(result, tmp_path / "new" / "dir", Redactor([KEY]))
    assert (markdown.name, xml.name) == ("verify-gptge.md", "verify-gptge.xml")
    assert markdown.parent == xml.parent == tmp_path / "new" / "dir"
    for path in (markdown, xml):
        text = path.read_text(encoding="utf-8")
        assert KEY not in text
        assert REDACTED in text
    assert markdown.read_text(encoding="utf-8") == reports.markdown_report(result, Redactor([KEY]))
    assert xml.read_text(encoding="utf-8") == reports.junit_report(result, Redactor([KEY]))


def test_reports_are_written_in_utf8_whatever_the_locale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = mixed()
    result.notes.append("über ×")
    written: list[tuple[str, str | None]] = []
    original = Path.write_text

    def spy(self: Path, data: str, encoding: str | None = None, **kw: object) -> int:
        written.append((self.name, encoding and encoding.lower().replace("-", "")))
        return original(self, data, encoding="utf-8")

    monkeypatch.setattr(Path, "write_text", spy)
    reports.write_reports(result, tmp_path, Redactor())
    assert written == [("verify-gptge.md", "utf8"), ("verify-gptge.xml", "utf8")]


def busy() -> RunResult:
    """Two operations with drift and two with unanswered requests, problems interleaved."""
    first = [Drift("/a", "one")]
    return run(
        operations=ops(
            getVideo=OperationResult(
                OPS["getVideo"],
                [
                    ok("u1", problems=first),
                    Exchange("link", "GET", "u2", error="reset"),
                    ok("u3", problems=[Drift("/b", "two")]),
                    Exchange("link", "GET", "u4", error="reset again"),
                    Exchange("link", "GET", "u5", status=403, unverified="403: rejected"),
                ],
            ),
            listVideos=OperationResult(OPS["listVideos"], [ok("u6", problems=[Drift("/c", "x")])]),
            getVideoContent=OperationResult(
                OPS["getVideoContent"], [Exchange("link", "GET", "u7", error="gone")]
            ),
            deleteVideo=OperationResult(OPS["deleteVideo"], not_sent="not sent:\nit deletes"),
        )
    )


def test_every_problem_of_an_operation_is_numbered_in_turn() -> None:
    text = reports.markdown_report(busy(), Redactor())
    numbered = [line for line in text.splitlines() if line[:1].isdigit()]
    assert numbered == [
        "1. `GET u6` (probe: list) -> 200",
        "1. `GET u1` (probe: list) -> 200",
        "2. `GET u2` (link): no answer: reset",
        "3. `GET u3` (probe: list) -> 200",
        "4. `GET u4` (link): no answer: reset again",
        "5. `GET u5` (link): not verified: 403: rejected",
        "1. `GET u7` (link): no answer: gone",
    ]


def test_a_reason_on_two_lines_stays_in_its_table_cell() -> None:
    text = reports.markdown_report(busy(), Redactor())
    row = "| `deleteVideo` | DELETE `/v1/videos/{video_id}` | 0 | - | not sent: it deletes |\n"
    assert row in text


def test_the_verdict_lists_every_operation_concerned() -> None:
    assert reports.verdict(busy()) == (
        "DRIFT: 3 problem(s) in 2 operation(s) (listVideos, getVideo); NOT VERIFIED: 4 "
        "request(s) without an answer (getVideo, getVideoContent)"
    )


def test_every_error_is_counted_in_the_junit_suite() -> None:
    _, suite = junit(busy())
    assert {c.tag for c in suite} == {"testcase"}
    assert (suite.get("failures"), suite.get("errors")) == ("3", "4")
    get = suite[2]
    assert [(c.tag, c.get("type")) for c in get] == [
        ("failure", "drift"),
        ("error", "no-answer"),
        ("failure", "drift"),
        ("error", "no-answer"),
        ("error", "credentials-rejected"),
        ("system-out", None),
    ]


def test_a_blocker_testcase_is_a_testcase() -> None:
    result = busy()
    result.block("credentials", "rejected")
    _, suite = junit(result)
    assert [c.tag for c in suite] == ["testcase"] * 7
