"""Cassette files: what the recorder writes and replay reads back. A create is fingerprinted
the same way on both sides (images by their hash, keys in any order), so a recording is found
again; only harmless headers are kept; media are stored once by hash under a cap; a file is
written whole or not at all; and a cassette is read back within bounds, each fault named in
one line that quotes nothing of the file."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from werkzeug.datastructures import Headers

from mockserver.conformance import cassettes
from mockserver.conformance.cassettes import Cassette, CassetteError

EXAMPLE = Path(__file__).parent / "examples" / "cassettes"
PNG = b"\x89PNG\r\n\x1a\n-a-tiny-image-"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "cassettes"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("test_*"))
    return target


def edit(directory: Path, change: Any) -> Path:
    [path] = directory.glob("*.json")
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return path


# ------------------------------------------------------------------ fingerprints of a create


def test_a_json_create_is_summarised_with_its_images_hashed() -> None:
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    body = {"prompt": "a cat", "images": [url, "https://x.test/a.png"], "meta": {"u": url}}
    summary, digest, prompt = cassettes.summarize_request(
        "Application/JSON; charset=utf-8", json.dumps(body).encode()
    )
    hashed = f"data:image/png;sha256,{sha(PNG)}"
    assert summary == {
        "prompt": "a cat",
        "images": [hashed, "https://x.test/a.png"],
        "meta": {"u": hashed},
    }
    assert prompt == "a cat"
    assert len(digest) == 64


def test_the_fingerprint_ignores_key_order_and_keeps_text_as_written() -> None:
    one = cassettes.summarize_request("application/json", b'{"prompt": "caf\\u00e9", "n": 1}')
    two = cassettes.summarize_request("application/json", '{"n":1,"prompt":"café"}'.encode())
    assert one == two
    # the fingerprint recorded cassettes hold: sha256 of the summary as sorted, unescaped JSON
    assert one[1] == sha('{"n": 1, "prompt": "café"}'.encode())
    assert one[1] != cassettes.summarize_request("application/json", b'{"n": 2}')[1]


def test_data_urls_without_base64_or_a_type_are_hashed_as_written() -> None:
    plain = cassettes.summarize_request("application/json", b'["data:,hello"]')[0]
    assert plain == [f"data:application/octet-stream;sha256,{sha(b'hello')}"]
    typed = cassettes.summarize_request("application/json", b'["data:text/plain;x=1,hi"]')[0]
    assert typed == [f"data:text/plain;sha256,{sha(b'hi')}"]
    # base64 that does not decode is hashed as written
    broken = cassettes.summarize_request("application/json", b'["data:image/png;base64,abc"]')
    assert broken[0] == [f"data:image/png;sha256,{sha(b'abc')}"]
    # not a data URL after all: kept
    kept = cassettes.summarize_request("application/json", b'["data:no-comma", "x data:,a", 3]')
    assert kept[0] == ["data:no-comma", "x data:,a", 3]


def test_base64_split_over_lines_is_decoded_before_it_is_hashed() -> None:
    encoded = base64.encodebytes(PNG * 10).decode()  # 76-character lines
    assert "\n" in encoded.strip()
    body = json.dumps({"image": "data:image/png;base64," + encoded}).encode()
    summary = cassettes.summarize_request("application/json", body)[0]
    assert summary == {"image": f"data:image/png;sha256,{sha(PNG * 10)}"}


def test_a_body_that_is_not_json_is_fingerprinted_by_its_bytes() -> None:
    summary, _, prompt = cassettes.summarize_request("application/json", b"{not json")
    assert summary == {"unparsed_sha256": sha(b"{not json")} and prompt is None
    assert cassettes.summarize_request("application/json", b"")[0] is None
    other = cassettes.summarize_request("application/octet-stream", b"\x00\x01")
    assert other[0] == {
        "content_type": "application/octet-stream",
        "sha256": sha(b"\0\1"),
        "size": 2,
    }
    assert cassettes.summarize_request("text/plain", b"")[0] is None
    assert cassettes.summarize_request("", b"")[1] == sha(b"null")


def test_a_multipart_create_keeps_its_fields_and_its_file_by_hash() -> None:
    boundary = "b0undary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nput a hat\r\n',
        f'--{boundary}\r\nContent-Disposition: form-data; name="seconds"\r\n\r\n4\r\n',
        f'--{boundary}\r\nContent-Disposition: form-data; name="input_reference"; '
        f'filename="cat.png"\r\nContent-Type: image/png\r\n\r\n',
    ]
    body = "".join(parts).encode() + PNG + f"\r\n--{boundary}--\r\n".encode()
    summary, _, prompt = cassettes.summarize_request(
        f"multipart/form-data; boundary={boundary}", body
    )
    assert summary == {
        "prompt": "put a hat",
        "seconds": "4",
        "input_reference": {
            "sha256": sha(PNG),
            "size": len(PNG),
            "content_type": "image/png",
            "filename": "cat.png",
        },
    }
    assert prompt == "put a hat"


def test_a_repeated_form_field_or_file_keeps_its_first_value() -> None:
    boundary = "b0undary"

    def part(name: str, value: str, filename: str | None = None) -> str:
        extra = f'; filename="{filename}"\r\nContent-Type: image/png' if filename else ""
        return (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"{extra}\r\n\r\n'
            f"{value}\r\n"
        )

    body = (
        part("prompt", "first")
        + part("prompt", "second")
        + part("image", "one", "a.png")
        + part("image", "two!", "b.png")
        + f"--{boundary}--\r\n"
    ).encode()
    summary = cassettes.summarize_request(f"multipart/form-data; boundary={boundary}", body)[0]
    assert summary == {
        "prompt": "first",
        "image": {
            "sha256": sha(b"one"),
            "size": 3,
            "content_type": "image/png",
            "filename": "a.png",
        },
    }


def test_an_image_reference_names_only_what_is_known() -> None:
    assert cassettes._image_ref(b"abc", None) == {"sha256": sha(b"abc"), "size": 3}
    assert cassettes._image_ref(b"abc", "image/png", "a.png") == {
        "sha256": sha(b"abc"),
        "size": 3,
        "content_type": "image/png",
        "filename": "a.png",
    }


@pytest.mark.parametrize(
    ("summary", "prompt"),
    [
        ({"prompt": "a cat"}, "a cat"),
        ({"prompt": 3, "messages": [{"content": "from messages"}]}, "from messages"),
        (
            {
                "messages": [
                    {"role": "system", "content": "be brief"},
                    "not a message",
                    {
                        "content": [
                            {"type": "text", "text": "a dog"},
                            {"type": "image_url", "image_url": {"url": "u"}},
                            "junk",
                            {"text": 5},
                        ]
                    },
                ]
            },
            "be brief\na dog",
        ),
        ({"messages": []}, None),
        ({"messages": [{"content": None}]}, None),
        ({}, None),
        (["prompt"], None),
        (None, None),
    ],
)
def test_the_prompt_of_a_create(summary: Any, prompt: str | None) -> None:
    assert cassettes.prompt_of(summary) == prompt


# ------------------------------------------------------------------ headers and media


def test_only_allowed_headers_are_kept_and_never_a_secret() -> None:
    headers = Headers(
        [
            ("Content-Type", "application/json"),
            ("Authorization", "Bearer sk-secret-123456"),
            ("X-Api-Key", "k"),
            ("Accept", "*/*"),
            ("X-Other", "1"),
        ]
    )
    allowed = {"content-type", "accept", "authorization", "x-api-key"}
    assert cassettes.keep_headers(headers, allowed) == {
        "content-type": "application/json",
        "accept": "*/*",
    }


def test_media_are_stored_once_by_hash_with_the_extension_of_their_type(tmp_path: Path) -> None:
    first = cassettes.MediaSink(tmp_path, "video/mp4; codecs=avc1", cap=100)
    first.write(b"0123")
    first.write(b"4567")
    media, note = first.finish()
    assert note is None
    assert media == {
        "sha256": sha(b"01234567"),
        "size": 8,
        "content_type": "video/mp4",
        "file": f"media/{sha(b'01234567')}.mp4",
    }
    again = cassettes.MediaSink(tmp_path, "video/mp4", cap=100)
    again.write(b"01234567")
    assert again.finish()[0] == media
    other = cassettes.MediaSink(tmp_path, "application/x-thing", cap=100)
    other.write(b"x")
    assert other.finish()[0]["file"] == f"media/{sha(b'x')}.bin"  # type: ignore[index]
    assert sorted(p.name for p in (tmp_path / "media").iterdir()) == sorted(
        [f"{sha(b'01234567')}.mp4", f"{sha(b'x')}.bin"]
    )


def test_media_exactly_at_the_cap_are_kept_one_byte_more_are_not(tmp_path: Path) -> None:
    at = cassettes.MediaSink(tmp_path, "image/webp", cap=4)
    at.write(b"abcd")
    media, _ = at.finish()
    assert media is not None and media["file"].endswith(".webp")
    over = cassettes.MediaSink(tmp_path, "image/png", cap=4)
    over.write(b"abc")
    over.write(b"de")
    over.write(b"f")  # counted even after it was let go
    assert over.finish() == (None, "not stored: 6 bytes is over the 4-byte cap")
    assert [p.suffix for p in (tmp_path / "media").iterdir()] == [".webp"]
    over.discard()  # twice is harmless


def test_a_download_goes_on_after_its_media_were_kept(tmp_path: Path) -> None:
    # the proxy keeps the media once the announced length arrived, and passes on what follows
    sink = cassettes.MediaSink(tmp_path / "new" / "dir", "video/mp4", cap=100)
    sink.write(b"data")
    media, _ = sink.finish()
    assert media is not None
    sink.write(b"more")
    sink.write(b"x" * 200)
    sink.discard()
    assert (tmp_path / "new" / "dir" / media["file"]).read_bytes() == b"data"
    assert sink.finish() == (None, "not stored: 208 bytes is over the 100-byte cap")


def test_a_discarded_download_leaves_no_file(tmp_path: Path) -> None:
    sink = cassettes.MediaSink(tmp_path, "image/jpeg", cap=10)
    sink.write(b"abc")
    sink.discard()
    assert list((tmp_path / "media").iterdir()) == []
    assert sink.finish()[0] is None


def test_a_cassette_is_written_whole_indented_and_unescaped(tmp_path: Path) -> None:
    path = tmp_path / "new" / "one.json"
    cassettes.write_json(path, {"b": "café", "a": [1]})
    assert path.read_text(encoding="utf-8") == '{\n  "b": "café",\n  "a": [\n    1\n  ]\n}\n'
    assert [p.name for p in path.parent.iterdir()] == ["one.json"]


def test_cassettes_are_written_into_new_nested_directories_again_and_again(tmp_path: Path) -> None:
    first = tmp_path / "a" / "b" / "one.json"
    cassettes.write_json(first, [1])
    cassettes.write_json(first.with_name("two.json"), [2])
    cassettes.write_json(first, [3])
    assert sorted(p.name for p in first.parent.iterdir()) == ["one.json", "two.json"]
    assert json.loads(first.read_text()) == [3]


def test_a_cassette_is_written_as_utf8_under_an_ascii_locale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_open = builtins.open

    def ascii_locale(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        """open() as under the C locale: text without an encoding is ASCII."""
        if "b" not in mode and kwargs.get("encoding") is None and len(args) < 2:
            kwargs["encoding"] = "ascii"
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", ascii_locale)
    path = tmp_path / "c.json"
    cassettes.write_json(path, {"prompt": "café 東"})
    assert path.read_bytes() == '{\n  "prompt": "café 東"\n}\n'.encode()


def test_a_partial_file_is_hidden_and_unique_per_thread(tmp_path: Path) -> None:
    names: list[Path] = []
    thread = threading.Thread(target=lambda: names.append(cassettes._partial(tmp_path / "a")))
    thread.start()
    thread.join()
    mine = cassettes._partial(tmp_path / "a")
    assert mine.parent == tmp_path
    assert mine.name.startswith(".a.") and mine.name.endswith(".partial")
    assert names[0] != mine and cassettes._partial(tmp_path / "a") == mine


# ------------------------------------------------------------------ reading back


def test_a_cassette_answers_questions_about_itself(copy: Path) -> None:
    [cassette] = cassettes.load(copy)
    [path] = copy.glob("*.json")
    assert cassette.name == path.name
    assert cassette.contract == "gptge-videos" and cassette.operation == "createVideo"
    assert cassette.job_id == "video_dd6c71e9d1251c0d6709a74767a4a243"
    assert cassette.prompt == "Put a hat on the cat"
    assert cassette.body_sha256 == cassette.data["create"]["request"]["body_sha256"]
    assert len(cassette.reads("polls")) == 4 and cassette.reads("media_urls") == []
    assert cassette.reads("nothing") == []
    media = cassette.reads("downloads")[0]["response"]["media"]
    assert cassette.media_path(media) == copy / media["file"]
    bare = Cassette(path, {"create": {"request": {}}})
    assert bare.job_id is None and bare.prompt is None


def test_cassettes_load_in_recorded_order_and_hidden_files_are_not_read(copy: Path) -> None:
    [path] = copy.glob("*.json")
    data = json.loads(path.read_text())
    for name, sequence in (("a.json", 5), ("b.json", 1), ("c.json", 1)):
        (copy / name).write_text(json.dumps(data | {"sequence": sequence}))
    (copy / ".d.json.partial").write_text("{")
    (copy / ".e.json").write_text("{")
    (copy / "notes.txt").write_text("{")
    loaded = cassettes.load(copy)
    assert [c.name for c in loaded] == [path.name, "b.json", "c.json", "a.json"]
    assert [p.name for p in cassettes.iter_files(copy)] == sorted(
        ["a.json", "b.json", "c.json", path.name]
    )


def test_a_directory_that_is_not_one_is_named(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match=f"^{tmp_path / 'nope'}: not a directory of"):
        cassettes.load(tmp_path / "nope")
    assert cassettes.load(tmp_path) == []


def test_a_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    with pytest.raises(CassetteError) as caught:
        cassettes.read_document(tmp_path / "gone.json")
    assert (
        str(caught.value) == f"{tmp_path / 'gone.json'}: cannot be read (No such file or directory)"
    )


def test_a_file_that_grew_past_the_limit_while_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "grows.json"
    path.write_text("[1, 2, 3]")
    monkeypatch.setattr(cassettes, "MAX_CASSETTE_BYTES", 4)
    real_stat = Path.stat

    def small(self: Path, **kwargs: Any) -> Any:
        found = real_stat(self, **kwargs)
        return type("S", (), {"st_size": 4, "st_mode": found.st_mode})()

    monkeypatch.setattr(Path, "stat", small)
    with pytest.raises(CassetteError) as caught:
        cassettes.read_document(path)
    assert str(caught.value) == f"{path}: over the 4-byte cassette limit"


def test_a_file_at_the_size_limit_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.json"
    path.write_text("[1]")
    monkeypatch.setattr(cassettes, "MAX_CASSETTE_BYTES", 3)
    assert cassettes.read_document(path) == [1]
    monkeypatch.setattr(cassettes, "MAX_CASSETTE_BYTES", 2)
    with pytest.raises(CassetteError, match=r"x.json: 3 bytes is over the 2-byte cassette limit$"):
        cassettes.read_document(path)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "the file is empty"),
        ('{"a": ', "the JSON text ends early"),
        ('{"a": 1}\n  x', "invalid JSON at line 2, column 3"),
    ],
)
def test_where_broken_json_broke(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(CassetteError) as caught:
        cassettes.read_document(path)
    assert str(caught.value) == f"{path}: not a JSON cassette ({says})"


def nest(levels: int) -> Any:
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


def test_nesting_is_counted_through_lists_and_objects() -> None:
    assert not cassettes._depth_over("scalar", 0)
    assert not cassettes._depth_over(nest(3), 3)
    assert cassettes._depth_over(nest(4), 3)
    assert not cassettes._depth_over({"a": {"b": []}}, 3)
    assert cassettes._depth_over({"a": {"b": [[]]}}, 3)
    assert cassettes._depth_over([1, {"x": [1, [2, {"y": {}}]]}], 4)
    assert not cassettes._depth_over([1, {"x": [1, [2, {"y": 1}]]}], 5)


def test_a_deep_file_is_refused_at_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(nest(cassettes.MAX_DEPTH)))
    assert cassettes.read_document(path) == nest(cassettes.MAX_DEPTH)
    path.write_text(json.dumps(nest(cassettes.MAX_DEPTH + 1)))
    with pytest.raises(CassetteError) as caught:
        cassettes.read_document(path)
    assert str(caught.value) == f"{path}: nested deeper than 64 levels"
    path.write_text("[" * 2000 + "]" * 2000)  # past orjson's own limit
    with pytest.raises(CassetteError) as caught:
        cassettes.read_document(path)
    assert str(caught.value) == f"{path}: nested deeper than 64 levels"


@pytest.mark.parametrize(
    ("text", "sequence"),
    [
        ('{"sequence": 7}', 7),
        ('{"sequence": "12"}', 12),
        ("{}", -1),
        ('{"sequence": "x"}', -1),
        ('{"sequence": null}', -1),
        ("[7]", -1),
        ("{", -1),
    ],
)
def test_the_sequence_of_a_file_or_minus_one(tmp_path: Path, text: str, sequence: int) -> None:
    path = tmp_path / "c.json"
    path.write_text(text)
    assert cassettes.load_sequence(path) == sequence


def test_a_schema_fault_names_where_and_the_rule(copy: Path) -> None:
    def refused(change: Any) -> str:
        path = edit(copy, change)
        with pytest.raises(CassetteError) as caught:
            cassettes.load(copy)
        text = str(caught.value)
        assert text.startswith(f"{path}: ")
        return text[len(f"{path}: ") :]

    assert refused(lambda d: d.update(sequence=-1)) == "at /sequence: must be at least 0"
    assert refused(lambda d: d.update(sequence=0, job_id=3)) == (
        "at /job_id: must be of type string or null"
    )
    assert refused(
        lambda d: (d.update(job_id=None), d["create"]["request"].update(body_sha256="XY"))
    ) == ("at /create/request/body_sha256: must match ^[0-9a-f]{64}$")
    assert refused(
        lambda d: (
            d["create"]["request"].update(body_sha256="0" * 64),
            d["polls"][1].pop("verdict"),
        )
    ) == ("at /polls/1: 'verdict' is a required property")


def test_schema_faults_are_worded_from_the_rule_alone() -> None:
    def fault(schema: dict[str, Any], value: Any) -> str:
        error = next(iter(Draft202012Validator(schema).iter_errors(value)))
        return cassettes._schema_fault(error)

    assert fault({"maximum": 3}, 9) == "must be at most 3"
    assert fault({"minimum": 3}, 1) == "must be at least 3"
    assert fault({"type": "string"}, 1) == "must be of type string"
    assert fault({"const": "x"}, "y") == "must be 'x'"
    assert fault({"maxLength": 1}, "secret") == "breaks the cassette format's 'maxLength' rule"
    assert fault({"required": ["a", "b"]}, {"a": 1}) == "'b' is a required property"
    error = next(iter(Draft202012Validator({"required": ["a"]}).iter_errors({})))
    error.instance = {"a": 1}  # the instance changed since: nothing to name
    assert cassettes._schema_fault(error) == "a property is missing"


def test_a_cassette_naming_a_missing_operation_or_media_is_refused(copy: Path) -> None:
    path = edit(copy, lambda d: d["create"].update(operation="getVideo"))
    assert len(cassettes.load(copy)) == 1  # an operation of the contract
    path = edit(copy, lambda d: d["create"].update(operation="createVideo"))
    media = next((copy / "media").iterdir())
    media.write_bytes(media.read_bytes() + b"x")
    with pytest.raises(CassetteError) as caught:
        cassettes.load(copy)
    assert str(caught.value) == (
        f"{path}: media media/{media.name} is missing or has the wrong size"
    )


def test_media_of_downloads_and_of_media_urls_are_both_checked(copy: Path) -> None:
    media = next((copy / "media").iterdir())
    ref = {
        "sha256": "1" * 64,
        "size": 1,
        "content_type": "video/mp4",
        "file": "media/" + "1" * 64 + ".mp4",
    }
    path = edit(copy, lambda d: d.update(media_urls=[{"url": "https://x/v.mp4", "media": ref}]))
    with pytest.raises(CassetteError, match="media/1{64}.mp4 is missing"):
        cassettes.load(copy)
    (copy / ref["file"]).write_bytes(b"v")
    assert len(cassettes.load(copy)) == 1
    edit(copy, lambda d: d.update(media_urls=[{"url": "https://x/v.mp4"}]))
    media.unlink()
    with pytest.raises(CassetteError, match=f"{path.name}: media media/{media.name} is missing"):
        cassettes.load(copy)


def test_a_file_that_is_not_utf8_is_not_a_json_cassette(tmp_path: Path) -> None:
    path = tmp_path / "latin.json"
    path.write_bytes(b'{"prompt": "caf\xe9"}')
    with pytest.raises(CassetteError) as caught:
        cassettes.read_document(path)
    assert str(caught.value).startswith(f"{path}: not a JSON cassette (")


def test_a_file_is_read_no_further_than_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    path = tmp_path / "c.json"
    path.write_text("[1]")
    asked: list[Any] = []
    real_open = builtins.open

    class Spy:
        def __init__(self, handle: Any) -> None:
            self.handle = handle

        def __enter__(self) -> Spy:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def read(self, size: Any = -1) -> bytes:
            asked.append(size)
            return bytes(self.handle.read(size))

    monkeypatch.setattr(builtins, "open", lambda *a, **k: Spy(real_open(*a, **k)))
    assert cassettes.read_document(path) == [1]
    assert asked == [cassettes.MAX_CASSETTE_BYTES + 1]


def test_a_read_error_without_words_is_named_by_its_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Unreadable(OSError):
        pass

    def refuse(self: Path, **kwargs: Any) -> Any:
        raise Unreadable()

    monkeypatch.setattr(Path, "stat", refuse)
    with pytest.raises(CassetteError) as caught:
        cassettes.read_document(tmp_path / "c.json")
    assert str(caught.value) == f"{tmp_path / 'c.json'}: cannot be read (Unreadable)"


def test_a_cassette_naming_another_contract_or_operation_is_refused(copy: Path) -> None:
    path = edit(copy, lambda d: d.update(contract="mock-admin"))
    with pytest.raises(CassetteError) as caught:
        cassettes.load(copy)
    assert str(caught.value) == (
        f"{path}: at /contract: not a bundled provider contract (one of "
        f"{', '.join(sorted(cassettes.contracts.PROVIDER_CONTRACTS))})"
    )
    edit(copy, lambda d: (d.update(contract="gptge-videos"), d["create"].update(operation="x")))
    with pytest.raises(CassetteError) as caught:
        cassettes.load(copy)
    assert str(caught.value) == f"{path}: at /create/operation: not an operation of gptge-videos"


def test_an_answer_recorded_without_its_body_is_judged_on_status_and_headers(
    copy: Path,
) -> None:
    edit(copy, lambda d: d["polls"][0]["response"].pop("body"))
    [cassette] = cassettes.load(copy)
    assert cassette.problems == []


def test_a_cassette_without_media_urls_loads(copy: Path) -> None:
    edit(copy, lambda d: d.pop("media_urls"))
    [cassette] = cassettes.load(copy)
    assert "media_urls" not in cassette.data and cassette.problems == []


def test_a_shape_the_validators_cannot_read_is_refused_naming_the_contract(copy: Path) -> None:
    path = edit(copy, lambda d: d["polls"][0].update(query=[["a"]]))
    with pytest.raises(CassetteError) as caught:
        cassettes.load(copy)
    assert str(caught.value) == (
        f"{path}: its recorded answers cannot be checked against gptge-videos (ValueError)"
    )


def test_each_recorded_answer_is_checked_again_where_it_was_recorded(copy: Path) -> None:
    def drift(data: dict[str, Any]) -> None:
        data["create"]["response"]["body"]["status"] = "later"
        data["polls"][2]["response"]["body"]["progress"] = "half"
        data["downloads"][0]["response"]["headers"]["content-type"] = "text/html"

    edit(copy, drift)
    [cassette] = cassettes.load(copy)
    poll_path = cassette.data["polls"][2]["path"]
    download_path = cassette.data["downloads"][0]["path"]
    wheres = [p.where for p in cassette.problems]
    assert any(w.startswith("create /v1/videos ") for w in wheres), wheres
    assert any(w.startswith(f"poll {poll_path} ") for w in wheres), wheres
    assert any(w.startswith(f"download {download_path} ") for w in wheres), wheres
    assert len(wheres) == 3, wheres
    messages = {p.where.split(" ")[0]: p.message for p in cassette.problems}
    assert "'later' is not one of" in messages["create"]
    assert "'half' is not of type 'integer'" in messages["poll"]
    assert messages["download"].startswith("unsupported content type")


def test_a_text_answer_is_checked_as_text(copy: Path) -> None:
    def text(data: dict[str, Any]) -> None:
        answer = data["polls"][0]["response"]
        answer.pop("body")
        answer["text"] = json.dumps({"id": "video_1", "status": "queued"})
        answer["status"] = 200

    edit(copy, text)
    [cassette] = cassettes.load(copy)
    assert [p.where for p in cassette.problems if p.where.startswith("poll")], cassette.problems
