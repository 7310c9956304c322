"""The one error the pytest plugin raises (``mockserver.testing`` re-exports it).

A module of its own because both halves of the plugin raise it: ``testing`` (the mock's
fixtures) and ``pytest_record`` (recording), and ``testing`` loads ``pytest_record``."""


class MockError(AssertionError):
    """The mock failed in a way a test must see: an unexpected exception or a contract breach."""
