"""Collects an example shipped in the package (so it is installed, and runs in the suite):
`mockserver/examples/test_record_once.py`."""

from mockserver.examples.test_record_once import *  # noqa: F403
