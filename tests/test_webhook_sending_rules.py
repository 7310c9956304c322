"""Sending one webhook (``mockserver/http/webhook_sending.py``), rule by rule: which hosts are
loopback or allowed, why a callback URL is refused (the exact words), how a URL is shown in
the journal, the signature (checked with the standard library's ``hmac``, never with
``sign`` itself), and one POST: what is looked up, where it connects, what the receiver
gets, the deadline (a stand-in for the module's monotonic clock and its watchdog ``Timer``,
so no test waits for one), each failure's words.

A receiver here is a loopback socket served by a thread the test starts and joins: it takes
one connection and answers with the bytes it is given."""

from __future__ import annotations

import hashlib
import hmac
import re
import socket
import ssl
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from contracts import _declaration as decl
from mockserver.http import webhook_sending as ws

#: how long a receiver waits for what never comes (a bound, not a duration)
BOUND = 5.0
NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"


class Receiver:
    """One connection on a loopback port (a second is refused): the request read whole
    (``read``) or not at all, then ``answer`` sent, then held open until the test ends if
    ``hold``."""

    def __init__(
        self,
        answer: bytes = NO_CONTENT,
        *,
        read: bool = True,
        hold: bool = False,
        on_request: Callable[[], None] | None = None,
    ) -> None:
        self.answer, self.read, self.hold, self.on_request = answer, read, hold, on_request
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port: int = self.listener.getsockname()[1]
        self.request = b""
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return  # closed before anyone connected
        self.listener.close()  # one connection: any other is refused at once, not left waiting
        with conn:
            conn.settimeout(BOUND)
            try:
                if self.read:
                    self.request = self._read(conn)
                if self.on_request is not None:
                    self.on_request()
                conn.sendall(self.answer)
                if self.hold:
                    self.release.wait(BOUND)
            except OSError:
                pass

    @staticmethod
    def _read(conn: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        found = re.search(rb"(?im)^content-length: *(\d+)", head)
        length = int(found.group(1)) if found else 0
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body

    def url(self, path: str = "/in", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def close(self) -> None:
        self.release.set()
        self.listener.close()
        self.thread.join(BOUND)


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    started: list[Receiver] = []
    yield started
    for receiver in started:
        receiver.close()


def _receiver(receivers: list[Receiver], *args: Any, **kwargs: Any) -> Receiver:
    receiver = Receiver(*args, **kwargs)
    receivers.append(receiver)
    return receiver


def _closed_port() -> int:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port: int = unused.getsockname()[1]
    return port


# ---------------------------------------------------------------------- where it may go


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LOCALHOST",
        "localhost.",
        "hooks.localhost",
        "a.b.Localhost.",
        "127.0.0.1",
        "127.255.3.4",
        "::1",
        "[::1]",
    ],
)
def test_loopback_hosts(host: str) -> None:
    assert ws.is_loopback(host) is True


@pytest.mark.parametrize(
    "host",
    [
        "localhostx",
        "xlocalhost",
        "localhost.example.org",
        "128.0.0.1",
        "10.0.0.1",
        "::2",
        "0.0.0.0",  # noqa: S104 - a host name under test, nothing is bound
        "example.org",
        "",
    ],
)
def test_hosts_that_are_not_loopback(host: str) -> None:
    assert ws.is_loopback(host) is False


@pytest.mark.parametrize(
    ("host", "allowed", "expected"),
    [
        ("hooks.example.org", ["hooks.example.org"], True),
        ("HOOKS.example.org.", ["hooks.EXAMPLE.org"], True),
        ("XHOOKS.test", ["xhooks.test"], True),  # an X is a letter like any other
        ("xhooks.test", ["XHOOKS.TEST"], True),
        ("hooks.example.org", ["Hooks.Example.Org."], True),
        ("hooks.example.org", ["other.test", "hooks.example.org"], True),
        ("a.hooks.example.org", ["hooks.example.org"], False),  # a name is exactly that name
        ("example.org", [".example.org"], True),  # .DOMAIN: the domain itself
        ("a.b.example.org", [".example.org"], True),  # ... and every name under it
        ("A.EXAMPLE.ORG.", [".Example.Org."], True),
        ("badexample.org", [".example.org"], False),
        ("example.org.evil", [".example.org"], False),
        ("[fd00::1]", ["fd00::1"], True),
        ("fd00::1", ["[FD00::1]"], True),
        ("", [""], False),  # an empty rule allows nothing
        ("", ["."], False),
        ("example.org", [], False),
    ],
)
def test_the_hosts_a_user_allows(host: str, allowed: list[str], expected: bool) -> None:
    assert ws.is_allowed(host, allowed) is expected


