"""`make mutate`: mutation testing (mutmut 3) of the modules where a silent bug costs most.

Each module is mutated on its own, in a scratch copy of the project under
``reports/mutation/<module>/``, and each mutant runs only the fast test files listed for that
module in ``MODULES`` (mutmut then narrows them further to the tests that reach the mutated
function). The summary (killed, survived, per module, and the surviving mutants' names) goes
to ``reports/mutation.md`` and ``reports/mutation.json``. Mutants listed in
``tests/mutation/equivalents.md`` are equivalent to the original (no test can tell them apart)
and are left out of the score.

    python tests/mutation/mutate.py [MODULE ...]    # default: every module in MODULES
    python tests/mutation/mutate.py --resume MODULE # go on where an interrupted run stopped
    python tests/mutation/mutate.py --resume MODULE --mutants '*ǁ_wait_chat*'  # (re)check some

Not part of `make test`: a full run takes tens of minutes on two cores. A big module can be run
in chunks: ``--mutants`` takes mutmut's name patterns (fnmatch over names like
``sora_client._core.xǁCoreǁ_wait_chat__mutmut_7`` and ``sora_client._core.x__forward__mutmut_2``)
and checks only the mutants they match, again even if they have a result. Write a pattern that
also matches the function's own name (``'*ǁ_wait_chat*'``, ``'*.x__forward*'``, not
``'*_wait_chat__mutmut_*'``): mutmut picks the tests to run by it. With ``--resume`` the scratch
copy is kept, so the results of earlier chunks stay and the summary counts every mutant checked
so far (the rest as unchecked). ``--resume`` refreshes the scratch copy's tests first, so a
chunk runs against the tests as they are now (a change to a module's list of test files makes
mutmut start that module over).

The habit after a change: ``--since COMMIT`` (``make mutate SINCE=COMMIT``) mutates only the
functions and methods the change touched. ``git diff`` from where the branch left COMMIT
(``git merge-base``, BASE) to the working tree, committed or not, is read hunk by hunk; each
added line is placed in the function of the new source that holds it and each removed line in
the function of the old source (``git show BASE:path``) that held it, and every such function
mutmut mutates (top-level functions and methods of top-level classes, not decorated ones
other than ``@staticmethod``/``@classmethod``) becomes a
pair of patterns. Modules of ``MODULES`` with no changed function are skipped:

    python tests/mutation/mutate.py --since main                # every changed module
    python tests/mutation/mutate.py --since HEAD~3 --dry-run     # only list the functions
    python tests/mutation/mutate.py --since main --resume mockserver/state/clock.py
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "reports"
EQUIVALENTS = ROOT / "tests" / "mutation" / "equivalents.md"
#: what a mutated copy needs besides the sources (mutmut copies the sources itself); the
#: README too, which some tests read (``ALSO_COPY``: mutmut copies it on into ``mutants/``)
COPY = ["mockserver", "sora_client", "contracts", "tests", "pyproject.toml", "README.md"]
#: files outside the sources and tests that mutmut must copy into the copy it runs the tests in:
#: without the README, ``tests/test_readme_defaults.py`` failed mutmut's first (stats) run, and
#: every mutant of ``cli.py`` went unchecked
ALSO_COPY = ["README.md"]
TARGET = 0.85

_MEDIA_TESTS = [
    "tests/test_media_cache_tiers.py",
    "tests/test_render_process_deaths.py",
    "tests/test_data_url_refusals.py",
    "tests/test_media.py",
    "tests/test_media_loop.py",
]

#: module -> the fast test files that guard it (no live, no schemathesis, no video-heavy files,
#: and none that talk to a server thread started once per session: mutmut runs each mutant in a
#: fork of one warm pytest process, and a fork has no copy of that thread, so the test hangs)
MODULES: dict[str, list[str]] = {
    "mockserver/state/lifecycle.py": [
        "tests/test_lifecycle_rules.py",
        "tests/test_mock_scenarios.py",
        "tests/test_expiry.py",
    ],
    "mockserver/state/faults.py": [
        "tests/test_faults.py",
        "tests/test_mock_scenarios.py",
        "tests/test_mock_fidelity.py",
    ],
    "sora_client/_retry.py": ["tests/test_retry_policy.py", "tests/test_client_retries.py"],
    "sora_client/_images.py": ["tests/test_client_images.py"],
    "mockserver/state/store.py": [
        "tests/test_store_behaviour.py",
        "tests/test_store_read_instant.py",
        "tests/test_store_journal.py",
        "tests/test_mock_store.py",
        "tests/test_store_scale.py",
        "tests/test_faults.py",
        "tests/test_mock_scenarios.py",
    ],
    # worktree mutstore (2026-12-07): the store's parts, each against the in-process files
    # that reach it (no served server; test_mock_store.py's two subprocess tests, 4 s, left
    # out: test_store_changes.py has another process write the same file)
    "mockserver/state/store_interface.py": [
        "tests/test_store_behaviour.py",
        "tests/test_store_contract.py",
        "tests/test_store_scale.py",
        "tests/test_redis_store_outages_and_sharing.py",
        "tests/test_faults.py",
    ],
    "mockserver/state/store_memory.py": [
        "tests/test_store_behaviour.py",
        "tests/test_store_contract.py",
        "tests/test_store_scale.py",
        "tests/test_redis_store_outages_and_sharing.py",
        "tests/test_faults.py",
    ],
    "mockserver/state/store_sqlite.py": [
        "tests/test_store_sqlite_rules.py",
        "tests/test_store_settings_memo.py",
        "tests/test_store_expiry_sweep.py",
        "tests/test_store_behaviour.py",
        "tests/test_store_contract.py",
        "tests/test_store_scale.py",
        "tests/test_redis_store_outages_and_sharing.py",
        "tests/test_faults.py",
        "tests/test_store_read_instant.py",
        "tests/test_store_changes.py",
        "tests/test_store_writes.py",
        "tests/test_store_group_commit.py",
        "tests/test_store_sqlite_reads.py",
    ],
    "mockserver/state/store_sqlite_memory.py": [
        "tests/test_store_sqlite_reads.py",
        "tests/test_store_settings_memo.py",
        "tests/test_store_read_instant.py",
        "tests/test_store_sqlite_rules.py",
    ],
    "mockserver/state/stores.py": [
        "tests/test_store_specs.py",
        "tests/test_store_behaviour.py",
        "tests/test_mock_store.py",
    ],
    "mockserver/state/store_writers.py": [
        "tests/test_store_writers_rules.py",
        "tests/test_store_settings_memo.py",
        "tests/test_store_expiry_sweep.py",
        "tests/test_store_behaviour.py",
        "tests/test_store_contract.py",
        "tests/test_store_read_instant.py",
        "tests/test_store_changes.py",
        "tests/test_store_writes.py",
        "tests/test_store_group_commit.py",
    ],
    "contracts/_validation.py": [
        "tests/test_validation_adapters.py",
        "tests/test_compiled_validation.py",
        "tests/test_contracts.py",
        "tests/test_mock_bad_input.py",
        "tests/test_contract_surface.py",
        "tests/test_client_requests.py",
        "tests/test_mock_chat.py",
        "tests/test_mock_fidelity.py",
    ],
    "mockserver/http/binding.py": [
        "tests/test_binding_steps.py",
        "tests/test_mock_binding.py",
        "tests/test_lane.py",
        "tests/test_mock_bad_input.py",
        "tests/test_mock_scenarios.py",
        "tests/test_contract_surface.py",
        "tests/test_mock_chat.py",
        "tests/test_mock_fidelity.py",
    ],
    "sora_client/_core.py": [
        "tests/test_client_mock.py",
        "tests/test_client_responses.py",
        "tests/test_client_retries.py",
        "tests/test_client_requests.py",
        "tests/test_client_operations.py",
        "tests/test_client_operations_answers.py",
        "tests/test_client_hardening.py",
        "tests/test_client_secrets.py",
        "tests/test_client_chat_flow.py",
        "tests/test_client_core_flows.py",
    ],
    "contracts/_sse.py": [
        "tests/test_event_stream_checks.py",
        "tests/test_validation_adapters.py",
    ],
    "sora_client/_sse.py": ["tests/test_sse_decoding.py"],
    "contracts/_loader.py": [
        "tests/test_contract_loading.py",
        "tests/test_validation_adapters.py",
        "tests/test_contracts.py",
    ],
    "mockserver/state/clock.py": ["tests/test_virtual_clock.py"],
    "mockserver/http/lane.py": [
        "tests/test_poll_lane_routes.py",
        "tests/test_lane.py",
        "tests/test_create_lane.py",
    ],
    "mockserver/state/journal.py": [
        "tests/test_journal_background_writes.py",
        "tests/test_journal_writer.py",
    ],
    "sora_client/_providers/gptproto_chat.py": [
        "tests/test_gptproto_chat_adapter.py",
        "tests/test_client_chat_flow.py",
        "tests/test_client_requests.py",
        "tests/test_client_responses.py",
    ],
    "mockserver/providers/errors.py": ["tests/test_provider_error_shapes.py"],
    "mockserver/media/renders.py": ["tests/test_renders.py", "tests/test_render_queue.py"],
    # round A of 2026-12-07
    "mockserver/settings/_help.py": ["tests/test_help_style.py", "tests/test_help_defaults.py"],
    "mockserver/settings/envconfig.py": [
        "tests/test_envconfig.py",
        "tests/test_env_variable_rules.py",
    ],
    "sora_client/_decoding.py": [
        "tests/test_client_bounds.py",
        "tests/test_content_encoding_rules.py",
    ],
    "mockserver/conformance/redaction.py": [
        "tests/test_verify.py",
        "tests/test_proxy_secrets.py",
        "tests/test_redaction_rules.py",
    ],
    "mockserver/http/hints.py": ["tests/test_hints_openai.py", "tests/test_not_found_hints.py"],
    "mockserver/http/hosts.py": ["tests/test_admin_security.py", "tests/test_own_urls.py"],
    # mutation round B (2026-12-07)
    "mockserver/providers/base.py": [
        "tests/test_dialect_keys_and_images.py",
        "tests/test_gptproto_v3_prediction_answers.py",
        "tests/test_vtrix_task_answers.py",
        "tests/test_provider_error_shapes.py",
    ],
    "mockserver/providers/gptproto_chat.py": [
        "tests/test_chat_completion_answers.py",
        "tests/test_mock_chat.py",
    ],
    # the modules the 2026-12-07 change touched without a row (measured by --since)
    "mockserver/cli.py": [
        "tests/test_serve_command_line.py",
        "tests/test_help_style.py",
        "tests/test_help_defaults.py",
        "tests/test_readme_defaults.py",
        "tests/test_env_variable_rules.py",
    ],
    "mockserver/settings/config.py": ["tests/test_readme_defaults.py", "tests/test_help_style.py"],
    "mockserver/http/console.py": [
        "tests/test_console_lines.py",
        "tests/test_console_columns.py",
        "tests/test_console_writer.py",
    ],
    # mockserver/media.py until it became a package (worktree mut22): each module against the
    # test files the one module had (mutmut narrows them to the tests that reach each function)
    "mockserver/media/__init__.py": _MEDIA_TESTS,
    "mockserver/media/_lazy.py": _MEDIA_TESTS,
    "mockserver/media/images.py": _MEDIA_TESTS,
    "mockserver/media/pictures.py": _MEDIA_TESTS,
    "mockserver/media/encoding.py": _MEDIA_TESTS,
    "mockserver/media/stills.py": _MEDIA_TESTS,
    "mockserver/media/render_process.py": _MEDIA_TESTS,
    "mockserver/media/cache.py": _MEDIA_TESTS,
    # worktree mutproxy (2026-12-07): the proxy, its exchange checks, bounds and recorder
    "mockserver/conformance/validation.py": [
        "tests/test_exchange_drift.py",
        "tests/test_sse_multiline.py",
    ],
    "mockserver/conformance/bounds.py": ["tests/test_proxy_limits.py"],
    "mockserver/conformance/recorder.py": [
        "tests/test_recorded_cassettes.py",
        "tests/test_recorder_media.py",
    ],
    "mockserver/conformance/proxy.py": [
        "tests/test_proxy_forwarding.py",
        "tests/test_proxy_streams_and_files.py",
    ],
    # mutclient: the client's remaining modules (2026-12-07); _flow.py and sora_client/__init__.py
    # have no function mutmut mutates (dataclasses, re-exports) and no entry
    "sora_client/_providers/__init__.py": ["tests/test_provider_lookup.py"],
    "sora_client/_models.py": ["tests/test_timestamp_reading.py"],
    "sora_client/_exceptions.py": ["tests/test_error_messages.py"],
    "sora_client/_providers/base.py": [
        "tests/test_adapter_requests.py",
        "tests/test_provider_error_kinds.py",
        "tests/test_job_body_reading.py",
        "tests/test_openai_videos_adapter.py",
        "tests/test_vtrix_adapter.py",
        "tests/test_gptproto_v3_adapter.py",
        "tests/test_gptproto_chat_adapter.py",
    ],
    # the `sora` command: a fake provider in-process (test_client_cli.py also talks to a mock
    # server thread started once per session, which hangs in mutmut's fork)
    "sora_client/cli.py": ["tests/test_sora_command.py", "tests/test_client_cli_operations.py"],
    "sora_client/_client.py": [
        "tests/test_client_setup.py",
        "tests/test_client_drivers.py",
        "tests/test_client_core_flows.py",
        "tests/test_client_chat_flow.py",
        "tests/test_client_bounds.py",
    ],
    # mutverify (mutation round C, 2026-12-07): sora-mock verify and the pytest plugin
    "mockserver/conformance/results.py": ["tests/test_verify_outcomes.py"],
    "mockserver/conformance/providers.py": ["tests/test_verify_providers.py"],
    "mockserver/conformance/commands.py": ["tests/test_proxy_and_cassettes_commands.py"],
    "mockserver/conformance/reports.py": ["tests/test_verify_reports.py"],
    "mockserver/conformance/planning.py": ["tests/test_verify_plan.py"],
    "mockserver/conformance/verify_command.py": ["tests/test_verify_command_line.py"],
    "mockserver/verify.py": ["tests/test_verify_command_line.py"],
    "mockserver/conformance/verifier.py": [
        "tests/test_verify_runs.py",
        "tests/test_verify_command_line.py",
    ],
    "mockserver/testing.py": ["tests/test_mock_handle.py"],
    "mockserver/plugin/pytest_routing.py": ["tests/test_mock_handle.py"],
    # moved out of testing.py at 600 lines, with the parent-death signal (2026-12-07)
    "mockserver/plugin/redis_server.py": [
        "tests/test_redis_server_lifetime.py",
        "tests/test_redis_read_instant.py",
    ],
    # mutation round C, worktree mutserve (2026-12-07)
    "mockserver/http/dashboard/__init__.py": ["tests/test_dashboard_page.py"],
    "mockserver/http/serving.py": ["tests/test_serve_setup.py"],
    # mutstate (round C, 2026-12-07): the stores' own modules
    "mockserver/state/store_redis.py": [
        "tests/test_store_behaviour.py",
        "tests/test_redis_read_instant.py",
        "tests/test_redis_store_outages_and_sharing.py",
        "tests/test_store_webhooks_rules.py",
        "tests/test_redis_tracking.py",
    ],
    # a poll's Redis reads remembered until told (issue 25, 2026-12-07)
    "mockserver/state/redis_tracking.py": [
        "tests/test_redis_tracking.py",
        "tests/test_redis_read_instant.py",
    ],
    "mockserver/state/store_journal.py": [
        "tests/test_journal_files_per_worker.py",
        "tests/test_store_journal.py",
    ],
    "mockserver/state/store_guard.py": ["tests/test_store_outage_states.py"],
    "mockserver/media/media_store.py": [
        "tests/test_shared_media_budget_and_leases.py",
        "tests/test_redis_media.py",
    ],
    "mockserver/http/requests_log.py": [
        "tests/test_request_captures.py",
        "tests/test_create_hashes_once.py",  # a handler's digest reused (issue 25)
    ],
    "mockserver/state/metrics.py": ["tests/test_metrics_counting.py", "tests/test_metrics.py"],
    # mutation round C (2026-12-07), worktree mutcontracts: the contracts package
    "contracts/__init__.py": ["tests/test_contract_loading.py"],
    "contracts/_compiled.py": [
        "tests/test_compiled_request_rules.py",
        "tests/test_compiled_response_rules.py",
    ],
    "contracts/strategies.py": ["tests/test_schema_strategy_rules.py"],
    # mutation round C (worktree mutedge, 2026-12-07)
    "mockserver/state/_json.py": ["tests/test_json_out.py", "tests/test_json_answers_compact.py"],
    "mockserver/http/admin.py": ["tests/test_admin_answers.py", "tests/test_admin_rules.py"],
    "mockserver/http/_routing.py": ["tests/test_mock_url_building.py"],
    "mockserver/http/responses.py": [
        "tests/test_error_answers_per_dialect.py",
        "tests/test_json_responses.py",
    ],
    "mockserver/http/healthcheck.py": [
        "tests/test_container_health_check.py",
        "tests/test_health_check_failures.py",
    ],
    "mockserver/providers/__init__.py": ["tests/test_error_answers_per_dialect.py"],
    # not test_hardening.py: its test of the image probe's lock fails in mutmut's clean run
    "mockserver/http/guard.py": [
        "tests/test_request_edge.py",
        "tests/test_admin_security.py",
        "tests/test_multipart_edge_parse.py",
    ],
    "mockserver/http/exchange.py": ["tests/test_request_records.py"],
    "mockserver/http/app.py": ["tests/test_app_answers.py"],
    "mockserver/sample.py": ["tests/test_sample_image_picture.py"],
    "mockserver/media/remote.py": [
        "tests/test_remote_image_fetch.py",
        "tests/test_adversarial_remote.py",
    ],
    "mockserver/state/service.py": [
        "tests/test_mock_service_parts.py",
        "tests/test_admin_answers.py",
        "tests/test_render_crash.py",
    ],
    # mutation round C, worktree mutreplay (2026-12-07): conformance's replay side
    "mockserver/conformance/pointers.py": ["tests/test_json_pointers.py"],
    "mockserver/conformance/contract_map.py": ["tests/test_contract_questions.py"],
    "mockserver/conformance/evidence.py": ["tests/test_cassette_evidence.py"],
    "mockserver/conformance/cassettes.py": [
        "tests/test_cassette_files.py",
        "tests/test_cassette_evidence.py",
    ],
    "mockserver/plugin/pytest_record.py": ["tests/test_record_once_rules.py"],
    # the example a user copies (its own app functions, as a user would write them), run
    # through the suite's collector of it
    "mockserver/examples/test_record_once.py": ["tests/examples/test_record_once.py"],
    "mockserver/conformance/replay.py": ["tests/test_replay_answers.py"],
    "mockserver/conformance/__init__.py": ["tests/test_json_pointers.py"],
    # issue 26's first cut (2026-12-07): providers as data; measured in worktree mutdecl
    "contracts/_declaration.py": [
        "tests/test_declaration_rules.py",  # worktree mutdecl: the reader and engine, in process
        "tests/test_declared_providers.py",
        "tests/test_declaration_vocabulary.py",  # Vtrix's words
        "tests/test_list_order_places.py",  # _declaration_registry.place (declgv)
    ],
    "contracts/_pointers.py": ["tests/test_pointers_rules.py"],  # worktree mutuf
    # a declared job's template values, one place for a read's job and a webhook's body
    "mockserver/state/template_values.py": [
        "tests/test_job_values.py",
        "tests/test_declared_dialect_rules.py",
        "tests/test_webhooks_rules.py",
        "tests/test_vtrix_task_answers.py",
    ],
    "mockserver/providers/declared.py": [
        "tests/test_declared_dialect_rules.py",  # worktree mutdecl: every rule, in process
        "tests/test_create_hashes_once.py",
        "tests/test_declared_providers.py",
        "tests/test_vtrix_task_answers.py",  # Vtrix is served by it
        "tests/test_vtrix_create_refusals.py",
        "tests/test_gptproto_v3_prediction_answers.py",  # GPTProto v3 is served by it
        "tests/test_mock_fidelity.py",
    ],
    # worktree mutdecl: the adapter's in-process rules (a throwaway provider written in the
    # test), and the two seed APIs it drives
    "sora_client/_providers/declared.py": [
        "tests/test_declared_adapter_rules.py",
        "tests/test_vtrix_adapter.py",  # Vtrix is driven by it
        "tests/test_gptproto_v3_adapter.py",  # GPTProto v3 too
    ],
    # issue 26, gpt.ge's move (worktree declopenai): the OpenAI /v1/videos words; not measured
    # worktree mutparts: the words each reads, every refusal, in process
    "contracts/_declaration_roles.py": [
        "tests/test_declaration_roles_rules.py",
        "tests/test_declaration_vocabulary_openai_videos.py",
    ],
    "contracts/_declaration_answers.py": [
        "tests/test_declaration_answers_rules.py",
        "tests/test_declaration_vocabulary_openai_videos.py",
    ],
    "mockserver/providers/declared_roles.py": [
        "tests/test_declared_roles_dialect_rules.py",  # worktree mutparts: an app per test
        "tests/test_declaration_vocabulary_openai_videos.py",
        "tests/test_openai_videos_answers.py",  # gpt.ge is served by it
        "tests/test_gptproto_videos_answers.py",  # GPTProto /v1/videos too
    ],
    "sora_client/_providers/declared_roles.py": [
        "tests/test_declared_roles_adapter_rules.py",  # worktree mutparts: no server
        "tests/test_declaration_vocabulary_openai_videos.py",
        "tests/test_openai_videos_adapter.py",  # gpt.ge is driven by it
    ],
    # issue 26, GPTProto v3's move (worktree declv3): its words; measured in worktree mutv3,
    # each against in-process rules of its own first (then the whole-provider files it had)
    "contracts/_decl_answers.py": [
        "tests/test_decl_answers_rules.py",
        "tests/test_declaration_vocabulary_gptproto_v3.py",
    ],
    "contracts/_named_sizes.py": [
        "tests/test_named_sizes_rules.py",
        "tests/test_declaration_vocabulary_gptproto_v3.py",
        "tests/test_gptproto_v3_adapter.py",
    ],
    "mockserver/providers/declared_answers.py": [
        "tests/test_declared_answers_rules.py",
        "tests/test_declaration_vocabulary_gptproto_v3.py",
        "tests/test_gptproto_v3_prediction_answers.py",
    ],
    "sora_client/_providers/declared_sizes.py": [
        "tests/test_declared_sizes_rules.py",
        "tests/test_declaration_vocabulary_gptproto_v3.py",
        "tests/test_gptproto_v3_adapter.py",
    ],
    "sora_client/_providers/declared_envelope.py": [
        "tests/test_declared_envelope_rules.py",
        "tests/test_declaration_vocabulary_gptproto_v3.py",
        "tests/test_gptproto_v3_adapter.py",
    ],
    # issue 26, a user's files (worktree userfiles), measured in worktree mutuf: each against
    # in-process rules of its own (tests/test_user_files.py starts a served server)
    "contracts/_usermodels.py": [
        "tests/test_usermodels_rules.py",
        "tests/test_usermodels_shared_prefix.py",  # a key that is a client name (declgv)
    ],
    "sora_client/_files.py": ["tests/test_client_files_rules.py"],
    "mockserver/plugin/pytest_files.py": ["tests/test_pytest_files_rules.py"],
    "mockserver/plugin/mock_error.py": ["tests/test_pytest_files_rules.py"],  # a class, no function
    # worktree mutwh (2026-12-07): the webhooks, in-process (tests/test_webhooks.py starts
    # receiver and dispatcher threads, two workers and a served server: not per mutant)
    "mockserver/http/webhooks.py": ["tests/test_webhooks_rules.py"],
    "mockserver/http/webhook_sending.py": ["tests/test_webhook_sending_rules.py"],
    "mockserver/state/store_webhooks.py": ["tests/test_store_webhooks_rules.py"],
}

#: issue 26, item 6 (worktree house): a module split out of a bigger one runs against the test
#: files of the module it left (its functions moved unchanged); the parts each take a few
#: functions the tests of a neighbour also reach
_PARTS = {
    "contracts/_document.py": "contracts/_loader.py",
    "contracts/_results.py": "contracts/_compiled.py",
    "contracts/_schemas.py": "contracts/_compiled.py",
    "contracts/_parameters.py": "contracts/_compiled.py",
    "contracts/_bodies.py": "contracts/_compiled.py",
    "contracts/_strategy_state.py": "contracts/strategies.py",
    "contracts/_schema_strategies.py": "contracts/strategies.py",
    "mockserver/conformance/proxy_config.py": "mockserver/conformance/proxy.py",
    "mockserver/conformance/proxy_headers.py": "mockserver/conformance/proxy.py",
    "mockserver/conformance/proxy_answers.py": "mockserver/conformance/proxy.py",
    "mockserver/conformance/replay_cassettes.py": "mockserver/conformance/replay.py",
    "sora_client/_exchanges.py": "sora_client/_core.py",
    "sora_client/_waiting.py": "sora_client/_core.py",
    "sora_client/_downloads.py": "sora_client/_core.py",
    "sora_client/_base_client.py": "sora_client/_client.py",
    "contracts/_declaration_types.py": "contracts/_declaration.py",
    "contracts/_declaration_reader.py": "contracts/_declaration.py",
    "contracts/_declaration_values.py": "contracts/_declaration.py",
    "contracts/_declaration_registry.py": "contracts/_declaration.py",
    "contracts/_declaration_bodies.py": "contracts/_declaration.py",
}
for _part, _whole in _PARTS.items():
    MODULES[_part] = list(MODULES[_whole])
# what moved into a module that had its own files: the journal entry (from service.py), the
# 503 of a store outage (from app.py)
MODULES["mockserver/state/journal.py"].append("tests/test_mock_service_parts.py")
MODULES["mockserver/http/responses.py"].append("tests/test_app_answers.py")
# issue 25: the compiled templates (checked against fill), and the groups' names
MODULES["contracts/_declaration_values.py"].append("tests/test_compiled_templates.py")
MODULES["mockserver/providers/declared_roles.py"].append("tests/test_job_values.py")
MODULES["mockserver/providers/declared_answers.py"].append("tests/test_job_values.py")


#: ``@@ -a[,b] +c[,d] @@`` of a unified diff
HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def diff_lines(diff: str) -> dict[str, tuple[str | None, set[int], set[int]]]:
    """Per file of a unified diff (``git diff -U0``), by its new path: (its old path or None
    for a new file, the old lines removed, the new lines added)."""
    found: dict[str, tuple[str | None, set[int], set[int]]] = {}
    old_path: str | None = None
    current: tuple[str | None, set[int], set[int]] | None = None
    for line in diff.splitlines():
        if line.startswith("--- "):
            name = line[4:].strip()
            old_path = None if name == "/dev/null" else name.removeprefix("a/")
            current = None
        elif line.startswith("+++ "):
            name = line[4:].strip()
            # a deleted file has no function left to mutate
            current = None if name == "/dev/null" else (old_path, set(), set())
            if current is not None:
                found[name.removeprefix("b/")] = current
        elif current is not None and (match := HUNK.match(line)):
            start_old, count_old, start_new, count_new = match.groups()
            count_o = 1 if count_old is None else int(count_old)
            count_n = 1 if count_new is None else int(count_new)
            current[1].update(range(int(start_old), int(start_old) + count_o))
            current[2].update(range(int(start_new), int(start_new) + count_n))
    return found


def _mutated_by_mutmut(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """mutmut leaves decorated functions alone, but for a lone staticmethod / classmethod."""
    if not node.decorator_list:
        return True
    (only, *rest) = node.decorator_list
    return not rest and isinstance(only, ast.Name) and only.id in ("staticmethod", "classmethod")


def function_spans(source: str) -> dict[str, tuple[int, int, bool]]:
    """mutmut's name of every top-level function and method of a top-level class
    (``x_name``, ``xǁClassǁname``) -> (first line, decorators included; last line; whether
    mutmut mutates it)."""
    spans: dict[str, tuple[int, int, bool]] = {}

    def add(node: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> None:
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        spans[name] = (first, node.end_lineno or node.lineno, _mutated_by_mutmut(node))

    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            add(node, f"x_{node.name}")
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    add(item, f"xǁ{node.name}ǁ{item.name}")
    return spans


def functions_at(source: str, lines: set[int]) -> set[str]:
    """The functions of ``source`` (mutmut's names) holding any of these lines."""
    return {
        name
        for name, (first, last, _) in function_spans(source).items()
        if any(first <= n <= last for n in lines)
    }


def changed_functions(
    diff: str, old_source: Callable[[str], str | None], new_source: Callable[[str], str | None]
) -> dict[str, list[str]]:
    """Per changed file: the functions a diff touched that mutmut mutates, in file order.

    A function counts when a line added to it (new source) or removed from it (old source)
    is in the diff and the function is still there afterwards; a function removed whole has
    no mutant left, a change outside every function (a constant, an import) none either."""
    changed: dict[str, list[str]] = {}
    for path, (old_path, removed, added) in diff_lines(diff).items():
        new = new_source(path)
        if new is None or not path.endswith(".py"):
            continue
        spans = function_spans(new)
        names = functions_at(new, added)
        old = old_source(old_path) if old_path is not None and removed else None
        if old is not None:
            names |= functions_at(old, removed) & spans.keys()
        kept = [n for n in spans if n in names and spans[n][2]]
        if kept:
            changed[path] = kept
    return changed


def patterns_for(module: str, names: list[str]) -> list[str]:
    """mutmut name patterns for these functions of a module: ``pkg.mod.x_f__mutmut_*`` picks
    their mutants and ``*pkg.mod.x_f`` the function itself (how mutmut picks the tests; a
    name without ``*`` must be a mutant's, and ``pkg.mod.x_f*`` would take ``x_f_other`` too)."""
    dotted = module.removesuffix(".py").replace("/", ".")
    patterns = []
    for name in names:
        patterns += [f"{dotted}.{name}__mutmut_*", f"*{dotted}.{name}"]
    return patterns


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)


