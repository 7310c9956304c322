"""Load and check contract files; index their operations."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts._document import (
    HTTP_METHODS,
    ContractDocument,
    ContractError,
    Operation,
    resolve_pointer,
)

CONTRACTS_DIR = Path(__file__).resolve().parent

#: contract name -> (mock prefix, provider) for the provider contracts.
PROVIDER_CONTRACTS: Mapping[str, str] = {
    "gptproto-chat": "gptproto",
}


@dataclass
class Contract(ContractDocument):
    """A checked contract: its raw document plus lazily built validators."""

    @functools.cached_property
    def openapi(self) -> Any:
        """The openapi-core ``OpenAPI`` object (built on first use: it costs ~100 ms)."""
        from contracts._validation import build_openapi

        return build_openapi(self)

    def schema_validator(self, pointer: str) -> Any:
        """A JSON Schema 2020-12 validator for one schema of this contract (built once)."""
        from contracts._validation import schema_validator

        if pointer not in self.validators:
            self.validators[pointer] = schema_validator(self, pointer)
        return self.validators[pointer]

    def validate_request(self, request: Any) -> Any:
        from contracts._validation import validate_request

        return validate_request(self, request)

    def validate_parameters(
        self, operation_id: str, path: Mapping[str, str], query: Mapping[str, str]
    ) -> dict[str, Any]:
        from contracts._validation import validate_parameters

        return validate_parameters(self, operation_id, path, query)

    def query_parameters(self, operation_id: str) -> frozenset[str]:
        """Names of the query parameters an operation declares (path-level ones included)."""
        return self.compiled.operation(operation_id).query_names

    @property
    def compiled(self) -> Any:
        """The validators compiled from this contract (``contracts._compiled``), per operation
        on first use; ``contract.compiled.build_all()`` compiles them all at once."""
        from contracts._compiled import compiled

        return compiled(self)

    def validate_response(self, request: Any, response: Any) -> Any:
        from contracts._validation import validate_response

        return validate_response(self, request, response)

    def validate_request_reference(self, request: Any) -> Any:
        """``validate_request`` done by openapi-core (the reference; slow, for tests)."""
        from contracts._validation import validate_request_reference

        return validate_request_reference(self, request)

    def validate_response_reference(self, request: Any, response: Any) -> Any:
        """``validate_response`` done by openapi-core (the reference; slow, for tests)."""
        from contracts._validation import validate_response_reference

        return validate_response_reference(self, request, response)


def _walk(node: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    yield where, node
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _walk(value, f"{where}/{str(key).replace('~', '~0').replace('/', '~1')}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{where}/{index}")


def _iter_operations(spec: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    for path, item in (spec.get("paths") or {}).items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method]


def check_contract(spec: Any, path: Path | str) -> dict[str, Operation]:
    """Check one parsed contract and index its operations; raise ContractError on any fault."""
    if not isinstance(spec, dict):
        raise ContractError(path, "", "not a YAML mapping")
    for where, node in _walk(spec):
        is_data = "/value/" in where or "/example/" in where or where.endswith("/value")
        if not is_data and isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            try:
                resolve_pointer(spec, ref, path)
            except ContractError as exc:
                raise ContractError(path, f"{where}/$ref", f"{ref}: {exc.message}") from None
    # imported here: openapi-spec-validator takes ~0.7 s to import, and a contract that
    # passed once is not checked again (see load_path)
    from openapi_spec_validator import validate as validate_spec
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    try:
        validate_spec(spec)
    except OpenAPIValidationError as exc:
        where = "/" + "/".join(str(p) for p in exc.absolute_path)
        raise ContractError(
            path, where, f"not a valid OpenAPI 3.1 document: {exc.message}"
        ) from exc
    except Exception as exc:  # the validator raises plain errors on unreadable input
        raise ContractError(path, "", f"not a valid OpenAPI document: {exc}") from exc

    operations = index_operations(spec, path)
    for where, node in _walk(spec):
        if where.rsplit("/", 2)[-2:-1] == ["links"] and isinstance(node, Mapping):
            target = node.get("operationId")
            if target is not None and target not in operations:
                raise ContractError(path, where, f"link names unknown operationId {target!r}")
    return operations


def index_operations(spec: Mapping[str, Any], path: Path | str) -> dict[str, Operation]:
    """Index a contract's operations by operationId (each one present and unique).

    Cheap on purpose: a cached contract (one that passed :func:`check_contract`, links
    included) is indexed with this alone at every start-up."""
    operations: dict[str, Operation] = {}
    for op_path, method, op in _iter_operations(spec):
        where = f"/paths/{op_path.replace('~', '~0').replace('/', '~1')}/{method}"
        op_id = op.get("operationId")
        if not op_id:
            raise ContractError(path, where, "operation has no operationId")
        if op_id in operations:
            raise ContractError(path, where, f"duplicate operationId {op_id!r}")
        operations[op_id] = Operation(op_id, method, op_path, op, tuple(op.get("tags", ())))
    return operations


#: bump when what check_contract checks changes: every cached "passed" is then forgotten
_CHECK_VERSION = b"sora-mock contract check 1\n"


def _parse_yaml(text: str) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's: ~8x faster
    return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader


def cache_dir() -> Path | None:
    """Where contracts that passed :func:`check_contract` are remembered, by content hash:
    ``$SORA_MOCK_CACHE_DIR``, else ``$XDG_CACHE_HOME/sora-mock`` or ``~/.cache/sora-mock``.
    ``SORA_MOCK_CACHE_DIR=""`` turns the cache off (every load checks the file again)."""
    configured = os.environ.get("SORA_MOCK_CACHE_DIR")
    if configured is not None:
        return Path(configured) / "contracts" if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sora-mock" / "contracts"


def _cached(key: str) -> Any:
    directory = cache_dir()
    if directory is None:
        return None
    try:
        return json.loads((directory / f"{key}.json").read_bytes())
    except (OSError, ValueError):
        return None


def _remember(key: str, spec: Any) -> None:
    """Keep a checked contract, parsed, as JSON (when JSON holds it exactly); best effort."""
    directory = cache_dir()
    if directory is None:
        return
    try:
        text = json.dumps(spec, ensure_ascii=False)
        if json.loads(text) != spec:  # e.g. integer keys or dates: not cached, checked each time
            return
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f"{key}.{os.getpid()}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, directory / f"{key}.json")
    except (OSError, TypeError, ValueError):
        pass


def load_path(path: Path | str, name: str | None = None, *, cache: bool = True) -> Contract:
    """Read, check and index one contract file.

    The full check (:func:`check_contract`: every ``$ref``, OpenAPI 3.1 validity, links) costs
    ~1 s with openapi-spec-validator's import; a file whose exact bytes passed it before is
    read from the cache (:func:`cache_dir`) instead: a changed file has another hash, so a
    broken contract is always checked, and reported naming its file and JSON pointer.
    ``cache=False`` always checks. The test suite checks every bundled contract uncached.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except OSError as exc:
        raise ContractError(path, "", f"cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ContractError(path, f"byte {exc.start}", "not UTF-8 text") from exc
    key = hashlib.sha256(_CHECK_VERSION + raw).hexdigest()
    spec = _cached(key) if cache else None
    if spec is not None:
        return Contract(name or path.stem, path, spec, index_operations(spec, path))
    import yaml  # only when a file is parsed (~40 ms): a cached contract is JSON

    try:
        spec = _parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ContractError(path, where, f"not valid YAML: {exc}") from exc
    operations = check_contract(spec, path)
    if cache:
        _remember(key, spec)
    return Contract(name or path.stem, path, spec, operations)


#: contracts added from outside the package (``contracts.add_provider``), by name
EXTRA_PATHS: dict[str, Path] = {}
#: called with each contract :func:`load` reads, before anything is compiled from it (a
#: models file's models join it here: ``contracts._usermodels``)
AFTER_LOAD: list[Callable[[Contract], None]] = []


#: the contracts :func:`load` read, by name (:func:`forget` drops them)
_LOADED: dict[str, Contract] = {}


def load(name: str) -> Contract:
    """Load a bundled (or added) contract by name (``gptge-videos``), once per process (until
    :func:`forget`: a provider added again under a name it had is read again)."""
    found = _LOADED.get(name)
    if found is not None:
        return found
    path = EXTRA_PATHS.get(name) or CONTRACTS_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in CONTRACTS_DIR.glob("*.yaml")))
        raise ContractError(path, "", f"no such contract; known: {known}")
    contract = load_path(path, name)
    for hook in AFTER_LOAD:
        hook(contract)
    _LOADED[name] = contract
    return contract


def forget(name: str | None = None) -> None:
    """Read contract ``name`` (every contract: None) from its file at its next :func:`load`."""
    if name is None:
        _LOADED.clear()
    else:
        _LOADED.pop(name, None)


def load_all() -> dict[str, Contract]:
    """Every bundled contract, by name."""
    return {p.stem: load(p.stem) for p in sorted(CONTRACTS_DIR.glob("*.yaml"))}
