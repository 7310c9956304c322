"""One JSON Schema to one hypothesis strategy: the generator behind ``contracts.strategies``
(the keywords it reads are listed there); merged ``allOf``, chosen ``if`` outcomes, the
alphabets of each encoding and the formats."""

from __future__ import annotations

import datetime
import json
import math
import string
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from contracts._loader import Contract
from contracts._strategy_state import _ALSO, _canonical, _is_json, _validator_for

#: How generated strings and ``format: binary`` values are shaped:
#: ``json`` (any Unicode text, binary as latin-1 text), ``multipart`` (form fields: text without
#: control characters, binary as ``bytes``), ``header`` (visible ASCII), ``path`` (URL-safe).
Encoding = Literal["json", "multipart", "header", "path"]


#: Strings stay this short unless ``minLength`` asks for more.
MAX_TEXT = 40


#: Arrays get at most this many items beyond ``minItems``.
MAX_EXTRA_ITEMS = 3


#: Unconstrained integers stay JSON-safe.
MAX_SAFE_INT = 2**53


_ANNOTATIONS = frozenset(
    {
        "$comment",
        "$schema",
        "$id",
        "$anchor",
        "$defs",
        "definitions",
        "title",
        "description",
        "default",
        "examples",
        "example",
        "deprecated",
        "readOnly",
        "writeOnly",
        "contentMediaType",
        "contentEncoding",
        "externalDocs",
        "xml",
        "discriminator",
    }
)


_ALL_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")


_TYPE_HINTS = {
    "string": ("minLength", "maxLength", "pattern", "format"),
    "number": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
    "array": ("items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains"),
    "object": (
        "properties",
        "required",
        "additionalProperties",
        "patternProperties",
        "minProperties",
        "maxProperties",
    ),
}


_URL_SAFE = string.ascii_letters + string.digits + "_-"


_KEY_ALPHABET = string.ascii_letters + string.digits + "_"


#: Undeclared members added to records that allow them (``extra_properties``).
_EXTRA_NAMES = ("x_extra", "vendor_meta")


_ALPHABETS: dict[str, SearchStrategy[str]] = {
    # utf-8 excludes lone surrogates, which no JSON encoder can send as UTF-8
    "json": st.characters(codec="utf-8"),
    "multipart": st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
    "header": st.characters(min_codepoint=0x21, max_codepoint=0x7E),
    "path": st.characters(categories=(), include_characters=_URL_SAFE),
}


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _as_json(value: Any) -> Any:
    """Form values as the contract's validator sees them: bytes as latin-1 text (as
    ``contracts._validation`` deserializes file parts)."""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    return value


def _assertions(schema: Mapping[str, Any]) -> bool:
    return any(k not in _ANNOTATIONS and not k.startswith("x-") for k in schema)


def _intersect_types(a: Any, b: Any) -> list[str] | None:
    def norm(t: Any) -> set[str] | None:
        if t is None:
            return None
        return {t} if isinstance(t, str) else set(t)

    sa, sb = norm(a), norm(b)
    if sa is None:
        return None if sb is None else sorted(sb)
    if sb is None:
        return sorted(sa)
    out = sa & sb
    if "integer" in sa and "number" in sb or "number" in sa and "integer" in sb:
        out.add("integer")
    return sorted(out)


