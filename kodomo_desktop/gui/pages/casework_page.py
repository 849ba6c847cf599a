"""Older name of the 会議 page: the page is the package :mod:`.casework` (one module per tab)."""

from .casework import *  # noqa: F403
from .casework import __all__  # noqa: F401
