"""What verify, the proxy, the recorder, replay and the cassette report read from a contract
beyond its schemas (``ContractMap``): which operations create a job, where their links lead,
which one is the status read, where the job id and status word sit, the documented request
examples, the header a key goes in. Each answer is checked on a small contract written here,
so a wrong one (the stream read taken for the status read, an error response's links
followed, a shared example edited in place) shows as the exact field it gets wrong."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

import contracts
from contracts import Contract
from contracts._loader import index_operations
from mockserver.conformance.contract_map import TERMINAL_WORDS, ContractMap

JSON = "application/json"
TASK = {
    "type": "object",
    "properties": {
        "data": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "status": {"$ref": "#/components/schemas/Status"},
                "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/Output"}},
            },
        }
    },
}
SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "questions", "version": "1"},
    "security": [{"query": []}, {"key": []}],
    "components": {
        "securitySchemes": {
            "query": {"type": "apiKey", "in": "query", "name": "key"},
            "key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
        },
        "schemas": {
            "Status": {"$ref": "#/components/schemas/StatusWord"},
            "StatusWord": {"type": "string", "enum": ["queued", "done"]},
            "Output": {
                "allOf": [
                    {"type": "object", "properties": {"url": {"type": "string"}}},
                    {"$ref": "#/components/schemas/Sized"},
                ]
            },
            "Sized": {"type": "object", "properties": {"size": {"type": "integer"}}},
            "Task": TASK,
            "Request": {"type": "object", "properties": {"prompt": {"type": "string"}}},
        },
        "links": {
            "Read": {
                "operationId": "readTask",
                "parameters": {"task_id": "$response.body#/data/id"},
            }
        },
        "responses": {
            "Created": {
                "description": "created",
                "content": {JSON: {"schema": {"$ref": "#/components/schemas/Task"}}},
                "links": {
                    "Watch": {
                        "operationId": "watchTask",
                        "parameters": {"task_id": "$response.body#/data/id"},
                    },
                    "Read": {"$ref": "#/components/links/Read"},
                },
            },
            "Alias": {"$ref": "#/components/responses/Created"},
        },
        "examples": {"Shared": {"value": {"prompt": "a cat", "nested": {"n": 1}}}},
        "requestBodies": {
            "Create": {
                "content": {
                    JSON: {
                        "schema": {"$ref": "#/components/schemas/Request"},
                        "examples": {
                            "external": {"externalValue": "https://example.com/x.json"},
                            "shared": {"$ref": "#/components/examples/Shared"},
                        },
                    }
                }
            }
        },
    },
    "paths": {
        "/v1/tasks": {
            "post": {
                "operationId": "createTask",
                "requestBody": {"$ref": "#/components/requestBodies/Create"},
                "responses": {
                    "200": {"$ref": "#/components/responses/Alias"},
                    "400": {
                        "description": "bad",
                        "links": {
                            "Cancel": {
                                "operationId": "cancelTask",
                                "parameters": {"task_id": "$response.body#/error/id"},
                            }
                        },
                    },
                },
            },
            "get": {"operationId": "listTasks", "responses": {"200": {"description": "list"}}},
        },
        "/v1/tasks/{task_id}/watch": {
            "get": {
                "operationId": "watchTask",
                "responses": {
                    "200": {
                        "description": "events",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/v1/tasks/{task_id}": {
            "get": {
                "operationId": "readTask",
                "responses": {
                    "200": {
                        "description": "the task",
                        "content": {JSON: {"schema": {"$ref": "#/components/schemas/Task"}}},
                    },
                    "4XX": {
                        "description": "refused",
                        "content": {JSON: {"schema": {"type": "object"}}},
                    },
                },
            }
        },
        "/v1/tasks/{task_id}/cancel": {
            "post": {
                "operationId": "cancelTask",
                "requestBody": {
                    "content": {
                        "text/plain": {"schema": {"type": "string"}},
                        JSON: {"schema": {"type": "object"}, "example": {"why": {"text": "late"}}},
                    }
                },
                "responses": {"202": {"description": "ok"}},
            }
        },
        "/v1/uploads/{bucket}/{name}": {
            "put": {"operationId": "upload", "responses": {"201": {"description": "stored"}}}
        },
        "/v1/batches": {
            "post": {
                "operationId": "createBatch",
                "requestBody": {"content": {JSON: {"schema": {"type": "object"}}}},
                "responses": {"200": {"description": "no links"}},
            }
        },
    },
}


def make_map(spec: dict[str, Any] | None = None) -> ContractMap:
    spec = copy.deepcopy(SPEC if spec is None else spec)
    path = Path("questions.yaml")
    return ContractMap(Contract("questions", path, spec, index_operations(spec, path)))


def op(cmap: ContractMap, operation_id: str) -> Any:
    return cmap.contract.operation(operation_id)


def test_a_reference_to_a_reference_is_followed_to_the_end() -> None:
    cmap = make_map()
    assert cmap.resolve({"$ref": "#/components/schemas/Status"}) == {
        "type": "string",
        "enum": ["queued", "done"],
    }
    assert cmap.resolve({"type": "string"}) == {"type": "string"}
    assert cmap.resolve(["not", "a", "mapping"]) == ["not", "a", "mapping"]
    # a "$ref" that is not text is a property named $ref, not a reference
    assert cmap.resolve({"$ref": {"type": "string"}}) == {"$ref": {"type": "string"}}


def test_a_response_is_found_by_its_status_then_its_status_class() -> None:
    cmap = make_map()
    read = op(cmap, "readTask")
    assert cmap.response_def(read, 200)["description"] == "the task"
    assert cmap.response_def(read, "200")["description"] == "the task"
    assert cmap.response_def(read, 404)["description"] == "refused"
    assert cmap.response_def(read, 500) == {}
    assert cmap.response_def(read, 201) == {}
    # a response given by reference (to a reference) is followed
    assert cmap.response_def(op(cmap, "createTask"), 200)["description"] == "created"


def test_the_media_type_is_read_without_its_parameters() -> None:
    cmap = make_map()
    read = op(cmap, "readTask")
    assert cmap.media(read, 200, JSON) == {"schema": {"$ref": "#/components/schemas/Task"}}
    for given in ("application/json; charset=utf-8", "application/json;charset=utf-8"):
        assert cmap.media(read, 200, given) == cmap.media(read, 200, JSON)
    assert cmap.media(read, 200, " application/json ") == cmap.media(read, 200, JSON)
    assert cmap.media(read, 200, "text/html") == {}
    assert cmap.media(read, 500, JSON) == {}
    assert cmap.media(op(cmap, "listTasks"), 200, JSON) == {}  # a response without content


def test_a_key_goes_in_the_first_header_the_security_allows() -> None:
    cmap = make_map()
    # the first requirement puts the key in the query, which no header carries: the next one
    assert cmap.security_header("sk-1") == {"X-Api-Key": "sk-1"}


def test_a_bearer_scheme_sends_an_authorization_header() -> None:
    spec = copy.deepcopy(SPEC)
    spec["components"]["securitySchemes"]["key"] = {"type": "http", "scheme": "bearer"}
    assert make_map(spec).security_header("sk-1") == {"Authorization": "Bearer sk-1"}
    spec["components"]["securitySchemes"]["key"] = {"type": "http", "scheme": "basic"}
    # neither form the contract allows is a header of a key: the usual bearer header
    assert make_map(spec).security_header("sk-1") == {"Authorization": "Bearer sk-1"}


def test_a_bearer_scheme_listed_first_wins_over_a_later_key_header() -> None:
    spec = copy.deepcopy(SPEC)
    spec["components"]["securitySchemes"]["bearer"] = {"type": "http", "scheme": "bearer"}
    spec["security"] = [{"bearer": []}, {"key": []}]
    assert make_map(spec).security_header("sk-1") == {"Authorization": "Bearer sk-1"}
    # another http scheme (basic) or a bearer that is not http is passed over
    spec["components"]["securitySchemes"]["bearer"] = {"type": "http", "scheme": "basic"}
    assert make_map(spec).security_header("sk-1") == {"X-Api-Key": "sk-1"}
    spec["components"]["securitySchemes"]["bearer"] = {"type": "oauth2", "scheme": "bearer"}
    assert make_map(spec).security_header("sk-1") == {"X-Api-Key": "sk-1"}


def test_an_operation_without_responses_has_no_answer_nor_links() -> None:
    spec = copy.deepcopy(SPEC)
    del spec["paths"]["/v1/tasks"]["get"]["responses"]
    cmap = make_map(spec)
    assert cmap.response_def(op(cmap, "listTasks"), 200) == {}
    assert cmap.link_targets(op(cmap, "listTasks")) == []


def test_a_contract_without_security_gets_the_bearer_header() -> None:
    spec = copy.deepcopy(SPEC)
    del spec["security"]
    assert make_map(spec).security_header("sk-2") == {"Authorization": "Bearer sk-2"}
    spec["security"] = [{"unknown": []}]
    assert make_map(spec).security_header("sk-2") == {"Authorization": "Bearer sk-2"}


def test_the_bundled_contracts_name_their_key_header() -> None:
    assert ContractMap(contracts.load("gptproto-v3")).security_header("k") == {"Authorization": "k"}
    assert ContractMap(contracts.load("vtrix-generation")).security_header("k") == {
        "Authorization": "Bearer k"
    }


def test_operations_are_listed_by_method() -> None:
    cmap = make_map()
    assert [o.operation_id for o in cmap.ops("get")] == ["listTasks", "watchTask", "readTask"]
    assert [o.operation_id for o in cmap.ops("put")] == ["upload"]
    assert cmap.ops("delete") == []


def test_path_parameters_are_named_in_order_and_filled_with_a_placeholder() -> None:
    cmap = make_map()
    upload = op(cmap, "upload")
    assert cmap.params(upload) == ["bucket", "name"]
    assert cmap.params(op(cmap, "createTask")) == []
    assert cmap.template_path(upload) == "/v1/uploads/placeholder/placeholder"
    assert cmap.template_path(op(cmap, "createTask")) == "/v1/tasks"


def test_a_create_is_a_post_without_a_path_parameter() -> None:
    cmap = make_map()
    assert [o.operation_id for o in cmap.create_operations()] == ["createTask", "createBatch"]


def test_links_come_from_success_responses_only_each_name_once() -> None:
    cmap = make_map()
    links = cmap.link_targets(op(cmap, "createTask"))
    assert [(name, target.operation_id, params) for name, target, params in links] == [
        ("Watch", "watchTask", {"task_id": "$response.body#/data/id"}),
        ("Read", "readTask", {"task_id": "$response.body#/data/id"}),
    ]
    assert cmap.link_targets(op(cmap, "createBatch")) == []


def test_a_link_name_seen_in_an_earlier_success_response_is_kept_first() -> None:
    spec = copy.deepcopy(SPEC)
    responses = spec["paths"]["/v1/tasks"]["post"]["responses"]
    responses["201"] = {
        "description": "again",
        "links": {
            "Read": {"operationId": "upload"},
            "Cancel": {"operationId": "cancelTask"},
        },
    }
    cmap = make_map(spec)
    links = cmap.link_targets(op(cmap, "createTask"))
    assert [(name, target.operation_id, params) for name, target, params in links] == [
        ("Watch", "watchTask", {"task_id": "$response.body#/data/id"}),
        ("Read", "readTask", {"task_id": "$response.body#/data/id"}),
        ("Cancel", "cancelTask", {}),  # a link without parameters has none
    ]


def test_a_json_only_answer_is_told_from_a_stream_and_from_none() -> None:
    cmap = make_map()
    assert cmap.is_json_only(op(cmap, "readTask")) is True
    assert cmap.is_json_only(op(cmap, "watchTask")) is False
    assert cmap.is_json_only(op(cmap, "listTasks")) is False  # no content at all
    spec = copy.deepcopy(SPEC)
    content = spec["paths"]["/v1/tasks/{task_id}"]["get"]["responses"]["200"]["content"]
    content["text/event-stream"] = {"schema": {"type": "string"}}
    assert make_map(spec).is_json_only(op(make_map(spec), "readTask")) is False


def test_the_status_read_is_the_json_get_a_create_links_to() -> None:
    cmap = make_map()
    create = op(cmap, "createTask")
    # the stream comes first among the links: the JSON read is still the status read
    status = cmap.status_operation(create)
    assert status is not None and status.operation_id == "readTask"
    assert cmap.id_pointer(create) == "/data/id"
    assert cmap.status_pointer(create) == "/data/status"


def test_without_a_json_get_the_first_get_link_is_the_status_read() -> None:
    spec = copy.deepcopy(SPEC)
    del spec["components"]["responses"]["Created"]["links"]["Read"]
    spec["components"]["responses"]["Created"]["links"]["Cancel"] = {
        "operationId": "cancelTask",
        "parameters": {"task_id": "$response.body#/other"},
    }
    cmap = make_map(spec)
    create = op(cmap, "createTask")
    status = cmap.status_operation(create)
    assert status is not None and status.operation_id == "watchTask"
    assert cmap.status_link(cmap.link_targets(create)) == (
        "Watch",
        op(cmap, "watchTask"),
        {"task_id": "$response.body#/data/id"},
    )


def test_a_create_without_a_get_link_has_no_status_read_nor_pointers() -> None:
    cmap = make_map()
    batch = op(cmap, "createBatch")
    assert cmap.status_operation(batch) is None
    assert cmap.id_pointer(batch) is None
    assert cmap.status_pointer(batch) is None
    assert cmap.status_link([("Cancel", op(cmap, "cancelTask"), {})]) is None


def test_the_id_pointer_is_the_first_body_expression_of_the_status_link() -> None:
    spec = copy.deepcopy(SPEC)
    spec["components"]["links"]["Read"]["parameters"] = {
        "n": 3,
        "token": "$request.header.X-Token",
        "task_id": "$response.body#/id",
        "other": "$response.body#/second",
    }
    cmap = make_map(spec)
    assert cmap.id_pointer(op(cmap, "createTask")) == "/id"
    assert cmap.status_pointer(op(cmap, "createTask")) == "/status"
    spec["components"]["links"]["Read"]["parameters"] = {"token": "$request.path.x"}
    cmap = make_map(spec)
    assert cmap.id_pointer(op(cmap, "createTask")) is None
    assert cmap.status_pointer(op(cmap, "createTask")) is None


def test_the_bundled_contracts_say_where_ids_and_status_words_sit() -> None:
    v3 = ContractMap(contracts.load("gptproto-v3"))
    create = v3.contract.operation("createSora2ImageToVideo")
    assert (v3.id_pointer(create), v3.status_pointer(create)) == ("/data/id", "/data/status")
    videos = ContractMap(contracts.load("gptge-videos"))
    create = videos.contract.operation("createVideo")
    assert (videos.id_pointer(create), videos.status_pointer(create)) == ("/id", "/status")
    status = videos.status_operation(create)
    assert status is not None and status.operation_id == "getVideo"


def test_the_request_example_is_the_first_with_a_value() -> None:
    cmap = make_map()
    create = op(cmap, "createTask")
    assert cmap.example_body(create) == (JSON, {"prompt": "a cat", "nested": {"n": 1}})


def test_a_request_example_is_a_copy_the_caller_may_change() -> None:
    cmap = make_map()
    create = op(cmap, "createTask")
    _, body = cmap.example_body(create)
    body["nested"]["n"] = 2
    body["prompt"] = "changed"
    assert cmap.example_body(create)[1] == {"prompt": "a cat", "nested": {"n": 1}}
    cancel = op(cmap, "cancelTask")
    _, body = cmap.example_body(cancel)
    body["why"]["text"] = "changed"
    assert cmap.example_body(cancel)[1] == {"why": {"text": "late"}}


def test_a_media_type_without_examples_gives_way_to_one_with_an_example() -> None:
    cmap = make_map()
    assert cmap.example_body(op(cmap, "cancelTask")) == (JSON, {"why": {"text": "late"}})


def test_an_operation_without_an_example_is_a_lookup_error_naming_it() -> None:
    cmap = make_map()
    with pytest.raises(LookupError, match="^createBatch documents no request example$"):
        cmap.example_body(op(cmap, "createBatch"))
    with pytest.raises(LookupError, match="^readTask documents no"):
        cmap.example_body(op(cmap, "readTask"))  # no request body at all


def test_the_body_schema_is_read_per_media_type() -> None:
    cmap = make_map()
    create = op(cmap, "createTask")
    assert cmap.body_schema(create, JSON) == SPEC["components"]["schemas"]["Request"]
    assert cmap.body_schema(create, "text/plain") == {}
    assert cmap.body_schema(op(cmap, "cancelTask"), "text/plain") == {"type": "string"}
    assert cmap.body_schema(op(cmap, "readTask"), JSON) == {}


def test_a_pointer_into_a_document_finds_its_schema() -> None:
    cmap = make_map()
    task = {"$ref": "#/components/schemas/Task"}
    assert cmap.schema_at(task, "/data/status") == {"type": "string", "enum": ["queued", "done"]}
    assert cmap.schema_at(task, "/data/id") == {"type": "string"}
    assert cmap.schema_at(task, "") == TASK
    assert cmap.schema_at(task, "/data//id") == {"type": "string"}


def test_a_pointer_through_an_array_and_all_of_finds_its_schema() -> None:
    cmap = make_map()
    task = {"$ref": "#/components/schemas/Task"}
    # the first allOf branch with "size" is the second (given by reference)
    assert cmap.schema_at(task, "/data/outputs/0/size") == {"type": "integer"}
    assert cmap.schema_at(task, "/data/outputs/3/url") == {"type": "string"}
    assert cmap.schema_at(task, "/data/outputs/x") == {}


@pytest.mark.parametrize("key", ["anyOf", "oneOf"])
def test_a_pointer_looks_into_any_of_and_one_of(key: str) -> None:
    cmap = make_map()
    schema = {key: [{"type": "null"}, {"properties": {"a": {"properties": {"b": {"const": 1}}}}}]}
    assert cmap.schema_at(schema, "/a/b") == {"const": 1}
    assert cmap.schema_at(schema, "/a/c") == {}


def test_a_pointer_the_schema_does_not_describe_has_an_empty_schema() -> None:
    cmap = make_map()
    task = {"$ref": "#/components/schemas/Task"}
    assert cmap.schema_at(task, "/nope") == {}
    assert cmap.schema_at(task, "/data/nope/deeper") == {}
    assert cmap.schema_at(task, "/data/id/0") == {}
    assert cmap.schema_at(None, "/data") == {}
    # a property named by digits is a property before it is an array index
    assert cmap.schema_at({"properties": {"0": {"const": "zero"}}, "items": {}}, "/0") == {
        "const": "zero"
    }


def test_terminal_words_are_the_ones_after_which_a_job_never_changes() -> None:
    assert {"completed", "succeeded", "failed", "cancelled", "expired"} <= TERMINAL_WORDS
    assert not {"queued", "in_progress", "processing", "running"} & TERMINAL_WORDS
