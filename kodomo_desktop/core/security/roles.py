"""Roles and permissions live in core/roles.py (vocabulary layer, so the log's describer can read the labels
without importing security); re-exported here for existing callers."""

from __future__ import annotations

from ..roles import PERMISSIONS as PERMISSIONS
from ..roles import ROLES as ROLES
from ..roles import permissions_of as permissions_of
from ..roles import role_has as role_has
