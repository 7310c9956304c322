"""A models file: models a user's provider serves that its contract does not declare.

A reseller that now serves another model in ``sora-2``'s place (or beside it) is described by
a YAML file given at start-up (``sora-mock serve --models FILE``, ``SORA_MOCK_MODELS``, the
pytest fixtures' ``sora_mock_models`` ini option, ``SoraClient(..., models=FILE)`` or
``SORA_CLIENT_MODELS``), without editing a contract::

    openrouter:                      # a declared provider's prefix (or its client name)
      - id: acme/wan-2.5             # the model's name, as a create sends it
        sizes: [1280x720, 720x1280]  # WIDTHxHEIGHT, the first is the default
        durations: [5, 10]           # whole seconds, the first is the default
        image: true                  # takes a reference image (default true)
        listing: {...}               # what its models listing shows (default {id: ...})

A key is a declared provider's prefix or its client name (``SoraClient(NAME)``). Under a
prefix, each model joins the declaration of every declared contract with that prefix (GPTProto
v3 and GPTProto ``/v1/videos`` both have ``gptproto``: a reseller's models are its account's,
served by each of its APIs, as the contracts' own ``sora-2`` is); under a client name
(``gptproto-v3``), it joins that one contract alone. It joins when the contract is
loaded (``contracts.load``), before any validator is compiled from it: the declared engine,
the client and the dashboard then know it as they know the contract's own. Where the create's
schema enumerates the values at the declaration's ``model``, ``seconds`` or ``size`` pointer
(an ``enum`` or a ``const``, in every branch but an ``if``), the file's values are added
there too: nothing restates a schema in Python, and the engine still checks each model's own
sizes and durations. A file with a mistake is a :class:`ContractError` naming the file, the
place in it and the fix; it is checked in full when it is given (:func:`use_models`).
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts import _declaration as decl
from contracts import _loader
from contracts._loader import Contract, ContractError
from contracts._named_sizes import _SIZE

#: the keys a model of the file may have
MODEL_KEYS = ("id", "sizes", "durations", "image", "listing")
_FIX = "see README.md, 'Models files'"


@dataclass(frozen=True)
class ModelsFile:
    path: Path
    #: the file's bytes' hash: the same file given again changes nothing
    digest: str
    #: prefix -> the file's models for it, checked (plain dicts, in the file's order)
    models: Mapping[str, tuple[Mapping[str, Any], ...]]


_ACTIVE: list[ModelsFile] = []


def active() -> ModelsFile | None:
    """The models file in use in this process, if any."""
    return _ACTIVE[0] if _ACTIVE else None


def read_models(path: str | Path) -> ModelsFile:
    """Read and check a models file's shape (its prefixes are checked by :func:`use_models`)."""
    path = Path(path).resolve()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ContractError(path, "", f"cannot read the models file: {exc.strerror}") from exc
    import yaml

    try:
        data = _loader._parse_yaml(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ContractError(path, f"byte {exc.start}", "not UTF-8 text") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ContractError(path, where, f"not valid YAML: {exc}") from exc
    if not isinstance(data, Mapping) or not data:
        raise ContractError(
            path, "", f"a models file maps provider prefixes to lists of models ({_FIX})"
        )
    models: dict[str, tuple[Mapping[str, Any], ...]] = {}
    for prefix, entries in data.items():
        where = f"/{prefix}"
        if not isinstance(entries, list) or not entries:
            raise ContractError(path, where, f"list the provider's models under it ({_FIX})")
        seen: set[str] = set()
        checked = []
        for i, entry in enumerate(entries):
            model = _model(path, entry, f"{where}/{i}")
            if model["id"] in seen:
                raise ContractError(
                    path, f"{where}/{i}/id", f"{model['id']!r} is listed twice: keep one"
                )
            seen.add(model["id"])
            checked.append(model)
        models[str(prefix)] = tuple(checked)
    return ModelsFile(path, hashlib.sha256(raw).hexdigest(), models)


def _model(path: Path, entry: Any, where: str) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise ContractError(path, where, "a model is a mapping with `id`, `sizes`, `durations`")
    for key in entry:
        if key not in MODEL_KEYS:
            raise ContractError(
                path, f"{where}/{key}", f"unknown key `{key}`: use one of {', '.join(MODEL_KEYS)}"
            )
    for key in ("id", "sizes", "durations"):
        if key not in entry:
            raise ContractError(path, where, f"`{key}` is missing: add it ({_FIX})")
    model_id = entry["id"]
    if not isinstance(model_id, str) or not model_id.strip():
        raise ContractError(path, f"{where}/id", "the model's name: a non-empty string")
    sizes = entry["sizes"]
    if not isinstance(sizes, list) or not sizes:
        raise ContractError(path, f"{where}/sizes", "a list of WIDTHxHEIGHT, at least one")
    for i, size in enumerate(sizes):
        if not isinstance(size, str) or not _SIZE.fullmatch(size):
            raise ContractError(
                path, f"{where}/sizes/{i}", f"{size!r} is not WIDTHxHEIGHT (e.g. 1280x720)"
            )
    durations = entry["durations"]
    if not isinstance(durations, list) or not durations:
        raise ContractError(path, f"{where}/durations", "a list of whole seconds, at least one")
    for i, seconds in enumerate(durations):
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 1:
            raise ContractError(
                path, f"{where}/durations/{i}", f"{seconds!r} is not a whole number of seconds"
            )
    image = entry.get("image", True)
    if not isinstance(image, bool):
        raise ContractError(path, f"{where}/image", "true or false: whether it takes an image")
    listing = entry.get("listing", {"id": model_id})
    if not isinstance(listing, Mapping):
        raise ContractError(
            path, f"{where}/listing", "a mapping: what the provider's models listing shows"
        )
    return {
        "id": model_id,
        "sizes": list(sizes),
        "durations": list(durations),
        "image": image,
        "listing": dict(listing),
    }


def use_models(path: str | Path | None) -> ModelsFile | None:
    """Use a models file in this process (None: the contracts' models only). Checked in full
    now, every contract it touches loaded with it: a mistake is a ContractError naming the
    file, the place and the fix, and the models in use stay as they were. The same file given
    again (same bytes) changes nothing."""
    new = read_models(path) if path is not None else None
    old = active()
    if (new and (new.path, new.digest)) == (old and (old.path, old.digest)):
        return old
    _switch(new)
    try:
        if new is not None:
            _check_prefixes(new)
            for declaration in decl.declarations():  # each loaded with the file's models
                _check_listings(new, declaration)
    except ContractError:
        _switch(old)
        raise
    return new


def _switch(models: ModelsFile | None) -> None:
    _ACTIVE[:] = [models] if models is not None else []
    _loader.forget()  # contracts are loaded again, with (or without) the models
    decl._changed()


def _client(block: Mapping[str, Any]) -> Any:
    """A declaration block's client name (its prefix where it names none)."""
    return block.get("client") or block.get("prefix")


def joining(models: ModelsFile, block: Mapping[str, Any]) -> list[tuple[str, int, Any]]:
    """The file's models that join a declaration (its block): those under its prefix, then
    those under its client name, each as (key, index, model). A model under both is a
    ContractError: it would join twice."""
    keys: list[str] = []
    for key in (block.get("prefix"), _client(block)):
        if isinstance(key, str) and key in models.models and key not in keys:
            keys.append(key)
    found: list[tuple[str, int, Any]] = []
    for key in keys:
        for i, model in enumerate(models.models[key]):
            twin = next((k for k, _, m in found if k != key and m["id"] == model["id"]), None)
            if twin is not None:
                raise ContractError(
                    models.path,
                    f"/{key}/{i}/id",
                    f"{model['id']!r} is listed under `{twin}` too, which names the same "
                    "provider: keep one",
                )
            found.append((key, i, model))
    return found


def _check_prefixes(models: ModelsFile) -> None:
    blocks = decl.declarations()
    declared = {d.prefix for d in blocks} | {str(d.answers.client or d.prefix) for d in blocks}
    for prefix in models.models:
        if prefix in declared:
            continue
        # a Python dialect's prefix, or its contract's name (`gptproto-chat`) as a client name
        python = sorted(n for n, p in _loader.PROVIDER_CONTRACTS.items() if prefix in (p, n))
        if python:
            why = (
                f"`{prefix}` is served by Python dialects ({', '.join(python)}), which read no "
                "models file: a models file adds models to declared providers"
            )
        else:
            why = f"no declared provider has the prefix or client name `{prefix}`"
        raise ContractError(
            models.path, f"/{prefix}", f"{why}; declared: {', '.join(sorted(declared))}"
        )


def _check_listings(models: ModelsFile, declaration: decl.Declaration) -> None:
    """Each of the file's models as the provider's models operation lists it must be what the
    contract allows (a strict mock checks every answer): the default listing, ``{id: ...}``,
    is too little for a contract that requires more of each model."""
    block = _loader.load(declaration.contract).spec.get(decl.KEY)
    added = joining(models, block) if isinstance(block, Mapping) else []
    role = declaration.role("models")
    if not added or role is None:
        return
    contract = _loader.load(declaration.contract)
    op = contract.operation(role.operation_id)
    entry = op.definition.get("responses", {}).get(str(role.status))
    if isinstance(entry, Mapping) and isinstance(entry.get("$ref"), str):
        base = entry["$ref"]
        entry = contract.resolve(base)
    else:
        parts = ("paths", op.path, op.method, "responses", str(role.status))
        base = "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)
    if not isinstance(entry, Mapping) or "application/json" not in entry.get("content", {}):
        return
    validator = contract.schema_validator(f"{base}/content/application~1json/schema")
    answer = declaration.models_answer or {"data": "{models}"}
    for key, i, model in added:
        body = decl.fill(answer, {"models": [model["listing"]]})
        problem = next(iter(validator.iter_errors(body)), None)
        if problem is not None:
            raise ContractError(
                models.path,
                f"/{key}/{i}/listing",
                f"{contract.path.name} does not allow it in its models listing "
                f"({problem.message}): give `listing:` what the provider lists for the model",
            )


def patch(contract: Contract) -> None:
    """Add the models file's models to a declared contract just loaded (``contracts.load``):
    to its declaration's ``models`` and to the create's enumerated values."""
    models = active()
    block = contract.spec.get(decl.KEY)
    if models is None or not isinstance(block, dict):
        return
    joined = joining(models, block)
    if not joined:
        return
    added = tuple(model for _, _, model in joined)
    own = block.get("models")
    own = own if isinstance(own, list) else []
    own_ids = {m.get("id") for m in own if isinstance(m, Mapping)}
    for key, i, model in joined:
        if model["id"] in own_ids:
            raise ContractError(
                models.path,
                f"/{key}/{i}/id",
                f"{model['id']!r} is declared by {contract.path.name} already: a models file "
                "adds models; give this one another name or leave it out",
            )
    block["models"] = [*own, *map(copy.deepcopy, added)]
    _widen(contract, block, added)


def _widen(
    contract: Contract, block: Mapping[str, Any], added: tuple[Mapping[str, Any], ...]
) -> None:
    operations = block.get("operations")
    if not isinstance(operations, Mapping):
        return
    for op_id, role in operations.items():
        if not isinstance(role, Mapping) or role.get("role") != "create":
            continue
        op = contract.operations.get(op_id)
        fields = role.get("fields")
        if op is None or not isinstance(fields, Mapping):
            continue
        values = {
            "model": [m["id"] for m in added],
            "seconds": [s for m in added for s in m["durations"]],
            "size": [s for m in added for s in m["sizes"]],
        }
        if role.get("size-fields"):  # sizes named in words (v3): the schema enumerates words
            del values["size"]
        content = op.definition.get("requestBody", {}).get("content", {})
        for media in content.values():
            schema = media.get("schema") if isinstance(media, Mapping) else None
            for name, new in values.items():
                pointer = fields.get(name)
                if isinstance(pointer, str) and schema is not None:
                    for node in _at(contract, schema, _steps(pointer)):
                        _add(node, new)


def _steps(pointer: str) -> list[str]:
    return [s for s in pointer.strip("/").split("/") if s]


def _at(contract: Contract, schema: Any, steps: list[str]) -> Iterator[dict[str, Any]]:
    """Every schema node that constrains the value at ``steps`` (through ``$ref``s and every
    branch of ``allOf``/``anyOf``/``oneOf``/``then``/``else``; never an ``if``)."""
    while isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str):
        schema = contract.resolve(schema["$ref"])
    if not isinstance(schema, dict):
        return
    for branch in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(branch) or ():
            yield from _at(contract, sub, steps)
    for branch in ("then", "else"):
        if branch in schema:
            yield from _at(contract, schema[branch], steps)
    if not steps:
        yield schema
        return
    step, rest = steps[0], steps[1:]
    if re.fullmatch(r"\[[^=\]]+=[^\]]*\]", step):
        if "items" in schema:
            yield from _at(contract, schema["items"], rest)
        return
    properties = schema.get("properties")
    if isinstance(properties, Mapping) and step in properties:
        yield from _at(contract, properties[step], rest)


def _add(node: dict[str, Any], values: list[Any]) -> None:
    """Add values to an enumeration (``enum``, or a ``const`` made an ``enum``), each typed
    like the values there (``"4"`` beside strings, ``4`` beside numbers)."""
    if "const" in node:
        node["enum"] = [node.pop("const")]
    enum = node.get("enum")
    if not isinstance(enum, list) or not enum:
        return
    as_text = all(isinstance(v, str) for v in enum)
    for value in values:
        typed = str(value) if as_text else value
        if typed not in enum:
            enum.append(typed)


_loader.AFTER_LOAD.append(patch)
