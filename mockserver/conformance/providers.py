"""The provider names the commands take, their contracts, keys and error shapes."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import contracts
from contracts._decl_answers import client_name
from contracts._declaration import Mirrored

#: provider name on the command line -> (contract name, environment variable of its key)
PROVIDERS: dict[str, tuple[str, str]] = Mirrored(
    {
        "gptproto-videos": ("gptproto-videos", "GPTPROTO_API_KEY"),
        "gptproto-chat": ("gptproto-chat", "GPTPROTO_API_KEY"),
    },
    lambda d: [(client_name(d), (d.contract, d.key_env))],
)
#: the key sent to a loopback base URL (the mock accepts any non-empty key) when none is set
PLACEHOLDER_KEY = "sk-sora-mock-placeholder"

ErrorBody = Callable[..., dict[str, Any]]


def contract_of(provider: str) -> contracts.Contract:
    return contracts.load(PROVIDERS[provider][0])


def provider_of(contract_name: str) -> str:
    return next(p for p, (c, _) in PROVIDERS.items() if c == contract_name)


def live_base_url(provider: str) -> str:
    return str(contract_of(provider).spec["info"].get("x-provider-base-url", ""))


def error_body(contract_name: str) -> ErrorBody:
    """The provider's own error shape: ``f(status, message, code=..., param=...)``."""
    from mockserver.providers import registered
    from mockserver.providers.errors import PREFIX_ERRORS

    dialect = registered()[contract_name]
    return PREFIX_ERRORS[dialect.prefix]


def is_loopback(url: str) -> bool:
    """True for http(s) URLs on 127.0.0.0/8, ::1 or localhost."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
