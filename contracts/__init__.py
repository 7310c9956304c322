"""The OpenAPI 3.1 contracts: the single source of truth for every provider API.

The mock server, the client's tests and ``sora-mock verify`` all load contracts through
:func:`load`, which checks each file once (spec validity, every ``$ref`` resolvable, every
link naming an existing operation) and caches it. A broken contract fails loudly with a
:class:`ContractError` naming the file and the JSON pointer of the fault.
"""

from contracts._declaration import Mirrored, add_provider, forget_provider
from contracts._loader import (
    CONTRACTS_DIR,
    Contract,
    ContractError,
    Operation,
    check_contract,
    load,
    load_all,
    load_path,
)
from contracts._loader import PROVIDER_CONTRACTS as _PYTHON_PROVIDERS
from contracts._usermodels import use_models
from contracts._validation import (
    ContractViolation,
    OpenAPIRequest,
    OpenAPIResponse,
    request_from_httpx,
    response_from_httpx,
)

#: contract name -> mock prefix, for every provider contract (Python dialects and declared ones)
PROVIDER_CONTRACTS = Mirrored(_PYTHON_PROVIDERS, lambda d: [(d.contract, d.prefix)])

__all__ = [
    "add_provider",
    "forget_provider",
    "CONTRACTS_DIR",
    "PROVIDER_CONTRACTS",
    "Contract",
    "ContractError",
    "ContractViolation",
    "OpenAPIRequest",
    "OpenAPIResponse",
    "Operation",
    "check_contract",
    "load",
    "load_all",
    "load_path",
    "request_from_httpx",
    "use_models",
    "response_from_httpx",
]
