"""Reports of a verification run: Markdown for people, JUnit XML for CI. Both pass through
the run's :class:`~mockserver.conformance.redaction.Redactor` last."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mockserver.conformance.redaction import Redactor
from mockserver.conformance.results import RunResult

EXCERPT_CHARS = 400


def safe_excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def summary(body: Any) -> str:
    if isinstance(body, Mapping):
        return "{" + ", ".join(f"{k}={short(v, 60)}" for k, v in body.items()) + "}"
    return short(body)


_XML_INVALID = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _printable(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _xml_text(text: str) -> str:
    return _XML_INVALID.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _md_cell(text: str) -> str:
    return _printable(text).replace("|", "\\|").replace("\n", " ")


def verdict(result: RunResult, markdown: bool = False, blockers: bool = True) -> str:
    bold = "**" if markdown else ""
    retired = (
        f"{bold}RETIRED MODEL: the provider answers 'model not found' for "
        f"{', '.join(result.retired_models)}{bold} (its lifecycle could not be checked)"
        if result.retired_models
        else ""
    )
    if result.ok:
        return "; ".join(filter(None, [f"{bold}no drift{bold}", retired]))
    parts = [retired] if retired else []
    if result.drift_count:
        drifted = [op for op, r in result.operations.items() if r.drift]
        parts.append(
            f"{bold}DRIFT: {result.drift_count} problem(s) in {len(drifted)} operation(s)"
            f"{bold} ({', '.join(drifted)})"
        )
    if result.blockers and blockers:
        parts.append(f"{bold}NOT VERIFIED{bold}: " + "; ".join(b.reason for b in result.blockers))
    elif result.error_count and not result.blockers:
        failed = [op for op, r in result.operations.items() if r.errors]
        parts.append(
            f"{bold}NOT VERIFIED: {result.error_count} request(s) without an answer{bold} "
            f"({', '.join(failed)})"
        )
    return "; ".join(parts)


def _skip_reason(result: RunResult, reason: str | None) -> str:
    reason = reason or result.skipped or "nothing to send"
    return reason.removeprefix("not sent: ")


def summary_line(result: RunResult) -> str:
    """The run in one line: checks (one per operation) run, passed, failed, could not run,
    and every skip with its reason."""
    tally = result.tally()
    ran = tally["passed"] + tally["failed"] + tally["error"]
    skips: dict[str, list[str]] = {}
    for op_id, op_result in result.operations.items():
        if op_result.outcome == "skipped":
            skips.setdefault(_skip_reason(result, op_result.not_sent), []).append(op_id)
    text = (
        f"{result.provider}: {ran} check(s) run: {tally['passed']} passed, "
        f"{tally['failed']} failed, {tally['error']} could not run; {tally['skipped']} skipped"
    )
    if skips:
        text += ": " + "; ".join(f"{', '.join(ops)}: {why}" for why, ops in skips.items())
    return text


def markdown_report(result: RunResult, redactor: Redactor) -> str:
    contract = result.contract
    lines = [
        f"# Contract verification: {result.provider}",
        "",
        f"- Contract: `contracts/{contract.name}.yaml` "
        f"(version {contract.spec['info'].get('version')})",
        f"- Base URL: {result.base_url}",
        f"- Started: {result.started}, took {result.seconds:.1f} s",
    ]
    if result.skipped:
        outcome = (
            verdict(result, markdown=True) if result.blockers else f"**skipped**: {result.skipped}"
        )
        lines += [f"- Result: {outcome}", ""]
        return redactor.final_pass("\n".join(lines) + "\n")
    summary_line = verdict(result, markdown=True)
    lines += [
        f"- Requests sent: {result.requests} (paid creates: {result.creates_sent} of at most "
        f"{result.max_creates})",
        f"- Result: {summary_line}",
    ]
    lines += [f"- Note: {n}" for n in result.notes]
    lines += [
        "",
        "| operation | request | sent | statuses seen | problems |",
        "|---|---|---|---|---|",
    ]
    for op_id, op_result in result.operations.items():
        op = op_result.operation
        statuses = ", ".join(f"{s} ×{n}" for s, n in sorted(op_result.statuses.items())) or "-"
        problems = (
            str(len(op_result.drift) + len(op_result.errors))
            if op_result.exchanges
            else (op_result.not_sent or "not sent")
        )
        lines.append(
            f"| `{op_id}` | {op.method.upper()} `{op.path}` | {len(op_result.exchanges)} | "
            f"{statuses} | {_md_cell(problems)} |"
        )
    for op_id, op_result in result.operations.items():
        op = op_result.operation
        lines += ["", f"## `{op_id}`: {op.method.upper()} `{op.path}`", ""]
        if not op_result.exchanges:
            lines.append(f"Not probed: {op_result.not_sent or 'nothing to send'}.")
            continue
        kinds = Counter(x.kind for x in op_result.exchanges)
        lines.append(
            f"Requests sent: {len(op_result.exchanges)} ("
            + ", ".join(f"{k} ×{n}" for k, n in kinds.items())
            + "). Statuses seen: "
            + ", ".join(f"{s} ×{n}" for s, n in sorted(op_result.statuses.items()))
            + "."
        )
        notes = sorted({n for x in op_result.exchanges for n in x.notes})
        for note in notes:
            lines.append(f"- note: {_printable(note)}")
        if not op_result.drift and not op_result.errors:
            lines += ["", "No drift."]
            continue
        lines += ["", "### Problems", ""]
        number = 0
        for exchange in op_result.exchanges:
            request = f"`{exchange.method} {_printable(exchange.url)}` ({exchange.kind})"
            if exchange.error:
                number += 1
                lines.append(f"{number}. {request}: no answer: {_printable(exchange.error)}")
            elif exchange.unverified:
                number += 1
                lines.append(
                    f"{number}. {request}: not verified: {_printable(exchange.unverified)}"
                )
            if not exchange.problems:
                continue
            number += 1
            lines.append(f"{number}. {request} -> {exchange.status}")
            for problem in exchange.problems:
                lines.append(
                    f"   - at `{_printable(problem.where)}`: {_printable(problem.message)}"
                )
            if exchange.excerpt:
                excerpt = _printable(exchange.excerpt).replace("```", "'''")
                lines += ["", "   ```", f"   {excerpt}", "   ```", ""]
    return redactor.final_pass("\n".join(lines) + "\n")


def junit_report(result: RunResult, redactor: Redactor) -> str:
    def clean(text: str) -> str:
        return _xml_text(redactor(text))

    def outcome(case: ET.Element, tag: str, message: str, kind: str, text: str) -> None:
        """A testcase's ``<error>`` (could not check) or ``<failure>`` (drift), redacted."""
        ET.SubElement(case, tag, message=clean(message), type=kind).text = clean(text)

    suite = ET.Element(
        "testsuite",
        name=clean(f"sora-mock verify {result.provider} ({result.contract.name})"),
        timestamp=result.started,
        time=f"{result.seconds:.3f}",
    )
    tests = failures = errors = skipped = 0
    for op_id, op_result in result.operations.items():
        op = op_result.operation
        case = ET.SubElement(
            suite,
            "testcase",
            classname=clean(f"verify.{result.provider}"),
            name=clean(f"{op_id} ({op.method.upper()} {op.path})"),
            time=f"{sum(x.seconds for x in op_result.exchanges):.3f}",
        )
        tests += 1
        if result.skipped or not op_result.exchanges:
            skipped += 1
            ET.SubElement(
                case, "skipped", message=clean(result.skipped or op_result.not_sent or "")
            )
            continue
        for exchange in op_result.exchanges:
            request = f"{exchange.method} {exchange.url}"
            seen = f"{request} ({exchange.kind}) -> {exchange.status}"
            if exchange.error:
                errors += 1
                outcome(case, "error", f"{request}: {exchange.error}", "no-answer", exchange.error)
            elif exchange.unverified:
                errors += 1
                message = f"{request}: {exchange.unverified}"
                text = f"{seen}\n{exchange.excerpt}"
                outcome(case, "error", message, "credentials-rejected", text)
            for problem in exchange.problems:
                failures += 1
                where = f"{problem.where}: {problem.message}"
                text = f"{seen}\nat {where}\n{exchange.excerpt}"
                outcome(case, "failure", where, "drift", text)
        out = ET.SubElement(case, "system-out")
        out.text = clean(
            "\n".join(
                f"{x.method} {x.url} -> {x.status if x.status is not None else 'no answer'}"
                for x in op_result.exchanges
            )
        )
    for blocker in result.blockers:
        # JUnit's error: the check could not run (a failure would say the provider drifted)
        case = ET.SubElement(
            suite,
            "testcase",
            classname=clean(f"verify.{result.provider}"),
            name=clean(f"{result.provider}: could not verify ({blocker.kind})"),
            time="0.000",
        )
        tests += 1
        errors += 1
        outcome(case, "error", f"{result.provider}: {blocker.reason}", blocker.kind, blocker.reason)
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    text = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    return redactor.final_pass(text)


def write_reports(result: RunResult, directory: Path, redactor: Redactor) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    markdown = directory / f"verify-{result.provider}.md"
    xml = directory / f"verify-{result.provider}.xml"
    markdown.write_text(markdown_report(result, redactor), encoding="utf-8")
    xml.write_text(junit_report(result, redactor), encoding="utf-8")
    return markdown, xml
