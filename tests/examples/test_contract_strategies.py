"""Collects an example shipped in the package (so it is installed, and runs in the suite):
`mockserver/examples/test_contract_strategies.py`."""

from mockserver.examples.test_contract_strategies import *  # noqa: F403
