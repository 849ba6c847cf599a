"""User management as the coordinator does it in the app (the 利用者 page) and the first start: add a school, staff
or auditor user with a temporary password that must be changed at first sign-in, remove, reset; change one's own
password. User management lives here (``create_user``/``delete_user``/``change_town_password``/``registered``;
``Workspace.add_user`` … delegate): a town user's key slot is in the town's key file; a school user's only in their
school's own workspace (core/schoolspace.py), never in the town's. Re-keying is the Workspace's (and, for a school,
schoolspace.rekey); the password rules are the core's (storage.keys).

Every function checks ``users.manage`` through the Workspace, except the signed-in user's own flag and password.
"""

from __future__ import annotations

import datetime as dt
import secrets
import unicodedata
from typing import TYPE_CHECKING

from sqlalchemy import select

from . import auditspace as AW
from . import schoolspace as SW
from . import sealed
from .errors import InputRefused, KodomoError, WrongPassword
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


def _set_flag(ws: Workspace | sealed.SealedWorkspace, name: str, value: bool) -> None:
    if isinstance(ws, sealed.SealedWorkspace):  # a school user's or auditor's own flag lives in their workspace
        if name == ws.user.name:
            ws.set_must_change(value)
        return
    with ws.session() as s:
        u = s.scalar(select(AppUser).where(AppUser.name == name, AppUser.removed_at.is_(None)))
        if u is None:
            return
        u.must_change_password = value
        role, school, ref = u.role, u.school, u.slot_id
    if role == "auditor":
        AW.set_member_flag(ws, ref, value)
    if role == "school" and school:
        row = SW.row_of(ws, school)
        if row is not None and SW.school_db_path(ws.path, row.slug).exists():
            store = SW.open_store(ws, row)
            try:
                sealed.set_member_flag(store, ref, value)
            finally:
                store.close()


# --- user management (the Workspace's add_user / remove_user / list_users delegate here) -----------------------------
def create_user(
    ws: Workspace, name: str, password: str, role: str, school: str | None = None, display_name: str | None = None
) -> None:
    """A user and their key slot: in the town's key file, or — for a school user — only in the school's own
    workspace (created if missing, and filled with what the school may hold), for an auditor only in the audit
    workspace (core/auditspace.py, likewise)."""
    ws.require("users.manage", what="users add")
    if role not in ROLES:
        raise InputRefused(f"役割 {role} はありません（{', '.join(ROLES)}）。")
    if role == "school" and not school:
        raise InputRefused("学校の利用者には学校名（--school）が必要です。")
    if not password:
        raise InputRefused("新しい利用者のパスワードを指定してください（KODOMO_NEW_PASSWORD）。")
    K.check_password_rules(password)
    ref = K.new_user_ref()
    store = SW.ensure(ws, school) if role == "school" and school else AW.ensure(ws) if role == "auditor" else None
    try:
        with ws.session() as s:
            existing = s.scalar(select(AppUser).where(AppUser.name == name))
            if existing is not None and existing.removed_at is None:
                raise InputRefused(f"利用者 {name} はすでに登録されています。")
            if existing is not None:
                existing.role, existing.school, existing.removed_at, existing.slot_id = role, school, None, ref
            else:
                s.add(AppUser(name=name, slot_id=ref, role=role, school=school, display_name=display_name))
            ws.log("user_added", detail={"user": name, "role": role}, conn=s)
            # inside the transaction: if the slot fails, the row is rolled back
            if store is not None:
                sealed.add_member(store, name, password, ref, by=ws.user.name, role=role)
            else:
                with ws.keyfile_update() as kf:
                    kf.add_user(name, password, ref, ws.raw_key())
        if store is not None and role == "school":
            SW.push(ws, store)
    finally:
        if store is not None:
            store.close()
    if role == "auditor":
        AW.sync(ws)  # the copy the new auditor reads