def changed_since(commit: str, modules: list[str]) -> dict[str, list[str]]:
    """The functions of these modules changed since a commit (working tree included). The
    diff starts where this branch left the commit's history (``git merge-base``): with
    ``--since main`` on a branch, what others merged into main since is not this change."""
    base = _git("merge-base", commit, "HEAD")
    if base.returncode == 0:
        commit = base.stdout.strip()
    diff = _git("diff", "-U0", "--no-color", "--no-ext-diff", commit, "--", *modules)
    if diff.returncode != 0:
        raise SystemExit(f"git diff {commit}: {diff.stderr.strip()}")

    def old_source(path: str) -> str | None:
        shown = _git("show", f"{commit}:{path}")
        return shown.stdout if shown.returncode == 0 else None

    def new_source(path: str) -> str | None:
        file = ROOT / path
        return file.read_text() if file.is_file() else None

    return changed_functions(diff.stdout, old_source, new_source)


def equivalents() -> dict[str, str]:
    """``- `mutant_name`: reason`` lines of the equivalents file."""
    found = {}
    if EQUIVALENTS.exists():
        for line in EQUIVALENTS.read_text().splitlines():
            match = re.match(r"\s*[-*]\s*`([^`]+)`\s*:?\s*(.*)", line)
            if match:
                found[match.group(1)] = match.group(2)
    return found


