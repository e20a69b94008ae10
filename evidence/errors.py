"""Errors the command line turns into one line of text and an exit code.

Every error a user can cause (a missing key file, a damaged evidence tree, the
wrong custodian key) is a :class:`BodycamError`: its message is a single line
that names the file and says what to do, and ``exit_code`` is what
``bodycam`` exits with, so the CLI never needs a traceback to explain itself.
"""

from __future__ import annotations

#: Exit codes shared by ``bodycam verify`` and ``bodycam export``.
EXIT_OK = 0
EXIT_INTEGRITY = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
#: Nothing tampered found, but no --device-pub pinned the device: its identity is not
#: established, so "intact" would mean only "consistent with whoever made it".
EXIT_UNPINNED = 4


class BodycamError(Exception):
    """Base of user-facing errors: one-line message plus an exit code."""

    exit_code: int = EXIT_USAGE

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        # One line, always: a message is printed as-is by the CLI.
        line = " ".join(str(message).split())
        super().__init__(line)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        """The one-line text for the user."""
        return str(self)


class KeyFileError(BodycamError):
    """A key file is missing, unreadable, of the wrong kind, or in the wrong place."""


class WrongKeyError(KeyFileError):
    """The custodian key given does not open this evidence."""


class EvidenceInputError(BodycamError):
    """The path given is not an evidence tree (missing, empty, unreadable)."""


class OutputExistsError(BodycamError):
    """An export would overwrite a file that already exists."""


class EvidenceFormatError(BodycamError):
    """A file does not follow docs/FORMAT.md; carries the file and byte offset."""

    exit_code = EXIT_INTEGRITY

    def __init__(self, message: str, *, path: str = "", offset: int | None = None,
                 kind: str = "malformed") -> None:
        self.path = path
        self.offset = offset
        self.kind = kind
        where = path
        if offset is not None:
            where = f"{path} at byte {offset}" if path else f"byte {offset}"
        super().__init__(f"{where}: {message}" if where else message)
        self.detail = " ".join(str(message).split())