class _Builder:
    """Turns one contract's schemas into strategies (one builder per encoding)."""

    def __init__(self, contract: Contract, encoding: Encoding, extra_properties: bool) -> None:
        self.contract = contract
        self.encoding = encoding
        self.extra = extra_properties and encoding == "json"
        self.alphabet = _ALPHABETS[encoding]
        self._refs: dict[str, SearchStrategy[Any]] = {}
        self._building: set[str] = set()

    # schema algebra

    def resolved(self, schema: Any, depth: int = 0) -> Any:
        """``schema`` with a top-level ``$ref`` followed (merged with its siblings)."""
        if not isinstance(schema, Mapping) or not isinstance(schema.get("$ref"), str):
            return schema
        if depth > 32:
            raise ValueError(f"{self.contract.name}: $ref chain too deep at {schema['$ref']}")
        target = self.resolved(self.contract.resolve(schema["$ref"]), depth + 1)
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return self.merge(target, rest) if _assertions(rest) else target

    def merge(self, a: Any, b: Any) -> Any:
        """The conjunction of two schemas, as one schema (approximate where noted)."""
        a, b = self.resolved(a), self.resolved(b)
        if a is False or b is False:
            return False
        if a is True or not a:
            return b if isinstance(b, Mapping) or b is False else {}
        if b is True or not b:
            return a
        out: dict[str, Any] = dict(a)
        also: list[Any] = list(out.pop(_ALSO, []))
        for key, value in b.items():
            if key == _ALSO:
                also.extend(value)
            elif key not in out:
                out[key] = value
            elif key == "type":
                out[key] = _intersect_types(out[key], value)
            elif key == "required":
                out[key] = list(dict.fromkeys([*out[key], *value]))
            elif key in ("properties", "patternProperties"):
                props = dict(out[key])
                for name, sub in value.items():
                    props[name] = {"allOf": [props[name], sub]} if name in props else sub
                out[key] = props
            elif key in ("items", "additionalProperties", "contains", "propertyNames"):
                if value is False or out[key] is False:
                    out[key] = False
                else:
                    out[key] = {"allOf": [out[key], value]}
            elif key == "enum":
                keep = {_canonical(v) for v in value}
                out[key] = [v for v in out[key] if _canonical(v) in keep]
            elif key == "const":
                if _canonical(out[key]) != _canonical(value):
                    return False
            elif key in ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"):
                out[key] = max(out[key], value)
            elif key in ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"):
                out[key] = min(out[key], value)
            elif key == "uniqueItems":
                out[key] = bool(out[key] or value)
            elif key in _ANNOTATIONS or key.startswith("x-"):
                continue
            elif _canonical(out[key]) != _canonical(value):
                also.append({key: value})
        if "const" in out and "enum" in out:
            if _canonical(out["const"]) not in {_canonical(v) for v in out["enum"]}:
                return False
            del out["enum"]
        if also:
            out[_ALSO] = also
        return out

    def is_valid(self, schema: Any, value: Any) -> bool:
        return bool(_validator_for(self.contract, schema).is_valid(_as_json(value)))

    def check(self, schema: Any) -> Callable[[Any], bool]:
        validator = _validator_for(self.contract, schema)
        return lambda value: bool(validator.is_valid(_as_json(value)))

    # strategies

    def ref(self, pointer: str) -> SearchStrategy[Any]:
        if pointer in self._refs:
            return self._refs[pointer]
        if pointer in self._building:  # a recursive schema: tie the knot lazily
            return st.deferred(lambda: self._refs[pointer])
        self._building.add(pointer)
        try:
            strategy = self.build(self.contract.resolve(pointer))
        finally:
            self._building.discard(pointer)
        self._refs[pointer] = strategy
        return strategy

    def build(self, schema: Any) -> SearchStrategy[Any]:
        if schema is True:
            return self.any_value()
        if schema is False:
            return st.nothing()
        if not isinstance(schema, Mapping):
            raise TypeError(f"not a JSON Schema: {schema!r}")
        ref = schema.get("$ref")
        if isinstance(ref, str):
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            if not _assertions(rest):
                return self.ref(ref)
            return self.build(self.resolved(schema))
        if "allOf" in schema:
            merged: Any = {k: v for k, v in schema.items() if k != "allOf"}
            for sub in schema["allOf"]:
                merged = self.merge(merged, sub)
            return self.build(merged)
        if "if" in schema:
            return self.conditional(schema)
        if "oneOf" in schema or "anyOf" in schema:
            return self.alternatives(schema)
        strategy = self.plain(schema)
        for key in ("not", _ALSO):
            if key in schema:
                subs = schema[key] if key == _ALSO else [{"not": schema["not"]}]
                for sub in subs:
                    strategy = strategy.filter(self.check(sub))
        return strategy

    def conditional(self, schema: Mapping[str, Any]) -> SearchStrategy[Any]:
        """Choose the ``if`` outcome first, then generate for ``then`` or ``else``."""
        base = {k: v for k, v in schema.items() if k not in ("if", "then", "else")}
        cond = schema["if"]
        holds = self.check(cond)
        when_true = self.merge(self.merge(base, cond), schema.get("then", True))
        when_false = self.merge(base, schema.get("else", True))
        ways = self.negations(cond)
        if ways is None:
            otherwise = self.build(when_false)
        else:
            otherwise = st.one_of([self.build(self.merge(when_false, way)) for way in ways])
        return st.one_of(
            self.build(when_true).filter(holds),
            otherwise.filter(lambda v: not holds(v)),
        )

    def negations(self, cond: Any) -> list[Any] | None:
        """Schemas each of which makes an object fail ``cond`` (so the ``else`` branch is
        generated, not filtered for): a required member left out, or a member whose value
        ``cond`` rejects. None when ``cond`` is not of that simple shape."""
        cond = self.resolved(cond)
        if cond is True:
            return []
        if not isinstance(cond, Mapping) or not {
            k for k in cond if k not in _ANNOTATIONS and not k.startswith("x-")
        } <= {"required", "properties"}:
            return None
        ways: list[Any] = [{"properties": {name: False}} for name in cond.get("required", ())]
        for name, sub in (cond.get("properties") or {}).items():
            ways.append({"required": [name], "properties": {name: {"not": sub}}})
        return ways

    def alternatives(self, schema: Mapping[str, Any]) -> SearchStrategy[Any]:
        """Pick a ``oneOf`` (else ``anyOf``) branch merged with its siblings; for ``oneOf``
        keep only values exactly one branch accepts."""
        key = "oneOf" if "oneOf" in schema else "anyOf"
        base = {k: v for k, v in schema.items() if k != key}
        options = schema[key]
        strategy = st.one_of([self.build(self.merge(base, option)) for option in options])
        if key == "oneOf" and len(options) > 1:
            checks = [self.check(option) for option in options]
            strategy = strategy.filter(lambda v: sum(c(v) for c in checks) == 1)
        return strategy

    def plain(self, schema: Mapping[str, Any]) -> SearchStrategy[Any]:
        """A schema with no combinators left: const, enum or per-type generation, plus the
        schema's own ``examples`` and ``default`` when they are valid."""
        if "const" in schema:
            valid = self.is_valid(schema, schema["const"])
            return st.just(schema["const"]) if valid else st.nothing()
        if "enum" in schema:
            allowed = [v for v in schema["enum"] if self.is_valid(schema, v)]
            return st.sampled_from(allowed) if allowed else st.nothing()
        types = schema.get("type")
        if types is None:
            hinted = [t for t, keys in _TYPE_HINTS.items() if any(k in schema for k in keys)]
            types = hinted or list(_ALL_TYPES)
        elif isinstance(types, str):
            types = [types]
        if "integer" in types and "number" in types:
            types = [t for t in types if t != "integer"]
        strategy = st.one_of([self.typed(t, schema) for t in types])
        known = [*schema.get("examples", ())]
        if "default" in schema:
            known.append(schema["default"])
        known = [v for v in known if self.is_valid(schema, v)]
        if known:
            strategy = st.one_of(strategy, st.sampled_from(known))
        return strategy

    def typed(self, kind: str, schema: Mapping[str, Any]) -> SearchStrategy[Any]:
        if kind == "null":
            return st.none()
        if kind == "boolean":
            return st.booleans()
        if kind == "integer":
            return self.integers(schema)
        if kind == "number":
            return self.numbers(schema)
        if kind == "string":
            return self.strings(schema)
        if kind == "array":
            return self.arrays(schema)
        if kind == "object":
            return self.objects(schema)
        raise ValueError(f"{self.contract.name}: unknown JSON Schema type {kind!r}")

    def integers(self, schema: Mapping[str, Any]) -> SearchStrategy[int]:
        lo: int | None = None
        hi: int | None = None
        if "minimum" in schema:
            lo = math.ceil(schema["minimum"])
        if "exclusiveMinimum" in schema:
            bound = math.floor(schema["exclusiveMinimum"]) + 1
            lo = bound if lo is None else max(lo, bound)
        if "maximum" in schema:
            hi = math.floor(schema["maximum"])
        if "exclusiveMaximum" in schema:
            bound = math.ceil(schema["exclusiveMaximum"]) - 1
            hi = bound if hi is None else min(hi, bound)
        lo = -MAX_SAFE_INT if lo is None else lo
        hi = MAX_SAFE_INT if hi is None else hi
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            lo, hi = math.ceil(lo / step), math.floor(hi / step)
            return st.integers(lo, hi).map(lambda n: n * step) if lo <= hi else st.nothing()
        return st.integers(lo, hi) if lo <= hi else st.nothing()

    def numbers(self, schema: Mapping[str, Any]) -> SearchStrategy[Any]:
        lo = schema.get("minimum")
        hi = schema.get("maximum")
        excl_lo = excl_hi = False
        if "exclusiveMinimum" in schema and (lo is None or schema["exclusiveMinimum"] >= lo):
            lo, excl_lo = schema["exclusiveMinimum"], True
        if "exclusiveMaximum" in schema and (hi is None or schema["exclusiveMaximum"] <= hi):
            hi, excl_hi = schema["exclusiveMaximum"], True
        floats = st.floats(
            min_value=lo,
            max_value=hi,
            exclude_min=excl_lo and lo is not None,
            exclude_max=excl_hi and hi is not None,
            allow_nan=False,
            allow_infinity=False,
        )
        strategy: SearchStrategy[Any] = st.one_of(self.integers(schema), floats)
        if "multipleOf" in schema and not isinstance(schema["multipleOf"], int):
            strategy = strategy.filter(self.check({"multipleOf": schema["multipleOf"]}))
        return strategy

    def strings(self, schema: Mapping[str, Any]) -> SearchStrategy[Any]:
        min_len = int(schema.get("minLength", 0))
        max_len = schema.get("maxLength")
        cap = max(min_len, MAX_TEXT if max_len is None else min(int(max_len), MAX_TEXT))
        sized = self.check({k: schema[k] for k in ("minLength", "maxLength") if k in schema})
        fmt = schema.get("format")
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True, alphabet=self.alphabet).filter(
                sized
            )
        content = schema.get("contentSchema")
        if content is not None and _is_json(str(schema.get("contentMediaType", ""))):
            return (
                self.build(content).map(lambda v: json.dumps(v, ensure_ascii=False)).filter(sized)
            )
        if fmt == "binary":
            raw = st.binary(min_size=min_len, max_size=cap)
            return raw if self.encoding == "multipart" else raw.map(lambda b: b.decode("latin-1"))
        special = _FORMATS.get(fmt) if isinstance(fmt, str) else None
        if special is not None:
            return special.filter(sized)
        return st.text(self.alphabet, min_size=min_len, max_size=cap)

    def arrays(self, schema: Mapping[str, Any]) -> SearchStrategy[list[Any]]:
        min_items = int(schema.get("minItems", 0))
        max_items = min_items + MAX_EXTRA_ITEMS
        if "maxItems" in schema:
            max_items = min(max_items, int(schema["maxItems"]))
        unique = _canonical if schema.get("uniqueItems") else None
        items = self.build(schema.get("items", True))
        prefix = [self.build(s) for s in schema.get("prefixItems", ())]
        if not prefix:
            return st.lists(items, min_size=min_items, max_size=max_items, unique_by=unique)
        rest = max(0, max_items - len(prefix))
        strategy = st.tuples(
            st.tuples(*prefix),
            st.lists(items, min_size=max(0, min_items - len(prefix)), max_size=rest),
        ).map(lambda parts: [*parts[0], *parts[1]])
        return strategy.filter(self.check({"uniqueItems": True})) if unique else strategy

    def objects(self, schema: Mapping[str, Any]) -> SearchStrategy[dict[Any, Any]]:
        props: Mapping[str, Any] = schema.get("properties", {})
        required: Sequence[str] = schema.get("required", ())
        extra_schema = schema.get("additionalProperties", True if self.extra else False)
        if "patternProperties" in schema:
            extra_schema = False
        declared_extra = schema.get("additionalProperties", True)
        fixed = {name: self.build(props.get(name, declared_extra)) for name in required}
        optional = {name: self.build(sub) for name, sub in props.items() if name not in fixed}
        strategy: SearchStrategy[dict[Any, Any]] = st.fixed_dictionaries(fixed, optional=optional)
        if extra_schema is not False and self.encoding == "json":
            taken = set(props) | set(required)
            if "additionalProperties" in schema or not taken:
                # a declared map, or a free-form object: members of any name
                extras = st.dictionaries(
                    st.text(_KEY_ALPHABET, min_size=1, max_size=12).filter(
                        lambda k: k not in taken
                    ),
                    self.build(extra_schema),
                    max_size=3,
                )
            else:
                # a record that does not forbid more members: maybe a field it does not declare
                # (fixed names: drawing random keys for every object doubles the cost)
                extras = st.fixed_dictionaries(
                    {},
                    optional={k: self.any_value() for k in _EXTRA_NAMES if k not in taken},
                )
            strategy = st.tuples(strategy, extras).map(lambda t: {**t[1], **t[0]})
        return strategy

    def any_value(self) -> SearchStrategy[Any]:
        """Any JSON value, at most two levels deep (for ``{}``, ``true`` and undeclared
        members)."""
        text = st.text(self.alphabet, max_size=MAX_TEXT)
        if self.encoding != "json":
            return text
        scalars = st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-MAX_SAFE_INT, MAX_SAFE_INT),
            st.floats(allow_nan=False, allow_infinity=False),
            text,
        )
        keys = st.text(_KEY_ALPHABET, min_size=1, max_size=12)
        return st.one_of(
            scalars,
            st.lists(scalars, max_size=3),
            st.dictionaries(keys, scalars, max_size=3),
        )


_FORMATS: dict[str, SearchStrategy[str]] = {
    "date-time": st.datetimes(timezones=st.just(datetime.UTC)).map(
        lambda d: d.isoformat().replace("+00:00", "Z")
    ),
    "date": st.dates().map(lambda d: d.isoformat()),
    "uuid": st.uuids().map(str),
    "uri": st.from_regex(r"https://[a-z]{1,12}\.example/[A-Za-z0-9_\-/]{0,20}", fullmatch=True),
    "url": st.from_regex(r"https://[a-z]{1,12}\.example/[A-Za-z0-9_\-/]{0,20}", fullmatch=True),
    "email": st.from_regex(r"[a-z0-9._]{1,12}@[a-z]{1,12}\.example", fullmatch=True),
}
