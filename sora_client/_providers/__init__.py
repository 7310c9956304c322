"""One adapter per provider API, named after it; ``PROVIDERS`` maps the client's provider ids
(``SoraClient("gptge")``) to them."""

from __future__ import annotations

import os

from contracts._decl_answers import client_name
from contracts._declaration import Mirrored
from sora_client._exceptions import ConfigurationError
from sora_client._providers.base import Adapter, CreateSpec
from sora_client._providers.declared import declared_adapter
from sora_client._providers.gptproto_chat import GptprotoChat

PROVIDERS: dict[str, type[Adapter]] = Mirrored(
    {cls.name: cls for cls in (GptprotoChat,)},
    lambda d: [(client_name(d), declared_adapter(d))],
)


def adapter_class(provider: str) -> type[Adapter]:
    try:
        return PROVIDERS[provider]
    except KeyError:
        known = ", ".join(PROVIDERS)
        raise ConfigurationError(f"unknown provider {provider!r}; known: {known}") from None


def add_provider(path: str | os.PathLike[str]) -> str:
    """Drive one more provider: a contract file with its ``x-sora-mock`` declaration (the file
    ``sora-mock serve --provider`` serves). Returns its name for ``SoraClient(name)``; a
    mistake is a ConfigurationError naming the file, the place and the fix."""
    from contracts import ContractError
    from contracts import add_provider as add

    try:
        return client_name(add(os.fspath(path)))
    except ContractError as exc:
        raise ConfigurationError(
            f"provider file {exc.path}: at {exc.where or '/'}: {exc.message}"
        ) from None


__all__ = ["PROVIDERS", "Adapter", "CreateSpec", "adapter_class", "add_provider"]
