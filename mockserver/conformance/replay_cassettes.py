"""What replay reads of a cassette: the request fields a create is matched on and the
differences named when they disagree, the recorded status answers as a timeline, the
recorded media, and a fresh id in the recorded id's style."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from typing import Any

from mockserver.conformance import cassettes
from mockserver.conformance.cassettes import Cassette

#: what a create is compared on with the recording it is given, in this order
FIELDS = ("prompt", "model", "size", "seconds", "image")


def request_fields(summary: Any) -> dict[str, str | None]:
    """What a create asked, in :data:`FIELDS` (from a request summary: images are hashes).

    ``size`` carries GPTProto v3's ``orientation``, ``seconds`` its ``duration``; ``image`` is
    every reference image the body names (file parts by content hash, URLs as sent, data URLs
    by hash), in order."""
    body: Mapping[str, Any] = summary if isinstance(summary, Mapping) else {}
    size = body.get("size")
    if size is not None and body.get("orientation") is not None:
        size = f"{size} {body['orientation']}"
    seconds = body.get("seconds", body.get("duration"))
    return {
        "prompt": cassettes.prompt_of(body),
        "model": _text(body.get("model")),
        "size": _text(size),
        "seconds": _text(seconds),
        "image": _images(body),
    }


def differences(cassette: Cassette, asked: Mapping[str, Any]) -> list[str]:
    """The fields (:data:`FIELDS` order) in which a create differs from a recording's."""
    request = cassette.data["create"]["request"]
    if "body" not in request:
        return []  # a cassette without the request summary: nothing to compare
    recorded = request_fields(request["body"])
    return [name for name in FIELDS if recorded[name] != asked.get(name)]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _images(body: Mapping[str, Any]) -> str | None:
    found = [
        _image_ref(body[key])
        for key in ("input_reference", "images", "image", "image_url")
        if key in body
    ]
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, Mapping) else None
        for part in content if isinstance(content, list) else []:
            if isinstance(part, Mapping) and part.get("type") == "image_url":
                found.append(_image_ref(part.get("image_url")))
    return json.dumps(found, sort_keys=True) if found else None


def _image_ref(value: Any) -> Any:
    """A file part by its content hash (not its file name), a URL object by its URL."""
    if isinstance(value, Mapping):
        if "sha256" in value:
            return value["sha256"]
        if "url" in value:
            return _image_ref(value["url"])
    if isinstance(value, list):
        return [_image_ref(v) for v in value]
    return value


def _pixels(summary: Any) -> tuple[int, int]:
    """Width and height a create asked for (0, 0 when its body does not say)."""
    body: Mapping[str, Any] = summary if isinstance(summary, Mapping) else {}
    size = str(body.get("size") or "")
    match = re.fullmatch(r"(\d+)x(\d+)", size)
    if match is not None:
        return int(match[1]), int(match[2])
    from mockserver.providers.declared_answers import named_pixels

    # a size in words (GPTProto v3's small + portrait)
    return (named_pixels(body) if size else None) or (0, 0)


def _status_timeline(cassette: Cassette) -> list[tuple[float, Mapping[str, Any]]]:
    """The create's answer at 0, then every recorded status read at its offset."""
    timeline = [(0.0, cassette.data["create"]["response"])]
    timeline += [(float(p["offset"]), p["response"]) for p in cassette.reads("polls")]
    return timeline


def _recorded_media(cassette: Cassette, variant: str) -> Mapping[str, Any] | None:
    """A replayed job's recorded media for a variant (video, thumbnail, spritesheet)."""
    for read in cassette.reads("downloads"):
        media = read["response"].get("media")
        if media and dict(read.get("query") or []).get("variant", "video") == variant:
            return dict(media)
    for entry in cassette.data.get("media_urls") or [] if variant == "video" else []:
        media = entry.get("media")
        if media and str(media.get("content_type", "")).startswith("video/"):
            return dict(media)
    return None


def _at(timeline: list[tuple[float, Mapping[str, Any]]], elapsed: float) -> Mapping[str, Any]:
    """The last answer recorded at or before ``elapsed`` (the first one before any)."""
    chosen = timeline[0][1]
    for offset, answer in sorted(timeline, key=lambda item: item[0]):
        if offset <= elapsed + 1e-9:
            chosen = answer
    return chosen


def _new_id(recorded: str) -> str:
    """A fresh id shaped like the recorded one: its trailing hex run redrawn."""
    match = re.search(r"[0-9a-f]{8,}$", recorded)
    if match is None:
        return f"{recorded}-replay-{secrets.token_hex(6)}"
    return (
        recorded[: match.start()]
        + secrets.token_hex((len(match.group()) + 1) // 2)[: len(match.group())]
    )
