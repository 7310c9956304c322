"""Examples of the pytest plugin (``mockserver.testing``), each a real test, installed with
the package so they can be read (and copied) from any install:

    python -c "import mockserver.examples, os; print(os.path.dirname(mockserver.examples.__file__))"

- ``test_sora_mock_fixture.py``: your httpx code against the mock in-process, on its clock;
- ``test_sora_mock_server_fixture.py``: the official ``openai`` package's ``create_and_poll``
  against the mock on a loopback port, finishing at once (its sleeps move the virtual clock);
- ``test_sora_respx_fixture.py``: httpx code hard-wired to a provider's real host, polling with
  ``time.sleep``, served by the mock through respx;
- ``test_sora_replay_fixture.py``: a recorded job replayed (``cassettes/``);
- ``test_record_once.py``: what the app sent, asserted; its traffic recorded once (through the
  proxy, with the provider's key) and replayed after (``cassettes/test_record_once__*/``);
- ``test_contract_strategies.py``: property tests from the contracts' own schemas.

The project's suite runs them from ``tests/examples/``, which imports each one.
"""
