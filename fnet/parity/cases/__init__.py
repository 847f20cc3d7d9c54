"""Parity case definitions, one module per family; each registers itself on import."""
