"""Servers on loopback threads and one job's whole life, for the proxy and replay tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from providers import APIS, VIDEOS, Api, _videos_create

from mockserver.conformance.proxy import ContractProxy, make_server
from mockserver.conformance.proxy_config import ProxyConfig

#: the provider name the commands take -> how the tests drive it (small videos: fast renders)
LIFECYCLES: dict[str, Api] = {
    "gptge": Api(
        "gptge-videos",
        "gptge",
        _videos_create("sora-2", "720x1280", "4"),
        video_url=lambda b: None,
        size=(720, 1280),
        seconds=4,
        **VIDEOS,  # type: ignore[arg-type]
    ),
    "gptproto-videos": APIS["gptproto-videos"],
    "gptproto-v3": APIS["gptproto-v3"],
    "vtrix": APIS["vtrix-generation"],
}
CANARY = "sk-CANARY-5f3a9c0d1e2b4a6f8091"


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """A WSGI app on a loopback port in a thread; yields its base URL."""
    from werkzeug.serving import make_server as werkzeug_server

    server = werkzeug_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def proxy_in_front(
    provider: str, upstream: str, **options: Any
) -> Iterator[tuple[str, ContractProxy]]:
    """``sora-mock proxy`` in front of ``upstream`` on a loopback port."""
    clock = options.pop("clock", None)
    transport = options.pop("transport", None)
    out = options.pop("out", None)
    kwargs: dict[str, Any] = {"transport": transport, "out": out}
    if clock is not None:
        kwargs["clock"] = clock
    proxy = ContractProxy(ProxyConfig(provider, upstream=upstream, **options), **kwargs)
    server = make_server(proxy)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", proxy
    finally:
        server.shutdown()
        server.server_close()
        proxy.close()


@dataclass
class Life:
    """What a client saw of one job."""

    job_id: str = ""
    words: list[str] = field(default_factory=list)
    responses: list[httpx.Response] = field(default_factory=list)
    media: bytes = b""


def live_job(
    client: httpx.Client,
    api: Api,
    advance: Callable[[float], Any],
    *,
    key: str = CANARY,
    step: float = 2.0,
    media_client: httpx.Client | None = None,
) -> Life:
    """Create, poll every ``step`` clock seconds until the job ends, download the video."""
    headers = {"Authorization": f"Bearer {key}"}
    life = Life()
    created = api.create(client, headers)
    assert created.status_code == 200, created.text
    life.responses.append(created)
    life.job_id = api.job_id(created.json())
    life.words.append(api.status(created.json()))
    for _ in range(60):
        advance(step)
        read = client.get(api.status_path(life.job_id), headers=headers)
        assert read.status_code == 200, read.text
        life.responses.append(read)
        life.words.append(api.status(read.json()))
        if life.words[-1] in api.words[2:]:
            break
    final = life.responses[-1].json()
    if api.name.endswith("-videos"):
        content = client.get(f"/v1/videos/{life.job_id}/content", headers=headers)
        life.responses.append(content)
        life.media = content.content
    else:
        url = api.video_url(final)
        assert url, final
        getter = media_client or httpx.Client()
        with getter:
            life.media = getter.get(url).content
    return life
