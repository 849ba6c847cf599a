"""Older name of the スコア page: the page is the package :mod:`.scoring` (one module per tab)."""

from .scoring import *  # noqa: F403
from .scoring import __all__  # noqa: F401
