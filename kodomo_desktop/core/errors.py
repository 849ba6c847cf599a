"""Errors the user sees. Every one carries a Japanese message and the CLI exit code it maps to."""

from __future__ import annotations


class KodomoError(Exception):
    """Base of all errors shown to a user; ``message_ja`` is what the user reads."""

    exit_code = 1

    def __init__(self, message_ja: str, *, detail: str | None = None):
        super().__init__(message_ja)
        self.message_ja = message_ja
        self.detail = detail


class InputRefused(KodomoError):
    """The input (file, password, id) was refused and nothing was changed (CLI exit 2)."""

    exit_code = 2


class WrongPassword(InputRefused):
    pass


class PermissionDenied(InputRefused):
    """The signed-in user's role may not do this. Logged by Workspace.require."""


class NotFound(InputRefused):
    pass


class IntegrityFailure(KodomoError):
    """The database or its access log failed an integrity check (CLI exit 3)."""

    exit_code = 3
