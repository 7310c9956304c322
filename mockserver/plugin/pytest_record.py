"""Record once, replay forever: the ``sora_replay`` fixture's cassettes kept per test.

``@pytest.mark.sora_replay(record="once", provider="gptge")`` keeps the test's cassettes in
``cassettes/<module>__<test name>/`` beside the test file (a first positional argument names
another root directory). What the test gets depends on the mode (vcrpy's ``record_mode``), on
whether the test's directory holds a cassette, and on the provider's key in the environment
(``GPTGE_API_KEY``, ``GPTPROTO_API_KEY``, ``VTRIX_API_KEY``):

========================  ==========================  ===================================
mode                      cassette there              no cassette
========================  ==========================  ===================================
``none``                  replay                      fail: nothing to replay
``once`` (the default)    replay                      record with the key (fail without)
``new_episodes``          record with the key (new    record with the key (fail without)
                          jobs beside the old ones),
                          else replay
``all``                   record afresh with the key  record with the key (fail without)
                          (fail without)
========================  ==========================  ===================================

``--sora-record=MODE`` on pytest's command line overrides every marked test's mode (e.g.
``--sora-record=all`` to record them all again). Recording runs the test through the
recording proxy (:class:`~mockserver.conformance.proxy.ContractProxy` with ``record_dir``)
in-process, against the provider's real base URL, or ``--sora-upstream URL`` (or the
``SORA_MOCK_UPSTREAM`` variable): another mock on loopback standing in for the provider.

A recording without the key fails rather than skips: a skipped test passes a CI run that
never ran it, and the cassette it was meant to write is never written; the failure names the
variable to set (or says to commit the cassettes).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mockserver.plugin.mock_error import MockError

if TYPE_CHECKING:
    import httpx

    from mockserver.conformance.proxy import ContractProxy
    from mockserver.http.requests_log import RequestRecord

RECORD_MODES = ("once", "none", "new_episodes", "all")
#: the variable naming an upstream for recordings (instead of the provider's base URL)
UPSTREAM_ENV = "SORA_MOCK_UPSTREAM"
#: where a marked test's cassettes live, beside the test file, unless the marker names another
DEFAULT_ROOT = "cassettes"
#: characters of a cassette directory's name (a longer node id is cut and given a hash)
MAX_NAME = 120
#: requests a recording keeps for ``requests()`` (the newest)
MAX_RECORDED_REQUESTS = 1000
#: largest request body the recording's request log reads (a larger one is passed on unread)
MAX_CAPTURED_BODY = 64 * 1024 * 1024


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("sora-mock")
    group.addoption(
        "--sora-record",
        choices=RECORD_MODES,
        default=None,
        help="record mode for every test marked sora_replay(record=...): once (default: record "
        "what has no cassette), none (replay only), new_episodes, all (record again)",
    )
    group.addoption(
        "--sora-upstream",
        default=None,
        metavar="URL",
        help="where recordings go instead of the provider's base URL, e.g. another mock on "
        f"loopback (default: ${UPSTREAM_ENV})",
    )


def cassette_dir_name(nodeid: str) -> str:
    """A test's node id as a directory name: ``tests/test_a.py::TestB::test_c[x-1]`` ->
    ``test_a__TestB__test_c_x-1_``; a name longer than ``MAX_NAME`` is cut and ends with a
    hash of the whole id, so two tests never share a directory."""
    path, _, rest = nodeid.partition("::")
    stem = Path(path).stem
    raw = f"{stem}::{rest}" if rest else stem
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", raw.replace("::", "__")).strip(".")
    if len(name) > MAX_NAME:
        digest = hashlib.sha256(nodeid.encode()).hexdigest()[:12]
        name = f"{name[: MAX_NAME - 13]}-{digest}"
    return name or hashlib.sha256(nodeid.encode()).hexdigest()[:12]


def has_cassette(directory: Path) -> bool:
    from mockserver.conformance.cassettes import iter_files

    return directory.is_dir() and any(iter_files(directory))


def key_variable(provider: str) -> str:
    from mockserver.conformance.providers import PROVIDERS

    return PROVIDERS[provider][1]


def plan(mode: str, cassette: bool, key: str | None) -> str:
    """``replay`` or ``record`` for a mode, whether a cassette exists and the key (if any);
    :class:`Refused` with the reason when neither can be done."""
    if mode == "none":
        if cassette:
            return "replay"
        raise Refused("no-cassette")
    if mode == "once" and cassette:
        return "replay"
    if mode == "new_episodes" and cassette and not key:
        return "replay"
    if not key:
        raise Refused("no-key")
    return "record"


class Refused(Exception):
    """Neither a replay nor a recording can run (the reason: ``no-cassette``, ``no-key``)."""


def refusal(reason: str, mode: str, directory: Path, variable: str) -> str:
    if reason == "no-cassette":
        return (
            f"sora_replay(record='none'): no cassette in {directory}; record it once with "
            f"{variable} set and --sora-record=once (or record='once'), then commit it"
        )
    if mode in ("all", "new_episodes") and has_cassette(directory):
        return (
            f"sora_replay(record={mode!r}) records against the provider and needs its key: "
            f"set {variable} (or run with --sora-record=once to replay {directory})"
        )
    return (
        f"sora_replay(record={mode!r}): no cassette in {directory} and no {variable} in the "
        f"environment to record one: set {variable} and run once (the cassette is written "
        "there; commit it), or run where the cassettes are checked out"
    )


def prefix_of(provider: str) -> str:
    """The mock prefix a proxy provider name stands for (``gptproto-v3`` -> ``gptproto``)."""
    from mockserver.conformance.providers import contract_of

    return contract_of(provider).provider


class _RequestLog:
    """A WSGI middleware noting each request the proxy is given, as the mock's journal does
    (:func:`mockserver.http.requests_log.capture`), bounded to ``MAX_RECORDED_REQUESTS``."""

    def __init__(self, app: Callable[..., Any], provider: str, prefix: str) -> None:
        from collections import deque

        from mockserver.conformance.providers import contract_of

        self.app = app
        self.prefix = prefix
        self.contract = contract_of(provider)
        self.entries: deque[dict[str, Any]] = deque(maxlen=MAX_RECORDED_REQUESTS)
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        from werkzeug.wrappers import Request

        from mockserver.http.exchange import caller_of
        from mockserver.http.requests_log import capture

        req = Request(environ)
        length = req.content_length or 0
        if length <= MAX_CAPTURED_BODY:
            data = req.get_data(cache=True)  # read once: the proxy is given the same bytes
            environ["wsgi.input"] = io.BytesIO(data)
            environ["CONTENT_LENGTH"] = str(len(data))
            if req.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
                req.form  # noqa: B018 - parsed from the bytes kept, for the capture
        operation = self.contract.find_operation(req.method, req.path)
        entry: dict[str, Any] = {
            "provider": self.prefix,
            "operation": operation.operation_id if operation is not None else None,
            "method": req.method,
            # as the mock's journal names it (so a test asserts the same path either way)
            "path": f"/{self.prefix}{req.path}",
            "status": 0,
        }
        try:
            entry["request"] = capture(req, caller_of(environ)[1])
        except Exception:  # noqa: BLE001 - the request goes on; only its data is missing
            entry["request"] = None
        finally:
            req.close()  # the files its form parsing opened (the proxy reads the bytes kept)

        def start(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            entry["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, *args)

        with self.lock:
            self.entries.append(entry)
        return self.app(environ, start)


class SoraRecording:
    """What ``sora_replay`` gives a test while it records: the same ``base_url``, ``client``,
    ``transport``, ``requests`` and ``assert_requested`` as the mock's handle, into the
    recording proxy (real time, the real provider: no virtual clock, no scenarios)."""

    recording = True

    def __init__(
        self, proxy: ContractProxy, provider: str, key: str, directory: Path, host: str
    ) -> None:
        self.proxy = proxy
        self.provider = provider
        self.prefix = prefix_of(provider)
        self.cassettes = directory
        self.host = host.rstrip("/")
        self._key = key
        self.app = _RequestLog(proxy, provider, self.prefix)

    def base_url(self, provider: str) -> str:
        if provider != self.prefix:
            raise KeyError(f"this test records {self.prefix!r} only (marker provider=...)")
        return self.host

    def transport(self) -> httpx.WSGITransport:
        import httpx

        return httpx.WSGITransport(app=self.app)

    def client(self, provider: str, api_key: str | None = None, **kwargs: Any) -> httpx.Client:
        """An httpx client into the recording proxy; the key defaults to the environment's."""
        import httpx

        headers = {"Authorization": f"Bearer {api_key or self._key}"} | kwargs.pop("headers", {})
        return httpx.Client(
            base_url=self.base_url(provider),
            transport=self.transport(),
            headers=headers,
            **kwargs,
        )

    def requests(self, **criteria: Any) -> list[RequestRecord]:
        from mockserver.http.requests_log import records_of, select

        with self.app.lock:
            entries = list(self.app.entries)
        return select(records_of(entries), **criteria)

    def assert_requested(self, times: int | None = None, **criteria: Any) -> list[RequestRecord]:
        __tracebackhide__ = True
        from mockserver.http.requests_log import assert_requested

        return assert_requested(self.requests(), times, **criteria)

    def __getattr__(self, name: str) -> Any:
        if name in ("advance", "set_scenario", "stepping", "virtual_sleep", "now", "jobs"):
            raise MockError(
                f"{name}() is the mock's: this test is recording against the provider "
                "(real time, real jobs); it works when the test replays its cassette"
            )
        raise AttributeError(name)

    def check(self) -> None:
        pass

    def close(self) -> None:
        self.proxy.close()