def test_allowed_rules_may_be_any_iterable_read_once() -> None:
    assert ws.is_allowed("b.test", iter(["a.test", "b.test"])) is True


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:9/in", ()),
        ("https://[::1]/in", ()),
        ("http://LOCALHOST./in?x=1", ()),
        ("http://hooks.localhost:8080/", ()),
        ("https://hooks.example.org/in", ("hooks.example.org",)),
        ("http://a.example.org:81/in", (".example.org",)),
    ],
)
def test_a_callback_url_the_mock_delivers_to(url: str, allowed: tuple[str, ...]) -> None:
    assert ws.refusal(url, allowed) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:http/in", "the callback URL's port is not a number"),
        ("http://127.0.0.1:99999/in", "the callback URL's port is not a number"),
        ("ftp://127.0.0.1/in", "the callback URL must be an http:// or https:// URL with a host"),
        ("127.0.0.1/in", "the callback URL must be an http:// or https:// URL with a host"),
        ("http:///in", "the callback URL must be an http:// or https:// URL with a host"),
        ("https://", "the callback URL must be an http:// or https:// URL with a host"),
        ("HTTP://127.0.0.1/in", None),  # urlsplit lowers the scheme
    ],
)
def test_a_callback_url_that_is_no_http_url_is_refused_in_so_many_words(
    url: str, why: str | None
) -> None:
    assert ws.refusal(url, ()) == why


def test_a_host_elsewhere_is_refused_naming_the_host_and_how_to_allow_it() -> None:
    refused = ws.refusal("https://user:pw@Hooks.Example.org:8443/in?token=hush#frag", ["a.test"])
    assert refused == (
        "the mock delivers webhooks only to loopback (127.0.0.1, ::1, localhost) and to the "
        "hosts it is told to allow, and hooks.example.org is neither: start it with "
        "--webhook-allow-host hooks.example.org "
        "(or SORA_MOCK_WEBHOOK_ALLOW_HOST=hooks.example.org)"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://127.0.0.1:8080/in?token=hush#frag", "http://127.0.0.1:8080/in"),
        ("https://user:secret@hooks.example.org/a/b?x=1", "https://hooks.example.org/a/b"),
        ("http://[::1]:9000/in", "http://[::1]:9000/in"),
        ("http://[::1]/in", "http://[::1]/in"),
        ("http://localhost", "http://localhost/"),
        ("http://localhost?q=1", "http://localhost/"),
        ("http://localhost:port/in", "http://localhost/in"),  # a port that is no number
        ("http:///in", "http:///in"),
    ],
)
def test_the_url_the_journal_shows(url: str, shown: str) -> None:
    assert ws.shown_url(url) == shown


# ---------------------------------------------------------------------- the signature


def test_the_openrouter_signature_is_the_hmac_of_the_timestamp_and_the_raw_body() -> None:
    [openrouter] = [d for d in decl.declarations() if d.contract == "openrouter-videos"]
    assert openrouter.webhooks is not None and openrouter.webhooks.signature is not None
    body = '{"type": "video.generation.completed", "data": {"id": "x"}}'
    value = ws.sign(openrouter.webhooks.signature, "whsec-1", 1767225600, body)
    digest = hmac.new(b"whsec-1", b"1767225600," + body.encode(), hashlib.sha256).hexdigest()
    assert value == f"t=1767225600,v1={digest}"


def test_a_declared_signature_fills_its_own_templates() -> None:
    signature = decl.Signature(
        header="X-Sig", value="sha256={signature};ts={timestamp}", signed="{body}.{timestamp}"
    )
    body = "é {body} {timestamp}"  # non-ASCII, and braces that are the body's own
    digest = hmac.new("sécret".encode(), f"{body}.42".encode(), hashlib.sha256).hexdigest()
    assert ws.sign(signature, "sécret", 42, body) == f"sha256={digest};ts=42"