#: mutmut with its wall-clock limit (half the CPU limit) stretched sixfold: at `nice -n 19` on
#: a shared machine a mutant that merely waits for a core outlives it and would count as an
#: endless loop ("timeout", scored as killed). The CPU-time limit, which waiting does not use up,
#: still stops a real loop; the wall limit is left for a mutant that hangs without using the CPU
#: (a lock another thread held when mutmut forked the test process).
#: And each forked mutant gets a fresh asgiref executor: `SyncToAsync.single_thread_executor`
#: (which serves the async client's in-process transport, `WsgiToAsgi`) is made at import with
#: one worker thread; a fork copies the executor but not its thread, so every async test hung.
#: The same for the remote-image fetcher's DNS pool (`mockserver.media.remote._resolver`): once the
#: parent resolved a name, a fork's pool believed it had its threads, and a lookup never ran.
BOOT = """
import os
import sys
from concurrent.futures import ThreadPoolExecutor
import mutmut.workers.isolation as isolation
wall = isolation.register_timeout
isolation.register_timeout = lambda pid, timeout_s: wall(pid, timeout_s * 6)


def fresh_executor():
    from asgiref.sync import SyncToAsync
    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
    remote = sys.modules.get("mockserver.media.remote")
    if remote is not None:  # its DNS pool: threads the parent started are not in the fork
        remote._resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sora-mock-dns")


os.register_at_fork(after_in_child=fresh_executor)
from mutmut.__main__ import cli
sys.argv[0] = "mutmut"
cli()
"""


