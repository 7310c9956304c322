"""A user's own files given at start-up (issue 26, items 3 and 4): a provider file
(``serve --provider FILE``, ``SORA_MOCK_PROVIDERS``, ``sora_client.add_provider``) and a models
file (``serve --models FILE``, ``SORA_MOCK_MODELS``, ``SoraClient(models=...)``,
``SORA_CLIENT_MODELS``, the fixtures' ini options). The throwaway provider's contract
enumerates its models, durations and sizes, so a model the file adds must reach its schema
(before validators are compiled), the declared engine, the client and the dashboard's form; a
file with a mistake is refused naming the file, the place and the fix."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

import contracts
from contracts import _usermodels
from contracts._declaration import declarations
from mockserver import cli
from mockserver.http import serving
from mockserver.http.app import create_app
from mockserver.http.serving import ServeOptions
from mockserver.settings.config import MockConfig
from mockserver.testing import SoraMock, test_config
from sora_client import ConfigurationError, SoraClient, add_provider
from sora_client._exceptions import InvalidRequestError
from tests.served import served as served_mock
from tests.test_declared_providers import ACME

#: the throwaway provider, its schema enumerating what its one model takes
ENUMERATED = (
    ACME.replace("engine: {type: string}\n", "engine: {type: string, enum: [acme-1]}\n", 1)
    .replace("length: {type: integer}\n", "length: {type: integer, enum: [4, 8]}\n", 1)
    .replace("dims: {type: string}\n", "dims: {type: string, enum: [720x1280, 1280x720]}\n", 1)
)
MODELS = """\
acme:
  - id: acme-2-turbo
    sizes: [1920x1080]
    durations: [6]
  - id: acme-still
    sizes: [720x1280]
    durations: [4]
    image: false
  - id: acme-mini
    sizes: [176x144]
    durations: [2]
