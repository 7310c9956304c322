"""A user's own files, read by every client: provider files (a contract with its
``x-sora-mock`` declaration, as ``sora-mock serve --provider`` serves) and a models file (as
``sora-mock serve --models`` reads; README.md, "Models files"). ``contracts`` does the reading;
a mistake becomes the client's ConfigurationError, naming the file, the place and the fix."""

from __future__ import annotations

import os

from sora_client._exceptions import ConfigurationError

#: the models file a client reads when none is given (README.md, "Models files")
MODELS_ENV = "SORA_CLIENT_MODELS"


def use_models_file(models: str | os.PathLike[str] | None) -> None:
    """Use a models file (``models=``, else ``$SORA_CLIENT_MODELS``; neither: the models in
    use stay as they are): the declared providers' create then accepts its models, as the mock
    given the same file does. A mistake is a ConfigurationError naming the file, the place
    and the fix."""
    path = models if models is not None else os.environ.get(MODELS_ENV) or None
    if path is None:
        return
    from contracts import ContractError, use_models

    try:
        use_models(os.fspath(path))
    except ContractError as exc:
        raise ConfigurationError(
            f"models file {exc.path}: at {exc.where or '/'}: {exc.message}"
        ) from None


#: provider files a client loads when it starts (separated as PATH is; README.md)
PROVIDERS_ENV = "SORA_CLIENT_PROVIDERS"


def use_provider_files() -> None:
    """Load the provider files ``$SORA_CLIENT_PROVIDERS`` names (``sora_client.add_provider``
    for each; one added already is nothing): ``SoraClient("<its prefix>")`` and the ``sora``
    command then drive it. A mistake is a ConfigurationError naming the file, the place and
    the fix."""
    from sora_client._providers import add_provider

    for path in os.environ.get(PROVIDERS_ENV, "").split(os.pathsep):
        if path.strip():
            add_provider(path.strip())
