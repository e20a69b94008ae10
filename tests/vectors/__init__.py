"""Test vectors for docs/FORMAT.md and the helpers that make them reproducibly."""
