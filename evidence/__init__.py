"""The evidence format both sides share: bytes, keys and checks, no device state.

The device writes it (``recorder``); the evidence office reads it (``office``).
Neither imports the other; both import this package. docs/FORMAT.md specifies
every byte, and ``reader`` and ``check`` turn damaged or hostile bytes into
findings instead of exceptions.
"""