def scratch_for(module: str, resume: bool = False) -> Path:
    work = REPORTS / "mutation" / module.replace("/", ".").removesuffix(".py")
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis", "*.pyc")
    if resume and (work / "mutants").is_dir():
        # mutmut checks only the mutants it has no result for (or those named); the tests are
        # taken as they are now (mutmut copies them on into mutants/), the sources as mutated
        # when the run began
        shutil.rmtree(work / "tests")
        shutil.copytree(ROOT / "tests", work / "tests", ignore=ignore)
        return _write_setup(work, module)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=ignore)
        else:
            shutil.copy2(src, work / name)
    return _write_setup(work, module)


def _write_setup(work: Path, module: str) -> Path:
    tests = [t for t in MODULES[module] if (ROOT / t).exists()]
    lines = [
        "[mutmut]",
        "source_paths =\n    mockserver\n    sora_client\n    contracts",
        f"only_mutate = {module}",
        "pytest_add_cli_args_test_selection =\n" + "".join(f"    {t}\n" for t in tests),
        "pytest_add_cli_args =\n    -p\n    no:cacheprovider\n    -x",
        "also_copy =\n" + "".join(f"    {name}\n" for name in ALSO_COPY),
        "use_git_change_detection = false",
        # a mutant times out past (estimate + constant) * multiplier * 2 s of CPU; see BOOT
        "timeout_multiplier = 1.0",
        "timeout_constant = 3.0",
        "",
    ]
    (work / "setup.cfg").write_text("\n".join(lines))
    return work


