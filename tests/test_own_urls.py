"""Which URLs are the mock's own (mockserver/http/hosts.py `OwnHosts`): any loopback name on the
port it serves or the port the request named, the bind address, and the exact Host the request
came by; and which Host names it answers at all (`HostPolicy`) for the cases the admin tests
leave out: names under a reserved domain, a suffix with a final dot, a lone ``.``, non-text."""

from __future__ import annotations

import flask
import pytest

from mockserver.http.hosts import HostPolicy, OwnHosts, provider_hosts

app = flask.Flask(__name__)


def own(base_url: str, bind_host: str | None = None, server_port: str | None = None) -> OwnHosts:
    environ = {"SERVER_PORT": server_port} if server_port is not None else {}
    with app.test_request_context("/", base_url=base_url, environ_overrides=environ):
        return OwnHosts(flask.request, bind_host)


@pytest.mark.parametrize(
    "netloc",
    [
        "127.0.0.1:8000",
        "127.5.6.7:8000",
        "localhost:8000",
        "LOCALHOST.:8000",
        "app.localhost:8000",
        "APP.LOCALHOST:8000",
        "[::1]:8000",
        "0.0.0.0:8000",
        "[::]:8000",
        "MOCK.TEST:8000",
    ],
)
def test_every_loopback_name_on_the_served_port_is_own(netloc: str) -> None:
    assert netloc in own("http://mock.test:8000", server_port="8000")


@pytest.mark.parametrize(
    "netloc", ["127.0.0.1:8001", "example.com:8000", "10.1.2.3:8000", "localhost:99999", "[::1"]
)
def test_another_port_or_host_is_not_own(netloc: str) -> None:
    assert netloc not in own("http://mock.test:8000", server_port="8000")


def test_a_non_text_is_not_own() -> None:
    assert None not in own("http://mock.test:8000")


def test_the_bind_address_is_own() -> None:
    assert "10.1.2.3:8000" in own("http://mock.test:8000", bind_host="10.1.2.3")
    assert "[FD00::1]:8000" in own("http://mock.test:8000", bind_host="[fd00::1]")
    assert "Box.Lan:8000" in own("http://mock.test:8000", bind_host="box.lan")


def test_a_url_without_a_port_has_its_schemes_port() -> None:
    plain = own("http://mock.test")
    assert "localhost" in plain and "localhost:80" in plain and "localhost:443" not in plain
    assert "localhost:81" not in plain
    secure = own("https://mock.test")
    assert "localhost" in secure and "localhost:443" in secure and "localhost:80" not in secure
    assert "localhost:444" not in secure


def test_behind_a_proxy_both_the_named_and_the_served_port_are_own() -> None:
    via_proxy = own("http://mock.test:9000", server_port="8000")
    assert "localhost:9000" in via_proxy and "localhost:8000" in via_proxy
    assert "localhost:8001" not in via_proxy
    assert "localhost:8000" not in own("http://mock.test:9000", server_port="eighty")


def test_provider_hosts_are_read_once_each_from_the_contracts() -> None:
    specs: list[dict[str, object]] = [
        {"info": {"x-provider-base-url": "https://api.gpt.ge/v1"}},
        {"info": {"x-provider-base-url": "https://api.gpt.ge"}},
        {"info": "not an object"},
        {"info": {"x-provider-base-url": 5}},
        {"info": {"x-provider-base-url": "no host"}},
        {},
        {"info": {"x-provider-base-url": "https://Vtrix.example.com/model"}},
    ]
    assert provider_hosts(specs) == ("api.gpt.ge", "vtrix.example.com")


def test_any_name_under_a_reserved_domain_is_answered() -> None:
    policy = HostPolicy()
    assert "api.mock.test:8000" in policy and "a.b.example" in policy
    assert "mock.test.evil.com" not in policy


def test_a_domain_with_a_final_dot_still_covers_its_names() -> None:
    policy = HostPolicy(None, (".Corp.Lan.",))
    assert "corp.lan" in policy and "a.corp.lan" in policy and "corp.lan.evil" not in policy


def test_a_lone_dot_or_an_empty_name_allows_nothing_more() -> None:
    policy = HostPolicy(None, (".", ""))
    assert "evil.com" not in policy
    assert None not in policy
    assert policy.names == frozenset()


def test_a_one_letter_domain_covers_its_names() -> None:
    assert "a.q" in HostPolicy(None, (".q",))
