"""The pytest plugin's parts (``mockserver.testing`` is its entry point): cassettes
per test, files, routing of a provider's host, the mock's error (ARCHITECTURE.md, Layers)."""
