"""What the dashboard reads to drive a declared provider (the index's ``declared`` entry): its
create's body built from the declaration must be the one the client builds (two builders, one
declaration), its paths and id place must be the contract's, and its models the declaration's.
The page itself is driven in Chromium by tests/test_docs_run.py (every card, every form)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import contracts
from mockserver.http.app import create_app
from mockserver.providers import registered
from mockserver.testing import test_config
from sora_client import SoraClient
from sora_client._providers.base import CreateSpec
from tests.test_declared_providers import ACME


@pytest.fixture
def acme(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "acme-clips.yaml"
    path.write_text(ACME)
    contracts.add_provider(path)
    yield path
    contracts.forget_provider("acme-clips")


def _index() -> dict[str, Any]:
    answer = create_app(test_config()).test_client().get("/", headers={"Accept": "*/*"})
    assert answer.status_code == 200
    index: dict[str, Any] = answer.json
    return index


def _form(index: dict[str, Any], prefix: str) -> dict[str, Any]:
    (entry,) = [c for c in index["providers"][prefix]["contracts"] if "declared" in c]
    form: dict[str, Any] = entry["declared"]
    return form


def _filled(template: Any, values: dict[str, Any]) -> Any:
    """What the page's fillTemplate does: a string that is one "{name}" becomes the value."""
    if isinstance(template, dict):
        return {k: _filled(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_filled(v, values) for v in template]
    if (
        isinstance(template, str)
        and template[1:-1] in values
        and template[0] + template[-1] == "{}"
    ):
        return values[template[1:-1]]
    return template


def _client_body(provider: str, **spec: Any) -> Any:
    with SoraClient(provider, api_key="k", base_url="http://127.0.0.1:1/x") as client:
        request = client._adapter.build_create(CreateSpec(**spec))
    return json.loads(request.content)


def test_openrouters_form_builds_the_body_the_client_sends() -> None:
    form = _form(_index(), "openrouter")
    values = {
        "model": "openai/sora-2-pro",
        "prompt": "A lighthouse",
        "seconds": 8,
        "size": "720x1280",
        "image": "data:image/png;base64,AAAA",
    }
    from sora_client._images import Image

    image = Image(b"AAAA", "data:image/png;base64,AAAA", "image/png", 720, 1280, "x.png")
    expected = _client_body(
        "openrouter",
        prompt="A lighthouse",
        model="openai/sora-2-pro",
        seconds=8,
        size="720x1280",
        image=image,
    )
    assert _filled(form["body"], values) == expected
    without = {k: v for k, v in values.items() if k != "image"}
    assert _filled(form["body_without_image"], without) == _client_body(
        "openrouter", prompt="A lighthouse", model="openai/sora-2-pro", seconds=8, size="720x1280"
    )
    assert form["client"] == "openrouter"
    assert (form["method"], form["create_path"]) == ("POST", "/api/v1/videos")
    assert form["status_path"] == "/api/v1/videos/{id}"
    assert form["id_pointer"] == "/id"
    assert form["models"]["google/veo-3.1"] == {
        "sizes": ["1280x720"],
        "durations": [5, 8],
        "image": True,
    }
    assert list(form["models"]) == ["openai/sora-2-pro", "google/veo-3.1"]


def test_a_provider_added_from_a_file_gets_its_form_and_a_python_dialect_none(acme: Path) -> None:
    index = _index()
    form = _form(index, "acme")
    assert form["label"] == "Acme · /v2/jobs"
    assert form["status_path"] == "/v2/jobs/{id}"  # its path parameter is job_id
    assert form["id_pointer"] == "/job_id"  # where its job template puts the id
    assert form["body"] == {
        "engine": "{model}",
        "text": "{prompt}",
        "length": "{seconds}",
        "dims": "{size}",
        "start": {"url": "{image}"},
    }
    assert "start" not in form["body_without_image"]
    assert form["models"] == {
        "acme-1": {"sizes": ["720x1280", "1280x720"], "durations": [4, 8], "image": True}
    }
    python = {d.contract_name for d in registered().values() if not hasattr(d, "declaration")}
    for info in index["providers"].values():  # the APIs still served by Python dialects have
        for contract in info["contracts"]:  # no form of this kind
            assert "declared" not in contract or contract["name"] not in python