def test_a_signed_text_may_hold_the_signature_as_empty_and_a_value_the_body() -> None:
    signature = decl.Signature(
        header="X-Sig", value="v={signature};b={body}", signed="{timestamp}|{signature}|{body}"
    )
    digest = hmac.new(b"k", b"7||raw", hashlib.sha256).hexdigest()
    assert ws.sign(signature, "k", 7, "raw") == f"v={digest};b=raw"


def test_the_signature_changes_with_the_secret_the_time_and_the_body() -> None:
    signature = decl.Signature(header="X", value="{signature}", signed="{timestamp}:{body}")
    base = ws.sign(signature, "s", 1, "b")
    assert base == hmac.new(b"s", b"1:b", hashlib.sha256).hexdigest()
    assert len({base, ws.sign(signature, "t", 1, "b"), ws.sign(signature, "s", 2, "b")}) == 3
    assert ws.sign(signature, "s", 1, "c") != base


# ---------------------------------------------------------------------- one attempt


def test_a_post_sends_the_body_and_headers_to_the_whole_url_and_returns_the_status(
    receivers: list[Receiver],
) -> None:
    receiver = _receiver(receivers, b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok")
    body = '{"é": 1}'.encode()
    status = ws.post(receiver.url("/hooks/in?token=abc&x=1"), body, {"X-Event": "done"}, BOUND, ())
    assert status == (202, None)
    receiver.thread.join(BOUND)
    head, _, sent = receiver.request.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /hooks/in?token=abc&x=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{receiver.port}" in lines
    assert "X-Event: done" in lines and f"Content-Length: {len(body)}" in lines
    assert sent == body


@pytest.mark.parametrize(("path", "target"), [("", "/"), ("/", "/"), ("?q=1", "/?q=1")])
def test_a_url_without_a_path_is_posted_to_the_root(
    receivers: list[Receiver], path: str, target: str
) -> None:
    receiver = _receiver(receivers)
    assert ws.post(receiver.url(path), b"{}", {}, BOUND, ()) == (204, None)
    receiver.thread.join(BOUND)
    assert receiver.request.startswith(f"POST {target} HTTP/1.1\r\n".encode())


@pytest.mark.parametrize("status", [200, 299, 301, 404, 500])
def test_any_status_is_returned_as_it_is(receivers: list[Receiver], status: int) -> None:
    answer = f"HTTP/1.1 {status} Whatever\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n"
    receiver = _receiver(receivers, answer.encode())
    assert ws.post(receiver.url(), b"{}", {}, BOUND, ()) == (status, None)


class Lookups:
    """``socket.getaddrinfo`` as a stand-in: records (name, port) and answers with the
    addresses given (or raises what it is given)."""

    def __init__(self, answer: list[tuple[str, int]] | BaseException) -> None:
        self.asked: list[tuple[str, int]] = []
        self.kinds: list[Any] = []
        self.answer = answer

    def __call__(self, host: str, port: int, **kwargs: Any) -> list[Any]:
        self.asked.append((host, port))
        self.kinds.append(kwargs)
        if isinstance(self.answer, BaseException):
            raise self.answer
        found = []
        for address, at in self.answer:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            where = (address, at, 0, 0) if family == socket.AF_INET6 else (address, at)
            found.append((family, socket.SOCK_STREAM, 6, "", where))
        return found


class Sockets:
    """The module's ``socket`` as a stand-in: the real one, but for ``getaddrinfo`` (a
    ``Lookups``) and sockets that record their timeouts and connections, and refuse any
    address outside loopback without sending a packet."""

    def __init__(self, lookups: Lookups) -> None:
        self.getaddrinfo = lookups
        self.SOCK_STREAM = socket.SOCK_STREAM
        self.SHUT_RDWR = socket.SHUT_RDWR
        self.timeout = socket.timeout
        self.timeouts: list[float | None] = []
        self.connected: list[Any] = []
        self.made: list[socket.socket] = []
        #: addresses whose connection times out; whether reading an answer times out
        self.slow: set[str] = set()
        self.slow_answer = False
        outer = self

        class Recording(socket.socket):
            def settimeout(self, value: float | None) -> None:
                outer.timeouts.append(value)
                super().settimeout(value)

            def connect(self, address: Any) -> None:
                outer.connected.append(address)
                if address[0] in outer.slow:
                    raise TimeoutError("timed out")
                if not address[0].startswith("127."):
                    raise ConnectionRefusedError(111, "Connection refused (stand-in)")
                super().connect(address)

            def recv_into(self, *args: Any) -> int:
                if outer.slow_answer:
                    raise TimeoutError("timed out")
                return super().recv_into(*args)

        def make(*args: Any) -> socket.socket:
            made = Recording(*args)
            outer.made.append(made)
            return made

        self.socket = make


@pytest.fixture
def sockets(monkeypatch: pytest.MonkeyPatch) -> Callable[[Lookups], Sockets]:
    def install(lookups: Lookups) -> Sockets:
        fake = Sockets(lookups)
        monkeypatch.setattr(ws, "socket", fake)
        return fake

    return install


@pytest.mark.parametrize(
    ("url", "allowed", "looked_up"),
    [
        ("http://hooks.localhost:{port}/in", (), "127.0.0.1"),  # never looked up
        ("http://LOCALHOST:{port}/in", (), "127.0.0.1"),
        ("http://hooks.localhost:{port}/in", ("hooks.localhost",), "hooks.localhost"),
        ("http://127.0.0.1:{port}/in", (), "127.0.0.1"),
        ("http://127.0.0.2:{port}/in", (), "127.0.0.2"),  # an address is itself
        ("http://[::1]:{port}/in", (), "::1"),
        ("http://rebound.test:{port}/in", (), "rebound.test"),
    ],
)
def test_what_is_looked_up_for_a_host(
    sockets: Callable[[Lookups], Sockets],
    url: str,
    allowed: tuple[str, ...],
    looked_up: str,
) -> None:
    lookups = Lookups(socket.gaierror(-2, "Name or service not known"))
    sockets(lookups)
    host = url.split("//")[1].split(":{port}")[0].strip("[]").lower()
    assert ws.post(url.format(port=4711), b"{}", {}, BOUND, allowed) == (
        None,
        f"{host} does not resolve (Name or service not known)",
    )
    assert lookups.asked == [(looked_up, 4711)]
    assert lookups.kinds == [{"type": socket.SOCK_STREAM}]  # streams only: one try per address


def test_a_url_without_a_host_is_looked_up_as_no_name(
    sockets: Callable[[Lookups], Sockets],
) -> None:
    lookups = Lookups(socket.gaierror(-2, "Name or service not known"))
    sockets(lookups)
    assert ws.post("http:///in", b"{}", {}, BOUND, ()) == (
        None,
        " does not resolve (Name or service not known)",
    )
    assert lookups.asked == [("", 80)]


def test_a_connection_that_times_out_is_said_so_with_the_whole_deadline(
    sockets: Callable[[Lookups], Sockets],
) -> None:
    fake = sockets(Lookups([("127.0.0.9", 80)]))
    fake.slow = {"127.0.0.9"}
    assert ws.post("http://rebound.test/in", b"{}", {}, 2.0, ()) == (None, "timed out after 2 s")


def test_an_answer_that_times_out_before_the_deadline_is_said_so(
    sockets: Callable[[Lookups], Sockets], receivers: list[Receiver]
) -> None:
    receiver = _receiver(receivers, b"", hold=True)
    fake = sockets(Lookups([("127.0.0.1", receiver.port)]))
    fake.slow_answer = True  # the socket's own timeout, before the watchdog's deadline
    assert ws.post(f"http://rebound.test:{receiver.port}/in", b"{}", {}, 3.0, ()) == (
        None,
        "timed out after 3 s",
    )


@pytest.mark.parametrize(
    ("url", "port"),
    [("http://rebound.test/in", 80), ("https://rebound.test/in", 443)],
)
def test_the_default_port_of_each_scheme(
    sockets: Callable[[Lookups], Sockets], url: str, port: int
) -> None:
    lookups = Lookups(socket.gaierror())
    sockets(lookups)
    assert ws.post(url, b"{}", {}, BOUND, ()) == (None, "rebound.test does not resolve (gaierror)")
    assert lookups.asked == [("rebound.test", port)]


def test_a_name_the_user_did_not_allow_must_resolve_to_loopback(
    sockets: Callable[[Lookups], Sockets],
) -> None:
    fake = sockets(Lookups([("203.0.113.7", 80), ("fe80::1%eth0", 80), ("10.1.1.1", 80)]))
    assert ws.post("http://rebound.test/in", b"{}", {}, BOUND, ()) == (
        None,
        "rebound.test resolves to no loopback address",
    )
    assert fake.connected == [] and fake.made == []


def test_a_name_resolving_to_loopback_among_others_connects_only_there(
    sockets: Callable[[Lookups], Sockets], receivers: list[Receiver]
) -> None:
    receiver = _receiver(receivers)
    fake = sockets(Lookups([("203.0.113.7", receiver.port), ("127.0.0.1", receiver.port)]))
    assert ws.post(f"http://rebound.test:{receiver.port}/in", b"{}", {}, BOUND, ()) == (
        204,
        None,
    )
    assert fake.connected == [("127.0.0.1", receiver.port)]
    receiver.thread.join(BOUND)
    assert f"Host: rebound.test:{receiver.port}\r\n".encode() in receiver.request


def test_an_allowed_name_is_tried_at_each_address_it_resolves_to(
    sockets: Callable[[Lookups], Sockets], receivers: list[Receiver]
) -> None:
    receiver = _receiver(receivers)
    fake = sockets(Lookups([("203.0.113.7", receiver.port), ("127.0.0.1", receiver.port)]))
    url = f"http://hooks.example.org:{receiver.port}/in"
    assert ws.post(url, b"{}", {}, BOUND, ["hooks.example.org"]) == (204, None)
    assert fake.connected == [("203.0.113.7", receiver.port), ("127.0.0.1", receiver.port)]
    assert all(s.fileno() == -1 for s in fake.made)  # the refused one closed, the other too


def test_an_address_that_refuses_is_left_for_the_next(
    sockets: Callable[[Lookups], Sockets], receivers: list[Receiver]
) -> None:
    receiver = _receiver(receivers)
    closed = _closed_port()
    fake = sockets(Lookups([("127.0.0.1", closed), ("127.0.0.1", receiver.port)]))
    assert ws.post(f"http://rebound.test:{receiver.port}/in", b"{}", {}, BOUND, ()) == (
        204,
        None,
    )
    assert fake.connected == [("127.0.0.1", closed), ("127.0.0.1", receiver.port)]


def test_the_last_refusal_is_the_answer_when_no_address_takes_it(
    sockets: Callable[[Lookups], Sockets],
) -> None:
    fake = sockets(Lookups([("127.0.0.1", _closed_port()), ("127.0.0.1", _closed_port())]))
    assert ws.post("http://rebound.test/in", b"{}", {}, BOUND, ()) == (None, "connection refused")
    assert len(fake.connected) == 2


def test_a_lookup_with_no_address_is_no_address_to_connect_to(
    sockets: Callable[[Lookups], Sockets],
) -> None:
    sockets(Lookups([]))
    assert ws.post("http://x.test/in", b"{}", {}, BOUND, ["x.test"]) == (
        None,
        "no address to connect to",
    )


def test_a_closed_port_is_connection_refused() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/in"
    assert ws.post(url, b"{}", {}, BOUND, ()) == (None, "connection refused")


class Deadline:
    """The module's ``time`` and ``threading.Timer`` as stand-ins: a monotonic clock the test
    moves, and a watchdog that records its interval and runs only when the test says."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, start: float = 1000.0) -> None:
        self.now = start
        self.reads = 0
        self.timers: list[Any] = []
        deadline = self

        def monotonic() -> float:
            deadline.reads += 1
            return deadline.now

        class Timer:
            def __init__(self, interval: float, function: Any, args: Any) -> None:
                self.interval, self.function, self.args = interval, function, args
                self.daemon = False
                self.started = self.cancelled = False
                deadline.timers.append(self)

            def start(self) -> None:
                self.started = True

            def cancel(self) -> None:
                self.cancelled = True

            def fire(self) -> None:
                self.function(*self.args)

        monkeypatch.setattr(ws, "time", types.SimpleNamespace(monotonic=monotonic))
        monkeypatch.setattr(ws, "threading", types.SimpleNamespace(Timer=Timer))


def test_the_watchdog_is_set_for_the_time_left_and_cancelled_after_the_answer(
    monkeypatch: pytest.MonkeyPatch, receivers: list[Receiver]
) -> None:
    deadline = Deadline(monkeypatch)
    receiver = _receiver(receivers)
    real_connect = socket.socket.connect

    def slow_connect(sock: socket.socket, address: Any) -> None:
        deadline.now += 0.75  # the connection took 0.75 s of the 2.5
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", slow_connect)
    assert ws.post(receiver.url(), b"{}", {}, 2.5, ()) == (204, None)
    [timer] = deadline.timers
    assert timer.interval == pytest.approx(1.75)
    assert timer.daemon is True and timer.started and timer.cancelled
    assert timer.function is ws._shutdown


def test_a_watchdog_past_its_time_waits_no_longer(
    monkeypatch: pytest.MonkeyPatch, receivers: list[Receiver]
) -> None:
    deadline = Deadline(monkeypatch)
    receiver = _receiver(receivers)
    real_connect = socket.socket.connect

    def slow_connect(sock: socket.socket, address: Any) -> None:
        deadline.now += 3.0  # past the deadline, yet connected
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", slow_connect)
    assert ws.post(receiver.url(), b"{}", {}, 2.0, ()) == (204, None)
    assert deadline.timers[0].interval == 0.0


def test_the_connect_gets_the_time_left_of_one_deadline(
    monkeypatch: pytest.MonkeyPatch,
    sockets: Callable[[Lookups], Sockets],
    receivers: list[Receiver],
) -> None:
    deadline = Deadline(monkeypatch)
    receiver = _receiver(receivers)
    fake = sockets(Lookups([("127.0.0.1", _closed_port()), ("127.0.0.1", receiver.port)]))
    real_connect = socket.socket.connect

    def slow_connect(sock: socket.socket, address: Any) -> None:
        deadline.now += 1.5
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", slow_connect)
    assert ws.post(f"http://rebound.test:{receiver.port}/in", b"{}", {}, 4.0, ()) == (
        204,
        None,
    )
    assert fake.timeouts == [4.0, 2.5]  # the second address gets what the first left
    assert deadline.timers[0].interval == pytest.approx(1.0)


@pytest.mark.parametrize("spent", [2.0, 2.5])
def test_no_connection_is_tried_once_the_deadline_has_passed(
    monkeypatch: pytest.MonkeyPatch, sockets: Callable[[Lookups], Sockets], spent: float
) -> None:
    deadline = Deadline(monkeypatch)
    lookups = Lookups([("127.0.0.1", _closed_port()), ("127.0.0.1", _closed_port())])
    fake = sockets(lookups)
    real_connect = socket.socket.connect

    def slow_connect(sock: socket.socket, address: Any) -> None:
        deadline.now += spent
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", slow_connect)
    assert ws.post("http://rebound.test/in", b"{}", {}, 2.0, ()) == (None, "timed out after 2 s")
    assert len(fake.connected) == 1  # the second address is not tried


def test_an_answer_cut_off_by_the_watchdog_is_a_timeout(
    monkeypatch: pytest.MonkeyPatch, receivers: list[Receiver]
) -> None:
    deadline = Deadline(monkeypatch)

    def at_the_deadline() -> None:  # the receiver holds the answer until the deadline
        deadline.now += 1.5
        deadline.timers[0].fire()

    receiver = _receiver(receivers, b"", hold=True, on_request=at_the_deadline)
    assert ws.post(receiver.url(), b"{}", {}, 1.5, ()) == (None, "timed out after 1.5 s")


def test_a_receiver_that_hangs_up_before_the_deadline_gave_no_http_answer(
    monkeypatch: pytest.MonkeyPatch, receivers: list[Receiver]
) -> None:
    Deadline(monkeypatch)
    receiver = _receiver(receivers, b"")
    assert ws.post(receiver.url(), b"{}", {}, 1.5, ()) == (
        None,
        "no HTTP answer (RemoteDisconnected)",
    )


def test_an_answer_that_is_no_http_is_said_so(receivers: list[Receiver]) -> None:
    receiver = _receiver(receivers, b"SSH-2.0-OpenSSH_9.6\r\n")
    assert ws.post(receiver.url(), b"{}", {}, BOUND, ()) == (None, "no HTTP answer (BadStatusLine)")


def test_only_the_head_of_a_long_answer_is_read(
    monkeypatch: pytest.MonkeyPatch, receivers: list[Receiver]
) -> None:
    """64 KiB of an answer announced longer are read, and then the mock hangs up: it waits
    for no more (the receiver holds the rest until the test ends)."""
    Deadline(monkeypatch)
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"
    receiver = _receiver(receivers, head + b"x" * (64 * 1024), hold=True)
    assert ws.post(receiver.url(), b"{}", {}, 1.0, ()) == (200, None)


def test_https_is_spoken_to_an_https_url(receivers: list[Receiver]) -> None:
    receiver = _receiver(receivers, b"HTTP/1.1 400 Bad Request\r\n\r\n", read=False)
    status, error = ws.post(f"https://127.0.0.1:{receiver.port}/in", b"{}", {}, BOUND, ())
    assert status is None and error is not None
    assert error.startswith("TLS: ") and error != "TLS: SSLError", error


def test_a_tls_receiver_is_checked_against_the_host_name(
    monkeypatch: pytest.MonkeyPatch, receivers: list[Receiver]
) -> None:
    seen: list[Any] = []
    real = ssl.create_default_context

    def recording() -> ssl.SSLContext:
        context = real()
        wrap = context.wrap_socket

        def wrap_socket(sock: socket.socket, **kwargs: Any) -> ssl.SSLSocket:
            seen.append(kwargs)
            return wrap(sock, **kwargs)

        context.wrap_socket = wrap_socket  # type: ignore[method-assign]
        return context

    monkeypatch.setattr(ssl, "create_default_context", recording)
    receiver = _receiver(receivers, b"", read=False)
    status, _ = ws.post(f"https://localhost:{receiver.port}/in", b"{}", {}, BOUND, ())
    assert status is None and seen == [{"server_hostname": "localhost"}]


# ---------------------------------------------------------------------- the words


@pytest.mark.parametrize(
    ("exc", "why"),
    [
        (TimeoutError(), "timed out after 2.5 s"),
        (TimeoutError("timed out"), "timed out after 2.5 s"),
        (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
        (
            ConnectionResetError(104, "Connection reset by peer"),
            "no HTTP answer (ConnectionResetError)",
        ),
        (BrokenPipeError(32, "Broken pipe"), "no HTTP answer (BrokenPipeError)"),
        (OSError(113, "No route to host"), "No route to host"),
        (OSError(), "OSError"),
        (ValueError("odd"), "ValueError"),
    ],
)
def test_why_an_attempt_got_no_answer(exc: BaseException, why: str) -> None:
    assert ws._why(exc, 2.5) == why


def test_why_a_tls_attempt_failed() -> None:
    named = ssl.SSLError(1, "[SSL] record layer failure")
    named.reason = "RECORD_LAYER_FAILURE"  # as _ssl.c sets it
    assert ws._why(named, 1.0) == "TLS: RECORD_LAYER_FAILURE"
    unnamed = ssl.SSLEOFError(8, "EOF")
    unnamed.reason = None
    assert ws._why(unnamed, 1.0) == "TLS: SSLEOFError"


def test_why_an_http_answer_was_unreadable() -> None:
    import http.client

    assert ws._why(http.client.BadStatusLine("x"), 1.0) == "no HTTP answer (BadStatusLine)"
    assert ws._why(http.client.RemoteDisconnected(), 1.0) == "no HTTP answer (RemoteDisconnected)"


def test_a_timeout_is_shown_in_its_shortest_form() -> None:
    assert ws._why(TimeoutError(), 10.0) == "timed out after 10 s"
    assert ws._why(TimeoutError(), 0.25) == "timed out after 0.25 s"


@pytest.mark.parametrize(
    ("host", "expected"),
    [("127.0.0.1", True), ("[::1]", True), ("FD00::1", True), ("localhost", False), ("", False)],
)
def test_what_is_an_address(host: str, expected: bool) -> None:
    assert ws._is_ip(host) is expected


def test_the_watchdog_shuts_a_socket_down_and_minds_no_closed_one() -> None:
    one, other = socket.socketpair()
    with one, other:
        ws._shutdown(one)
        assert other.recv(1) == b""  # the peer sees the end
        with pytest.raises(OSError):
            one.send(b"x")
    closed = socket.socket()
    closed.close()
    ws._shutdown(closed)  # nothing raised
