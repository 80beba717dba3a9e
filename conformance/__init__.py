"""The shared conformance suite (checks every registered method on every backend)."""
