"""A 404 that says where to go: "did you mean /gptge/v1/videos?".

Every provider lives under its prefix (``/gptproto``, ``/gptge``, ``/vtrix``), and a base URL
is easy to get slightly wrong: the prefix left out (``/v1/videos``), ``/v1`` written twice
(``/gptge/v1/v1/videos``), a path of one provider sent under another's prefix. For an unknown
path this module tries the few repairs that explain such mistakes and keeps those that name a
real route of the mock, so the 404 can name the right URL.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import MapAdapter, RequestRedirect

from mockserver.dialects.errors import PREFIX_ERRORS

PREFIXES = tuple(PREFIX_ERRORS)


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
    return [c for c in _candidates(path) if c != path and _routes(adapter, c, method)][:3]


def not_found_message(app: Flask, path: str, method: str) -> tuple[str, str | None]:
    """The 404 message, and the prefix whose error shape it should take (None: the mock's)."""
    head = path.strip("/").split("/", 1)[0]
    found = suggestions(app, path, method)
    message = f"Unknown path {path!r}"
    if found:
        message += ": did you mean " + " or ".join(found) + "?"
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
