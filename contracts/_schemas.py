"""JSON Schemas of a contract compiled to validators: jsonschema-rs says "valid" (fast), Python
jsonschema words the errors; every `$ref` resolved through one registry per contract; the
default fillers that give an unmarshalled body its schema defaults."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.protocols import Validator
    from referencing import Registry

    from contracts._document import ContractDocument as Contract


def _uri(contract: Contract) -> str:
    return f"urn:sora-mock:contract:{contract.name}"


def registry(contract: Contract) -> Registry:
    """The whole contract as one resource, so every ``$ref`` resolves (built once)."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    if "registry" not in contract.validators:
        resource: Resource[Any] = Resource.from_contents(
            contract.spec, default_specification=DRAFT202012
        )
        contract.validators["registry"] = Registry().with_resource(_uri(contract), resource)
    found: Registry = contract.validators["registry"]
    return found


def deref(contract: Contract, node: Any) -> Any:
    """Follow a chain of ``$ref`` (an OpenAPI object or a schema that is only a reference)."""
    seen = 0
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and seen < 50:
        node = contract.resolve(node["$ref"])
        seen += 1
    return node


class FastValidator:
    """A schema's validator: jsonschema-rs answers "valid" (~1-2 us instead of 0.2-0.5 ms);
    when it does not, Python jsonschema with openapi-core's own dialect (``OAS31Validator``
    and format checker) decides and words the errors. So the messages are openapi-core's, and
    where the engines differ (Rust and Python regular expressions: ``$`` before a final
    newline) Python's answer wins whenever Rust refuses.

    The Python validator is built on first need (openapi-schema-validator takes ~0.5 s to
    import, which a server that only sees valid requests never pays)."""

    __slots__ = ("_contract", "_python", "rust", "schema")

    def __init__(self, contract: Contract, schema: Any, rust: Any) -> None:
        self._contract = contract
        self.schema = schema
        self.rust = rust
        self._python: Validator | None = None

    @property
    def python(self) -> Validator:
        if self._python is None:
            self._python = _python_validator(self._contract, self.schema)
        return self._python

    def _fast_valid(self, value: Any) -> bool:
        if self.rust is None:
            return False
        try:
            return bool(self.rust.is_valid(value))
        except Exception:  # noqa: BLE001 - a value Rust cannot take: Python decides
            return False

    def iter_errors(self, value: Any) -> Iterator[Any]:
        if self._fast_valid(value):
            return iter(())
        return iter(self.python.iter_errors(value))

    def is_valid(self, value: Any) -> bool:
        return self._fast_valid(value) or bool(self.python.is_valid(value))


#: set False to compare against Python jsonschema alone (benchmarks, debugging)
USE_RUST = True


def _python_validator(contract: Contract, schema: Any) -> Validator:
    # openapi-core validates OpenAPI 3.1 schemas with OAS31Validator and the OAS 3.0 format
    # checker (its issue #506): the same here, so both accept, refuse and word alike
    from openapi_schema_validator import OAS30ReadValidator, OAS31Validator

    resolver = registry(contract).resolver(base_uri=_uri(contract))
    validator: Validator = OAS31Validator(
        schema,
        _resolver=resolver,  # jsonschema's private hook, as openapi-core uses it
        format_checker=OAS30ReadValidator.FORMAT_CHECKER,
    )
    return validator


def compile_schema(contract: Contract, schema: Any) -> FastValidator:
    """A validator of the contract's dialect for one schema, its references resolvable."""
    return FastValidator(contract, schema, _rust(contract, schema) if USE_RUST else None)


def _has_ref(node: Any) -> bool:
    if isinstance(node, Mapping):
        return "$ref" in node or any(_has_ref(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_ref(v) for v in node)
    return False


def _rust(contract: Contract, schema: Any) -> Any:
    """jsonschema-rs for ``schema``, the contract's components beside it so that every
    ``#/components/...`` reference resolves; None if it cannot take the schema."""
    if not isinstance(schema, Mapping) or "components" in schema:
        return None
    try:
        import jsonschema_rs

        document = dict(schema)
        if _has_ref(schema):
            document["components"] = contract.spec.get("components", {})
        return jsonschema_rs.Draft202012Validator(document)
    except Exception:  # noqa: BLE001 - e.g. a reference outside #/components: Python only
        return None


class _Filler:
    """Fills in schema defaults as openapi-core's unmarshaller does (objects, recursively)."""

    def __init__(self, contract: Contract, schema: Any, seen: dict[int, _Filler]) -> None:
        seen[id(schema)] = self
        schema = deref(contract, schema)
        self.props: list[tuple[str, Any, bool, _Filler | None]] = []
        self.one_of: list[tuple[FastValidator, _Filler]] = []
        self.any_of: list[tuple[FastValidator, _Filler]] = []
        self.all_of: list[_Filler] = []
        self.items: _Filler | None = None
        self.extra: _Filler | None = None
        if not isinstance(schema, Mapping):
            return
        for name, sub in (schema.get("properties") or {}).items():
            resolved = deref(contract, sub)
            has_default = isinstance(resolved, Mapping) and "default" in resolved
            default = resolved.get("default") if has_default else None
            self.props.append((name, default, has_default, _filler(contract, sub, seen)))
        for key, target in (("oneOf", self.one_of), ("anyOf", self.any_of)):
            for sub in schema.get(key) or ():
                child = _filler(contract, sub, seen)
                if child is not None:
                    target.append((compile_schema(contract, deref(contract, sub)), child))
        for sub in schema.get("allOf") or ():
            child = _filler(contract, sub, seen)
            if child is not None:
                self.all_of.append(child)
        if isinstance(schema.get("items"), Mapping):
            self.items = _filler(contract, schema["items"], seen)
        if isinstance(schema.get("additionalProperties"), Mapping):
            self.extra = _filler(contract, schema["additionalProperties"], seen)

    def _object(self, value: dict[str, Any]) -> dict[str, Any]:
        out = dict(value)
        for name, default, has_default, child in self.props:
            if name in value:
                if child is not None:
                    out[name] = child(value[name])
            elif has_default:
                out[name] = default
        if self.extra is not None:
            declared = {p[0] for p in self.props}
            for name, item in value.items():
                if name not in declared:
                    out[name] = self.extra(item)
        for validator, child in self.one_of:
            if validator.is_valid(value):
                out = {**child(value), **out}
                break
        for validator, child in self.any_of:
            if validator.is_valid(value):
                out = {**child(value), **out}
        for child in self.all_of:
            out = {**child(value), **out}
        return out

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return self._object(value)
        if isinstance(value, list) and self.items is not None:
            return [self.items(v) for v in value]
        return value


def _filler(contract: Contract, schema: Any, seen: dict[int, _Filler]) -> _Filler | None:
    """A default filler for ``schema``, or None when nothing under it has a default."""
    if id(schema) in seen:
        return seen[id(schema)]
    if not _has_default(contract, schema, set()):
        return None
    return _Filler(contract, schema, seen)


def _has_default(contract: Contract, schema: Any, seen: set[int]) -> bool:
    if id(schema) in seen:
        return False
    seen.add(id(schema))
    schema = deref(contract, schema)
    if not isinstance(schema, Mapping):
        return False
    for sub in (schema.get("properties") or {}).values():
        resolved = deref(contract, sub)
        if isinstance(resolved, Mapping) and "default" in resolved:
            return True
        if _has_default(contract, sub, seen):
            return True
    subs = [*schema.get("oneOf", ()), *schema.get("anyOf", ()), *schema.get("allOf", ())]
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), Mapping):
            subs.append(schema[key])
    return any(_has_default(contract, sub, seen) for sub in subs)
