"""``sora-mock verify`` (kept importable here; the code lives in :mod:`mockserver.conformance`).

See :mod:`mockserver.conformance.planning` for what it sends, in what order, and
:mod:`mockserver.conformance.validation` for how each answer is judged.
"""

from mockserver.conformance.contract_map import TERMINAL_WORDS
from mockserver.conformance.planning import UNKNOWN_ID, RequestSpec
from mockserver.conformance.providers import PLACEHOLDER_KEY, PROVIDERS
from mockserver.conformance.redaction import REDACTED, Redactor, is_secret_name, redact
from mockserver.conformance.reports import junit_report, markdown_report, write_reports
from mockserver.conformance.results import (
    EXIT_NOT_VERIFIED,
    Blocker,
    CreateCapReached,
    Drift,
    Exchange,
    OperationResult,
    RunResult,
)
from mockserver.conformance.verifier import USER_AGENT, Verifier
from mockserver.conformance.verify_command import EXIT_CODES, add_parser, exit_code, main, run_args

__all__ = [
    "EXIT_CODES",
    "EXIT_NOT_VERIFIED",
    "Blocker",
    "exit_code",
    "PLACEHOLDER_KEY",
    "PROVIDERS",
    "REDACTED",
    "TERMINAL_WORDS",
    "UNKNOWN_ID",
    "USER_AGENT",
    "CreateCapReached",
    "Drift",
    "Exchange",
    "OperationResult",
    "Redactor",
    "RequestSpec",
    "RunResult",
    "Verifier",
    "add_parser",
    "junit_report",
    "main",
    "markdown_report",
    "redact",
    "run_args",
    "write_reports",
    "is_secret_name",
]
