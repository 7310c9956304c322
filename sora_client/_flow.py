"""The sans-I/O seam: client logic is written once as generators that yield these actions.

A flow (``Generator[Action, Any, T]``) never performs I/O. It yields an action and receives
its result: :class:`Send` -> ``httpx.Response``, :class:`Read` -> the next chunk of a streamed
body (``b""`` at its end), :class:`Sleep` / :class:`Close` / :class:`Keep` -> None,
:class:`Now` -> the client's clock, :class:`Notify` -> None after the callback ran. An
``httpx.HTTPError`` raised while performing an action is thrown back into the flow, which
decides (retry, translate, give up). ``SoraClient`` performs actions with blocking calls,
``AsyncSoraClient`` with awaits; neither holds any other logic.

(Flows do touch the local disk: reading a reference image, writing a download to its temp
file. That is the same code for both clients; only the network and the clock are actions.)
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import httpx

T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    request: httpx.Request
    #: keep the body unread: the flow reads it with Read and ends it with Close
    stream: bool = False
    #: False for creates: a redirect is the flow's decision, not httpx's
    follow_redirects: bool = True


@dataclass(frozen=True)
class Read:
    """The next chunk of the body, as soon as any bytes of it arrive (never waiting to fill a
    buffer: an event stream must be read line by line as it comes)."""

    response: httpx.Response
    #: True: bytes as sent (for Content-Length checks); False: content-decoded
    raw: bool = False


@dataclass(frozen=True)
class Close:
    response: httpx.Response


@dataclass(frozen=True)
class Keep:
    """Leave this streamed response open when the flow ends (chat mode: the job owns it)."""

    response: httpx.Response


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Now:
    pass


@dataclass(frozen=True)
class Notify:
    callback: Callable[[Any], object]
    value: Any


Action: TypeAlias = Send | Read | Close | Keep | Sleep | Now | Notify
Flow: TypeAlias = Generator[Action, Any, T]
