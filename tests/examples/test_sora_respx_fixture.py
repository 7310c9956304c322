"""Collects an example shipped in the package (so it is installed, and runs in the suite):
`mockserver/examples/test_sora_respx_fixture.py`."""

from mockserver.examples.test_sora_respx_fixture import *  # noqa: F403
