"""Errors of the importer. ``ImportRefused``: the file (or the mapping) was refused and nothing was imported."""

from __future__ import annotations

from ..errors import InputRefused

__all__ = ["ImportRefused"]


class ImportRefused(InputRefused):
    """A file that cannot be read, has no recognisable header, lacks a required column, or a mapping that does not
    fit the source type. ``message_ja`` says why, in Japanese; CLI exit 2; nothing is imported."""
