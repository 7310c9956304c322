"""``sora-mock cassettes report DIR``: what recorded traffic shows against each contract's
assumptions, so a maintainer can turn an assumption into a fact in ``contracts/README.md``.

For each contract it lists, from the recorded answers: the status words seen (against the
words the contract allows), the progress values and their scale, the timestamp types, the
HTTP statuses per operation, the error bodies' shapes, fields the contract does not declare,
headers such as ``Retry-After`` and the poll hint, what a download answered before the job
ended, how long jobs took, and every drift the contract's validators found.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import contracts
from mockserver.conformance import cassettes
from mockserver.conformance.cassettes import Cassette
from mockserver.conformance.contract_map import TERMINAL_WORDS, ContractMap
from mockserver.conformance.pointers import pointer_get
from mockserver.conformance.redaction import Redactor


def _ordered(values: Iterable[Any]) -> list[Any]:
    seen: list[Any] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def _shape(value: Any) -> str:
    """``{error: {code, message}}``: the keys of a JSON value, two levels deep."""
    if isinstance(value, Mapping):
        inner = ", ".join(
            f"{k}: {_shape(v)}" if isinstance(v, Mapping) else str(k) for k, v in value.items()
        )
        return "{" + inner + "}"
    return type(value).__name__


def _type(value: Any) -> str:
    return (
        "null"
        if value is None
        else {str: "string", int: "integer", float: "number"}.get(type(value), type(value).__name__)
    )


class Evidence:
    """Findings for one contract, gathered over its cassettes."""

    def __init__(self, contract_name: str, items: list[Cassette]) -> None:
        self.contract = contracts.load(contract_name)
        self.map = ContractMap(self.contract)
        self.items = items

    def _status_schema(self, create_id: str) -> tuple[Any, str | None, Any]:
        create = self.contract.operation(create_id)
        status_op = self.map.status_operation(create)
        pointer = self.map.status_pointer(create)
        if status_op is None or pointer is None:
            return None, None, None
        media = self.map.media(status_op, 200, "application/json")
        return status_op, pointer, media.get("schema")

    def lines(self) -> list[str]:
        out: list[str] = []
        statuses: dict[str, Counter[int]] = defaultdict(Counter)
        words: list[str] = []
        allowed: list[Any] = []
        progress: list[Any] = []
        progress_schema: Mapping[str, Any] = {}
        stamps: dict[str, Counter[str]] = defaultdict(Counter)
        undeclared: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        headers: Counter[str] = Counter()
        early: Counter[str] = Counter()
        durations: list[float] = []
        drift: Counter[str] = Counter()
        for cassette in self.items:
            data = cassette.data
            create = data["create"]
            _, pointer, schema = self._status_schema(cassette.operation)
            answers = [(create["operation"], 0.0, create["response"])]
            answers += [(r["operation"], float(r["offset"]), r["response"]) for r in data["polls"]]
            answers += [
                (r["operation"], float(r["offset"]), r["response"]) for r in data["downloads"]
            ]
            ended: float | None = None
            for operation, offset, answer in answers:
                statuses[operation][answer["status"]] += 1
                for name in ("retry-after", "openai-poll-after-ms", "x-request-id"):
                    if name in answer["headers"]:
                        headers[f"{name} (on {answer['status']})"] += 1
                body = answer.get("body")
                if answer["status"] >= 400:
                    errors[
                        f"{answer['status']}: {_shape(body) if body is not None else 'text'}"
                    ] += 1
                    continue
                if pointer is None or not isinstance(body, Mapping):
                    continue
                try:
                    word = str(pointer_get(body, pointer))
                except KeyError:
                    continue
                words.append(word)
                if word.lower() in TERMINAL_WORDS and ended is None:
                    ended = offset
                base = pointer.rsplit("/", 1)[0]
                try:
                    node = pointer_get(body, base) if base else body
                except KeyError:
                    node = None
                if isinstance(node, Mapping):
                    if "progress" in node:
                        progress.append(node["progress"])
                    for key, value in node.items():
                        if key.endswith("_at"):
                            stamps[key][_type(value)] += 1
                    if schema is not None:
                        node_schema = self.map.schema_at(schema, base)
                        declared = set(node_schema.get("properties") or {})
                        if declared:
                            undeclared.update(k for k in node if k not in declared)
                        allowed = list(self.map.schema_at(schema, pointer).get("enum") or allowed)
                        progress_schema = self.map.schema_at(schema, base + "/progress")
            for read in data["downloads"]:
                if ended is None or float(read["offset"]) < ended:
                    answer = read["response"]
                    ctype = answer["headers"].get("content-type", "?")
                    early[f"{answer['status']} {ctype}"] += 1
            if ended is not None:
                durations.append(ended)
            for read in [create, *data["polls"], *data["downloads"]]:
                for problem in read["verdict"]["problems"]:
                    drift[f"{problem['where']}: {problem['message']}"] += 1
            for problem in cassette.problems:
                drift[f"(today's contract) {problem.where}: {problem.message}"] += 1

        name = self.contract.name
        out += [f"## {name}", "", f"- cassettes: {len(self.items)}"]
        if words:
            seen = ", ".join(_ordered(words))
            line = f"- status words seen: {seen}"
            if allowed:
                unknown = [w for w in _ordered(words) if w not in allowed]
                line += f" (the contract allows: {', '.join(map(str, allowed))})"
                if unknown:
                    line += f"; NOT in the contract: {', '.join(unknown)}"
            out.append(line)
        if progress:
            numbers = [p for p in progress if isinstance(p, int | float)]
            kinds = ", ".join(sorted({_type(p) for p in progress}))
            scale = f"{min(numbers)}..{max(numbers)}" if numbers else "none numeric"
            line = f"- progress seen: {scale} ({kinds})"
            if progress_schema:
                bounds = (progress_schema.get("minimum"), progress_schema.get("maximum"))
                line += f"; the contract says {bounds[0]}..{bounds[1]}"
            out.append(line)
        for key, types in sorted(stamps.items()):
            shown = ", ".join(f"{k} ×{n}" for k, n in sorted(types.items()))
            out.append(f"- `{key}` types seen: {shown}")
        for operation, counter in statuses.items():
            shown = ", ".join(f"{s} ×{n}" for s, n in sorted(counter.items()))
            out.append(f"- `{operation}` HTTP statuses: {shown}")
        if errors:
            out.append("- error bodies seen: " + "; ".join(f"{k} ×{n}" for k, n in errors.items()))
        if undeclared:
            out.append(
                "- fields the contract does not declare: "
                + ", ".join(f"`{k}` ×{n}" for k, n in sorted(undeclared.items()))
            )
        if headers:
            out.append(
                "- headers seen: " + ", ".join(f"{k} ×{n}" for k, n in sorted(headers.items()))
            )
        if early:
            out.append(
                "- downloads before the job ended answered: "
                + ", ".join(f"{k} ×{n}" for k, n in sorted(early.items()))
            )
        if durations:
            out.append(
                f"- time from create to the end: {min(durations):g}..{max(durations):g} s "
                f"(as recorded, over {len(durations)} job(s))"
            )
        if drift:
            out += ["", "Drift found by the contract's validators:", ""]
            out += [f"- {text} (×{n})" for text, n in drift.most_common()]
        else:
            out.append("- drift: none")
        return out + [""]


def report(directory: Path | str) -> str:
    """The Markdown evidence report of a directory of cassettes (redacted)."""
    loaded = cassettes.load(directory)
    by_contract: dict[str, list[Cassette]] = defaultdict(list)
    for cassette in loaded:
        by_contract[cassette.contract].append(cassette)
    lines = [
        f"# What the recorded traffic in {Path(directory)} shows",
        "",
        f"{len(loaded)} cassette(s). Compare each line with the contract's assumption rows in "
        "`contracts/README.md`.",
        "",
    ]
    for name in sorted(by_contract):
        lines += Evidence(name, by_contract[name]).lines()
    return Redactor().final_pass("\n".join(lines))
