"""Serve options: MockConfig, the SORA_MOCK_* variables, --help in one style
(ARCHITECTURE.md, Layers)."""
