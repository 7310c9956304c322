"""The declaration's reader and engine (``contracts._declaration``), rule by rule, in process,
through its public names only (``read``, ``fill``, ``pick``, ``error_values``, ``places``,
``create_body``, ``Mirrored``, ``add_provider``): a throwaway contract (``deck``) using every
optional key is loaded once, and each test reads a changed copy of its ``x-sora-mock`` block
(the contract's operations kept) and pins what is read, or the place and the words of the
mistake refused."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import contracts
from contracts import _declaration as decl
from contracts._loader import load_path

DECK = """\
openapi: 3.1.0
info: {title: Deck, version: "1", x-provider: deck, x-provider-base-url: https://api.deck.test}
servers: [{url: /}]
security: [{Key: []}]
paths:
  /v1/decks:
    post:
      operationId: makeDeck
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Create"}
      responses:
        "201":
          description: started
          content: {application/json: {schema: {type: object}}}
  /v1/decks/{deck_id}:
    get:
      operationId: readDeck
      parameters: [{name: deck_id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: the job
          content: {application/json: {schema: {type: object}}}
  /v1/decks/{deck_id}/video:
    get:
      operationId: deckVideo
      parameters: [{name: deck_id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: the video
          content: {video/mp4: {schema: {type: string, format: binary}}}
  /v1/models:
    get:
      operationId: deckModels
      responses:
        "200":
          description: the models
          content: {application/json: {schema: {type: object}}}
components:
  securitySchemes: {Key: {type: http, scheme: bearer}}
  schemas:
    Create: {$ref: "#/components/schemas/Body"}
    Body:
      type: object
      required: [model]
      properties:
        model: {type: string}
        prompt: {type: string}
        seconds: {type: integer}
        size: {type: string}
        hook: {type: string}
        frames:
          type: array
          items: {$ref: "#/components/schemas/Frame"}
    Frame:
      type: object
      required: [kind, type, image]
      properties:
        kind: {type: string}
        type: {$ref: "#/components/schemas/Kind"}
        image:
          type: object
          required: [format]
          properties: {format: {const: uri}, url: {type: string}}
    Kind: {const: image_url}
x-sora-mock:
  prefix: deck
  name: Deck
  hosts: [api.deck.test]
  key-env: DECK_KEY
  id-prefix: deck_
  expiry-seconds: 600
  price-per-second: 0.5
  list-order: 7
  statuses: {queued: q, in_progress: p, completed: c, failed: f}
  statuses-accepted: {rendering: in_progress}
  failure: {code: 12, message: It broke}
  failure-codes: {12: It broke, boom: It went boom}
  job-places: {video_url: [/a, /b], progress: /p}
  operations:
    makeDeck:
      role: create
      status: 201
      image-matches-size: the sizes differ
      fields:
        model: /model
        prompt: /prompt
        seconds: /seconds
        size: /size
        image: /frames/[kind=first]/image/url
    readDeck: {role: read, fields: {id: deck_id}}
    deckVideo: {role: content, fields: {id: deck_id, index: n}}
    deckModels: {role: models}
  job:
    id: "{job.id}"
    state: "{status}"
    out: {x-when: [completed], x-value: ["{video_url}"], x-else: []}
    notes: {x-if: job.notes, x-value: "{job.notes}"}
  models-answer: {data: "{models}"}
  webhooks:
    url: /hook
    events: {completed: deck.done, failed: deck.failed}
    body: {id: "{job.id}", type: "{event}", at: "{event.created_at_unix}"}
    headers: {X-Deck-Event: "{event}"}
    signature:
      header: X-Deck-Signature
      value: "v1={signature}"
      signed: "{timestamp}.{body}"
  errors:
    body: {message: "{message}", status: "{status}", code: "{code_or_status}"}
    not-found: "no deck {id}"
    model-not-found: {status: 404, code: 7, message: "no model {model}"}
    scenario-codes: {rate_limited: 429, server_error: oops}
  models:
    - {id: deck-1, sizes: [1280x720, 720x1280], durations: [4, 8], listing: {id: deck-1, x: 1}}
    - {id: deck-2, sizes: [640x360], durations: [5], image: false}
"""


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("deck") / "deck-cards.yaml"
    path.write_text(DECK)
    return load_path(path)


def _with(base: Any, edit: Callable[[dict[str, Any]], Any]) -> Any:
    """The contract with its block changed by ``edit`` (which may also return a new block)."""
    spec = copy.deepcopy(base.spec)
    raw = spec[decl.KEY]
    replaced = edit(raw)
    spec[decl.KEY] = raw if replaced is None else replaced
    return dataclasses.replace(base, spec=spec)


def _read(base: Any, edit: Callable[[dict[str, Any]], Any] = lambda raw: None) -> decl.Declaration:
    found = decl.read(_with(base, edit))
    assert found is not None
    return found


def _refused(base: Any, edit: Callable[[dict[str, Any]], Any]) -> tuple[str, str]:
    with pytest.raises(contracts.ContractError) as refused:
        decl.read(_with(base, edit))
    assert refused.value.path == base.path
    return refused.value.where, refused.value.message


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """An edit setting ``value`` at ``path`` (``a/b/c``) in the block."""

    def edit(raw: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = raw
        for step in parents:
            node = node[int(step) if isinstance(node, list) else step]
        node[int(last) if isinstance(node, list) else last] = value

    return edit


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def edit(raw: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = raw
        for step in parents:
            node = node[int(step) if isinstance(node, list) else step]
        del node[int(last) if isinstance(node, list) else last]

    return edit


MISSING = "is missing: add it (see ARCHITECTURE.md, 'Add a provider in one file')"


# ---------------------------------------------------------------- what is read


def test_the_whole_declaration_is_read(base: Any) -> None:
    found = _read(base)
    assert found.contract == "deck-cards"
    assert (found.prefix, found.name, found.hosts, found.key_env) == (
        "deck",
        "Deck",
        ("api.deck.test",),
        "DECK_KEY",
    )
    assert found.id_prefix == "deck_"
    assert found.statuses == {"queued": "q", "in_progress": "p", "completed": "c", "failed": "f"}
    assert found.failure == ("12", "It broke")
    assert found.job == base.spec[decl.KEY]["job"]
    assert found.error == {"message": "{message}", "status": "{status}", "code": "{code_or_status}"}
    assert found.not_found == "no deck {id}"
    assert found.model_not_found == (404, "7", "no model {model}")
    assert found.scenario_codes == {"rate_limited": "429", "server_error": "oops"}
    assert found.models == (
        decl.Model("deck-1", ("1280x720", "720x1280"), (4, 8), {"id": "deck-1", "x": 1}, True),
        decl.Model("deck-2", ("640x360",), (5,), {"id": "deck-2"}, False),
    )
    assert found.roles == {
        "makeDeck": decl.Role(
            "makeDeck",
            "create",
            201,
            {
                "model": "/model",
                "prompt": "/prompt",
                "seconds": "/seconds",
                "size": "/size",
                "image": "/frames/[kind=first]/image/url",
            },
            "the sizes differ",
        ),
        "readDeck": decl.Role("readDeck", "read", 200, {"id": "deck_id"}),
        "deckVideo": decl.Role("deckVideo", "content", 200, {"id": "deck_id", "index": "n"}),
        "deckModels": decl.Role("deckModels", "models", 200, {}),
    }
    assert found.models_answer == {"data": "{models}"}
    assert found.expiry_seconds == 600
    assert found.price_per_second == 0.5 and isinstance(found.price_per_second, float)
    assert found.statuses_accepted == {"rendering": "in_progress"}
    assert found.failure_codes == {"12": "It broke", "boom": "It went boom"}
    assert found.job_places == {"video_url": ("/a", "/b"), "progress": ("/p",)}
    assert found.list_order == 7
    assert found.webhooks == decl.Webhooks(
        url="/hook",
        events={"completed": "deck.done", "failed": "deck.failed"},
        body={"id": "{job.id}", "type": "{event}", "at": "{event.created_at_unix}"},
        headers={"X-Deck-Event": "{event}"},
        signature=decl.Signature("X-Deck-Signature", "v1={signature}", "{timestamp}.{body}"),
    )
    assert found.model("deck-2") is found.models[1]
    assert found.model("deck-3") is None
    assert found.role("read") is found.roles["readDeck"]
    assert found.role("nothing") is None


def test_a_contract_without_a_block_has_no_declaration(base: Any) -> None:
    spec = {k: v for k, v in base.spec.items() if k != decl.KEY}
    assert decl.read(dataclasses.replace(base, spec=spec)) is None


def test_the_optional_keys_have_their_defaults(base: Any) -> None:
    def bare(raw: dict[str, Any]) -> None:
        for key in (
            "id-prefix",
            "expiry-seconds",
            "price-per-second",
            "list-order",
            "statuses-accepted",
            "failure-codes",
            "job-places",
            "models-answer",
            "webhooks",
        ):
            del raw[key]
        del raw["errors"]["scenario-codes"]
        del raw["operations"]["makeDeck"]["status"]
        del raw["operations"]["makeDeck"]["image-matches-size"]
        del raw["operations"]["deckModels"]
        raw["operations"]["deckModels"] = {"role": "models"}

    found = _read(base, bare)
    assert found.id_prefix == "video_"
    assert found.expiry_seconds is None
    assert found.price_per_second == 0.0
    assert found.list_order is None
    assert found.statuses_accepted == {} and found.failure_codes == {}
    assert found.job_places == {}
    assert found.models_answer is None and found.webhooks is None
    assert found.scenario_codes == {}
    assert found.roles["makeDeck"].status == 200
    assert found.roles["makeDeck"].image_mismatch is None


def test_a_status_given_as_text_is_a_number(base: Any) -> None:
    assert _read(base, _set("operations/makeDeck/status", "202")).roles["makeDeck"].status == 202


def test_a_job_place_of_one_pointer_is_a_list_of_one(base: Any) -> None:
    assert _read(base, _set("job-places", {"job.id": "/x"})).job_places == {"job.id": ("/x",)}


def test_list_order_zero_is_a_place(base: Any) -> None:
    assert _read(base, _set("list-order", 0)).list_order == 0


# ---------------------------------------------------------------- the block's own shape


def test_a_block_that_is_no_mapping_is_refused(base: Any) -> None:
    assert _refused(base, lambda raw: ["x"]) == ("/x-sora-mock", "must be a mapping")


def test_an_unknown_key_is_refused_naming_every_known_one(base: Any) -> None:
    where, message = _refused(base, _set("prefixes", 1))
    assert where == "/x-sora-mock/prefixes"
    assert message == (
        "unknown key `prefixes`: use one of answer-headers, client, envelope, errors, "
        "expiry-seconds, failure, failure-codes, hosts, id-prefix, job, job-noun, job-places, "
        "key-env, list-order, models, models-answer, name, operations, prefix, "
        "price-per-second, statuses, statuses-accepted, webhooks"
    )


@pytest.mark.parametrize(
    ("key", "where"),
    [
        ("prefix", "/x-sora-mock"),
        ("statuses", "/x-sora-mock"),
        ("failure", "/x-sora-mock"),
        ("errors", "/x-sora-mock"),
        ("errors/body", "/x-sora-mock/errors"),
        ("errors/not-found", "/x-sora-mock/errors"),
        ("errors/model-not-found", "/x-sora-mock/errors"),
        ("job", "/x-sora-mock"),
        ("models", "/x-sora-mock"),
        ("operations", "/x-sora-mock"),
        ("name", "/x-sora-mock"),
        ("hosts", "/x-sora-mock"),
        ("key-env", "/x-sora-mock"),
        ("failure/code", "/x-sora-mock/failure"),
        ("failure/message", "/x-sora-mock/failure"),
        ("errors/model-not-found/status", "/x-sora-mock/errors/model-not-found"),
        ("errors/model-not-found/code", "/x-sora-mock/errors/model-not-found"),
        ("errors/model-not-found/message", "/x-sora-mock/errors/model-not-found"),
    ],
)
def test_a_missing_key_is_refused_where_it_belongs(base: Any, key: str, where: str) -> None:
    name = key.rsplit("/", 1)[-1]
    assert _refused(base, _drop(key)) == (where, f"`{name}` {MISSING}")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("prefix", 3, "must be a str, not int"),
        ("statuses", [], "must be a Mapping, not list"),
        ("failure", "x", "must be a Mapping, not str"),
        ("errors", None, "must be a Mapping, not NoneType"),
        ("errors/body", "x", "must be a Mapping, not str"),
        ("errors/not-found", 4, "must be a str, not int"),
        ("errors/model-not-found", [], "must be a Mapping, not list"),
        ("job", "x", "must be a Mapping, not str"),
        ("models", {}, "must be a list, not dict"),
        ("operations", [], "must be a Mapping, not list"),
        ("name", True, "must be a str, not bool"),
        ("hosts", "h", "must be a list, not str"),
        ("key-env", 1.5, "must be a str, not float"),
        ("failure/code", 1.5, "must be a str or int, not float"),
        ("failure/code", True, "must be a str or int, not bool"),
        ("failure/message", 1, "must be a str, not int"),
        ("errors/model-not-found/status", "404", "must be a int, not str"),
        ("errors/model-not-found/status", True, "must be a int, not bool"),
        ("errors/model-not-found/code", None, "must be a str or int, not NoneType"),
    ],
)
def test_a_key_of_the_wrong_kind_is_refused_at_its_place(
    base: Any, key: str, value: Any, message: str
) -> None:
    assert _refused(base, _set(key, value)) == (f"/x-sora-mock/{key}", message)


@pytest.mark.parametrize("prefix", ["Deck", "1deck", "-deck", "de_ck", "dEck", "deck ", ""])
def test_a_prefix_must_be_a_url_prefix(base: Any, prefix: str) -> None:
    assert _refused(base, _set("prefix", prefix)) == (
        "/x-sora-mock/prefix",
        f"{prefix!r} is not a URL prefix: lower-case letters, digits, '-'",
    )


@pytest.mark.parametrize("prefix", ["d", "d3-x", "deck-9"])
def test_a_url_prefix_is_taken(base: Any, prefix: str) -> None:
    assert _read(base, _set("prefix", prefix)).prefix == prefix


@pytest.mark.parametrize("status", ["queued", "in_progress", "completed", "failed"])
def test_each_status_needs_its_word(base: Any, status: str) -> None:
    message = f"`{status}` needs the provider's word (a string)"
    assert _refused(base, _drop(f"statuses/{status}")) == ("/x-sora-mock/statuses", message)
    assert _refused(base, _set(f"statuses/{status}", 1)) == ("/x-sora-mock/statuses", message)


def test_an_unknown_status_is_refused(base: Any) -> None:
    assert _refused(base, _set("statuses/cancelled", "x")) == (
        "/x-sora-mock/statuses/cancelled",
        "unknown status: the lifecycle has queued, in_progress, completed, failed",
    )


def test_no_model_is_refused(base: Any) -> None:
    assert _refused(base, _set("models", [])) == (
        "/x-sora-mock/models",
        "declare at least one model",
    )


# ---------------------------------------------------------------- templates


def test_a_job_template_may_use_only_job_values(base: Any) -> None:
    where, message = _refused(base, _set("job/state", "now {cost} and {nope}"))
    assert where == "/x-sora-mock/job/state"
    assert message == "`{nope}` is not a value a template can use: use one of " + ", ".join(
        f"{{{n}}}" for n in decl.JOB_VALUES
    )


def test_an_error_template_may_use_only_error_values(base: Any) -> None:
    assert _refused(base, _set("errors/body/message", "{job.id}"))[0] == (
        "/x-sora-mock/errors/body/message"
    )
    assert _read(base, _set("errors/body/message", "{param_message} {status_text}"))


def test_a_models_answer_may_use_only_models(base: Any) -> None:
    where, message = _refused(base, _set("models-answer", {"data": ["{job.id}"]}))
    assert where == "/x-sora-mock/models-answer/data/0"
    assert message == "`{job.id}` is not a value a template can use: use one of {models}"


def test_templates_are_checked_in_lists_and_nested_mappings(base: Any) -> None:
    assert _refused(base, _set("job/out", {"a": [1, {"b": "{x}"}]}))[0] == (
        "/x-sora-mock/job/out/a/1/b"
    )
    assert _read(base, _set("job/out", {"a": [1, None, 2.5, True, {"b": "{job.size}"}]}))


@pytest.mark.parametrize(
    "when",
    [
        {"x-when": "completed", "x-value": 1},
        {"x-when": ["done"], "x-value": 1},
        {"x-when": ["completed"]},
    ],
)
def test_x_when_takes_statuses_and_a_value(base: Any, when: Any) -> None:
    assert _refused(base, _set("job/out", when)) == (
        "/x-sora-mock/job/out",
        "`x-when` takes a list of queued, in_progress, completed, failed and needs `x-value`",
    )


def test_x_when_checks_its_value_and_its_else(base: Any) -> None:
    value = {"x-when": ["completed", "failed"], "x-value": ["{x}"]}
    assert _refused(base, _set("job/out", value))[0] == "/x-sora-mock/job/out/x-value/0"
    other = {"x-when": ["completed"], "x-value": 1, "x-else": {"a": "{y}"}}
    assert _refused(base, _set("job/out", other))[0] == "/x-sora-mock/job/out/x-else/a"
    assert _read(base, _set("job/out", {"x-when": [], "x-value": 1}))


@pytest.mark.parametrize("given", [{"x-if": "nope", "x-value": 1}, {"x-if": "job.notes"}])
def test_x_if_takes_a_value_name_and_a_value(base: Any, given: Any) -> None:
    assert _refused(base, _set("job/notes", given)) == (
        "/x-sora-mock/job/notes",
        "`x-if` takes the name of a value (e.g. job.notes) and needs `x-value`",
    )


def test_x_if_checks_its_value(base: Any) -> None:
    given = {"x-if": "job.notes", "x-value": {"k": "{z}"}}
    assert _refused(base, _set("job/notes", given))[0] == "/x-sora-mock/job/notes/x-value/k"


# ---------------------------------------------------------------- models


def test_a_model_that_is_no_mapping_is_refused(base: Any) -> None:
    assert _refused(base, _set("models/1", "deck-2")) == (
        "/x-sora-mock/models/1",
        "a model is a mapping with `id`, `sizes`, `durations`",
    )


@pytest.mark.parametrize(
    "size", ["720by1280", "0x720", "720x0", "x720", 720, "720x1280x3", "720x1280\n"]
)
def test_a_size_is_width_x_height(base: Any, size: Any) -> None:
    assert _refused(base, _set("models/0/sizes", ["1x1", size])) == (
        "/x-sora-mock/models/0/sizes/1",
        f"{size!r} is not WIDTHxHEIGHT",
    )


@pytest.mark.parametrize("seconds", [0, -4, True, 4.0, "4"])
def test_a_duration_is_a_whole_number_of_seconds(base: Any, seconds: Any) -> None:
    assert _refused(base, _set("models/1/durations", [1, seconds])) == (
        "/x-sora-mock/models/1/durations/1",
        f"{seconds!r} is not a whole number of seconds",
    )


@pytest.mark.parametrize("key", ["sizes", "durations"])
def test_a_model_needs_a_size_and_a_duration(base: Any, key: str) -> None:
    assert _refused(base, _set(f"models/0/{key}", [])) == (
        "/x-sora-mock/models/0",
        "a model needs at least one size and one duration",
    )
    assert _refused(base, _drop(f"models/0/{key}")) == (
        "/x-sora-mock/models/0",
        f"`{key}` {MISSING}",
    )


def test_a_model_needs_a_text_id(base: Any) -> None:
    assert _refused(base, _drop("models/0/id")) == ("/x-sora-mock/models/0", f"`id` {MISSING}")
    assert _refused(base, _set("models/0/id", 3)) == (
        "/x-sora-mock/models/0/id",
        "must be a str, not int",
    )


def test_a_models_image_flag_is_read_for_its_truth(base: Any) -> None:
    assert _read(base, _set("models/1/image", 0)).models[1].image is False
    assert _read(base, _set("models/1/image", "yes")).models[1].image is True


# ---------------------------------------------------------------- operations


def test_an_operation_the_contract_lacks_is_refused(base: Any) -> None:
    assert _refused(base, _set("operations/nope", {"role": "read"})) == (
        "/x-sora-mock/operations/nope",
        "the contract has no operation `nope`: use one of makeDeck, readDeck, deckVideo, "
        "deckModels",
    )


def test_an_operation_block_is_a_mapping_with_a_known_role(base: Any) -> None:
    assert _refused(base, _set("operations/readDeck", "read")) == (
        "/x-sora-mock/operations/readDeck",
        "must be a mapping with `role`",
    )
    assert _refused(base, _set("operations/readDeck", {})) == (
        "/x-sora-mock/operations/readDeck",
        f"`role` {MISSING}",
    )
    assert _refused(base, _set("operations/readDeck/role", "get")) == (
        "/x-sora-mock/operations/readDeck/role",
        "unknown role `get`: use one of create, read, content, models, list, delete, remix",
    )


def test_fields_are_a_mapping(base: Any) -> None:
    assert _refused(base, _set("operations/deckModels/fields", ["id"])) == (
        "/x-sora-mock/operations/deckModels/fields",
        "must be a mapping of names to pointers",
    )


@pytest.mark.parametrize("name", ["model", "seconds", "size"])
def test_a_create_needs_its_three_pointers(base: Any, name: str) -> None:
    message = f"a create needs `{name}`: a JSON pointer into the body (e.g. /{name})"
    where = "/x-sora-mock/operations/makeDeck/fields"
    assert _refused(base, _drop(f"operations/makeDeck/fields/{name}")) == (where, message)
    assert _refused(base, _set(f"operations/makeDeck/fields/{name}", 1)) == (where, message)


@pytest.mark.parametrize("op", ["readDeck", "deckVideo"])
def test_a_read_or_content_needs_the_id_parameter(base: Any, op: str) -> None:
    assert _refused(base, _drop(f"operations/{op}/fields/id")) == (
        f"/x-sora-mock/operations/{op}/fields",
        "needs `id`: the name of the path parameter holding the job's id",
    )


def test_a_models_operation_needs_no_fields(base: Any) -> None:
    assert _read(base).roles["deckModels"].fields == {}


@pytest.mark.parametrize(("op", "value"), [("readDeck", "x"), ("makeDeck", 3)])
def test_image_matches_size_is_a_creates_words(base: Any, op: str, value: Any) -> None:
    assert _refused(base, _set(f"operations/{op}/image-matches-size", value)) == (
        f"/x-sora-mock/operations/{op}/image-matches-size",
        "a create's words for an image whose size is not the video's (a string)",
    )


def test_every_operation_needs_a_role(base: Any) -> None:
    assert _refused(base, _drop("operations/deckVideo")) == (
        "/x-sora-mock/operations",
        "`deckVideo` has no role: give it one of create, read, content, models, list, delete,"
        " remix",
    )


def test_exactly_one_create(base: Any) -> None:
    assert _refused(base, _set("operations/readDeck/role", "create")) == (
        "/x-sora-mock/operations/readDeck/fields",
        "a create needs `model`: a JSON pointer into the body (e.g. /model)",
    )
    fields = {"model": "/model", "seconds": "/seconds", "size": "/size"}
    two = _set("operations/deckModels", {"role": "create", "fields": fields})
    assert _refused(base, two) == (
        "/x-sora-mock/operations",
        "exactly one operation must have the role `create`",
    )
    none = _set("operations/makeDeck", {"role": "models"})
    assert _refused(base, lambda raw: (none(raw), _drop("webhooks")(raw))[1]) == (
        "/x-sora-mock/operations",
        "exactly one operation must have the role `create`",
    )


# ---------------------------------------------------------------- the seed APIs' words


def test_statuses_accepted_map_words_the_mock_does_not_send(base: Any) -> None:
    assert _refused(base, _set("statuses-accepted", ["x"])) == (
        "/x-sora-mock/statuses-accepted",
        "must be a mapping of words to statuses",
    )
    message = (
        "a word the mock does not send, mapped to one of queued, in_progress, completed, failed"
    )
    assert _refused(base, _set("statuses-accepted/rendering", "busy")) == (
        "/x-sora-mock/statuses-accepted/rendering",
        message,
    )
    assert _refused(base, _set("statuses-accepted/p", "in_progress")) == (
        "/x-sora-mock/statuses-accepted/p",
        message,
    )


@pytest.mark.parametrize("codes", [["a"], {"a": 1}])
def test_failure_codes_map_codes_to_messages(base: Any, codes: Any) -> None:
    assert _refused(base, _set("failure-codes", codes)) == (
        "/x-sora-mock/failure-codes",
        "must be a mapping of codes to messages",
    )


def test_job_places_name_job_values_and_pointers(base: Any) -> None:
    assert _refused(base, _set("job-places", "/x")) == (
        "/x-sora-mock/job-places",
        "must be a mapping of value names to pointers",
    )
    where, message = _refused(base, _set("job-places/nope", "/x"))
    assert where == "/x-sora-mock/job-places/nope"
    assert message == "unknown value `nope`: use one of " + ", ".join(decl.JOB_VALUES)
    for pointers in ("x", ["/a", "b"], [1], {"a": "/b"}):
        assert _refused(base, _set("job-places/progress", pointers)) == (
            "/x-sora-mock/job-places/progress",
            "a JSON pointer (/a/b) or a list of them, tried in order",
        )


@pytest.mark.parametrize("order", ["1", True, 1.5])
def test_list_order_is_a_whole_number(base: Any, order: Any) -> None:
    assert _refused(base, _set("list-order", order)) == (
        "/x-sora-mock/list-order",
        "must be a whole number (lower comes first in lists)",
    )


# ---------------------------------------------------------------- webhooks


def test_webhooks_are_a_mapping_of_known_keys(base: Any) -> None:
    assert _refused(base, _set("webhooks", ["x"])) == (
        "/x-sora-mock/webhooks",
        "must be a mapping with `url`, `events`, `body`",
    )
    assert _refused(base, _set("webhooks/retries", 3)) == (
        "/x-sora-mock/webhooks/retries",
        "unknown key `retries`: use one of body, events, headers, signature, url",
    )
    for key in ("url", "events", "body"):
        assert _refused(base, _drop(f"webhooks/{key}")) == (
            "/x-sora-mock/webhooks",
            f"`{key}` {MISSING}",
        )


def test_a_webhooks_url_is_a_pointer_to_a_body_field(base: Any) -> None:
    assert _refused(base, _set("webhooks/url", "hook")) == (
        "/x-sora-mock/webhooks/url",
        "a JSON pointer into the create's body (e.g. /callback_url)",
    )
    assert _refused(base, _set("webhooks/url", "/callback/url")) == (
        "/x-sora-mock/webhooks/url",
        "the body of `makeDeck` has no `callback`: use one of frames, hook, model, prompt, "
        "seconds, size",
    )
    assert _read(base, _set("webhooks/url", "/hook/deeper")).webhooks is not None


def test_a_webhooks_url_anywhere_in_a_body_of_unknown_fields(base: Any) -> None:
    def no_schema(raw: dict[str, Any]) -> None:
        raw["webhooks"]["url"] = "/anything"

    contract = _with(base, no_schema)
    body = contract.spec["components"]["schemas"]["Body"]
    del body["properties"]
    found = decl.read(contract)
    assert found is not None and found.webhooks is not None
    assert found.webhooks.url == "/anything"


def test_webhooks_events_name_terminal_statuses(base: Any) -> None:
    assert _refused(base, _set("webhooks/events", {})) == (
        "/x-sora-mock/webhooks/events",
        "name the event of completed or failed",
    )
    assert _refused(base, _set("webhooks/events/queued", "x")) == (
        "/x-sora-mock/webhooks/events/queued",
        "`queued` is no status a job ends in: use completed or failed",
    )
    for name in ("", 3):
        assert _refused(base, _set("webhooks/events/failed", name)) == (
            "/x-sora-mock/webhooks/events/failed",
            "the event's name (a string)",
        )
    assert _read(base, _set("webhooks/events", {"failed": "f"})).webhooks.events == {  # type: ignore[union-attr]
        "failed": "f"
    }


def test_webhooks_body_and_headers_are_templates(base: Any) -> None:
    assert _refused(base, _set("webhooks/body", "x")) == (
        "/x-sora-mock/webhooks/body",
        "must be a Mapping or list, not str",
    )
    assert _read(base, _set("webhooks/body", ["{event}"])).webhooks.body == ["{event}"]  # type: ignore[union-attr]
    assert _refused(base, _set("webhooks/body/x", "{timestamp}"))[0] == (
        "/x-sora-mock/webhooks/body/x"
    )
    for headers in (["x"], {"X-A": 1}):
        assert _refused(base, _set("webhooks/headers", headers)) == (
            "/x-sora-mock/webhooks/headers",
            "a mapping of header names to text templates",
        )
    assert _refused(base, _set("webhooks/headers/X-B", "{signature}"))[0] == (
        "/x-sora-mock/webhooks/headers/X-B"
    )
    bare = _read(
        base, lambda raw: (_drop("webhooks/headers")(raw), _drop("webhooks/signature")(raw))[1]
    )
    assert bare.webhooks is not None
    assert (bare.webhooks.headers, bare.webhooks.signature) == ({}, None)


def test_a_signature_is_a_mapping_of_known_keys(base: Any) -> None:
    where = "/x-sora-mock/webhooks/signature"
    assert _refused(base, _set("webhooks/signature", "hmac")) == (
        where,
        "must be a mapping with `header`, `value`, `signed`",
    )
    assert _refused(base, _set("webhooks/signature/secret", "s")) == (
        f"{where}/secret",
        "unknown key `secret`: use algorithm, header, signed, value",
    )
    assert _refused(base, _set("webhooks/signature/algorithm", "md5")) == (
        f"{where}/algorithm",
        "'md5': use one of hmac-sha256",
    )
    found = _read(base, _set("webhooks/signature/algorithm", "hmac-sha256"))
    assert found.webhooks is not None and found.webhooks.signature is not None
    assert found.webhooks.signature.algorithm == "hmac-sha256"
    for key in ("header", "value", "signed"):
        assert _refused(base, _drop(f"webhooks/signature/{key}")) == (where, f"`{key}` {MISSING}")


def test_a_signature_value_holds_the_signature_and_signs_the_body(base: Any) -> None:
    where = "/x-sora-mock/webhooks/signature"
    assert _refused(base, _set("webhooks/signature/value", "v1")) == (
        f"{where}/value",
        "must hold `{signature}`",
    )
    assert _refused(base, _set("webhooks/signature/signed", "{timestamp}")) == (
        f"{where}/signed",
        "must hold `{body}`: the signature covers the body",
    )
    assert _refused(base, _set("webhooks/signature/value", "{signature}{job.id}"))[0] == (
        f"{where}/value"
    )
    assert _refused(base, _set("webhooks/signature/signed", "{body}{event}"))[0] == (
        f"{where}/signed"
    )


# ---------------------------------------------------------------- fill, pick, places


def test_fill_puts_a_lone_reference_typed_and_text_around_others() -> None:
    values = {"a": 3, "b": None, "c": [1]}
    assert decl.fill("{a}", values) == 3
    assert decl.fill("{b}", values) is None
    assert decl.fill("{c}", values) == [1]
    assert decl.fill("n={a}, {b}!", values) == "n=3, None!"
    assert decl.fill("{A}", values) == "{A}"
    assert decl.fill(["{a}", {"k": "{a}"}, 4, None], values) == [3, {"k": 3}, 4, None]


def test_fill_keeps_an_x_when_key_in_its_statuses_else_its_else() -> None:
    template = {
        "a": {"x-when": ["completed"], "x-value": "{v}"},
        "b": {"x-when": ["completed"], "x-value": 1, "x-else": ["{v}"]},
        "c": "{v}",
    }
    assert decl.fill(template, {"v": 9}, "completed") == {"a": 9, "b": 1, "c": 9}
    assert decl.fill(template, {"v": 9}, "failed") == {"b": [9], "c": 9}
    assert decl.fill(template, {"v": 9}) == {"b": [9], "c": 9}


@pytest.mark.parametrize("empty", [None, "", [], {}])
def test_fill_keeps_an_x_if_key_only_when_its_value_is_not_empty(empty: Any) -> None:
    template = {"a": {"x-if": "n", "x-value": "{n}"}, "b": 1}
    assert decl.fill(template, {"n": empty}) == {"b": 1}
    assert decl.fill(template, {"n": 0}) == {"a": 0, "b": 1}
    assert decl.fill(template, {"n": ["x"]}) == {"a": ["x"], "b": 1}


def test_error_values() -> None:
    assert decl.error_values(400, "size: bad", "c", "size") == {
        "status": 400,
        "message": "size: bad",
        "code": "c",
        "param": "size",
        "code_or_status": "c",
        "param_message": "size: bad",
    }
    found = decl.error_values(404, "bad", None, "id")
    assert (found["code_or_status"], found["param_message"]) == ("404", "id: bad")
    assert decl.error_values(404, "bad", "", None)["param_message"] == "bad"
    assert decl.error_values(404, "bad", None, "")["param_message"] == "bad"


def test_pick_follows_keys_indexes_and_filters() -> None:
    body = {"a": {"b": [{"k": "1", "v": "x"}, {"k": 2, "v": "y"}, 5]}, "n": None}
    assert decl.pick(body, "/a/b/0/v") == "x"
    assert decl.pick(body, "a/b/2") == 5
    assert decl.pick(body, "/a/b/[k=2]/v") == "y"  # compared as text
    assert decl.pick(body, "/a/b/[k=1]/v") == "x"
    assert decl.pick(body, "/a/b/[k=3]/v") is None
    assert decl.pick(body, "/a/b/3") is None
    assert decl.pick(body, "/a/b/x") is None
    assert decl.pick(body, "/a/[k=1]") is None
    assert decl.pick(body, "/a/z") is None
    assert decl.pick(body, "/n/z") is None
    assert decl.pick(body, "/") is body and decl.pick(body, "") is body
    assert decl.pick({"a": {"b": 0}}, "/a/b") == 0
    assert decl.pick({"a": False}, "/a") is False
    assert decl.pick([{"k": "v"}, "s"], "/[k=v]") == {"k": "v"}
    assert decl.pick(["s", {"k": "v"}], "/[k=v]") == {"k": "v"}


def test_places_are_where_each_lone_reference_goes() -> None:
    template = {
        "a": "{job.id}",
        "b": "x {status}",
        "c": {"x-when": ["completed"], "x-value": {"d": ["{video_url}", "{job.id}"]}},
        "e": [{"f": "{progress}"}, "{status}"],
        "g": 1,
    }
    assert decl.places(template) == {
        "job.id": "/a",
        "video_url": "/c/d/0",
        "progress": "/e/0/f",
        "status": "/e/1",
    }
    assert decl.places("{a}", "/at") == {"a": "/at"}
    assert decl.places({"x": {"x-if": "a", "x-value": "{a}"}}) == {"a": "/x/x-value"}


# ---------------------------------------------------------------- a create's body


def test_create_body_puts_each_value_at_its_pointer_with_the_consts(base: Any) -> None:
    found = _read(base)
    body = decl.create_body(
        base,
        found,
        {"model": "deck-1", "seconds": 4, "image": "data:x", "prompt": "p", "other": 1},
    )
    assert body == {
        "model": "deck-1",
        "seconds": 4,
        "frames": [
            {"kind": "first", "type": "image_url", "image": {"format": "uri", "url": "data:x"}}
        ],
        "prompt": "p",
    }


def _role_fields(**fields: str) -> Callable[[dict[str, Any]], None]:
    return _set(
        "operations/makeDeck/fields",
        {"model": "/model", "seconds": "/seconds", "size": "/size", **fields},
    )


def test_create_body_finds_an_entry_already_built_and_adds_others(base: Any) -> None:
    edit = _role_fields(image="/frames/[kind=first]/image/url", prompt="/frames/[kind=first]/kind2")
    body = decl.create_body(base, _read(base, edit), {"image": "u", "prompt": "p"})
    assert body == {
        "frames": [
            {
                "kind": "first",
                "type": "image_url",
                "image": {"format": "uri", "url": "u"},
                "kind2": "p",
            }
        ]
    }
    edit = _role_fields(image="/frames/[kind=first]/image/url", prompt="/frames/[kind=last]/x")
    body = decl.create_body(base, _read(base, edit), {"image": "u", "prompt": "p"})
    assert [f["kind"] for f in body["frames"]] == ["first", "last"]


def test_create_body_puts_a_value_at_a_list_index(base: Any) -> None:
    edit = _role_fields(image="/frames/0", prompt="/frames/1")
    body = decl.create_body(base, _read(base, edit), {"image": "a", "prompt": "b"})
    assert body == {"frames": ["a", "b"]}
    edit = _role_fields(image="/frames/0", prompt="/frames/0")
    assert decl.create_body(base, _read(base, edit), {"image": "a", "prompt": "b"}) == {
        "frames": ["b"]
    }


def test_create_body_of_a_create_without_a_json_body(base: Any) -> None:
    found = _read(base)
    spec = copy.deepcopy(base.spec)
    contract = dataclasses.replace(base, spec=spec)
    op = contract.operations["makeDeck"]
    bare = dataclasses.replace(op, definition={"responses": {}})
    contract = dataclasses.replace(contract, operations={**contract.operations, "makeDeck": bare})
    body = decl.create_body(contract, found, {"image": "u", "model": "m"})
    assert body == {"model": "m", "frames": [{"kind": "first", "image": {"url": "u"}}]}


# ---------------------------------------------------------------- providers added, listed


@pytest.fixture
def added(tmp_path: Path) -> Iterator[Callable[[str, str], decl.Declaration]]:
    names: list[str] = []

    def add(name: str, text: str) -> decl.Declaration:
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        names.append(name)
        return contracts.add_provider(path)

    yield add
    for name in names:
        contracts.forget_provider(name)


def test_an_added_provider_is_declared_and_a_forgotten_one_is_not(added: Any) -> None:
    found = added("deck-added", DECK)
    assert found.contract == "deck-added"
    assert "deck-added" in [d.contract for d in decl.declarations()]
    contracts.forget_provider("deck-added")
    assert "deck-added" not in [d.contract for d in decl.declarations()]
    contracts.forget_provider("deck-added")  # twice is nothing


def test_a_provider_added_again_under_its_name_is_read_from_its_file_again(
    added: Any, tmp_path: Path
) -> None:
    """``contracts.load`` keeps a contract per name: forgotten and added again with other
    contents (a user editing a provider file, a test making a variant), the new file is
    what is served and checked against, not the first one read."""
    bundled = contracts.load("gptge-videos")
    first = added("deck-again", DECK)
    assert contracts.load("deck-again").spec[decl.KEY]["name"] == first.name
    contracts.forget_provider("deck-again")
    renamed = DECK.replace(f"name: {first.name}\n", "name: Deck Again\n", 1)
    assert renamed != DECK
    again = added("deck-again", renamed)
    assert again.name == "Deck Again"
    assert contracts.load("deck-again").spec[decl.KEY]["name"] == "Deck Again"
    assert [d.name for d in decl.declarations() if d.contract == "deck-again"] == ["Deck Again"]
    assert contracts.load("gptge-videos") is bundled, "only the added name is read again"


def test_a_file_without_a_block_is_refused(tmp_path: Path) -> None:
    spec = yaml.safe_load(DECK)
    del spec[decl.KEY]
    path = tmp_path / "deck-plain.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(contracts.ContractError) as refused:
        contracts.add_provider(path)
    assert (refused.value.where, refused.value.message) == (
        "/x-sora-mock",
        "no `x-sora-mock` block: a provider file declares one",
    )


def test_a_bundled_name_or_a_taken_prefix_is_refused(added: Any, tmp_path: Path) -> None:
    path = tmp_path / "vtrix-generation.yaml"
    path.write_text(DECK)
    with pytest.raises(contracts.ContractError) as refused:
        contracts.add_provider(path)
    assert refused.value.message == (
        "a contract named 'vtrix-generation' exists already: rename the file"
    )
    added("deck-one", DECK)
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "deck-one.yaml").write_text(DECK)
    with pytest.raises(contracts.ContractError, match="named 'deck-one' exists already"):
        contracts.add_provider(other / "deck-one.yaml")
    with pytest.raises(contracts.ContractError) as taken:
        added("deck-two", DECK)
    assert (taken.value.where, taken.value.message) == (
        "/x-sora-mock/prefix",
        "'deck' is taken: choose another prefix",
    )
    with pytest.raises(contracts.ContractError, match="'vtrix' is taken"):
        added("deck-three", DECK.replace("prefix: deck", "prefix: vtrix"))
    with pytest.raises(contracts.ContractError, match="'gptge' is taken"):
        added("deck-four", DECK.replace("prefix: deck", "prefix: gptge"))
    assert added("deck-one", DECK).contract == "deck-one"  # the same file again is fine


def _deck(prefix: str, order: int | None) -> str:
    """The deck contract under another prefix, at a list-order (None: none)."""
    text = DECK.replace("prefix: deck", f"prefix: {prefix}")
    place = "" if order is None else f"  list-order: {order}\n"
    return text.replace("  list-order: 7\n", place)


def test_declarations_come_at_their_list_order_else_in_file_order(added: Any) -> None:
    added("deck-b", _deck("deckb", None))
    added(
        "deck-a",
        _deck("decka", 0),
    )
    added("deck-c", _deck("deckc", None))
    found = [d.contract for d in decl.declarations()]
    assert found.index("gptproto-v3") < found.index("deck-a") < found.index("vtrix-generation")
    assert found[-2:] == ["deck-b", "deck-c"]
    ordered = [d.list_order for d in decl.declarations() if d.list_order is not None]
    assert ordered == sorted(ordered)


def test_mirrored_holds_its_entries_and_every_declarations_at_its_place(added: Any) -> None:
    mirrored = decl.Mirrored(
        {"x": 1, "y": 2}, lambda d: [(d.prefix, d.contract)] if "deck" in d.prefix else []
    )
    assert dict(mirrored.items()) == {"x": 1, "y": 2}
    added(
        "deck-m",
        _deck("deckm", 1),
    )
    added("deck-n", _deck("deckn", None))
    assert list(mirrored) == ["x", "deckm", "y", "deckn"]
    assert list(mirrored.keys()) == ["x", "deckm", "y", "deckn"]
    assert list(mirrored.values()) == [1, "deck-m", 2, "deck-n"]
    assert mirrored["deckm"] == "deck-m" and "deckn" in mirrored and len(mirrored) == 4
    assert mirrored.get("deckn") == "deck-n" and mirrored.get("z", 0) == 0
    assert repr(mirrored) == repr({"x": 1, "deckm": "deck-m", "y": 2, "deckn": "deck-n"})
    contracts.forget_provider("deck-m")
    assert "deckm" not in mirrored and len(mirrored) == 3
    assert mirrored["x"] == 1


def test_mirrored_keeps_a_fixed_entry_over_a_declarations(added: Any) -> None:
    added("deck-f", DECK.replace("prefix: deck", "prefix: deckf"))
    mirrored = decl.Mirrored(
        {"deckf": "mine"}, lambda d: [(d.prefix, d.contract)] if "deck" in d.prefix else []
    )
    assert mirrored["deckf"] == "mine"
    assert list(mirrored)[0] == "deckf"


# ---------------------------------------------------------------- the first run's survivors


def _spec_changed(base: Any, change: Callable[[dict[str, Any]], None]) -> Any:
    """The contract with its document changed (schemas, references) and its block kept."""
    spec = copy.deepcopy(base.spec)
    change(spec)
    return dataclasses.replace(base, spec=spec)


def _schemas(spec: dict[str, Any]) -> dict[str, Any]:
    schemas: dict[str, Any] = spec["components"]["schemas"]
    return schemas


def test_create_body_fills_consts_of_an_entry_whose_schema_has_no_properties(base: Any) -> None:
    def change(spec: dict[str, Any]) -> None:
        _schemas(spec)["Frame"] = {"type": "object", "required": ["kind", "type"]}

    contract = _spec_changed(base, change)
    found = _read(base, _role_fields(image="/frames/[kind=first]/url"))
    assert decl.create_body(contract, found, {"image": "u"}) == {
        "frames": [{"kind": "first", "url": "u"}]
    }


def test_create_body_strips_only_slashes_from_a_pointer(base: Any) -> None:
    found = _read(base, _role_fields(image="/Xhook ", prompt="/7"))
    assert decl.create_body(base, found, {"image": "u", "prompt": "p"}) == {"Xhook ": "u", "7": "p"}


def test_create_body_replaces_one_list_entry_at_its_index(base: Any) -> None:
    found = _read(base, _role_fields(image="/frames/0", prompt="/frames/1", model="/frames/0"))
    body = decl.create_body(base, found, {"image": "x", "prompt": "y", "model": "a"})
    assert body == {"frames": ["a", "y"]}


def test_create_body_makes_a_list_only_before_an_index(base: Any) -> None:
    found = _read(base, _role_fields(prompt="/x/y/0"))
    assert decl.create_body(base, found, {"prompt": "p"}) == {"x": {"y": ["p"]}}


def test_create_body_resolves_references_on_its_way(base: Any) -> None:
    def change(spec: dict[str, Any]) -> None:
        body = _schemas(spec)["Body"]["properties"]
        body["opts"] = {
            "type": "object",
            "required": ["kind"],
            "properties": {"kind": {"$ref": "#/components/schemas/Kind"}},
        }
        body["free"] = True

    contract = _spec_changed(base, change)
    found = _read(base, _role_fields(prompt="/frames/[kind=first]/type", image="/opts/x"))
    assert decl.create_body(contract, found, {"prompt": "p", "image": "u"}) == {
        "frames": [{"kind": "first", "type": "p"}],
        "opts": {"kind": "image_url", "x": "u"},
    }
    found = _read(base, _role_fields(prompt="/free/deep"))
    assert decl.create_body(contract, found, {"prompt": "p"}) == {"free": {"deep": "p"}}


def test_a_name_taken_is_refused_at_the_files_root(added: Any, tmp_path: Path) -> None:
    path = tmp_path / "vtrix-generation.yaml"
    path.write_text(DECK)
    with pytest.raises(contracts.ContractError) as refused:
        contracts.add_provider(path)
    assert refused.value.where == ""


def test_fill_passes_the_status_into_nested_mappings_and_lists() -> None:
    when = {"x-when": ["completed"], "x-value": 1}
    template = {"a": {"b": when}, "c": [{"d": when}]}
    assert decl.fill(template, {}, "completed") == {"a": {"b": 1}, "c": [{"d": 1}]}
    assert decl.fill(template, {}, "failed") == {"a": {}, "c": [{}]}


def test_pick_strips_only_slashes() -> None:
    assert decl.pick({"Xa": 1}, "/Xa") == 1
    assert decl.pick({"X": 2}, "X") == 2


def test_list_order_zero_comes_before_one(added: Any) -> None:
    added("deck-p", _deck("deckp", 1))
    added("deck-q", _deck("deckq", 0))
    found = [d.contract for d in decl.declarations()]
    assert found.index("deck-q") < found.index("deck-p")


def test_mirrored_made_after_a_provider_was_added_holds_it(added: Any) -> None:
    added("deck-late", _deck("decklate", None))
    mirrored = decl.Mirrored({}, lambda d: [(d.prefix, 1)] if "deck" in d.prefix else [])
    assert list(mirrored) == ["decklate"]


def test_mirrored_asks_each_declaration_for_its_entries_once_until_a_change(added: Any) -> None:
    asked: list[str] = []

    def entries(declaration: decl.Declaration) -> list[tuple[str, int]]:
        asked.append(declaration.contract)
        return []

    mirrored = decl.Mirrored({"x": 1}, entries)
    assert mirrored["x"] == 1 and mirrored.get("x") == 1 and len(mirrored) == 1
    once = len(asked)
    assert once == len(decl.declarations())
    added("deck-once", _deck("deckonce", None))
    assert "x" in mirrored
    assert len(asked) == 2 * once + 1


def _without_body(base: Any) -> Any:
    op = base.operations["makeDeck"]
    bare = dataclasses.replace(op, definition={"responses": {}})
    return dataclasses.replace(base, operations={**base.operations, "makeDeck": bare})


def test_a_webhooks_url_of_a_create_without_a_body_is_anything(base: Any) -> None:
    contract = _with(_without_body(base), _set("webhooks/url", "/anything"))
    found = decl.read(contract)
    assert found is not None and found.webhooks is not None
    assert found.webhooks.url == "/anything"


def test_a_webhooks_url_of_a_body_behind_a_list_step_is_anything(base: Any) -> None:
    def change(spec: dict[str, Any]) -> None:
        _schemas(spec)["Create"] = {"$ref": "#/components/schemas/Alts/allOf/0"}
        _schemas(spec)["Alts"] = {"allOf": [{"$ref": "#/components/schemas/Body"}]}
        spec[decl.KEY]["webhooks"]["url"] = "/anything"

    found = decl.read(_spec_changed(base, change))
    assert found is not None and found.webhooks is not None


@pytest.mark.parametrize(("links", "known"), [(9, True), (10, False)])  # links + 1 references
def test_a_body_is_found_through_ten_references_at_most(base: Any, links: int, known: bool) -> None:
    def change(spec: dict[str, Any]) -> None:
        schemas = _schemas(spec)
        schemas["Create"] = {"$ref": "#/components/schemas/R1"}
        for i in range(1, links - 1):
            schemas[f"R{i}"] = {"$ref": f"#/components/schemas/R{i + 1}"}
        schemas[f"R{links - 1}"] = {"$ref": "#/components/schemas/Body"}
        spec[decl.KEY]["webhooks"]["url"] = "/anything"

    contract = _spec_changed(base, change)
    if known:
        with pytest.raises(contracts.ContractError, match="has no `anything`"):
            decl.read(contract)
    else:
        assert decl.read(contract) is not None


def test_x_when_may_list_every_status(base: Any) -> None:
    every = {"x-when": ["queued", "in_progress", "completed", "failed"], "x-value": 1}
    assert _read(base, _set("job/out", every)).job["out"] == every


def test_a_webhooks_url_names_its_first_step(base: Any) -> None:
    assert _read(base, _set("webhooks/url", "/hook/a/b")).webhooks is not None

    def change(spec: dict[str, Any]) -> None:
        _schemas(spec)["Body"]["properties"]["Xcb"] = {"type": "string"}
        spec[decl.KEY]["webhooks"]["url"] = "/Xcb"

    assert decl.read(_spec_changed(base, change)) is not None


def test_the_answers_words_are_read(base: Any) -> None:
    assert _read(base, _set("job-noun", "clip")).answers.job_noun == "clip"


# ---------------------------------------------------------------- the gpt.ge move's words, read
# (worktree mutparts: the reader's part runs this file; the words' own rules are in
# test_declaration_roles_rules.py and test_declaration_answers_rules.py)


def test_a_models_own_values_are_read_and_none_by_default(base: Any) -> None:
    found = _read(base, _set("models/0/values", {"tier": "basic", "rank": 2}))
    assert found.models[0].values == {"tier": "basic", "rank": 2}
    assert found.models[1].values == {}
    assert _read(base).models[0].values == {}


def test_a_models_values_not_a_mapping_are_refused_at_their_place(base: Any) -> None:
    where, message = _refused(base, _set("models/1/values", ["basic"]))
    assert where == "/x-sora-mock/models/1/values"
    assert message == "must be a Mapping, not list"


def test_an_operations_own_words_are_read_through_its_role(base: Any) -> None:
    found = _read(base, _set("operations/deckVideo/video-url", True))
    assert found.roles["deckVideo"].video_url is True
    assert _read(base).roles["deckVideo"].video_url is False


def test_an_operations_own_words_are_refused_naming_the_operation(base: Any) -> None:
    assert _refused(base, _set("operations/readDeck/video-url", True)) == (
        "/x-sora-mock/operations/readDeck/video-url",
        "a content's true: its URL is a completed job's video URL",
    )


def test_the_error_types_are_read_through_the_reader(base: Any) -> None:
    found = _read(base, _set("errors/types", {"404": "not_found"}))
    assert found.error_types == {"404": "not_found"}
    assert _read(base).error_types == {}
    assert _refused(base, _set("errors/types", ["not_found"])) == (
        "/x-sora-mock/errors/types",
        "a mapping of a code, a status or 4xx/5xx to a type",
    )