def run_module(
    module: str,
    max_children: int,
    resume: bool = False,
    report: bool = False,
    patterns: list[str] | None = None,
) -> dict[str, object]:
    env = os.environ | {"CI": "true", "PYTHONDONTWRITEBYTECODE": "1"}
    if report:  # only read the results an earlier run left in its scratch copy
        work = REPORTS / "mutation" / module.replace("/", ".").removesuffix(".py")
        if not (work / "mutants").is_dir():
            raise SystemExit(f"{module}: no earlier run under {work}")
        return summarize(module, work, env, code=None, elapsed=None)
    work = scratch_for(module, resume)
    started = time.monotonic()
    log = (work / "mutmut.log").open("w")
    # its own process group: an interrupted run takes every forked mutant with it (an endless
    # loop left behind would burn a core until its CPU limit)
    run = subprocess.Popen(
        [
            "nice",
            "-n",
            "19",
            sys.executable,
            "-c",
            BOOT,
            "run",
            "--max-children",
            str(max_children),
            *(patterns or []),
        ],
        cwd=work,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        code = run.wait()
    except BaseException:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        raise
    return summarize(module, work, env, code, time.monotonic() - started)


def summarize(
    module: str, work: Path, env: dict[str, str], code: int | None, elapsed: float | None
) -> dict[str, object]:
    mutmut = Path(sys.executable).with_name("mutmut")
    results = subprocess.run(
        [str(mutmut), "results", "--all", "true"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    statuses: dict[str, str] = {}
    for line in results.splitlines():
        name, sep, status = line.strip().partition(": ")
        if sep and "__mutmut_" in name:
            statuses[name] = status.strip()
    known = equivalents()
    unchecked = sum(1 for s in statuses.values() if s == "not checked")
    # a mutant no selected test reaches ("no tests") is a survivor too: nothing would catch it
    lost = ("survived", "no tests")
    survived = sorted(n for n, s in statuses.items() if s in lost and n not in known)
    # an equivalent mutant is out of the score whatever mutmut said: one that "timed out" only
    # hung in its fork (a lock held by another thread at fork time), no test can fail it
    equivalent = sorted(n for n, s in statuses.items() if n in known and s in (*lost, "timeout"))
    killed = sum(1 for n, s in statuses.items() if s == "killed" and n not in known)
    timeouts = sum(1 for n, s in statuses.items() if s == "timeout" and n not in known)
    # listed as equivalent, yet a test failed on it: the entry is wrong
    misfiled = sorted(n for n, s in statuses.items() if n in known and s == "killed")
    other = {s: 0 for s in statuses.values() if s not in ("killed", "timeout", *lost)}
    for s in statuses.values():
        if s in other:
            other[s] += 1
    killed += timeouts  # mutmut's convention: a test run that never ends has failed
    scored = killed + len(survived)
    return {
        "module": module,
        "mutmut_exit_code": code,
        "seconds": round(elapsed) if elapsed is not None else None,
        "mutants": len(statuses),
        "unchecked": unchecked,
        "killed": killed,
        "timeouts": timeouts,
        "survived": len(survived),
        "equivalent": len(equivalent),
        "other": other,
        "complete": unchecked == 0,
        "score": round(killed / scored, 4) if scored else None,
        "survivors": survived,
        "misfiled_equivalents": misfiled,
    }


def write_summary(rows: list[dict[str, object]]) -> None:
    REPORTS.mkdir(exist_ok=True)
    path = REPORTS / "mutation.json"
    old = {r["module"]: r for r in json.loads(path.read_text())} if path.exists() else {}
    for row in rows:  # a --report re-reads results: the run's time stays what it was
        if row["seconds"] is None and row["module"] in old:
            row["seconds"] = old[row["module"]].get("seconds")
    old.update({r["module"]: r for r in rows})
    merged = [old[m] for m in MODULES if m in old]
    path.write_text(json.dumps(merged, indent=2) + "\n")
    lines = [
        "# Mutation testing (mutmut 3)",
        "",
        f"Target: at least {TARGET:.0%} of non-equivalent mutants killed per module.",
        "",
        "Killed counts timeouts (a run that never ends fails), shown apart in brackets.",
        "",
        "| module | mutants | killed (timeouts) | survived | equivalent | other | score | time |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in merged:
        score = f"{r['score']:.1%}" if r["score"] is not None else "n/a"
        other = ", ".join(f"{k} {v}" for k, v in r["other"].items()) or "-"  # type: ignore[attr-defined]
        lines.append(
            f"| {r['module']} | {_checked(r)} | {r['killed']} ({r.get('timeouts', '?')}) "
            f"| {r['survived']} "
            f"| {r['equivalent']} | {other} | {score} | {r['seconds'] or '-'} s |"
        )
    for r in merged:
        if r.get("misfiled_equivalents"):
            lines += ["", f"## Listed as equivalent in {r['module']}, yet killed", ""]
            lines += [f"- `{n}`" for n in r["misfiled_equivalents"]]  # type: ignore[attr-defined]
        if r["survivors"]:
            lines += ["", f"## Survivors in {r['module']}", ""]
            lines += [f"- `{n}`" for n in r["survivors"]]  # type: ignore[attr-defined]
    (REPORTS / "mutation.md").write_text("\n".join(lines) + "\n")


def _checked(row: dict[str, object]) -> str:
    """``N``, or ``C of N checked`` while a chunked run is unfinished."""
    unchecked = int(row.get("unchecked") or 0)  # type: ignore[call-overload]
    total = int(row["mutants"])  # type: ignore[call-overload]
    return f"{total - unchecked} of {total} checked" if unchecked else str(total)


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the mutants' group goes too
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="paths as in MODULES (default: all)")
    parser.add_argument("--max-children", type=int, default=1)
    parser.add_argument(
        "--resume", action="store_true", help="finish an interrupted run in its scratch copy"
    )
    parser.add_argument(
        "--report", action="store_true", help="rewrite the summary from earlier runs, run nothing"
    )
    parser.add_argument(
        "--mutants",
        nargs="+",
        metavar="PATTERN",
        help="check only the mutants these mutmut name patterns match (one module at a time, "
        "named before --mutants: the patterns take every word after it)",
    )
    parser.add_argument(
        "--since",
        metavar="COMMIT",
        help="mutate only the functions changed since this commit (working tree included)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="with --since: list the functions, run nothing"
    )
    args = parser.parse_args()
    modules = args.modules or list(MODULES)
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {unknown}; known: {list(MODULES)}")
    if args.mutants and len(modules) != 1:
        parser.error("--mutants needs exactly one module")
    if args.since and (args.mutants or args.report):
        parser.error("--since picks the mutants itself: not with --mutants or --report")
    if args.dry_run and not args.since:
        parser.error("--dry-run goes with --since")
    patterns: dict[str, list[str] | None] = {m: args.mutants for m in modules}
    if args.since:
        patterns = _since_patterns(args.since, modules)
        if args.dry_run:
            return 0
    rows = []
    for module in modules:
        if module not in patterns:
            continue
        print(f"{'reading' if args.report else 'mutating'} {module} ...", flush=True)
        row = run_module(module, args.max_children, args.resume, args.report, patterns[module])
        rows.append(row)
        write_summary(rows)
        print(
            f"  {row['killed']} killed, {row['survived']} survived, "
            f"{row['equivalent']} equivalent, {row['unchecked']} unchecked, "
            f"score {row['score']}, {row['seconds']} s",
            flush=True,
        )
        if args.since:
            for name in row["survivors"]:  # type: ignore[attr-defined]
                print(f"  survived: {name}", flush=True)
        if crashed(row):
            print(
                f"  mutmut stopped with exit code {row['mutmut_exit_code']} (its log: "
                f"{REPORTS / 'mutation' / module.replace('/', '.').removesuffix('.py')}"
                "/mutmut.log): the figures above may be an earlier run's",
                flush=True,
            )
    print(f"summary: {REPORTS / 'mutation.md'}")
    return outcome(rows)


def crashed(row: dict[str, object]) -> bool:
    """Whether mutmut itself failed (it exits 0 whatever survived; ``--report`` runs none):
    its results are then what an earlier run left, and saying the module passed would be a
    green run that measured nothing."""
    return row["mutmut_exit_code"] not in (None, 0)


def outcome(rows: list[dict[str, object]]) -> int:
    """The command's exit code: 1 when a module is under ``TARGET``, has no score, or mutmut
    crashed on it."""
    failed = [
        r
        for r in rows
        if crashed(r) or r["score"] is None or float(r["score"]) < TARGET  # type: ignore[arg-type]
    ]
    return 1 if failed else 0


def _since_patterns(commit: str, modules: list[str]) -> dict[str, list[str] | None]:
    """The mutmut patterns of the functions changed since ``commit``, per module of
    ``modules`` that has any; says which changed source files no module measures."""
    changed = changed_since(commit, ["mockserver", "sora_client", "contracts"])
    found: dict[str, list[str] | None] = {}
    for module in modules:
        names = changed.get(module)
        if names:
            found[module] = patterns_for(module, names)
            print(f"{module}: {len(names)} changed function(s): {', '.join(names)}")
    for path in sorted(set(changed) - set(MODULES)):
        print(f"{path}: changed, but not in MODULES (not measured): {', '.join(changed[path])}")
    if not found:
        print(
            f"no function of {'the named modules' if modules != list(MODULES) else 'MODULES'} "
            f"changed since {commit}"
        )
    return found


if __name__ == "__main__":
    sys.exit(main())
