"""The device daemon and the bodycam command line."""

__version__ = "0.1.0"
