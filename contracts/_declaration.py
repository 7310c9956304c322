"""A provider as data: the ``x-sora-mock`` block of its contract.

Everything that makes one async-job video API differ from another, and that JSON Schema does
not already say, is declared next to the schemas it points into (ARCHITECTURE.md, "Providers
as data"): the mock prefix and the real host, which operation creates, reads or downloads a
job, where a create's fields are (JSON pointers into the body, with a ``[key=value]`` step to
pick a list entry), the status words, the job's and the errors' bodies (templates), the
models with their sizes and durations, the failure and model-not-found answers.

This module is the one place other code imports a declaration's names from; they live in
modules by concept: ``_declaration_types`` (the words and the records), ``_declaration_reader``
(reading and checking a block: a mistake is a :class:`~contracts.ContractError` naming the
file, the JSON pointer of the mistake and the fix), ``_declaration_values`` (templates filled,
pointers followed), ``_declaration_registry`` (the declared providers, added and forgotten),
``_declaration_bodies`` (a create's body built). The mock's generic engine
(``mockserver/providers/declared.py``) serves a declaration; the client's
(``sora_client/_providers/declared.py``) drives it.
"""

from contracts._declaration_bodies import create_body
from contracts._declaration_reader import read
from contracts._declaration_registry import (
    _LISTENERS,
    Mirrored,
    _changed,
    add_provider,
    declarations,
    forget_provider,
)
from contracts._declaration_types import (
    _REF,
    DELETE_VALUES,
    ERROR_VALUES,
    JOB_VALUES,
    KEY,
    LIST_VALUES,
    MODEL_VALUE,
    MODELS_VALUES,
    ROLES,
    SIGNATURE_ALGORITHMS,
    SIGNATURE_VALUES,
    STATUSES,
    TERMINAL,
    WEBHOOK_VALUES,
    Answer,
    Declaration,
    Model,
    Role,
    Signature,
    Webhooks,
)
from contracts._declaration_values import (
    Compiled,
    compile_template,
    error_values,
    fill,
    pick,
    places,
)
from contracts._named_sizes import _SIZE

__all__ = [
    "DELETE_VALUES",
    "ERROR_VALUES",
    "JOB_VALUES",
    "KEY",
    "LIST_VALUES",
    "MODEL_VALUE",
    "MODELS_VALUES",
    "ROLES",
    "SIGNATURE_ALGORITHMS",
    "SIGNATURE_VALUES",
    "STATUSES",
    "TERMINAL",
    "WEBHOOK_VALUES",
    "_LISTENERS",
    "_REF",
    "_SIZE",
    "Answer",
    "Compiled",
    "Declaration",
    "Mirrored",
    "Model",
    "Role",
    "Signature",
    "Webhooks",
    "_changed",
    "add_provider",
    "compile_template",
    "create_body",
    "declarations",
    "error_values",
    "fill",
    "forget_provider",
    "pick",
    "places",
    "read",
]
