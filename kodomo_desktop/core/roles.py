"""Roles and what each may do. Every core service asks ``Workspace.require(permission)`` first, so the GUI
and the CLI obey the same rules; the GUI also hides what a role may not use (``Workspace.can``)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import KodomoError, PermissionDenied
from .vocab import ROLE_LABELS

ROLES = ROLE_LABELS  # role code → Japanese label (core.vocab.Role)

# permission -> (Japanese description, roles that hold it); the coordinator holds every permission.
PERMISSIONS: dict[str, tuple[str, set[str]]] = {
    "person.read": ("こどもの情報を見る", {"staff"}),
    "person.search": ("こどもを検索する", {"staff"}),
    "data.export": ("データを出力する", {"staff"}),
    "data.share": ("外部へ提供する（仮名加工・引継ぎ・情報シート）", set()),
    "import": ("ファイルを取り込む", set()),
    "link.run": ("名寄せを実行する", set()),
    "link.review": ("名寄せを判断する", set()),
    "score.run": ("スコアを算出する", {"staff"}),
    "score.read": ("スコアを見る", {"staff"}),
    "weights.edit": ("重みを変更する", set()),
    "users.manage": ("利用者を管理する", set()),
    "casework.write": ("ケース記録を書く", {"staff"}),
    "report.print": ("帳票を印刷する", {"staff"}),
    "checklist.manage": ("チェックリストを管理する", set()),
    "checklist.enter": ("チェックリストを入力する", {"school"}),
    "log.read": ("操作ログを見る", {"auditor"}),
    "governance.read": ("個人情報ファイル簿・自己点検を見る", {"auditor"}),
    "governance.write": ("利用停止・訂正・削除を行う", set()),
    "backup": ("バックアップ・復元", set()),
    "settings": ("設定を変更する", set()),
}


def role_has(role: str, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return role == "coordinator" or role in PERMISSIONS[permission][1]


def permissions_of(role: str) -> list[str]:
    return [p for p in PERMISSIONS if role_has(role, p)]


@dataclass(frozen=True)
class SignedInUser:
    """The person signed in to a town workspace or a school workspace (core/schoolspace.py)."""

    id: int
    name: str
    role: str
    school: str | None

    @property
    def role_label(self) -> str:
        return ROLES.get(self.role, self.role)


class ClosedEngine:
    """Stands in for a workspace's engine while it is locked or closed: nothing can connect without the key."""

    def dispose(self, *_, **__) -> None:
        pass

    def __getattr__(self, name):
        raise KodomoError("データベースはロックされています。パスワードを入力してください。")


class AccessChecks:
    """The permission checks every workspace (the town's, a school's) makes the same way; a refusal is logged
    by the workspace's own ``log`` before it is raised."""

    user: SignedInUser

    def log(self, action: str, person_id: str | None = None, detail=None, *, conn=None) -> int:
        raise NotImplementedError

    def can(self, permission: str) -> bool:
        return role_has(self.user.role, permission)

    def require(self, permission: str, *, what: str | None = None, person_id: str | None = None) -> None:
        if self.can(permission):
            return
        self.log(
            "permission_denied",
            person_id,
            {"permission": permission, "what": what or permission, "role": self.user.role},
        )
        raise PermissionDenied(f"「{self.user.role_label}」の権限では「{PERMISSIONS[permission][0]}」はできません。")

    def require_school(self, school: str | None) -> None:
        """A school user may touch only its own school's pupils."""
        if self.user.role == "school" and (school or "") != (self.user.school or ""):
            self.log(
                "permission_denied",
                None,
                {"permission": "checklist.enter", "what": "other_school", "role": self.user.role},
            )
            raise PermissionDenied("他の学校のこどもの情報は扱えません。")
