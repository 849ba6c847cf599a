"""Older name of the 個人情報保護 page: the page is the package :mod:`.governance` (one module per tab)."""

from .governance import *  # noqa: F403
from .governance import __all__  # noqa: F401
