"""A models file (``contracts._usermodels``), rule by rule: its shape and each mistake's place
and words, when a file is used (again, changed, refused, forgotten), which prefixes and
listings it may give, how its models join a declared contract (``patch``), and where in the
create's schema their values are added (``_widen``, ``_at``, ``_add``). Every contract here is
written in the test (a throwaway provider added from a file, or a document built in memory),
so each rule is seen on its own. In-process and fast: the module's own tests for mutation runs
(tests/mutation/mutate.py); tests/test_user_files.py drives the same files end to end."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import contracts
from contracts import _declaration as decl
from contracts import _loader, _usermodels
from contracts._loader import Contract, ContractError, index_operations
from contracts._usermodels import ModelsFile, read_models, use_models

FIX = "see README.md, 'Models files'"

#: a throwaway provider whose models operation (at a path holding `~1`) lists `{id, label}`
ZETA = """\
openapi: 3.1.0
info: {title: Zeta clips, version: "1", x-provider: zeta}
servers: [{url: /}]
security: [{Key: []}]
paths:
  /v1/clips:
    post:
      operationId: makeClip
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [model, prompt]
              properties:
                model: {type: string, enum: [zeta-1]}
                prompt: {type: string}
                seconds: {type: integer, enum: [4]}
                size: {type: string, enum: [640x480]}
      responses:
        "201":
          description: made
          content: {application/json: {schema: {$ref: "#/components/schemas/Clip"}}}
  /v1/clips/{clip_id}:
    get:
      operationId: getClip
      parameters: [{name: clip_id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: the clip
          content: {application/json: {schema: {$ref: "#/components/schemas/Clip"}}}
  /v1/clips/{clip_id}/video:
    get:
      operationId: getVideo
      parameters: [{name: clip_id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: the video
          content: {video/mp4: {schema: {type: string, format: binary}}}
ENGINES_PATHcomponents:
  securitySchemes: {Key: {type: http, scheme: bearer}}
  schemas:
    Clip:
      type: object
      required: [id, state]
      properties:
        id: {type: string}
        state: {type: string}
        model: {type: string}
  responses:
    Engines:
      description: the engines
      content:
        application/json:
          schema:
            type: object
            required: [data]
            properties:
              data:
                type: array
                items: {type: object, required: [id, label]}
x-sora-mock:
  prefix: zeta
  name: Zeta
  hosts: [api.zeta.test]
  key-env: ZETA_KEY
  statuses: {queued: queued, in_progress: running, completed: done, failed: failed}
  failure: {code: stalled, message: It stalled}
  operations:
    makeClip:
      role: create
      status: 201
      fields: {model: /model, prompt: /prompt, seconds: /seconds, size: /size}
    getClip: {role: read, fields: {id: clip_id}}
    getVideo: {role: content, fields: {id: clip_id}}
ENGINES_ROLE  job: {id: "{job.id}", state: "{status}", model: "{job.model}"}
  errors:
    body: {message: "{message}"}
    not-found: no such clip
    model-not-found: {status: 400, code: unknown, message: "no model {model}"}
  models:
    - {id: zeta-1, sizes: [640x480], durations: [4], listing: {id: zeta-1, label: One}}
"""
ENGINES = """\
  /v1/engines~1all:
    get:
      operationId: listEngines
      responses:
        "200":
          description: the engines
          content:
            application/json:
              schema:
                type: object
                required: [engines]
                properties:
                  engines:
                    type: array
                    items:
                      type: object
                      required: [id, label]
                      properties: {id: {type: string}, label: {type: string}}
"""
TEMPLATE, ZETA = (
    ZETA,
    ZETA.replace("ENGINES_PATH", ENGINES).replace(
        "ENGINES_ROLE",
        '    listEngines: {role: models}\n  models-answer: {engines: "{models}"}\n',
    ),
)
#: the listing as a shared response (`$ref`), the provider's default answer (`data`)
ZETA_REF = TEMPLATE.replace(
    "ENGINES_PATH",
    "  /v1/engines:\n    get:\n      operationId: listEngines\n"
    '      responses: {"200": {$ref: "#/components/responses/Engines"}}\n',
).replace("ENGINES_ROLE", "    listEngines: {role: models}\n")
#: no models operation at all
ZETA_NONE = TEMPLATE.replace("ENGINES_PATH", "").replace("ENGINES_ROLE", "")
#: a listing without content; a models operation without responses (OpenAPI 3.1 allows it)
ZETA_BARE = TEMPLATE.replace(
    "ENGINES_PATH",
    "  /v1/engines:\n    get:\n      operationId: listEngines\n"
    '      responses: {"200": {description: the engines}}\n',
).replace("ENGINES_ROLE", "    listEngines: {role: models}\n")
ZETA_SILENT = TEMPLATE.replace(
    "ENGINES_PATH", "  /v1/engines:\n    get: {operationId: listEngines}\n"
).replace("ENGINES_ROLE", "    listEngines: {role: models}\n")
#: a listing that is not JSON
ZETA_TEXT = ZETA.replace(
    "            application/json:\n              schema:\n                type: object\n"
    "                required: [engines]",
    "            text/plain:\n              schema:\n                type: object\n"
    "                required: [engines]",
)

LABELLED = """\
zeta:
  - {id: zeta-2, sizes: [1280x720], durations: [8], listing: {id: zeta-2, label: Two}}
  - {id: zeta-3, sizes: [720x1280, 64x64], durations: [6, 4], listing: {id: zeta-3, label: Three}}
"""


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    def reset() -> None:
        _usermodels._ACTIVE.clear()
        for name in [n for n in _loader.EXTRA_PATHS if n.startswith("zeta")]:
            del _loader.EXTRA_PATHS[name]
        _loader.forget()
        decl._changed()

    reset()
    yield
    reset()


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


@pytest.fixture
def zeta(tmp_path: Path) -> Path:
    path = _write(tmp_path, "zeta-clips.yaml", ZETA)
    contracts.add_provider(path)
    return path


def _model(model_id: str, **more: Any) -> dict[str, Any]:
    entry = {"id": model_id, "sizes": ["2x2"], "durations": [3], "image": True}
    entry["listing"] = {"id": model_id}
    return {**entry, **more}


# ------------------------------------------------------------------ reading the file


def test_a_good_file_is_read_whole_with_each_models_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        "zeta:\n"
        "  - {id: z-a, sizes: [1x1, 20x30], durations: [1, 9]}\n"
        "  - {id: z-b, sizes: [5x6], durations: [2], image: false, listing: {id: b, n: 1}}\n"
        "7:\n"
        "  - {id: z-c, sizes: [5x6], durations: [2], image: true}\n"
    )
    _write(tmp_path, "m.yaml", text)
    monkeypatch.chdir(tmp_path)
    models = read_models("m.yaml")
    assert models.path == tmp_path / "m.yaml"  # resolved: a relative path is made absolute
    assert models.path.is_absolute()
    assert models.digest == hashlib.sha256(text.encode()).hexdigest()
    assert dict(models.models) == {
        "zeta": (
            {
                "id": "z-a",
                "sizes": ["1x1", "20x30"],
                "durations": [1, 9],
                "image": True,
                "listing": {"id": "z-a"},
            },
            {
                "id": "z-b",
                "sizes": ["5x6"],
                "durations": [2],
                "image": False,
                "listing": {"id": "b", "n": 1},
            },
        ),
        "7": (
            {
                "id": "z-c",
                "sizes": ["5x6"],
                "durations": [2],
                "image": True,
                "listing": {"id": "z-c"},
            },
        ),
    }


def test_a_file_that_cannot_be_read_is_refused_at_its_root(tmp_path: Path) -> None:
    with pytest.raises(ContractError) as caught:
        read_models(tmp_path / "nowhere.yaml")
    assert (caught.value.path, caught.value.where, caught.value.message) == (
        tmp_path / "nowhere.yaml",
        "",
        "cannot read the models file: No such file or directory",
    )


def test_a_file_not_utf8_is_refused_at_its_first_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes("zeta: [é]\n".encode() + b"# \xff\n")
    with pytest.raises(ContractError) as caught:
        read_models(path)
    assert (caught.value.where, caught.value.message) == ("byte 13", "not UTF-8 text")


def test_a_file_not_yaml_is_refused_at_its_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "m.yaml", "zeta:\n  - {id: a, b: [}\n")
    with pytest.raises(ContractError) as caught:
        read_models(path)
    assert caught.value.where == "line 2, column 17"
    assert caught.value.message.startswith("not valid YAML: while parsing a flow node")


def test_a_file_yaml_cannot_read_is_refused_at_its_root(tmp_path: Path) -> None:
    """A control character: yaml's reader refuses it before parsing, with no line mark."""
    with pytest.raises(ContractError) as caught:
        read_models(_write(tmp_path, "m.yaml", "zeta: \x07\n"))
    assert caught.value.where == ""
    assert caught.value.message.startswith(
        "not valid YAML: unacceptable character #x0007: control characters are not allowed"
    )


@pytest.mark.parametrize("text", ["", "- zeta\n", "zeta\n", "{}\n", "3\n"])
def test_a_file_that_maps_no_prefix_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(ContractError) as caught:
        read_models(_write(tmp_path, "m.yaml", text))
    assert (caught.value.where, caught.value.message) == (
        "",
        f"a models file maps provider prefixes to lists of models ({FIX})",
    )


GOOD = "{id: x, sizes: [1x1], durations: [4]}"


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("zeta: []", "/zeta", f"list the provider's models under it ({FIX})"),
        ("zeta: {id: x}", "/zeta", f"list the provider's models under it ({FIX})"),
        ("zeta:", "/zeta", f"list the provider's models under it ({FIX})"),
        (f"zeta: [{GOOD}]\nnu: []", "/nu", f"list the provider's models under it ({FIX})"),
        (
            f"zeta: [{GOOD}, x]",
            "/zeta/1",
            "a model is a mapping with `id`, `sizes`, `durations`",
        ),
        (
            "zeta: [{id: x, sizes: [1x1], durations: [4], fps: 3}]",
            "/zeta/0/fps",
            "unknown key `fps`: use one of id, sizes, durations, image, listing",
        ),
        ("zeta: [{sizes: [1x1], durations: [4]}]", "/zeta/0", f"`id` is missing: add it ({FIX})"),
        ("zeta: [{id: x, durations: [4]}]", "/zeta/0", f"`sizes` is missing: add it ({FIX})"),
        ("zeta: [{id: x, sizes: [1x1]}]", "/zeta/0", f"`durations` is missing: add it ({FIX})"),
        (
            "zeta: [{id: 5, sizes: [1x1], durations: [4]}]",
            "/zeta/0/id",
            "the model's name: a non-empty string",
        ),
        (
            "zeta: [{id: ' ', sizes: [1x1], durations: [4]}]",
            "/zeta/0/id",
            "the model's name: a non-empty string",
        ),
        (
            "zeta: [{id: x, sizes: 1x1, durations: [4]}]",
            "/zeta/0/sizes",
            "a list of WIDTHxHEIGHT, at least one",
        ),
        (
            "zeta: [{id: x, sizes: [], durations: [4]}]",
            "/zeta/0/sizes",
            "a list of WIDTHxHEIGHT, at least one",
        ),
        (
            "zeta: [{id: x, sizes: [1x1, 1280x0], durations: [4]}]",
            "/zeta/0/sizes/1",
            "'1280x0' is not WIDTHxHEIGHT (e.g. 1280x720)",
        ),
        (
            "zeta: [{id: x, sizes: ['0x5'], durations: [4]}]",
            "/zeta/0/sizes/0",
            "'0x5' is not WIDTHxHEIGHT (e.g. 1280x720)",
        ),
        (
            "zeta: [{id: x, sizes: [x1x1], durations: [4]}]",
            "/zeta/0/sizes/0",
            "'x1x1' is not WIDTHxHEIGHT (e.g. 1280x720)",
        ),
        (
            "zeta: [{id: x, sizes: [1x1x], durations: [4]}]",
            "/zeta/0/sizes/0",
            "'1x1x' is not WIDTHxHEIGHT (e.g. 1280x720)",
        ),
        (
            'zeta: [{id: x, sizes: ["1x1\\n"], durations: [4]}]',
            "/zeta/0/sizes/0",
            "'1x1\\n' is not WIDTHxHEIGHT (e.g. 1280x720)",
        ),
        (
            "zeta: [{id: x, sizes: [5], durations: [4]}]",
            "/zeta/0/sizes/0",
            "5 is not WIDTHxHEIGHT (e.g. 1280x720)",
        ),
        (
            "zeta: [{id: x, sizes: [1x1], durations: 4}]",
            "/zeta/0/durations",
            "a list of whole seconds, at least one",
        ),
        (
            "zeta: [{id: x, sizes: [1x1], durations: []}]",
            "/zeta/0/durations",
            "a list of whole seconds, at least one",
        ),
        (
            "zeta: [{id: x, sizes: [1x1], durations: [4, 0]}]",
            "/zeta/0/durations/1",
            "0 is not a whole number of seconds",
        ),
        (
            "zeta: [{id: x, sizes: [1x1], durations: [-3]}]",
            "/zeta/0/durations/0",
            "-3 is not a whole number of seconds",
        ),
        (
            "zeta: [{id: x, sizes: [1x1], durations: ['4']}]",
            "/zeta/0/durations/0",
            "'4' is not a whole number of seconds",
        ),
        (
            "zeta: [{id: x, sizes: [1x1], durations: [4.5]}]",
            "/zeta/0/durations/0",
            "4.5 is not a whole number of seconds",
        ),
        (
            "zeta: [{id: x, sizes: [1x1], durations: [true]}]",
            "/zeta/0/durations/0",
            "True is not a whole number of seconds",
        ),
        (
            "zeta: [{id: x, sizes: [1x1], durations: [4], image: 1}]",
            "/zeta/0/image",
            "true or false: whether it takes an image",
        ),
        (
            "zeta: [{id: x, sizes: [1x1], durations: [4], image: null}]",
            "/zeta/0/image",
            "true or false: whether it takes an image",
        ),
        (
            "zeta: [{id: x, sizes: [1x1], durations: [4], listing: [x]}]",
            "/zeta/0/listing",
            "a mapping: what the provider's models listing shows",
        ),
        (
            f"zeta: [{GOOD}, {{id: y, sizes: [1x1], durations: [4]}}, {GOOD}]",
            "/zeta/2/id",
            "'x' is listed twice: keep one",
        ),
    ],
)
def test_each_mistake_in_a_model_is_refused_at_its_place_in_so_many_words(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    path = _write(tmp_path, "m.yaml", text + "\n")
    with pytest.raises(ContractError) as caught:
        read_models(path)
    assert (caught.value.path, caught.value.where, caught.value.message) == (path, where, message)


def test_the_smallest_size_and_duration_are_taken(tmp_path: Path) -> None:
    path = _write(tmp_path, "m.yaml", "zeta: [{id: x, sizes: [1x1, 10x90], durations: [1]}]\n")
    (model,) = read_models(path).models["zeta"]
    assert (model["sizes"], model["durations"]) == (["1x1", "10x90"], [1])


def test_the_same_name_under_two_prefixes_is_no_repeat(tmp_path: Path) -> None:
    path = _write(tmp_path, "m.yaml", f"zeta: [{GOOD}]\nnu: [{GOOD}]\n")
    assert sorted(read_models(path).models) == ["nu", "zeta"]


# ------------------------------------------------------------------ using it


def test_no_file_is_in_use_until_one_is_given(zeta: Path) -> None:
    assert _usermodels.active() is None
    assert use_models(None) is None
    assert _usermodels.active() is None
    assert [m["id"] for m in contracts.load("zeta-clips").spec["x-sora-mock"]["models"]] == [
        "zeta-1"
    ]


def test_a_file_given_is_in_use_and_joins_the_contracts_loaded_after(
    zeta: Path, tmp_path: Path
) -> None:
    before = contracts.load("zeta-clips")
    models = use_models(_write(tmp_path, "m.yaml", LABELLED))
    assert models is not None and _usermodels.active() is models
    after = contracts.load("zeta-clips")
    assert after is not before  # loaded again, with the models
    block = after.spec["x-sora-mock"]
    assert [m["id"] for m in block["models"]] == ["zeta-1", "zeta-2", "zeta-3"]
    (declaration,) = [d for d in decl.declarations() if d.prefix == "zeta"]
    assert [m.id for m in declaration.models] == ["zeta-1", "zeta-2", "zeta-3"]
    assert [m["id"] for m in before.spec["x-sora-mock"]["models"]] == ["zeta-1"]


def test_the_same_file_given_again_changes_nothing(zeta: Path, tmp_path: Path) -> None:
    path = _write(tmp_path, "m.yaml", LABELLED)
    first = use_models(path)
    loaded = contracts.load("zeta-clips")
    listed = decl.declarations()
    assert use_models(path) is first
    assert contracts.load("zeta-clips") is loaded  # not loaded again
    assert decl.declarations() is listed


def test_the_same_file_changed_is_read_again(zeta: Path, tmp_path: Path) -> None:
    path = _write(tmp_path, "m.yaml", LABELLED)
    first = use_models(path)
    path.write_text(LABELLED.replace("zeta-3", "zeta-4"))
    second = use_models(path)
    assert second is not first and _usermodels.active() is second
    models = contracts.load("zeta-clips").spec["x-sora-mock"]["models"]
    assert [m["id"] for m in models] == ["zeta-1", "zeta-2", "zeta-4"]


def test_another_file_with_the_same_bytes_is_another_file(zeta: Path, tmp_path: Path) -> None:
    first = use_models(_write(tmp_path, "m.yaml", LABELLED))
    second = use_models(_write(tmp_path, "n.yaml", LABELLED))
    assert second is not first and second is not None
    assert _usermodels.active() is second and second.path == tmp_path / "n.yaml"


def test_none_forgets_the_file_and_the_contracts_are_read_as_written(
    zeta: Path, tmp_path: Path
) -> None:
    use_models(_write(tmp_path, "m.yaml", LABELLED))
    with_models = contracts.load("zeta-clips")
    assert use_models(None) is None
    assert _usermodels.active() is None
    plain = contracts.load("zeta-clips")
    assert plain is not with_models
    assert [m["id"] for m in plain.spec["x-sora-mock"]["models"]] == ["zeta-1"]
    (declaration,) = [d for d in decl.declarations() if d.prefix == "zeta"]
    assert [m.id for m in declaration.models] == ["zeta-1"]


def test_a_file_refused_leaves_the_models_in_use_as_they_were(zeta: Path, tmp_path: Path) -> None:
    good = use_models(_write(tmp_path, "m.yaml", LABELLED))
    bad = _write(tmp_path, "bad.yaml", LABELLED.replace("label: Two", "name: Two"))
    with pytest.raises(ContractError):
        use_models(bad)
    assert _usermodels.active() is good
    models = contracts.load("zeta-clips").spec["x-sora-mock"]["models"]
    assert [m["id"] for m in models] == ["zeta-1", "zeta-2", "zeta-3"]
    (declaration,) = [d for d in decl.declarations() if d.prefix == "zeta"]
    assert [m.id for m in declaration.models] == ["zeta-1", "zeta-2", "zeta-3"]


def test_a_file_refused_with_none_in_use_leaves_none(zeta: Path, tmp_path: Path) -> None:
    with pytest.raises(ContractError):
        use_models(_write(tmp_path, "bad.yaml", "nope: [{id: x, sizes: [1x1], durations: [4]}]"))
    assert _usermodels.active() is None
    models = contracts.load("zeta-clips").spec["x-sora-mock"]["models"]
    assert [m["id"] for m in models] == ["zeta-1"]


# ------------------------------------------------------------------ prefixes


@pytest.fixture
def providers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two declared providers and a Python dialect's three contracts, whatever is bundled."""
    declared = (
        SimpleNamespace(prefix="zeta", answers=SimpleNamespace(client=None)),
        SimpleNamespace(prefix="alpha", answers=SimpleNamespace(client=None)),
    )
    monkeypatch.setattr(decl, "declarations", lambda: declared)
    python = {"py-b": "py", "py-a": "py", "other": "nu", "py-c": "py"}
    monkeypatch.setattr(_loader, "PROVIDER_CONTRACTS", python)


def _file(**models: Any) -> ModelsFile:
    return ModelsFile(Path("/m.yaml"), "d", {p: tuple(ms) for p, ms in models.items()})


def test_a_declared_prefix_is_taken(providers: None) -> None:
    _usermodels._check_prefixes(_file(zeta=[_model("x")], alpha=[_model("y")]))


def test_an_unknown_prefix_is_refused_naming_the_declared(providers: None) -> None:
    with pytest.raises(ContractError) as caught:
        _usermodels._check_prefixes(_file(zeta=[_model("x")], omega=[_model("y")]))
    assert (caught.value.path, caught.value.where, caught.value.message) == (
        Path("/m.yaml"),
        "/omega",
        "no declared provider has the prefix or client name `omega`; declared: alpha, zeta",
    )


def test_a_python_dialects_prefix_is_refused_naming_its_contracts(providers: None) -> None:
    with pytest.raises(ContractError) as caught:
        _usermodels._check_prefixes(_file(py=[_model("x")]))
    assert (caught.value.where, caught.value.message) == (
        "/py",
        "`py` is served by Python dialects (py-a, py-b, py-c), which read no models file: "
        "a models file adds models to declared providers; declared: alpha, zeta",
    )


# ------------------------------------------------------------------ listings


def _declaration(prefix: str = "zeta") -> decl.Declaration:
    return next(d for d in decl.declarations() if d.prefix == prefix)


def test_a_listing_the_contract_allows_is_taken(zeta: Path) -> None:
    models = _file(zeta=[_model("a", listing={"id": "a", "label": "A"})])
    _usermodels._check_listings(models, _declaration())


def test_a_listing_the_contract_does_not_allow_is_refused_at_its_model(zeta: Path) -> None:
    """The declaration's own answer (`engines`) at an operation's path holding `~1` (read as
    written, not as an escaped `/`)."""
    good = _model("a", listing={"id": "a", "label": "A"})
    models = _file(zeta=[good, good, _model("b")])
    with pytest.raises(ContractError) as caught:
        _usermodels._check_listings(models, _declaration())
    assert (caught.value.path, caught.value.where, caught.value.message) == (
        Path("/m.yaml"),
        "/zeta/2/listing",
        "zeta-clips.yaml does not allow it in its models listing ('label' is a required "
        "property): give `listing:` what the provider lists for the model",
    )


def test_the_default_answer_and_a_shared_response_are_read_for_the_listing(
    tmp_path: Path,
) -> None:
    contracts.add_provider(_write(tmp_path, "zeta-clips.yaml", ZETA_REF))
    _usermodels._check_listings(
        _file(zeta=[_model("a", listing={"id": "a", "label": "A"})]), _declaration()
    )
    with pytest.raises(ContractError) as caught:
        _usermodels._check_listings(_file(zeta=[_model("a")]), _declaration())
    assert caught.value.message == (
        "zeta-clips.yaml does not allow it in its models listing ('label' is a required "
        "property): give `listing:` what the provider lists for the model"
    )


def test_a_listing_is_not_checked_without_a_json_listing_or_a_models_operation(
    tmp_path: Path,
) -> None:
    assert "text/plain" in ZETA_TEXT
    for variant in (ZETA_TEXT, ZETA_NONE, ZETA_BARE, ZETA_SILENT):
        contracts.add_provider(_write(tmp_path, "zeta-clips.yaml", variant))
        _usermodels._check_listings(_file(zeta=[_model("a")]), _declaration())
        contracts.forget_provider("zeta-clips")
        _loader.forget()


def test_only_the_declarations_own_models_are_checked(zeta: Path) -> None:
    _usermodels._check_listings(_file(nu=[_model("a")]), _declaration())


def test_a_contract_loaded_without_a_declaration_block_has_no_listing_to_check() -> None:
    """The block is read from the contract as loaded now: one with none (a Python API's,
    here a stand-in declaration naming gptproto-chat) has no model joining it, nothing to
    check and no error."""
    assert decl.KEY not in contracts.load("gptproto-chat").spec
    stand_in: Any = SimpleNamespace(contract="gptproto-chat", role=lambda name: None)
    _usermodels._check_listings(_file(gptproto=[_model("a")]), stand_in)


# ------------------------------------------------------------------ joining a contract


def _active(monkeypatch: pytest.MonkeyPatch, **models: Any) -> ModelsFile:
    active = _file(**models)
    monkeypatch.setattr(_usermodels, "_ACTIVE", [active])
    return active


def _fresh(path: Path) -> Contract:
    return contracts.load_path(path)  # a copy of its own, as read (no hook has run)


def test_without_a_file_a_contract_is_left_as_written(zeta: Path) -> None:
    contract = _fresh(zeta)
    spec = copy.deepcopy(contract.spec)
    _usermodels.patch(contract)
    assert contract.spec == spec


@pytest.mark.parametrize(
    "block",
    [
        None,
        "zeta",
        ["zeta"],
        {"prefix": 7},
        {"prefix": None},
        {"prefix": ["zeta"]},
        {"prefix": {"zeta": 1}},
        {"prefix": "nu"},
        {"prefix": "ze"},
    ],
)
def test_a_contract_not_declaring_the_files_prefix_is_left_as_written(
    monkeypatch: pytest.MonkeyPatch, zeta: Path, block: Any
) -> None:
    _active(monkeypatch, zeta=[_model("a")], **{"7": [_model("b")], "None": [_model("c")]})
    contract = _fresh(zeta)
    if block is None:
        del contract.spec["x-sora-mock"]
    else:
        contract.spec["x-sora-mock"] = copy.deepcopy(block)
    spec = copy.deepcopy(contract.spec)
    _usermodels.patch(contract)
    assert contract.spec == spec


def test_the_files_models_follow_the_contracts_own_as_copies(
    monkeypatch: pytest.MonkeyPatch, zeta: Path
) -> None:
    added = (_model("a", listing={"id": "a", "deep": [1]}), _model("b"))
    active = _active(monkeypatch, zeta=added)
    contract = _fresh(zeta)
    own = copy.deepcopy(contract.spec["x-sora-mock"]["models"])
    _usermodels.patch(contract)
    models = contract.spec["x-sora-mock"]["models"]
    assert models == [*own, *added]
    assert models[1] is not active.models["zeta"][0]
    assert models[1]["listing"]["deep"] is not added[0]["listing"]["deep"]
    models[1]["listing"]["deep"].append(2)  # a server's change to its contract stays there
    assert added[0]["listing"]["deep"] == [1]


@pytest.mark.parametrize("own", [None, "zeta-1", {"id": "zeta-1"}])
def test_a_contract_whose_models_are_no_list_takes_the_files_alone(
    monkeypatch: pytest.MonkeyPatch, zeta: Path, own: Any
) -> None:
    _active(monkeypatch, zeta=[_model("zeta-1")])
    contract = _fresh(zeta)
    contract.spec["x-sora-mock"]["models"] = own
    _usermodels.patch(contract)
    assert contract.spec["x-sora-mock"]["models"] == [_model("zeta-1")]


def test_a_model_the_contract_declares_already_is_refused_at_its_place(
    monkeypatch: pytest.MonkeyPatch, zeta: Path
) -> None:
    _active(monkeypatch, zeta=[_model("a"), _model("b"), _model("zeta-1")])
    contract = _fresh(zeta)
    contract.spec["x-sora-mock"]["models"].insert(0, "a")  # not a model: names nothing
    spec = copy.deepcopy(contract.spec)
    with pytest.raises(ContractError) as caught:
        _usermodels.patch(contract)
    assert (caught.value.path, caught.value.where, caught.value.message) == (
        Path("/m.yaml"),
        "/zeta/2/id",
        "'zeta-1' is declared by zeta-clips.yaml already: a models file adds models; "
        "give this one another name or leave it out",
    )
    assert contract.spec == spec  # nothing joined


def test_the_create_schema_takes_the_files_values_where_it_enumerates_them(
    monkeypatch: pytest.MonkeyPatch, zeta: Path
) -> None:
    _active(
        monkeypatch,
        zeta=[_model("a", sizes=["9x9", "640x480"], durations=[6, 4]), _model("b")],
    )
    contract = _fresh(zeta)
    _usermodels.patch(contract)
    schema = contract.spec["paths"]["/v1/clips"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["properties"]
    assert schema["model"] == {"type": "string", "enum": ["zeta-1", "a", "b"]}
    assert schema["seconds"] == {"type": "integer", "enum": [4, 6, 3]}
    assert schema["size"] == {"type": "string", "enum": ["640x480", "9x9", "2x2"]}
    assert schema["prompt"] == {"type": "string"}


# ------------------------------------------------------------------ where values are added


def _contract(spec: dict[str, Any]) -> Contract:
    spec = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, **spec}
    return Contract("w", Path("/w.yaml"), spec, index_operations(spec, "/w.yaml"))


def _enum(*values: Any) -> dict[str, Any]:
    return {"enum": list(values)}


def _op(op_id: str, content: dict[str, Any] | None) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": op_id, "responses": {"200": {"description": "ok"}}}
    if content is not None:
        op["requestBody"] = {"content": content}
    return op


def _body(**properties: Any) -> dict[str, Any]:
    return {"schema": {"type": "object", "properties": properties}}


ADDED = (_model("m2", sizes=["3x3"], durations=[7]),)


def _widened(operations: Any, paths: dict[str, Any]) -> Contract:
    contract = _contract({"paths": paths})
    _usermodels._widen(contract, {"operations": operations}, ADDED)
    return contract


def test_every_media_type_of_the_create_is_widened() -> None:
    json_body, form_body = _body(m=_enum("m1")), _body(m=_enum("m1"), s=_enum(1), z=_enum("1x1"))
    contract = _widened(
        {"make": {"role": "create", "fields": {"model": "/m", "seconds": "/s", "size": "/z"}}},
        {
            "/make": {
                "post": _op(
                    "make",
                    {
                        "application/json": json_body,
                        "text/plain": "not a media type object",
                        "application/octet-stream": {},
                        "multipart/form-data": form_body,
                    },
                )
            }
        },
    )
    content = contract.spec["paths"]["/make"]["post"]["requestBody"]["content"]
    assert content["application/json"]["schema"]["properties"] == {"m": _enum("m1", "m2")}
    assert content["multipart/form-data"]["schema"]["properties"] == {
        "m": _enum("m1", "m2"),
        "s": _enum(1, 7),
        "z": _enum("1x1", "3x3"),
    }
    assert content["application/octet-stream"] == {}


def test_only_the_fields_the_create_names_are_widened() -> None:
    body = _body(m=_enum("m1"), s=_enum(1), z=_enum("1x1"))
    contract = _widened(
        {"make": {"role": "create", "fields": {"seconds": "/s", "size": 5, "model": None}}},
        {"/make": {"post": _op("make", {"application/json": body})}},
    )
    properties = contract.spec["paths"]["/make"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["properties"]
    assert properties == {"m": _enum("m1"), "s": _enum(1, 7), "z": _enum("1x1")}


def test_a_create_naming_sizes_in_words_keeps_its_size_words() -> None:
    """A create with ``size-fields`` (GPTProto v3) names sizes in words: its schema's size
    enumeration is words (``small``), never widened with the file's WIDTHxHEIGHT; its model
    and seconds are."""
    body = _body(m=_enum("m1"), s=_enum(1), z=_enum("small", "large"))
    named = {"3x3": {"/z": "small"}}
    contract = _widened(
        {
            "make": {
                "role": "create",
                "fields": {"model": "/m", "seconds": "/s", "size": "/z"},
                "size-fields": named,
            }
        },
        {"/make": {"post": _op("make", {"application/json": body})}},
    )
    properties = contract.spec["paths"]["/make"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["properties"]
    assert properties == {"m": _enum("m1", "m2"), "s": _enum(1, 7), "z": _enum("small", "large")}


@pytest.mark.parametrize(
    "operations",
    [
        None,
        ["make"],
        {"make": "create"},
        {"make": {"role": "read", "fields": {"model": "/m"}}},
        {"make": {"fields": {"model": "/m"}}},
        {"make": {"role": "create"}},
        {"make": {"role": "create", "fields": ["/m"]}},
        {"gone": {"role": "create", "fields": {"model": "/m"}}},
    ],
)
def test_nothing_but_a_create_with_its_fields_is_widened(operations: Any) -> None:
    contract = _widened(
        operations,
        {
            "/make": {"post": _op("make", {"application/json": _body(m=_enum("m1"))})},
            "/other": {"post": _op("other", {"application/json": _body(m=_enum("m1"))})},
        },
    )
    for path, op in (("/make", "make"), ("/other", "other")):
        properties = contract.spec["paths"][path]["post"]["requestBody"]["content"][
            "application/json"
        ]["schema"]["properties"]
        assert properties == {"m": _enum("m1")}, (path, op)


def test_each_create_is_widened_whatever_comes_before_it() -> None:
    """Operations that are not a create, or a create with nothing to widen, are passed over
    for the next; the create's schema is found through its reference."""
    operations = {
        "read": {"role": "read", "fields": {"id": "x"}},
        "gone": {"role": "create", "fields": {"model": "/m"}},
        "nofields": {"role": "create"},
        "bare": {"role": "create", "fields": {"model": "/m"}},
        "make": {"role": "create", "fields": {"model": "/m"}},
    }
    contract = _contract(
        {
            "paths": {
                "/read": {"get": _op("read", None)},
                "/nofields": {"post": _op("nofields", None)},
                "/bare": {"post": _op("bare", None)},
                "/make": {
                    "post": _op(
                        "make",
                        {"application/json": {"schema": {"$ref": "#/components/schemas/M"}}},
                    )
                },
            },
            "components": {"schemas": {"M": _body(m=_enum("m1"))["schema"]}},
        }
    )
    _usermodels._widen(contract, {"operations": operations}, ADDED)
    assert contract.spec["components"]["schemas"]["M"]["properties"] == {"m": _enum("m1", "m2")}


def test_a_create_without_a_body_is_passed_over() -> None:
    operations = {
        "bare": {"role": "create", "fields": {"model": "/m"}},
        "make": {"role": "create", "fields": {"model": "/m"}},
    }
    contract = _widened(
        operations,
        {
            "/bare": {"post": _op("bare", None)},
            "/make": {"post": _op("make", {"application/json": _body(m=_enum("m1"))})},
        },
    )
    properties = contract.spec["paths"]["/make"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["properties"]
    assert properties == {"m": _enum("m1", "m2")}


def _found(contract: Contract, schema: Any, pointer: str) -> list[Any]:
    return list(_usermodels._at(contract, schema, _usermodels._steps(pointer)))


def test_the_steps_of_a_pointer() -> None:
    assert _usermodels._steps("/a/b") == ["a", "b"]
    assert _usermodels._steps("a//b/") == ["a", "b"]
    assert _usermodels._steps("/XaX/X") == ["XaX", "X"]
    assert _usermodels._steps("/ a /") == [" a "]
    assert _usermodels._steps(" a ") == [" a "]  # only slashes are stripped
    assert _usermodels._steps("/") == []
    assert _usermodels._steps("") == []


def test_the_nodes_constraining_a_value_are_found_through_references_and_branches() -> None:
    leaf = {"a": _enum(1), "b": _enum(2), "c": _enum(3), "t": _enum(4), "e": _enum(5)}
    own = _enum(6)
    components = {
        "R": {"$ref": "#/components/schemas/S"},
        "S": {"properties": {"v": leaf["a"]}},
    }
    components = {
        **components,
        "T": {"properties": {"v": leaf["t"]}},
        "V": {"$ref": "#/components/schemas/Own"},
        "Own": own,
    }
    schema = {
        "allOf": [{"$ref": "#/components/schemas/R"}, True],
        "anyOf": [{"properties": {"v": leaf["b"]}}],
        "oneOf": [{"properties": {"w": _enum(0)}}, {"properties": {"v": leaf["c"]}}],
        "if": {"properties": {"v": _enum(9)}},
        "then": {"$ref": "#/components/schemas/T"},
        "else": {"properties": {"v": leaf["e"]}},
        "properties": {"v": {"$ref": "#/components/schemas/V"}},
        "not": {"properties": {"v": _enum(8)}},
    }
    contract = _contract({"paths": {}, "components": {"schemas": components}})
    found = _found(contract, schema, "/v")
    assert [id(n) for n in found] == [id(n) for n in (*leaf.values(), own)]
    # no step: every branch's schema (a reference followed), then the schema itself
    whole = [components["S"], *schema["anyOf"], *schema["oneOf"], components["T"], schema["else"]]
    assert [id(n) for n in _found(contract, schema, "")] == [id(n) for n in (*whole, schema)]
    assert _found(contract, {"$ref": "#/components/schemas/R"}, "/v") == [leaf["a"]]


def test_nothing_is_found_past_a_step_the_schema_does_not_have() -> None:
    contract = _contract({"paths": {}})
    assert _found(contract, {"properties": {"v": _enum(1)}}, "/w") == []
    assert _found(contract, {"properties": {"v": _enum(1)}}, "/v/x") == []
    assert _found(contract, {"properties": ["v"]}, "/v") == []
    assert _found(contract, {"allOf": None, "then": True}, "/v") == []
    assert _found(contract, True, "/v") == []
    assert _found(contract, True, "") == []


def test_a_list_entry_step_goes_into_the_items() -> None:
    inner = _enum("m1")
    schema = {"properties": {"parts": {"items": {"$ref": "#/components/schemas/Part"}}}}
    contract = _contract(
        {"paths": {}, "components": {"schemas": {"Part": {"properties": {"model": inner}}}}}
    )
    assert _found(contract, schema, "/parts/[type=video]/model") == [inner]
    assert _found(contract, schema, "/parts/[type=]/model") == [inner]
    assert _found(contract, {"properties": {"parts": {}}}, "/parts/[type=video]/model") == []
    assert _found(contract, schema, "/parts/[type]/model") == []  # a key, not an entry
    assert _found(contract, schema, "/parts/x[type=v]/model") == []


@pytest.mark.parametrize(
    ("node", "values", "after"),
    [
        ({"const": "sora-2"}, ["wan"], {"enum": ["sora-2", "wan"]}),
        ({"const": 4}, [8, 4], {"enum": [4, 8]}),
        (
            {"type": "string", "enum": ["4", "8"]},
            [8, 10, 10],
            {"type": "string", "enum": ["4", "8", "10"]},
        ),
        ({"enum": [4, 8]}, [8, 10], {"enum": [4, 8, 10]}),
        ({"enum": [4, "a"]}, [5, "a"], {"enum": [4, "a", 5]}),  # mixed: as given
        ({"enum": ["a", None]}, [5], {"enum": ["a", None, 5]}),
        ({"enum": []}, ["x"], {"enum": []}),  # enumerates nothing: left alone
        ({"enum": "x"}, ["y"], {"enum": "x"}),
        ({"type": "string"}, ["x"], {"type": "string"}),
    ],
)
def test_an_enumeration_takes_the_values_typed_like_its_own(
    node: dict[str, Any], values: list[Any], after: dict[str, Any]
) -> None:
    node = copy.deepcopy(node)  # a parameter of its own: _add changes it in place
    _usermodels._add(node, values)
    assert node == after
    assert [type(v) for v in node.get("enum", [])] == [type(v) for v in after.get("enum", [])]
