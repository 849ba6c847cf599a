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
import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .roles import PERMISSIONS

if TYPE_CHECKING:
    from .workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)

#: "module.function" → the permission it requires.
SERVICES: dict[str, str] = {}


def service(
    permission: str, *, what: str | None = None, person: str | None = None, session: bool = False
) -> Callable[[F], F]:
    """``what`` names the service in a refusal's log entry (default: the function's name); it may hold ``{arg}``
    fields filled from the call's arguments (``"report {kind}"``). ``person`` names the argument whose value is the
    refusal entry's person id (``person="person_id"``)."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    def decorate(fn: F) -> F:
        name = f"{fn.__module__.removeprefix('kodomo_desktop.core.')}.{fn.__qualname__}"
        SERVICES[name] = permission
        label = what or fn.__name__
        signature = inspect.signature(fn) if person or "{" in label else None
        if person and signature is not None and person not in signature.parameters:
            raise TypeError(f"{name} has no argument {person!r}")

        @functools.wraps(fn)
        def wrapper(ws: Workspace, *args, **kwargs):
            about, person_id = label, None
            if signature is not None:
                bound = signature.bind(ws, *args, **kwargs)
                bound.apply_defaults()
                about = label.format(**bound.arguments) if "{" in label else label
                person_id = bound.arguments.get(person) if person else None
            ws.require(permission, what=about, person_id=person_id)
            log.debug("service %s (%s)", name, getattr(getattr(ws, "user", None), "role", "?"))
            if not session:
                return fn(ws, *args, **kwargs)
            with ws.session() as s:
                return fn(ws, *args, s=s, **kwargs)

        wrapper.permission = permission  # type: ignore[attr-defined]
        wrapper.service = name  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
