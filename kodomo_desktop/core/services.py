"""``@service(permission)``: the one way a core service starts.

The decorated function's first argument is the :class:`~kodomo_desktop.core.workspace.Workspace`. Before a line of
the function runs, the wrapper

1. checks the permission (``ws.require``: a refusal is written to the access log and raises ``PermissionDenied``,
   so no service can read anything before its check — the order a reader of the function cannot get wrong);
2. notes the call in the diagnostic file log (core/logsetup.py: the service's name and the role, never arguments);
3. with ``session=True``, opens the database session and passes it as the keyword argument ``s`` (committed when the
   function returns, rolled back when it raises).

The access-log entry of a successful read or write stays the service's own (``ws.log(action, person_id, detail)``
with ids and counts): what to record differs per service. :data:`SERVICES` maps every decorated service to its
permission (the GUI's and the docs' list of who may do what).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from .roles import PERMISSIONS

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)

#: "module.function" → the permission it requires.
SERVICES: dict[str, str] = {}


def service(permission: str, *, what: str | None = None, session: bool = False) -> Callable[[F], F]:
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    def decorate(fn: F) -> F:
        name = f"{fn.__module__.removeprefix('kodomo_desktop.core.')}.{fn.__qualname__}"
        SERVICES[name] = permission

        @functools.wraps(fn)
        def wrapper(ws, *args, **kwargs):
            ws.require(permission, what=what or fn.__name__, person_id=kwargs.get("person_id"))
            log.debug("service %s (%s)", name, getattr(getattr(ws, "user", None), "role", "?"))
            if not session:
                return fn(ws, *args, **kwargs)
            with ws.session() as s:
                return fn(ws, *args, s=s, **kwargs)

        wrapper.permission = permission  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
