"""The client's side of the OpenAI ``/v1/videos`` words (``sora_client._providers.declared_roles``),
rule by rule, in process: the adapter made by ``declared_adapter`` from the throwaway ``clips``
provider of ``test_declaration_vocabulary_openai_videos.py`` (a multipart create, a list, a
delete, content variants and answers), and roles written here where a rule needs a template
the contract does not have; requests built and answers read with no server."""

from __future__ import annotations

from collections.abc import Iterator
from email.parser import BytesParser
from typing import Any

import httpx
import pytest
from test_declaration_vocabulary_openai_videos import CLIPS

import contracts
from contracts import _declaration as decl
from sora_client._exceptions import InvalidRequestError
from sora_client._images import Image
from sora_client._providers import CreateSpec
from sora_client._providers.declared import declared_adapter
from sora_client._providers.declared_roles import (
    _name,
    content_accept,
    parse_deleted,
    parse_list,
    require,
)

PNG = Image(b"\x89PNG...", None, "image/png", 1280, 720, "p.png")
OK = httpx.Response(200, request=httpx.Request("GET", "https://api.clips.test/v1/clips"))


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    path = tmp_path_factory.mktemp("clips") / "clips-v1.yaml"
    path.write_text(CLIPS)
    declaration = contracts.add_provider(path)
    yield declared_adapter(declaration)("clips-key", None)
    contracts.forget_provider("clips-v1")


def _form(request: httpx.Request) -> dict[str, Any]:
    """The multipart body's parts: name -> text (or (filename, bytes) for a file)."""
    raw = b"Content-Type: " + request.headers["Content-Type"].encode() + b"\r\n\r\n"
    message = BytesParser().parsebytes(raw + request.read())
    parts: dict[str, Any] = {}
    for part in message.get_payload():  # type: ignore[union-attr]
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True)
        filename = part.get_filename()
        parts[name] = (filename, data) if filename else data.decode()
    return parts


def _job(clip: str) -> dict[str, Any]:
    return {"clip": clip, "state": "waiting", "made": "1", "done_at": None, "failure": None}


# ---------------------------------------------------------------- the field's name


@pytest.mark.parametrize(
    ("pointer", "name"),
    [("/picture", "picture"), ("/Xa/b/c/", "Xa"), ("input/image", "input"), ("/a b/c", "a b")],
)
def test_a_pointers_field_is_its_first_step(pointer: str, name: str) -> None:
    assert _name(pointer) == name


# ---------------------------------------------------------------- a multipart create


def test_a_file_create_sends_the_fields_as_text_and_the_image_as_its_part(clips: Any) -> None:
    spec = CreateSpec("a kite", image=PNG, model="c-1", seconds=8, extra={"seed": 7, "n": "2"})
    form = _form(clips.build_create(spec))
    assert form == {
        "text": "a kite",
        "engine": "c-1",
        "length": "8",
        "dims": "1280x720",  # the image's own size when none is asked
        "seed": "7",
        "n": "2",
        "picture": ("p.png", b"\x89PNG..."),
    }


def test_the_size_asked_wins_over_the_images(clips: Any) -> None:
    form = _form(clips.build_create(CreateSpec("a kite", image=PNG, size="720x1280")))
    assert form["dims"] == "720x1280"
    assert "engine" not in form and "length" not in form, "only what was given"
    assert _form(clips.build_create(CreateSpec("a kite", size="720x1280")))["dims"] == "720x1280"


def test_a_picture_by_url_is_refused_before_sending_naming_the_part(clips: Any) -> None:
    linked = Image(None, "https://example.com/" + "p" * 80 + ".png", None, None, None, "p.png")
    with pytest.raises(InvalidRequestError) as caught:
        clips.build_create(CreateSpec("a kite", image=linked))
    assert caught.value.field == "picture"
    url = repr(("https://example.com/" + "p" * 80)[:60])
    assert caught.value.rule == (
        f"clips-v1 uploads the image as a file: pass a path or bytes, not a URL ({url})"
    )
    nothing = Image(None, None, None, None, None, "p.png")
    with pytest.raises(InvalidRequestError) as caught:
        clips.build_create(CreateSpec("a kite", image=nothing))
    assert caught.value.rule.endswith("not a URL ('')")


# ---------------------------------------------------------------- list and delete


