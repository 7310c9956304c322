"""What every provider API of the mock does alike (mockserver.providers.base), on an app built
in each test: which ``Authorization`` forms carry a key (the contract's schemes: a bearer
token, or GPTProto's raw key), that a job belongs to the key that made it, the provider's 400
for a reference image that does not decode or has the wrong size, a remote image taken as a
placeholder, a retired model refused before anything is stored, and the registry refusing a
dialect that does not serve its contract."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
import pytest
from flask import Response
from providers import APIS, data_url, png

from mockserver import media
from mockserver.http.app import create_app
from mockserver.media import ImageError
from mockserver.providers.base import DIALECTS, Context, Dialect, handles, register
from mockserver.testing import SoraMock, test_config

V3 = APIS["gptproto-v3"]
VTRIX = APIS["vtrix-generation"]


@pytest.fixture
def mock() -> SoraMock:
    return SoraMock(create_app(test_config()))


def _v3_body(image: str | None = None) -> dict[str, Any]:
    return {
        "prompt": "She turns around and smiles",
        "images": [image or data_url(png(720, 1280))],
        "size": "small",
    }


def _v3_create(client: httpx.Client, authorization: str, **kw: Any) -> httpx.Response:
    return client.post(
        "/api/v3/openai/reverse/sora-2/image-to-video",
        json=_v3_body(**kw),
        headers={"Authorization": authorization},
    )


@pytest.mark.parametrize(
    ("authorization", "accepted"),
    [
        ("sk-raw", True),  # GPTProto's documented raw key
        ("Bearer sk-raw", True),  # and a bearer token, both in its contract
        ("bearer   sk-raw  ", True),  # the scheme ignores case; blanks around are dropped
        ("Bearer ", False),  # a scheme with no token
        ("Basic sk-raw", False),  # neither scheme
        ("sk raw", False),  # a raw key has no blank in it
        ("   ", False),
    ],
)
def test_gptproto_takes_a_raw_key_or_a_bearer_token(
    mock: SoraMock, authorization: str, accepted: bool
) -> None:
    with mock.client("gptproto") as client:
        answer = _v3_create(client, authorization)
    if accepted:
        assert answer.status_code == 200, answer.text
        (job,) = mock.service.store.jobs()[0]
        assert job.owner == mock.service.store.jobs(owner=job.owner)[0][0].owner
    else:
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["type"] == "401"
        assert mock.service.store.jobs()[0] == []


def test_one_key_in_either_form_is_one_owner_and_another_key_is_another(
    mock: SoraMock,
) -> None:
    with mock.client("gptproto") as client:
        for authorization in ("sk-mine", "Bearer sk-mine", "bearer   sk-mine", "sk-other"):
            assert _v3_create(client, authorization).status_code == 200
    jobs, _ = mock.service.store.jobs()
    owners = sorted(job.owner for job in jobs)
    assert len(set(owners)) == 2, "sk-mine three times, sk-other once"
    assert "sk-mine" not in owners and "sk-other" not in owners, "a fingerprint, not the key"
    (theirs,) = [o for o in owners if owners.count(o) == 1]
    assert len(mock.service.store.jobs(owner=theirs)[0]) == 1


@pytest.mark.parametrize(
    ("authorization", "accepted"),
    [
        ("Bearer sk-test", True),
        ("BEARER sk-test", True),
        ("sk-test", False),  # Vtrix documents a bearer token only
        ("Bearer", False),
    ],
)
def test_vtrix_takes_only_a_bearer_token(
    mock: SoraMock, authorization: str, accepted: bool
) -> None:
    with mock.client("vtrix") as client:
        answer = VTRIX.create(client, {"Authorization": authorization})
    assert (answer.status_code == 200) is accepted, answer.text
    if not accepted:
        assert answer.status_code == 401


def test_an_image_that_does_not_decode_is_the_providers_400_on_its_parameter(
    mock: SoraMock,
) -> None:
    with mock.client("gptproto") as client:
        answer = _v3_create(client, "sk-raw", image=data_url(b"not a picture at all"))
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["param"] == "images" and error["type"] == "400"
    assert error["message"]
    assert mock.service.store.jobs()[0] == []


def test_an_image_of_the_wrong_size_names_both_sizes(mock: SoraMock) -> None:
    with mock.client("gptproto") as client:
        answer = _v3_create(client, "sk-raw", image=data_url(png(640, 480)))
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].endswith("(640x480 given, 720x1280 expected).")
    with mock.client("gptproto") as client:
        taller = _v3_create(client, "sk-raw", image=data_url(png(720, 1000)))
        wider = _v3_create(client, "sk-raw", image=data_url(png(600, 1280)))
    assert (taller.status_code, wider.status_code) == (400, 400), "each side counts"
    assert mock.service.store.jobs()[0] == []


def test_an_image_of_the_right_size_is_kept_with_the_job(mock: SoraMock) -> None:
    image = png(720, 1280, (9, 8, 7))
    with mock.client("gptproto") as client:
        answer = _v3_create(client, "sk-raw", image=data_url(image))
    assert answer.status_code == 200
    assert "X-Mock-Notes" not in answer.headers
    (job,) = mock.service.store.jobs()[0]
    assert mock.service.image_of(job) == image
    assert job.notes == []


def test_a_remote_image_becomes_a_placeholder_with_a_note(mock: SoraMock) -> None:
    with mock.client("gptproto") as client:
        answer = _v3_create(client, "sk-raw", image="https://oss.gptproto.com/a.png")
    assert answer.status_code == 200, answer.text
    (job,) = mock.service.store.jobs()[0]
    assert job.image_key is None
    assert len(job.notes) == 1 and job.notes[0] == answer.headers["X-Mock-Notes"]


def test_the_create_is_journalled_with_the_job_it_made(mock: SoraMock) -> None:
    with mock.client("gptproto") as client:
        job_id = _v3_create(client, "sk-raw").json()["data"]["id"]
    (entry,) = [e for e in mock.journal if e.get("operation") == "createSora2ImageToVideo"]
    assert entry["job_id"] == job_id


def test_a_retired_model_is_refused_in_the_providers_words(mock: SoraMock) -> None:
    retired = SoraMock(create_app(test_config(retired_models=["sora-2"])))
    with retired.client("gptproto") as client:
        answer = _v3_create(client, "sk-raw")
    assert 400 <= answer.status_code < 500, answer.text
    error = answer.json()["error"]
    assert error["param"] == "model" and "sora-2" in error["message"]
    assert retired.service.store.jobs()[0] == []
    with mock.client("gptproto") as client:
        assert _v3_create(client, "sk-raw").status_code == 200, "only where it is retired"


def test_a_base_url_names_the_mocks_host_and_the_providers_prefix(mock: SoraMock) -> None:
    with mock.client("gptproto") as client:
        data = _v3_create(client, "sk-raw").json()["data"]
        host = str(client.base_url).removesuffix("/").removesuffix("/gptproto")
    assert data["urls"]["get"] == f"{host}/gptproto/api/v3/predictions/{data['id']}/result"
    assert not host.endswith("/")


def test_a_dialect_missing_a_handler_or_serving_an_unknown_operation_is_refused(
    mock: SoraMock,
) -> None:
    class Partial(Dialect):
        contract_name = "gptproto-v3"
        prefix = "partial"
        family = "gptproto"

        @handles("getPredictionResult")
        def result(self, ctx: Context) -> Response:
            raise AssertionError("never called")

    with pytest.raises(TypeError, match=r"Partial serves no handler for \['createSora2"):
        Partial(mock.service)

    class Stray(Partial):
        @handles("createSora2ImageToVideo")
        def create(self, ctx: Context) -> Response:
            raise AssertionError("never called")

        @handles("noSuchOperation")
        def stray(self, ctx: Context) -> Response:
            raise AssertionError("never called")

    with pytest.raises(KeyError):
        Stray(mock.service)

    class Whole(Stray):
        stray = None  # type: ignore[assignment]

    whole = Whole(mock.service)
    assert set(whole.handlers) == {"getPredictionResult", "createSora2ImageToVideo"}
    assert whole.handlers["getPredictionResult"] is Partial.result
    assert whole.name == "gptproto-v3"


def test_a_second_dialect_for_one_contract_is_refused() -> None:
    class Twin(Dialect):
        contract_name: ClassVar[str] = "gptproto-chat"

    before = dict(DIALECTS)
    with pytest.raises(ValueError, match="'gptproto-chat' is already registered"):
        register(Twin)
    assert before == DIALECTS


@pytest.mark.parametrize(("provider", "api"), [("gptproto", V3), ("vtrix", VTRIX)])
def test_a_request_without_any_key_is_a_401(mock: SoraMock, provider: str, api: Any) -> None:
    with mock.client(provider) as client:
        del client.headers["Authorization"]
        answer = api.create(client, {})
    assert answer.status_code == 401, answer.text
    assert mock.service.store.jobs()[0] == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://files.example/a.png", "not an image URL: 'ftp://files.example/a.png'"),
        (
            "http://testserver/__mock/nothing.png",
            "the mock serves no image at '/__mock/nothing.png'",
        ),
    ],
)
def test_an_image_url_that_names_no_image_is_the_providers_400(
    mock: SoraMock, url: str, message: str
) -> None:
    with mock.client("gptproto") as client:
        host = client.base_url.netloc.decode()
        answer = _v3_create(client, "sk-raw", image=url.replace("testserver", host))
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"error": {"message": message, "type": "400", "param": "images"}}
    assert mock.service.store.jobs()[0] == []


def test_an_undecodable_image_says_why(mock: SoraMock) -> None:
    with pytest.raises(ImageError) as reason:
        media.probe_image(b"not a picture at all")
    with mock.client("gptproto") as client:
        answer = _v3_create(client, "sk-raw", image=data_url(b"not a picture at all"))
    assert answer.json()["error"]["message"] == str(reason.value)


def test_the_bind_name_is_the_mocks_own_host_for_its_sample_image() -> None:
    url = "http://mock.internal/__mock/sample-image?size=720x1280"
    named = SoraMock(create_app(test_config(bind_host="mock.internal")))
    with named.client("gptproto") as client:
        assert client.base_url.port is None, "port 80, as the URL"
        answer = _v3_create(client, "sk-raw", image=url)
    assert answer.status_code == 200, answer.text
    assert "X-Mock-Notes" not in answer.headers, "its own image, not a placeholder"
    (job,) = named.service.store.jobs()[0]
    assert job.image_key is not None
    other = SoraMock(create_app(test_config()))
    with other.client("gptproto") as client:
        assert "X-Mock-Notes" in _v3_create(client, "sk-raw", image=url).headers


def test_a_retired_model_carries_the_providers_code(mock: SoraMock) -> None:
    retired = SoraMock(create_app(test_config(retired_models=["sora-2"])))
    with retired.client("gptproto") as client:
        answer = _v3_create(client, "sk-raw")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "model_not_found"


def test_a_videos_job_takes_the_dialects_id_prefix_and_expiry(mock: SoraMock) -> None:
    api = APIS["gptproto-videos"]
    with mock.client("gptproto") as client:
        created = api.create(client, {})
        assert created.status_code == 200, created.text
        job_id = api.job_id(created.json())
        assert job_id.startswith("video_")
        for _ in range(400):
            body = client.get(api.status_path(job_id)).json()
            if api.status(body) == "completed":
                break
            mock.advance(0.5)
    assert int(body["expires_at"]) == int(body["completed_at"]) + 3600


def test_register_puts_the_dialect_under_its_contract_name() -> None:
    class Extra(Dialect):
        contract_name: ClassVar[str] = "test-only-extra"

    try:
        assert register(Extra) is Extra
        assert DIALECTS["test-only-extra"] is Extra
    finally:
        DIALECTS.pop("test-only-extra", None)


def _dialect(mock: SoraMock, contract_name: str) -> Dialect:
    from mockserver.providers import registered

    return registered()[contract_name](mock.service)


def _asking(authorization: str | None) -> Any:
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    headers = {} if authorization is None else {"Authorization": authorization}
    return Request(EnvironBuilder(path="/", headers=headers).get_environ())


def test_the_key_forms_are_read_once_per_contract_and_kept(mock: SoraMock) -> None:
    dialect = _dialect(mock, "gptproto-v3")
    assert dialect.credentials(_asking(None)) is None
    assert dialect.credentials(_asking("  ")) is None
    assert dialect.credentials(_asking(" Bearer sk-a ")) == "sk-a"
    assert dialect._forms == (dialect.contract, (True, True))  # type: ignore[attr-defined]
    dialect._forms = (dialect.contract, (False, False))  # type: ignore[attr-defined]
    assert dialect.credentials(_asking("Bearer sk-a")) is None, "what was kept is used"


def test_another_contract_has_its_key_forms_read_anew(mock: SoraMock) -> None:
    gptproto, vtrix = _dialect(mock, "gptproto-v3"), _dialect(mock, "vtrix-generation")
    assert gptproto.credentials(_asking("sk-raw")) == "sk-raw"
    gptproto.contract = vtrix.contract  # (a bearer token only)
    assert gptproto.credentials(_asking("sk-raw")) is None
    assert gptproto._forms == (vtrix.contract, (True, False))  # type: ignore[attr-defined]
