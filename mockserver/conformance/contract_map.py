"""What verify, the proxy, the recorder and replay read from a contract beyond its schemas:
which operations create a job, which ones its links lead to, which one is the status read,
where the job id and its status word sit in an answer, and the documented request examples."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from contracts import Contract, Operation
from mockserver.conformance.pointers import fill_path

#: status words after which a job never changes
TERMINAL_WORDS = frozenset(
    {"completed", "succeeded", "success", "failed", "error", "cancelled", "canceled", "expired"}
)

Link = tuple[str, Operation, Mapping[str, Any]]


class ContractMap:
    """Read-only questions about one contract's operations and links."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract

    def resolve(self, node: Any) -> Any:
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            node = self.contract.resolve(node["$ref"])
        return node

    def response_def(self, op: Operation, status: int | str) -> Mapping[str, Any]:
        responses = op.definition.get("responses", {})
        found = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
        return self.resolve(found) if found else {}

    def media(self, op: Operation, status: int, content_type: str) -> Mapping[str, Any]:
        """The media type object the contract declares for this status and Content-Type."""
        content = self.response_def(op, status).get("content") or {}
        return content.get(content_type.split(";")[0].strip()) or {}

    def security_header(self, api_key: str) -> dict[str, str]:
        """The header carrying ``api_key`` in the first form the contract's security allows."""
        schemes = self.contract.security_schemes
        for requirement in self.contract.spec.get("security", []):
            for name in requirement:
                scheme = schemes.get(name, {})
                if scheme.get("type") == "http" and scheme.get("scheme") == "bearer":
                    return {"Authorization": f"Bearer {api_key}"}
                if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                    return {scheme["name"]: api_key}
        return {"Authorization": f"Bearer {api_key}"}

    def ops(self, method: str) -> list[Operation]:
        return [op for op in self.contract.operations.values() if op.method == method]

    @staticmethod
    def params(op: Operation) -> list[str]:
        return re.findall(r"\{([^}]+)\}", op.path)

    def template_path(self, op: Operation) -> str:
        return fill_path(op.path, dict.fromkeys(self.params(op), "placeholder"))

    def create_operations(self) -> list[Operation]:
        """POST operations without a path parameter: each creates a (paid) job."""
        return [op for op in self.ops("post") if not self.params(op)]

    def link_targets(self, op: Operation) -> list[Link]:
        links: list[Link] = []
        for status, response in op.definition.get("responses", {}).items():
            if not str(status).startswith("2"):
                continue
            for name, link in (self.resolve(response).get("links") or {}).items():
                link = self.resolve(link)
                target = self.contract.operation(link["operationId"])
                if all(name != seen for seen, _, _ in links):
                    links.append((name, target, link.get("parameters") or {}))
        return links

    def is_json_only(self, op: Operation) -> bool:
        content = self.response_def(op, 200).get("content") or {}
        return bool(content) and set(content) == {"application/json"}

    def status_link(self, links: Sequence[Link]) -> Link | None:
        gets = [link for link in links if link[1].method == "get"]
        return next((link for link in gets if self.is_json_only(link[1])), None) or (
            gets[0] if gets else None
        )

    def id_pointer(self, create: Operation) -> str | None:
        """Where the job id sits in the create's answer (``/id``, ``/data/id``), from the link
        to the status read (``$response.body#/id``)."""
        link = self.status_link(self.link_targets(create))
        if link is None:
            return None
        for expr in link[2].values():
            if isinstance(expr, str) and expr.startswith("$response.body#"):
                return expr[len("$response.body#") :]
        return None

    def status_pointer(self, create: Operation) -> str | None:
        """Where the status word sits: beside the id (``/status``, ``/data/status``)."""
        found = self.id_pointer(create)
        return None if found is None else found.rsplit("/", 1)[0] + "/status"

    def status_operation(self, create: Operation) -> Operation | None:
        link = self.status_link(self.link_targets(create))
        return None if link is None else link[1]

    def example_body(self, op: Operation) -> tuple[str, Any]:
        content = (self.resolve(op.definition.get("requestBody")) or {}).get("content") or {}
        for media_type, media in content.items():
            examples = media.get("examples") or {}
            for example in examples.values():
                example = self.resolve(example)
                if "value" in example:
                    return media_type, copy.deepcopy(example["value"])
            if "example" in media:
                return media_type, copy.deepcopy(media["example"])
        raise LookupError(f"{op.operation_id} documents no request example")

    def body_schema(self, op: Operation, media_type: str) -> Mapping[str, Any]:
        content = (self.resolve(op.definition.get("requestBody")) or {}).get("content") or {}
        return self.resolve((content.get(media_type) or {}).get("schema") or {})

    def schema_at(self, schema: Any, pointer: str) -> Mapping[str, Any]:
        """The sub-schema a JSON pointer into a document leads to (``/data/status``), following
        ``properties``, ``items`` and the first branch of ``allOf``/``anyOf``/``oneOf`` that has
        it; ``{}`` when the schema does not say."""
        node = self.resolve(schema) or {}
        for part in [p for p in pointer.split("/")[1:] if p]:
            node = self._child(node, part)
            if not node:
                return {}
        return node

    def _child(self, node: Mapping[str, Any], part: str) -> Mapping[str, Any]:
        props = node.get("properties") or {}
        if part in props:
            return self.resolve(props[part]) or {}
        if part.isdigit() and "items" in node:
            return self.resolve(node["items"]) or {}
        for key in ("allOf", "anyOf", "oneOf"):
            for branch in node.get(key) or []:
                found = self._child(self.resolve(branch) or {}, part)
                if found:
                    return found
        return {}
