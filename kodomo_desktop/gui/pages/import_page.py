"""Older name of the 取込 page: the page is the package :mod:`.importing` (one module per tab)."""

from .importing import *  # noqa: F403
from .importing import __all__  # noqa: F401
