"""Keys: one random database key, wrapped once per user (key slots), the way password managers do it.

The database is encrypted by SQLCipher with a random 256-bit key handed over raw (no SQLCipher KDF).
Each user has a slot in ``<db>.keys`` beside the database: password → Argon2id (parameters calibrated on
this machine and stored in the slot) → key-encryption key → AES-256-GCM unwraps the database key.
Adding, removing a user or changing a password rewrites one slot and never touches the database file.

The key file holds no personal data: a slot is named by a salted hash of the user name, never the name.
Events that happen while the database is closed (a failed password, a password change) are queued in the
key file and written into the access log the next time the database is opened.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import InputRefused, KodomoError, WrongPassword
from ..outputs import private_file

KEY_FILE_SUFFIX = ".keys"
LEGACY_KDF_SUFFIX = ".kdf"  # a database keyed directly by Argon2id(password): converted on first open
FORMAT = "kodomo-desktop-keys"
VERSION = 1
_AAD = b"kodomo-desktop db-key v1:"


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _unb64(s: str) -> bytes:
    return base64.b64decode(s.encode("ascii"))


def now_iso() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


@dataclass(frozen=True)
class KdfParams:
    time_cost: int
    memory_cost: int  # KiB
    parallelism: int
    salt: bytes

    def derive(self, password: str) -> bytes:
        return hash_secret_raw(
            password.encode("utf-8"),
            self.salt,
            time_cost=self.time_cost,
            memory_cost=self.memory_cost,
            parallelism=self.parallelism,
            hash_len=32,
            type=Type.ID,
        )

    def to_json(self) -> dict:
        return {
            "type": "argon2id",
            "time_cost": self.time_cost,
            "memory_cost": self.memory_cost,
            "parallelism": self.parallelism,
            "salt": _b64(self.salt),
        }

    @classmethod
    def from_json(cls, d: dict) -> KdfParams:
        if d.get("type") != "argon2id":
            raise KodomoError("鍵ファイルの形式が不明です（argon2id 以外）。")
        return cls(int(d["time_cost"]), int(d["memory_cost"]), int(d["parallelism"]), _unb64(d["salt"]))


_calibrated: dict[int, tuple[int, int]] = {}


def calibrate(target_ms: int | None = None) -> KdfParams:
    """Argon2id parameters that take about ``target_ms`` here (default 500 ms, KODOMO_KDF_TARGET_MS).

    KeePassXC-style: fixed memory (64 MiB), rounds scaled to the target. Tests set a small target so a
    suite of hundreds of opens stays quick; the parameters always travel with the slot.
    """
    if target_ms is None:
        target_ms = int(os.environ.get("KODOMO_KDF_TARGET_MS", "500"))
    memory = 65536 if target_ms >= 100 else 8192
    if target_ms not in _calibrated:
        probe = KdfParams(1, memory, 2, b"\0" * 16)
        t0 = time.perf_counter()
        probe.derive("calibration")
        per_round = max(time.perf_counter() - t0, 1e-4)
        rounds = max(1, min(64, round(target_ms / 1000 / per_round)))
        _calibrated[target_ms] = (rounds, memory)
    rounds, memory = _calibrated[target_ms]
    return KdfParams(rounds, memory, 2, secrets.token_bytes(16))


def key_file_path(db_path: str | os.PathLike) -> Path:
    return Path(str(db_path) + KEY_FILE_SUFFIX)


class KeyFile:
    """The key slots of one database. Loaded, changed in memory, saved atomically."""

    def __init__(self, path: Path, data: dict):
        self.path = path
        self.data = data

    # -- creation and persistence -------------------------------------------------
    @classmethod
    def new(cls, db_path) -> KeyFile:
        data = {
            "format": FORMAT,
            "version": VERSION,
            "slot_salt": _b64(secrets.token_bytes(16)),
            "default_slot": None,
            "slots": {},
            "pending_events": [],
            "last_backup_at": None,
        }
        return cls(key_file_path(db_path), data)

    @classmethod
    def load(cls, db_path) -> KeyFile:
        path = key_file_path(db_path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputRefused(
                f"鍵ファイル {path.name} が見つかりません。データベースと同じフォルダーに置いてください。"
            )
        except (ValueError, UnicodeDecodeError):
            raise InputRefused(f"鍵ファイル {path.name} が壊れています。バックアップから復元してください。")
        if data.get("format") != FORMAT:
            raise InputRefused(f"{path.name} は Kodomo Desktop の鍵ファイルではありません。")
        return cls(path, data)

    def save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.data, ensure_ascii=False, indent=1), encoding="utf-8")
        private_file(tmp)  # 0600 on POSIX (core/outputs.py)
        os.replace(tmp, self.path)

    def to_bytes(self) -> bytes:
        return json.dumps(self.data, ensure_ascii=False, indent=1).encode("utf-8")

    # -- slots ----------------------------------------------------------------------
    def slot_id(self, user_name: str) -> str:
        return hmac.new(_unb64(self.data["slot_salt"]), user_name.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    def has_user(self, user_name: str) -> bool:
        return self.slot_id(user_name) in self.data["slots"]

    def set_slot(self, user_name: str, password: str, db_key: bytes, kdf: KdfParams | None = None) -> None:
        kdf = kdf or calibrate()
        sid = self.slot_id(user_name)
        nonce = secrets.token_bytes(12)
        wrapped = AESGCM(kdf.derive(password)).encrypt(nonce, db_key, _AAD + sid.encode())
        old = self.data["slots"].get(sid, {})
        self.data["slots"][sid] = {
            "kdf": kdf.to_json(),
            "nonce": _b64(nonce),
            "wrapped_key": _b64(wrapped),
            "created_at": old.get("created_at", now_iso()),
            "changed_at": now_iso(),
            "failures": {"count": 0, "last_at": None},
        }

    def remove_slot(self, user_name: str) -> None:
        self.data["slots"].pop(self.slot_id(user_name), None)

    def resolve_user(self, user_name: str | None) -> str:
        """The slot id for a user name, or the default (init) slot when no name is given."""
        if user_name:
            return self.slot_id(user_name)
        sid = self.data.get("default_slot")
        if not sid:
            raise InputRefused("利用者名を指定してください（KODOMO_USER）。")
        return sid

    def failure_delay(self, sid: str) -> float:
        """Seconds still to wait before the next try: grows after repeated failures (3 free tries)."""
        f = self.data["slots"].get(sid, {}).get("failures") or {}
        n, last = f.get("count", 0), f.get("last_at")
        if n < 3 or not last:
            return 0.0
        wait = min(2 ** (n - 3), 30)
        elapsed = (dt.datetime.now().astimezone() - dt.datetime.fromisoformat(last)).total_seconds()
        return max(0.0, wait - elapsed)

    def unwrap(self, user_name: str | None, password: str) -> tuple[bytes, str, int]:
        """Return (database key, slot id, failures since the last good sign-in). Wrong → WrongPassword."""
        sid = self.resolve_user(user_name)
        slot = self.data["slots"].get(sid)
        if slot is None:
            # Same message as a wrong password: do not tell which user names exist.
            self._record_failure(None)
            raise WrongPassword("利用者名またはパスワードが違います。データベースは変更されていません。")
        kdf = KdfParams.from_json(slot["kdf"])
        try:
            key = AESGCM(kdf.derive(password)).decrypt(
                _unb64(slot["nonce"]), _unb64(slot["wrapped_key"]), _AAD + sid.encode()
            )
        except InvalidTag:
            self._record_failure(sid)
            raise WrongPassword("利用者名またはパスワードが違います。データベースは変更されていません。")
        failures = int((slot.get("failures") or {}).get("count", 0))
        return key, sid, failures

    def _record_failure(self, sid: str | None) -> None:
        if sid is not None:
            f = self.data["slots"][sid].setdefault("failures", {"count": 0, "last_at": None})
            f["count"] = int(f.get("count", 0)) + 1
            f["last_at"] = now_iso()
        self.queue_event("sign_in_failed", sid)
        try:
            self.save()
        except OSError:
            pass  # a read-only medium must not turn a wrong password into a crash

    def clear_failures(self, sid: str) -> None:
        self.data["slots"][sid]["failures"] = {"count": 0, "last_at": None}

    # -- events waiting for the access log -------------------------------------------
    def queue_event(self, action: str, sid: str | None, detail: str | None = None) -> None:
        self.data.setdefault("pending_events", []).append(
            {"at": now_iso(), "action": action, "slot": sid, "detail": detail}
        )

    def take_events(self) -> list[dict]:
        ev = self.data.get("pending_events", [])
        self.data["pending_events"] = []
        return ev


def new_database_key() -> bytes:
    return secrets.token_bytes(32)


def legacy_kdf_path(db_path) -> Path:
    return Path(str(db_path) + LEGACY_KDF_SUFFIX)


def legacy_derive(db_path, password: str) -> bytes:
    """The key of a database made before key slots: Argon2id(password) with parameters in ``<db>.kdf``."""
    d = json.loads(legacy_kdf_path(db_path).read_text(encoding="utf-8"))
    return KdfParams.from_json(d["kdf"]).derive(password)