"""


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("SORA_MOCK_", "SORA_CLIENT_")):
            monkeypatch.delenv(name)
    yield
    contracts.use_models(None)
    contracts.forget_provider("acme-clips")


@pytest.fixture
def acme(tmp_path: Path) -> Path:
    path = tmp_path / "acme-clips.yaml"
    path.write_text(ENUMERATED)
    return path


@pytest.fixture
def models(tmp_path: Path) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(MODELS)
    return path


def _create(mock: SoraMock, **body: Any) -> httpx.Response:
    with mock.client("acme") as client:
        return client.post("/v2/jobs", json={"text": "a clip", **body})


# ------------------------------------------------------------------ the mock


def test_a_model_from_the_file_is_served_with_its_own_sizes_and_durations(
    acme: Path, models: Path
) -> None:
    mock = SoraMock(create_app(test_config(providers=(str(acme),), models_file=str(models))))
    made = _create(mock, engine="acme-2-turbo", length=6, dims="1920x1080")
    assert made.status_code == 201, made.text
    assert made.json()["engine"] == "acme-2-turbo"
    (job,) = mock.jobs()
    assert (job.model, job.width, job.height, job.seconds) == ("acme-2-turbo", 1920, 1080, 6)
    # the schema now takes 6 s and 1920x1080, but only for the model that has them
    other = _create(mock, engine="acme-1", length=6, dims="720x1280")
    assert other.status_code == 400
    assert other.json()["message"] == "length: 6 is not one of acme-1's durations (4, 8)"
    still = _create(mock, engine="acme-still", start={"url": "data:image/png;base64,AAAA"})
    assert still.status_code == 400
    assert still.json()["message"] == "start: acme-still takes no reference image"
    mock.check()  # strict: every answer matched the contract


def test_without_the_file_its_model_is_refused_by_the_contract(acme: Path) -> None:
    mock = SoraMock(create_app(test_config(providers=(str(acme),))))
    refused = _create(mock, engine="acme-2-turbo", length=6, dims="1920x1080")
    assert refused.status_code == 400
    assert "acme-2-turbo" in refused.json()["message"]


def test_the_file_widens_the_schema_where_it_enumerates_and_nowhere_else(
    acme: Path, models: Path
) -> None:
    contracts.add_provider(acme)
    contracts.use_models(models)
    schema = contracts.load("acme-clips").resolve(
        "#/paths/~1v2~1jobs/post/requestBody/content/application~1json/schema"
    )
    properties = schema["properties"]
    assert properties["engine"]["enum"] == ["acme-1", "acme-2-turbo", "acme-still", "acme-mini"]
    assert properties["length"]["enum"] == [4, 8, 6, 2]
    assert properties["dims"]["enum"] == ["720x1280", "1280x720", "1920x1080", "176x144"]
    assert properties["text"] == {"type": "string", "minLength": 1}
    contracts.use_models(None)  # forgotten: the contract is read as written again
    schema = contracts.load("acme-clips").resolve(
        "#/paths/~1v2~1jobs/post/requestBody/content/application~1json/schema"
    )
    assert schema["properties"]["engine"]["enum"] == ["acme-1"]


def test_a_const_and_a_string_enumeration_take_the_files_values_typed_alike() -> None:
    node: dict[str, Any] = {"const": "sora-2"}
    _usermodels._add(node, ["wan-2.5"])
    assert node == {"enum": ["sora-2", "wan-2.5"]}
    seconds: dict[str, Any] = {"type": "string", "enum": ["4", "8"]}
    _usermodels._add(seconds, [8, 10])
    assert seconds["enum"] == ["4", "8", "10"]
    free: dict[str, Any] = {"type": "string"}
    _usermodels._add(free, ["x"])
    assert free == {"type": "string"}


def test_the_values_are_found_in_every_branch_that_constrains_them_but_an_if() -> None:
    """gptge's create: `size` is enumerated at the top and again in the `else` of a
    condition on the model; the `if` names the model but is a test, not a constraint."""
    contract = contracts.load_path(contracts.CONTRACTS_DIR / "gptge-videos.yaml")  # a copy
    schema = {"$ref": "#/components/schemas/CreateVideoRequest"}
    sizes = list(_usermodels._at(contract, schema, ["size"]))
    assert [node["enum"] for node in sizes] == [
        ["720x1280", "1280x720"],  # the else
        ["720x1280", "1280x720", "1024x1792", "1792x1024"],
    ]
    models = list(_usermodels._at(contract, schema, ["model"]))
    assert [node.get("enum") for node in models] == [["sora-2", "sora-2-pro"]]
    assert list(_usermodels._at(contract, schema, ["nothing", "here"])) == []


def test_the_dashboard_form_offers_the_files_models(acme: Path, models: Path) -> None:
    app = create_app(test_config(providers=(str(acme),), models_file=str(models)))
    index = app.test_client().get("/", headers={"Accept": "application/json"}).json
    (entry,) = index["providers"]["acme"]["contracts"]
    assert entry["declared"]["models"]["acme-2-turbo"] == {
        "sizes": ["1920x1080"],
        "durations": [6],
        "image": True,
    }
    assert entry["declared"]["models"]["acme-still"]["image"] is False


def test_the_readmes_models_file_is_accepted_and_serves_its_model(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("#### Models files") :]
    text = section[section.index("```yaml\n") + 8 : section.index("```\n", 8)]
    path = tmp_path / "models.yaml"
    path.write_text(text)
    mock = SoraMock(create_app(test_config(models_file=str(path))))
    with mock.client("openrouter") as client:
        body = {"model": "acme/wan-2.5", "prompt": "A cat", "duration": 10, "size": "1080x1920"}
        assert client.post("/api/v1/videos", json=body).status_code == 202
        listed = client.get("/api/v1/videos/models").json()["data"]
        assert listed[-1]["name"] == "Acme: Wan 2.5"
    mock.check()  # the listing is what the contract allows


# ------------------------------------------------------------------ mistakes


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("- a\n", "", "maps provider prefixes to lists of models"),
        ("acme: []\n", "/acme", "list the provider's models under it"),
        ("acme: [{id: x, sizes: [1x1]}]\n", "/acme/0", "`durations` is missing: add it"),
        ("acme: [{id: x, sizes: [big], durations: [4]}]\n", "/acme/0/sizes/0", "WIDTHxHEIGHT"),
        ("acme: [{id: x, sizes: [1x1], durations: [0]}]\n", "/acme/0/durations/0", "whole"),
        ("acme: [{id: x, sizes: [1x1], durations: [4], fps: 3}]\n", "/acme/0/fps", "unknown key"),
        ("acme: [{id: x, sizes: [1x1], durations: [4], image: 1}]\n", "/acme/0/image", "true"),
        (
            "acme: [{id: x, sizes: [1x1], durations: [4]},\n"
            "       {id: x, sizes: [1x1], durations: [4]}]\n",
            "/acme/1/id",
            "listed twice",
        ),
        ("acme: [{id: acme-1, sizes: [1x1], durations: [4]}]\n", "/acme/0/id", "already"),
        ("nope: [{id: x, sizes: [1x1], durations: [4]}]\n", "/nope", "no declared provider"),
        # (a prefix served only by Python dialects: none is left among the bundled ones since
        # gpt.ge's move; tests/test_usermodels_rules.py refuses one with a throwaway prefix)
        (
            "openrouter: [{id: x, sizes: [1x1], durations: [4]}]\n",
            "/openrouter/0/listing",
            "canonical_slug",
        ),
        ("acme: [{id: x, sizes: [1x1], durations: [4]}\n", "line 2, column 1", "not valid YAML"),
    ],
)
def test_a_models_file_with_a_mistake_is_refused_naming_file_place_and_fix(
    acme: Path, models: Path, tmp_path: Path, text: str, where: str, words: str
) -> None:
    contracts.add_provider(acme)
    contracts.use_models(models)
    bad = tmp_path / "bad-models.yaml"
    bad.write_text(text)
    with pytest.raises(contracts.ContractError) as caught:
        contracts.use_models(bad)
    assert caught.value.path == bad
    assert caught.value.where == where
    assert words in caught.value.message
    # the models in use stay those of the good file
    assert _usermodels.active() is not None and _usermodels.active().path == models  # type: ignore[union-attr]
    assert contracts.load("acme-clips").spec["x-sora-mock"]["models"][-1]["id"] == "acme-mini"


# ------------------------------------------------------------------ sora-mock serve


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[MockConfig]:
    runs: list[MockConfig] = []

    def run(config: MockConfig, options: ServeOptions, announce: Any) -> int:
        runs.append(config)
        return 0

    monkeypatch.setattr(serving, "serve", run)
    return runs


def test_serve_loads_the_files_before_serving(
    served: list[MockConfig], acme: Path, models: Path
) -> None:
    assert cli.main(["serve", "--provider", str(acme), "--models", str(models)]) == 0
    (config,) = served
    assert config.providers == (str(acme.resolve()),)
    assert config.models_file == str(models.resolve())
    assert "acme-2-turbo" in [m.id for d in declarations() for m in d.models]


def test_serve_refuses_a_provider_file_with_a_mistake_before_serving(
    served: list[MockConfig], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "acme-clips.yaml"
    bad.write_text(ENUMERATED.replace("role: create", "role: creates"))
    assert cli.main(["serve", "--provider", str(bad)]) == 2
    assert served == []
    assert capsys.readouterr().err == (
        f"sora-mock: {bad}: at /x-sora-mock/operations/startJob/role: "
        "unknown role `creates`: use one of create, read, content, models, list, delete, "
        "remix\n"
    )


def test_serve_refuses_a_models_file_with_a_mistake_before_serving(
    served: list[MockConfig], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "models.yaml"
    bad.write_text("openrouter: [{id: x, sizes: [1x1], durations: [4], image: maybe}]\n")
    assert cli.main(["serve", "--models", str(bad)]) == 2
    assert served == []
    err = capsys.readouterr().err
    assert err.startswith(f"sora-mock: {bad}: at /openrouter/0/image: true or false")


def test_the_environment_names_several_provider_files_separated_as_path_is(
    served: list[MockConfig],
    acme: Path,
    models: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = tmp_path / "b, with a comma"
    other.mkdir()
    second = other / "beta-clips.yaml"
    second.write_text(
        ENUMERATED.replace("prefix: acme", "prefix: beta").replace("api.acme.test", "b.test")
    )
    monkeypatch.setenv("SORA_MOCK_PROVIDERS", f"{acme}{os.pathsep}{second}")
    monkeypatch.setenv("SORA_MOCK_MODELS", str(models))
    try:
        assert cli.main(["serve"]) == 0
        (config,) = served
        assert config.providers == (str(acme), str(second))
        assert config.models_file == str(models)
        assert {"acme", "beta"} <= {d.prefix for d in declarations()}
    finally:
        contracts.forget_provider("beta-clips")


def test_a_served_provider_file_and_models_file_reach_every_worker(
    acme: Path, models: Path, tmp_path: Path
) -> None:
    """The real command, two workers (forked from the app built with both files): the index,
    a create of the file's model, and the banner's line for the provider."""
    args = ["--clock", "virtual", "--quiet", "--provider", str(acme), "--models", str(models)]
    with served_mock(*args, workers=2) as server:
        with server.client() as http:
            index = http.get("/", headers={"Accept": "application/json"}).json()
            form = index["providers"]["acme"]["contracts"][0]["declared"]
            assert "acme-2-turbo" in form["models"]
        name = add_provider(acme)  # the client reads the same two files
        with SoraClient(name, api_key="k", base_url=f"{server.url}/acme", models=models) as client:
            job = client.create("a clip", model="acme-2-turbo", seconds=6, size="1920x1080")
            assert job.model == "acme-2-turbo"
    banner = server.output[0].splitlines()
    assert f"  {server.url}/acme       stands in for https://api.acme.test" in banner


# ------------------------------------------------------------------ the client


def test_the_client_loads_the_same_files(
    acme: Path, models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert add_provider(acme) == "acme"

    def client(mock: SoraMock, **kwargs: Any) -> SoraClient:
        return SoraClient(
            "acme",
            api_key="k",
            base_url=mock.base_url("acme"),
            transport=mock.transport(),
            **kwargs,
        )

    mock = SoraMock(create_app(test_config()))
    with client(mock) as plain, pytest.raises(InvalidRequestError, match="acme-2-turbo"):
        plain.create("a clip", model="acme-2-turbo", seconds=6, size="1920x1080")
    monkeypatch.setenv("SORA_CLIENT_MODELS", str(models))
    with client(mock):  # reads the file: the contract (and the next mock built here) take it
        pass
    mock = SoraMock(create_app(test_config()))
    with client(mock) as from_env:
        job = from_env.create("a clip", model="acme-2-turbo", seconds=6, size="1920x1080")
        assert job.model == "acme-2-turbo"
    monkeypatch.delenv("SORA_CLIENT_MODELS")
    contracts.use_models(None)
    with client(mock, models=models) as given:
        # the size is the model's first, as the mock fills it in
        assert given.create("a clip", model="acme-2-turbo", seconds=6).model == "acme-2-turbo"


def test_the_client_refuses_a_file_with_a_mistake_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "models.yaml"
    bad.write_text("openrouter: [{id: x, sizes: [wide], durations: [4]}]\n")
    with pytest.raises(ConfigurationError) as caught:
        SoraClient("openrouter", api_key="k", models=bad)
    assert str(caught.value) == (
        f"models file {bad}: at /openrouter/0/sizes/0: 'wide' is not WIDTHxHEIGHT (e.g. 1280x720)"
    )
    with pytest.raises(ConfigurationError, match=r"provider file .*: at /x-sora-mock: no"):
        plain = tmp_path / "plain.yaml"
        plain.write_text(ENUMERATED.split("x-sora-mock:")[0])
        add_provider(plain)


def test_the_sora_command_drives_a_provider_and_a_model_from_files(
    acme: Path, models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sora_client.cli import main

    monkeypatch.setenv("SORA_CLIENT_PROVIDERS", f"{tmp_path / 'none-here'}{os.pathsep}{acme}")
    monkeypatch.setenv("SORA_CLIENT_MODELS", str(models))
    monkeypatch.setenv("ACME_KEY", "k")
    out, err = io.StringIO(), io.StringIO()
    argv = ["generate", "--provider", "acme", "--prompt", "a clip", "--model", "acme-mini"]
    argv += ["--seconds", "2", "--size", "176x144", "-o", str(tmp_path / "clip.mp4")]
    code = main([*argv, "--base-url", "http://sora-mock.test/acme"], stdout=out, stderr=err)
    assert code == 2  # the first file does not exist: refused before anything is sent
    assert err.getvalue().startswith(f"error: provider file {tmp_path / 'none-here'}: at /: ")
    monkeypatch.setenv("SORA_CLIENT_PROVIDERS", str(acme))
    out, err = io.StringIO(), io.StringIO()
    main(["--help"], stdout=out, stderr=err)  # loads the files (the mock is built after it)
    mock = SoraMock(create_app(test_config()))
    code = main(
        [*argv, "--base-url", mock.base_url("acme")],
        transport=mock.transport(),
        sleep=mock.advance,
        stdout=out,
        stderr=err,
    )
    assert code == 0, err.getvalue()
    assert (tmp_path / "clip.mp4").stat().st_size > 0
    (job,) = mock.jobs()
    assert (job.model, job.width, job.height, job.seconds) == ("acme-mini", 176, 144, 2)


# ------------------------------------------------------------------ the pytest fixtures


def test_the_fixtures_build_their_mock_with_the_files_their_ini_options_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sora_mock_providers`` (one a line) and ``sora_mock_models``, relative to the ini
    file, reach every fixture's configuration (``test_config``), which loads them."""
    from mockserver.plugin import pytest_files

    monkeypatch.setitem(pytest_files.FILES, "providers", ())
    monkeypatch.setitem(pytest_files.FILES, "models_file", None)
    ini = {"sora_mock_providers": ["p/a.yaml", "b.yaml"], "sora_mock_models": "m.yaml"}
    config = SimpleNamespace(
        inipath=tmp_path / "pytest.ini",
        rootpath=tmp_path / "elsewhere",
        getini=ini.__getitem__,
    )
    pytest_files.read_options(config)  # type: ignore[arg-type]
    built = test_config()
    assert built.providers == (str(tmp_path / "p/a.yaml"), str(tmp_path / "b.yaml"))
    assert built.models_file == str(tmp_path / "m.yaml")
    ini.update(sora_mock_providers=[], sora_mock_models="")
    pytest_files.read_options(config)  # type: ignore[arg-type]
    assert (test_config().providers, test_config().models_file) == ((), None)