def delete_user(ws: Workspace, name: str) -> dict:
    """Remove a user: their slots go and the database holding them is re-keyed (the town's, or their school's), so
    an old key file with their password opens nothing new."""
    ws.require("users.manage", what="users remove")
    with ws.session() as s:
        u = s.scalar(select(AppUser).where(AppUser.name == name, AppUser.removed_at.is_(None)))
        if u is None:
            raise InputRefused(f"利用者 {name} は登録されていません。")
        if u.id == ws.user.id:
            raise InputRefused("サインイン中の自分自身は削除できません。別のコーディネーターで行ってください。")
        if u.role == "coordinator":
            others = s.scalars(
                select(AppUser).where(AppUser.role == "coordinator", AppUser.removed_at.is_(None), AppUser.id != u.id)
            ).all()
            if not others:
                raise InputRefused("最後のコーディネーターは削除できません。")
        ref, role, school = u.slot_id, u.role, u.school
    kf = K.KeyFile.load(ws.path)
    kf.open_auth(ws.raw_key())
    in_town = ref in ((kf.auth or {}).get("users") or {}) or ref in kf.legacy_refs()
    result: dict = {"rekeyed": False, "reason": "user_removed", "need_new_password": []}
    if role == "school" and school:
        row = SW.row_of(ws, school)
        if row is not None and SW.school_db_path(ws.path, row.slug).exists():
            store = SW.open_store(ws, row)
            SW.remove_member(ws, store, ref, name).close()
            result = {"rekeyed": True, "reason": "user_removed", "school_rekeyed": True, "need_new_password": []}
    if role == "auditor" and AW.remove_member(ws, ref, name):
        result = {"rekeyed": True, "reason": "user_removed", "audit_rekeyed": True, "need_new_password": []}
    if in_town or role not in ("school", "auditor"):
        # first the key (a crash after it leaves a user with no slot: harmless), then the row
        result = {**result, **ws.rekey(lambda kf: kf.remove_user(ref), reason="user_removed")}
    if role == "coordinator":  # their old backups hold the town's key pairs for the schools: new pairs, new keys
        result["school_workspaces"] = SW.rotate_all(ws, "coordinator_removed")
        result["audit_workspace"] = AW.rotate_all(ws, "coordinator_removed")
    with ws.session() as s:
        gone = s.scalar(select(AppUser).where(AppUser.slot_id == ref))
        if gone is not None:
            gone.removed_at = dt.datetime.now().replace(microsecond=0)
        ws.log("user_removed", detail={"user": name}, conn=s)
    return result


def change_town_password(ws: Workspace, new_password: str, current: str | None = None) -> dict:
    """A new key pair and slot for the signed-in town user, and a re-key: the old password opens nothing new.

    ``current``: the password now in use, checked first (someone at an unlocked PC cannot change it)."""
    K.check_password_rules(new_password)
    if current is not None:
        kf = K.KeyFile.load(ws.path)
        kf.check_delay()
        u = kf.unlock(ws.user.name, current)
        if u.ref != ws.user_ref:
            raise WrongPassword(K.WRONG)
    ref, name = ws.user_ref or "", ws.user.name
    key = ws.raw_key()

    def mutate(kf: K.KeyFile) -> None:
        default = kf.is_default(ref)
        kf.remove_user(ref)
        kf.add_user(name, new_password, ref, key, default=default)

    result = ws.rekey(mutate, reason="password_changed")
    ws.log("password_changed")
    return result


def registered(ws: Workspace) -> list[dict]:
    """The users still registered (name, role, school, last sign-in); a coordinator's list."""
    ws.require("users.manage", what="users list")
    with ws.session() as s:
        return [
            {
                "name": u.name,
                "role": u.role,
                "school": u.school,
                "last_sign_in_at": u.last_sign_in_at.isoformat() if u.last_sign_in_at else None,
            }
            for u in s.scalars(select(AppUser).where(AppUser.removed_at.is_(None)).order_by(AppUser.id))
        ]


def list_users(ws: Workspace) -> list[dict]:
    """The users still registered: name, role and its Japanese label, school, last sign-in, must_change."""
    rows = ws.list_users()  # checks users.manage
    with ws.session() as s:
        flags = dict(s.execute(select(AppUser.name, AppUser.must_change_password)).all())
        refs = dict(s.execute(select(AppUser.name, AppUser.slot_id)).all())
    schools = SW.member_states(ws) if any(r["role"] == "school" for r in rows) else {}
    if any(r["role"] == "auditor" for r in rows):
        schools |= AW.member_states(ws)
    for r in rows:
        r["role_label"] = ROLES.get(r["role"], r["role"])
        r["must_change"] = bool(flags.get(r["name"]))
        st = schools.get(refs.get(r["name"]) or "")
        if st is not None:  # a school user or an auditor: their own workspace knows
            r["must_change"] = st["must_change"]
            if st["last_sign_in_at"]:
                r["last_sign_in_at"] = st["last_sign_in_at"].isoformat()
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


def must_change(ws: Workspace | sealed.SealedWorkspace) -> bool:
    """True when the signed-in user still has a temporary password."""
    if isinstance(ws, sealed.SealedWorkspace):
        return ws.must_change()
    with ws.session() as s:
        return bool(s.scalar(select(AppUser.must_change_password).where(AppUser.id == ws.user.id)))


def change_own_password(ws: Workspace | sealed.SealedWorkspace, current: str, new: str) -> None:
    """The signed-in user chooses their own password (the temporary one stops working)."""
    if new == current:
        raise InputRefused("今のパスワードとは違うパスワードにしてください。")
    check_password(new)
    ws.change_own_password(new, current=current)  # checks the current password first; re-keys
    _set_flag(ws, ws.user.name, False)
