"""What a client can observe, kept in the store: the service, the lifecycle, the
clock, faults, the journal, metrics; the stores (ARCHITECTURE.md, Layers)."""
