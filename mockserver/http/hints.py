"""A 404 that says where to go: "did you mean /gptge/v1/videos?".

Every provider lives under its prefix (``/gptproto``, ``/gptge``, ``/vtrix``), and a base URL
is easy to get slightly wrong: the prefix left out (``/v1/videos``), ``/v1`` left out
(``OpenAI(base_url=".../gptge")`` asks for ``/gptge/videos``) or written twice
(``/gptge/v1/v1/videos``), a path of one provider sent under another's prefix
(``.../vtrix/v1`` asks Vtrix for ``/v1/videos``, which it does not have). For an unknown path
this module tries the few repairs that explain such mistakes and keeps those that name a real
route of the mock, so the 404 can name the right URL; a path that exists only under another
provider's prefix gets the routes its own provider has, then where that path lives.
"""

from __future__ import annotations

import difflib

from flask import Flask
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import MapAdapter, RequestRedirect

from contracts._declaration import Mirrored
from mockserver.providers.errors import PREFIX_ERRORS

#: every provider prefix (the same mapping, kept up to date as providers are added)
PREFIXES = PREFIX_ERRORS
#: how each provider is named in a hint
NAMES = Mirrored({"gptproto": "GPTProto"}, lambda d: [(d.prefix, d.name)])
#: the segment an OpenAI-style base URL ends with, most often left out
VERSION = "v1"


def _routes(adapter: MapAdapter, path: str, method: str) -> bool:
    try:
        adapter.match(path, method)
    except MethodNotAllowed:
        return True  # the path exists, another method: still the URL they meant
    except (NotFound, RequestRedirect):
        return False
    return True


def _candidates(path: str) -> list[str]:
    segments = [s for s in path.split("/") if s]
    if not segments:
        return []
    head, rest = segments[0], segments[1:]
    found: list[str] = []
    if head in PREFIXES:
        body = rest
        # the same segment twice in a row (/v1/v1/videos)
        deduplicated = [s for i, s in enumerate(body) if i == 0 or s != body[i - 1]]
        found.append("/".join(["", head, *deduplicated]))
        # /v1 left out (a base URL without it)
        for i in range(len(body)):
            found.append("/".join(["", head, *body[:i], VERSION, *body[i:]]))
        # one segment too many (/gptge/api/v1/videos) or the prefix written twice
        for i in range(len(body)):
            found.append("/".join(["", head, *body[:i], *body[i + 1 :]]))
        # the path of another provider
        for other in PREFIXES:
            if other != head:
                found.append("/".join(["", other, *body]))
    else:
        # the prefix left out
        for prefix in PREFIXES:
            found.append("/".join(["", prefix, *segments]))
            deduplicated = [s for i, s in enumerate(segments) if i == 0 or s != segments[i - 1]]
            found.append("/".join(["", prefix, *deduplicated]))
    return list(dict.fromkeys(found))


def suggestions(app: Flask, path: str, method: str) -> list[str]:
    """Paths of real routes that the unknown ``path`` most likely meant (at most three)."""
    adapter = app.url_map.bind("localhost")
    found = [c for c in _candidates(path) if c != path and _routes(adapter, c, method)]
    found += [c for c in _misspelt(app, path) if c not in found and _routes(adapter, c, method)]
    return found[:3]


#: how alike a misspelt segment must be to the route's (difflib's ratio: `video` to `videos`
#: is 0.91, `generations` to `generation` 0.95, `task` to `tasks` 0.89)
ALIKE = 0.8


def _misspelt(app: Flask, path: str) -> list[str]:
    """Routes of the same length as ``path`` that differ from it in one literal segment, a
    near spelling (``/gptge/v1/video``: ``/gptge/v1/videos``); the path's own values stay in
    the route's variable segments."""
    segments = path.strip("/").split("/")
    found = []
    for rule in app.url_map.iter_rules():
        parts = rule.rule.strip("/").split("/")
        if len(parts) != len(segments):
            continue
        differ = [
            i
            for i, (p, s) in enumerate(zip(parts, segments, strict=True))
            if not p.startswith("<") and p != s
        ]
        if len(differ) != 1:
            continue
        i = differ[0]
        if difflib.SequenceMatcher(None, parts[i], segments[i]).ratio() >= ALIKE:
            found.append("/" + "/".join(segments[:i] + [parts[i]] + segments[i + 1 :]))
    return list(dict.fromkeys(found))


def not_found_message(app: Flask, path: str, method: str) -> tuple[str, str | None]:
    """The 404 message, and the prefix whose error shape it should take (None: the mock's)."""
    head = path.strip("/").split("/", 1)[0]
    found = suggestions(app, path, method)
    message = f"Unknown path {path!r}"
    own = [f for f in found if head in PREFIXES and f.split("/")[1] == head]
    if head in PREFIXES and found and not own:
        # the path exists, but only under other providers: say what this one has first
        rest = path[len(head) + 1 :]
        message = (
            f"{NAMES[head]} has no {method} {rest}: its routes are "
            + ", ".join(_routes_of(app, head))
            + f"; {rest} is "
            + " and ".join(f"{NAMES[f.split('/')[1]]}'s ({f})" for f in found)
        )
    elif found:
        message += ": did you mean " + " or ".join(found) + "?"
        base = _version_left_out(path, found[0])
        if base is not None:
            message += f" An OpenAI-style base URL ends in /{VERSION}: .../{base}"
    elif head not in PREFIXES and not head.startswith("__mock"):
        message += (
            "; every provider is under its prefix: "
            + ", ".join(f"/{p}/..." for p in PREFIXES)
            + " (GET / lists them)"
        )
    prefix = head if head in PREFIXES else None
    if prefix is None and found:
        prefix = found[0].split("/")[1]
    return message, prefix


def _version_left_out(path: str, meant: str) -> str | None:
    """``gptge/v1`` when ``meant`` is ``path`` with ``/v1`` added right after its prefix."""
    parts, meant_parts = path.strip("/").split("/"), meant.strip("/").split("/")
    if meant_parts[:1] + meant_parts[2:] == parts and meant_parts[1:2] == [VERSION]:
        return f"{meant_parts[0]}/{VERSION}"
    return None


def _routes_of(app: Flask, prefix: str) -> list[str]:
    """``METHOD /path`` of every route under ``prefix``, in the order they were added."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(f"/{prefix}/"):
            methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
            found += [f"{m} {rule.rule.replace('<', '{').replace('>', '}')}" for m in methods]
    return list(dict.fromkeys(found))