def test_a_page_is_read_where_the_template_puts_it(clips: Any) -> None:
    body = {"items": [_job("clip_a"), _job("clip_b")], "more": True, "cursor": "clip_x"}
    jobs, more, last = clips.parse_list(body, OK)
    assert ([j.id for j in jobs], more, last) == (["clip_a", "clip_b"], True, "clip_x")
    jobs, more, last = clips.parse_list({"items": [_job("clip_a")], "cursor": None}, OK)
    assert (more, last) == (False, "clip_a"), "no cursor named: the last job's id"
    assert clips.parse_list({"items": []}, OK) == ([], False, None)


@pytest.mark.parametrize("body", [{"items": {}}, {"data": []}, [_job("clip_a")]])
def test_a_page_without_its_array_is_refused_naming_it(clips: Any, body: Any) -> None:
    with pytest.raises(ValueError, match="^the list has no items array$"):
        clips.parse_list(body, OK)


def test_a_page_whose_template_names_no_jobs_more_or_last_reads_data(clips: Any) -> None:
    role = decl.Role("listClips", "list", answer={"total": 3})
    body = {"data": [_job("clip_a"), _job("clip_b")], "more": True, "cursor": "clip_x"}
    jobs, more, last = parse_list(clips, role, body, OK)
    assert ([j.id for j in jobs], more, last) == (["clip_a", "clip_b"], False, "clip_b")
    with pytest.raises(ValueError, match="^the list has no data array$"):
        parse_list(clips, role, {"items": []}, OK)


def test_a_delete_says_whether_the_job_went(clips: Any) -> None:
    assert clips.parse_deleted({"clip": "clip_a", "gone": True}) is True
    assert clips.parse_deleted({"clip": "clip_a", "gone": False}) is False
    for body in ({"clip": "clip_a"}, {"gone": "yes"}, [True]):
        with pytest.raises(ValueError, match="^the answer does not say whether the video"):
            clips.parse_deleted(body)


def test_a_delete_read_only_from_an_object_where_the_template_puts_deleted() -> None:
    listed = decl.Role("dropClip", "delete", answer=["{deleted}"])
    with pytest.raises(ValueError, match="does not say"):
        parse_deleted(listed, [True])
    silent = decl.Role("dropClip", "delete", answer={"clip": "{job.id}"})
    with pytest.raises(ValueError, match="does not say"):
        parse_deleted(silent, {"deleted": True})


# ---------------------------------------------------------------- content


def test_a_download_accepts_json_last_only_when_an_unfinished_job_gets_an_answer() -> None:
    bare = decl.Role("clipFile", "content")
    gone = decl.Answer(404, "gone")
    assert content_accept(bare, "video") == "video/mp4, application/octet-stream;q=0.9, */*;q=0.1"
    assert content_accept(bare, "thumbnail") == (
        "image/*, application/octet-stream;q=0.9, */*;q=0.1"
    )
    json_last = "video/mp4, application/octet-stream;q=0.9, application/json;q=0.1"
    assert content_accept(decl.Role("c", "content", not_ready="job"), "video") == json_last
    assert content_accept(decl.Role("c", "content", failed=gone), "video") == json_last
    both = decl.Role("c", "content", not_ready=gone, failed="job")
    assert content_accept(both, "video") == json_last


def test_the_clips_download_asks_its_variant(clips: Any) -> None:
    request = clips.build_content("clip_a", "thumbnail")
    assert request.url.params["kind"] == "thumbnail"
    assert request.headers["Accept"].startswith("image/*, ")


# ---------------------------------------------------------------- a job's id and status


def test_require_names_the_first_key_an_object_on_the_way_lacks() -> None:
    require({"a": {"b": 1}}, "/a/b")
    require({"a": 3}, "/a/b")  # not an object on the way: nothing to say
    require({"a": [1]}, "/a/b")
    require({"a": {"b": 1}}, "//a//b/")  # empty steps skipped
    for body, pointer, key in [
        ({"a": {}}, "/a/b", "b"),
        ({"b": {}}, "/a/b", "a"),
        ({"b": {}}, "/X/b", "X"),
        ({"a": 1}, "/a /", "a "),
        ({"a": 1}, " a/", " a"),
        ({"a": {"b": {}}}, "/a/b/c", "c"),
    ]:
        with pytest.raises(KeyError) as caught:
            require(body, pointer)
        assert caught.value.args == (key,)


def test_a_clip_without_its_id_or_status_is_a_key_error(clips: Any) -> None:
    with pytest.raises(KeyError, match="clip"):
        clips.parse_job({"state": "waiting"}, OK)
    with pytest.raises(KeyError, match="state"):
        clips.parse_job({"clip": "clip_a"}, OK)
    assert clips.parse_job(_job("clip_a"), OK).id == "clip_a"
