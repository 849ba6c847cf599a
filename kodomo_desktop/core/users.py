"""User management as the coordinator does it in the app (the 利用者 page) and the first start: add a school, staff
or auditor user with a temporary password that must be changed at first sign-in, remove, reset; change one's own
password. Key slots stay with :class:`~kodomo_desktop.core.workspace.Workspace` (``add_user``/``remove_user``);
this module adds the ``must_change_password`` flag; the password rules are the core's (storage.keys).

Every function checks ``users.manage`` through the Workspace, except the signed-in user's own flag and password.
"""

from __future__ import annotations

import secrets
import unicodedata
from typing import TYPE_CHECKING

from sqlalchemy import select

from . import workspace as W
from .errors import InputRefused, KodomoError
from .security.roles import ROLES
from .storage import keys as K
from .storage.models import AppUser

if TYPE_CHECKING:
    from .workspace import Workspace

# a temporary password is read aloud or copied onto paper: no 0/O, 1/l/I
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
ROLE_CHOICES = [r for r in ROLES if r != "coordinator"] + ["coordinator"]


def check_password(password: str) -> None:
    """The core's password rules (storage.keys): a Japanese InputRefused when a rule is broken."""
    K.check_password_rules(password)


def password_problem(password: str) -> str | None:
    """The rule a password breaks, in Japanese; None when it may be used."""
    try:
        check_password(password)
    except KodomoError as e:
        return e.message_ja
    return None


def temporary_password() -> str:
    """Twelve random letters and digits in three groups (about 60 bits), e.g. ``k7wq-m3za-p9tc``."""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


def _clean_name(name: str) -> str:
    n = unicodedata.normalize("NFKC", name or "").strip()
    if not n:
        raise InputRefused("利用者名を入力してください。")
    if len(n) > 80 or any(c.isspace() for c in n):
        raise InputRefused("利用者名は空白を含まない 80 文字以内にしてください。")
    return n


def _set_flag(ws: Workspace, name: str, value: bool) -> None:
    with ws.session() as s:
        u = s.scalar(select(AppUser).where(AppUser.name == name, AppUser.removed_at.is_(None)))
        if u is not None:
            u.must_change_password = value


def list_users(ws: Workspace) -> list[dict]:
    """The users still registered: name, role and its Japanese label, school, last sign-in, must_change."""
    rows = ws.list_users()  # checks users.manage
    with ws.session() as s:
        flags = dict(s.execute(select(AppUser.name, AppUser.must_change_password)).all())
    for r in rows:
        r["role_label"] = ROLES.get(r["role"], r["role"])
        r["must_change"] = bool(flags.get(r["name"]))
        r["me"] = r["name"] == ws.user.name
    return rows


def add_user(ws: Workspace, name: str, role: str, school: str | None = None, password: str | None = None) -> str:
    """Add a user; returns the temporary password to hand over (it must be changed at first sign-in)."""
    ws.require("users.manage", what="users add")
    name = _clean_name(name)
    school = (school or "").strip() or None
    if role not in ROLES:
        raise InputRefused(f"役割 {role} はありません。")
    if role == "school" and not school:
        raise InputRefused("学校の利用者には学校名が必要です。")
    if role != "school":
        school = None
    temp = password or temporary_password()
    check_password(temp)
    ws.add_user(name, temp, role, school=school)
    _set_flag(ws, name, True)
    return temp


def remove_user(ws: Workspace, name: str) -> None:
    ws.require("users.manage", what="users remove")
    if name == ws.user.name:
        raise InputRefused("サインイン中の自分自身は削除できません。")
    ws.remove_user(name)


def reset_password(ws: Workspace, name: str) -> str:
    """A new temporary password for another user (forgotten password); returns it. Their old one opens nothing."""
    ws.require("users.manage", what="users reset")
    if name == ws.user.name:
        raise InputRefused("自分のパスワードは「設定」→「パスワードの変更」で変更してください。")
    with ws.session() as s:
        u = s.scalar(select(AppUser).where(AppUser.name == name, AppUser.removed_at.is_(None)))
        if u is None:
            raise InputRefused(f"利用者 {name} は登録されていません。")
        role, school = u.role, u.school
    temp = temporary_password()
    check_password(temp)
    ws.remove_user(name)  # drops the old key slot…
    ws.add_user(name, temp, role, school=school)  # …and gives the same user a new one
    _set_flag(ws, name, True)
    ws.log("password_reset", detail={"user": name})
    return temp


def must_change(ws: Workspace) -> bool:
    """True when the signed-in user still has a temporary password."""
    with ws.session() as s:
        return bool(s.scalar(select(AppUser.must_change_password).where(AppUser.id == ws.user.id)))


def change_own_password(ws: Workspace, current: str, new: str) -> None:
    """The signed-in user chooses their own password (the temporary one stops working)."""
    if new == current:
        raise InputRefused("今のパスワードとは違うパスワードにしてください。")
    check_password(new)
    own = getattr(ws, "change_own_password", None)  # the keys' re-keying API, where present
    if own is not None:
        own(new, current=current)  # checks the current password first
    else:
        W.change_password(ws.path, ws.user.name, current, new)
        ws.keyfile = K.KeyFile.load(ws.path)
    _set_flag(ws, ws.user.name, False)