def upstream_of(config: pytest.Config) -> str | None:
    value = config.getoption("--sora-upstream", default=None) or os.environ.get(UPSTREAM_ENV)
    return str(value) if value else None


@contextmanager
def recording(
    provider: str, key: str, directory: Path, upstream: str | None, fresh: bool, host: str
) -> Iterator[SoraRecording]:
    """The recording proxy for one test, writing its cassettes into ``directory`` (emptied
    first when ``fresh``: ``record='all'``)."""
    from mockserver.conformance.proxy import ContractProxy
    from mockserver.conformance.proxy_config import ProxyConfig

    if fresh and directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    proxy = ContractProxy(ProxyConfig(provider=provider, upstream=upstream, record_dir=directory))
    handle = SoraRecording(proxy, provider, key, directory, host)
    try:
        yield handle
    finally:
        handle.close()


def marker_mode(marker: pytest.Mark | None, config: pytest.Config) -> str | None:
    """The record mode of a marked test (None: an old-style marker without ``record=``)."""
    if marker is None or "record" not in marker.kwargs:
        return None
    mode = config.getoption("--sora-record", default=None) or marker.kwargs["record"]
    if mode not in RECORD_MODES:
        raise pytest.UsageError(
            f"sora_replay(record={mode!r}): use one of {', '.join(RECORD_MODES)}"
        )
    return str(mode)


def names(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))
