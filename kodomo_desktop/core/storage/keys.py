"""Keys: one random database key, handed to every user through their own key pair (key file version 2).

The database is encrypted by SQLCipher with a random 256-bit key handed over raw (no SQLCipher KDF).
``<db>.keys`` beside it holds:

- ``kdf``: the Argon2id parameters and salt of this file (floor: 64 MiB, t ≥ 3 — nothing can go below it).
- ``slots``: one per (user name, password). Argon2id(name, password) gives a *locator* (the slot's id) and a
  key-encryption key. The slot holds the user's X25519 private key and their user reference, wrapped with
  AES-256-GCM under that key, their public key, and the database key sealed to the public key (``box``). A
  user name appears nowhere: without the right name *and* password no slot can even be found, and sign-in
  always costs exactly one Argon2id run whether the name exists or not.
- ``auth``: everything that is not a password-wrapped slot — events waiting for the access log, the log anchor
  (length and head hash), the deletion register, which slots belong to which user — encrypted and authenticated
  (AES-256-GCM) with a key HKDF-derived from the database key. An edited or forged ``auth`` does not decrypt:
  it is refused and reported, and nothing of it reaches the log.
- ``failures``: times of wrong passwords (they happen without any key, so they cannot be authenticated; they
  feed the back-off and are logged as unverified counts, never as entries of the attacker's choosing).
- ``checksum``: SHA-256 of the rest, so a changed byte says "damaged key file", not "wrong password".

Re-keying (a user removed, a password changed, 鍵の更新) seals a new database key to every remaining public key
— no other user's password is needed — and runs ``PRAGMA rekey``. Crash order (see ``Workspace.rekey``): the key
file is first written holding both the old and the new sealed key (``prev_box``/``auth_prev``), then the database
is re-keyed (one SQLite transaction: a crash leaves the old key valid), then the key file drops the old key. At
every moment one of the two keys in the key file opens the database; the next open finishes or rolls back.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import InputRefused, IntegrityFailure, KodomoError, WrongPassword
from ..outputs import open_private

KEY_FILE_SUFFIX = ".keys"
LEGACY_KDF_SUFFIX = ".kdf"  # a database keyed directly by Argon2id(password): converted on first open
FORMAT = "kodomo-desktop-keys"
VERSION = 2
_AAD_V1 = b"kodomo-desktop db-key v1:"

# The floor for every slot this program writes. No environment variable, no option goes below it.
KDF_FLOOR_TIME = 3
KDF_FLOOR_MEMORY = 65536  # KiB = 64 MiB
MAX_FAILURES_KEPT = 50

# Password rules (core, for every door: CLI, GUI, tests). The demo town alone may use its published password.
MIN_PASSWORD_LENGTH = 6
DEMO_PASSWORD = "demo"
_COMMON = {
    "password",
    "password1",
    "123456",
    "1234567",
    "12345678",
    "123456789",
    "qwerty",
    "abc123",
    "111111",
    "iloveyou",
    "admin123",
    "letmein",
    "kodomo",
    "passw0rd",
}

WRONG = "利用者名またはパスワードが違います。データベースは変更されていません。"


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _unb64(s: str) -> bytes:
    return base64.b64decode(s.encode("ascii"))


def now_iso() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def password_bytes(password: str) -> bytes:
    """The password as UTF-8; an environment variable that is not valid UTF-8 is refused, not a traceback."""
    try:
        return password.encode("utf-8")
    except UnicodeEncodeError:
        raise InputRefused(
            "パスワードに文字として読めないバイトが含まれています（UTF-8 ではありません）。"
            "入力した端末の文字コードを確認してください。"
        )


def check_password_rules(password: str, *, demo: bool = False) -> None:
    """Rules for a new password (the core decides; the GUI and CLI show the message)."""
    password_bytes(password)
    if demo and password == DEMO_PASSWORD:
        return  # the synthetic demo town's published password
    if not password:
        raise InputRefused("パスワードを指定してください。")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputRefused(f"パスワードは {MIN_PASSWORD_LENGTH} 文字以上にしてください。")
    if len(set(password)) < 3 or password.lower() in _COMMON:
        raise InputRefused("このパスワードは推測されやすいため使えません。別のパスワードにしてください。")


def hkdf(key: bytes, info: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode()).derive(key)


@dataclass(frozen=True)
class KdfParams:
    time_cost: int
    memory_cost: int  # KiB
    parallelism: int
    salt: bytes

    def derive_bytes(self, secret: bytes) -> bytes:
        if _test_cache is not None:  # tests only (enable_test_derive_cache): the floor holds, repeats are skipped
            k = self._input_id(secret)
            if k not in _test_cache:
                _test_cache[k] = self._derive_bytes(secret)
            return _test_cache[k]
        return self._derive_bytes(secret)

    def _derive_bytes(self, secret: bytes) -> bytes:
        if _prefetched:  # the run prefetch_sign_in started for exactly this input: its result, once
            got = _prefetched.pop(self._input_id(secret), None)
            if got is not None:
                got[0].join()
                if got[1]:
                    return got[1].pop()
        return self._argon2(secret)

    def _input_id(self, secret: bytes) -> bytes:
        return hashlib.sha256(
            repr((self.time_cost, self.memory_cost, self.parallelism)).encode() + self.salt + secret
        ).digest()

    def _argon2(self, secret: bytes) -> bytes:
        return hash_secret_raw(
            secret,
            self.salt,
            time_cost=self.time_cost,
            memory_cost=self.memory_cost,
            parallelism=self.parallelism,
            hash_len=32,
            type=Type.ID,
        )

    def derive(self, password: str) -> bytes:
        return self.derive_bytes(password_bytes(password))

    @property
    def meets_floor(self) -> bool:
        return self.time_cost >= KDF_FLOOR_TIME and self.memory_cost >= KDF_FLOOR_MEMORY

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
            raise IntegrityFailure("鍵ファイルの形式が不明です（argon2id 以外）。")
        return cls(int(d["time_cost"]), int(d["memory_cost"]), int(d["parallelism"]), _unb64(d["salt"]))


_calibrated: dict[int, int] = {}
_test_cache: dict[bytes, bytes] | None = None
_prefetched: dict[bytes, tuple[threading.Thread, list[bytes]]] = {}


def user_secret(user_name: str | None, password: str) -> bytes:
    """What a sign-in's one Argon2id run hashes: the user's name (none for the default slot) and the password."""
    name = (user_name or "").encode("utf-8", "surrogatepass")
    return b"kodomo-user\0" + name + b"\0" + password_bytes(password)


def prefetch_sign_in(db_path, user_name: str | None, password: str) -> None:
    """Start a command's sign-in derivation now, on the second core, while the process imports what the command
    needs (a CLI data command imports pandas, SQLAlchemy and the ORM for ~0.5 s; the Argon2id run at the calibrated
    cost takes ~0.3 s): the command opens its workspace that much sooner. Argon2 runs in C without the GIL.

    Nothing is decided here: :meth:`KeyFile.derive` takes the result only for exactly the same input (parameters,
    salt, name, password) and only once, after :meth:`Workspace.open`'s own checks have run in their usual order
    (the delay after failed sign-ins first); an unknown name or a wrong password is found as before, in the same
    time. No key file (``init``), an unreadable one or a non-UTF-8 password: nothing is started."""
    try:  # the parameters only, read raw: KeyFile.load would make a new KDF (a calibration run) for a v1 file
        kdf = KdfParams.from_json(json.loads(key_file_path(db_path).read_text(encoding="utf-8"))["kdf"])
        secret = user_secret(user_name, password)
    except (OSError, ValueError, KeyError, TypeError, KodomoError):
        return
    key = kdf._input_id(secret)
    if key in _prefetched or (_test_cache is not None and key in _test_cache):
        return  # (under way already; or derived before in this test process)
    out: list[bytes] = []
    t = threading.Thread(target=lambda: out.append(kdf._argon2(secret)), name="kodomo-kdf-prefetch", daemon=True)
    _prefetched[key] = (t, out)
    t.start()


def enable_test_derive_cache() -> None:
    """For the test suite only (tests/conftest.py): the same Argon2id input in one process is derived once.

    Never enabled by the application or by an environment variable: a cache would keep derived keys in memory
    after a lock. (tests/conftest.py also gives new key files a test cost in its own process, outside the key tests,
    by replacing :func:`calibrate` there; nothing in the application can lower it.)
    """
    global _test_cache
    _test_cache = {}


def calibrate(target_ms: int | None = None) -> KdfParams:
    """Argon2id parameters: 64 MiB, rounds scaled to about ``target_ms`` here (default 500 ms), never below t=3.

    ``KODOMO_KDF_TARGET_MS`` can only raise the cost: the floor (64 MiB, t ≥ 3) holds whatever it says.
    """
    if target_ms is None:
        try:
            target_ms = int(os.environ.get("KODOMO_KDF_TARGET_MS", "500"))
        except ValueError:
            target_ms = 500
    if target_ms not in _calibrated:
        probe = KdfParams(1, KDF_FLOOR_MEMORY, 2, b"\0" * 16)
        t0 = time.perf_counter()
        probe.derive("calibration")
        per_round = max(time.perf_counter() - t0, 1e-4)
        _calibrated[target_ms] = max(KDF_FLOOR_TIME, min(64, round(target_ms / 1000 / per_round)))
    return KdfParams(_calibrated[target_ms], KDF_FLOOR_MEMORY, 2, secrets.token_bytes(16))


def key_file_path(db_path: str | os.PathLike) -> Path:
    return Path(str(db_path) + KEY_FILE_SUFFIX)


def db_salt(db_path) -> str | None:
    """The first 16 bytes of a SQLCipher file (its salt; kept by PRAGMA rekey): binds a key file to its database."""
    try:
        with open(db_path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return None
    return head.hex() if len(head) == 16 else None


def _canonical(d: dict) -> bytes:
    return json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(str(path), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Temp file, fsync, rename, fsync the folder: a crash leaves the old file or the new one, never half."""
    tmp = path.with_name(path.name + ".tmp")
    with open_private(tmp, "wb") as fh:  # 0600 on POSIX (core/outputs.py)
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _lock_file(path: Path):
    return open(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "a+b")


@contextlib.contextmanager
def file_lock(db_path, *, exclusive: bool = True):
    """An advisory lock beside the database (``<db>.lock``): key-file writers and restore take it."""
    fh = _lock_file(Path(str(db_path) + ".lock"))
    try:
        if sys.platform != "win32":
            import fcntl  # local: POSIX only (no fcntl on Windows)

            fcntl.flock(fh.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        else:  # Windows
            import msvcrt  # local: Windows only

            fh.seek(0)
            while True:
                try:
                    msvcrt.locking(fh.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    time.sleep(0.2)
        yield
    finally:
        fh.close()


_held_exclusive: set[str] = set()


def in_use_path(db_path) -> Path:
    return Path(str(db_path) + ".inuse")


def acquire_in_use(db_path):
    """A shared lock every open Workspace holds until it closes (``<db>.inuse``); a restore needs it exclusively,
    so it never replaces a database another process is writing (an import in progress). None on Windows."""
    if str(Path(db_path).resolve()) in _held_exclusive:
        return None  # this process is restoring it (and opens it itself)
    try:
        import fcntl  # local: POSIX only (ImportError on Windows)
    except ImportError:
        return None
    fh = _lock_file(in_use_path(db_path))
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise InputRefused("このデータベースは復元中です。終わってからもう一度開いてください。")
    return fh


@contextlib.contextmanager
def in_use_lock(db_path, *, exclusive: bool = True):
    """The exclusive side, for restore: refused while any process (or window) has the database open."""
    key = str(Path(db_path).resolve())
    fh = None
    if sys.platform != "win32":
        import fcntl  # local: POSIX only (no fcntl on Windows)

        fh = _lock_file(in_use_path(db_path))
    try:
        if fh is not None:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise InputRefused(
                    "このデータベースを開いている処理があります（取込中、別の画面など）。"
                    "終了してから復元してください。何も変更していません。"
                )
        _held_exclusive.add(key)
        yield
    finally:
        _held_exclusive.discard(key)
        if fh is not None:
            fh.close()


# -- sealing a database key to a user's public key (X25519 + HKDF + AES-GCM) ------------------------------------------
def seal(pub: bytes, data: bytes) -> dict:
    eph = X25519PrivateKey.generate()
    eph_pub = eph.public_key().public_bytes_raw()
    k = hkdf(eph.exchange(X25519PublicKey.from_public_bytes(pub)) + eph_pub + pub, "kodomo seal v2")
    nonce = secrets.token_bytes(12)
    return {"e": _b64(eph_pub), "n": _b64(nonce), "c": _b64(AESGCM(k).encrypt(nonce, data, eph_pub + pub))}


def unseal(priv: bytes, box: dict) -> bytes:
    sk = X25519PrivateKey.from_private_bytes(priv)
    pub = sk.public_key().public_bytes_raw()
    eph_pub = _unb64(box["e"])
    k = hkdf(sk.exchange(X25519PublicKey.from_public_bytes(eph_pub)) + eph_pub + pub, "kodomo seal v2")
    return AESGCM(k).decrypt(_unb64(box["n"]), _unb64(box["c"]), eph_pub + pub)


@dataclass
class Unlocked:
    db_key: bytes
    prev_key: bytes | None
    ref: str  # the user's reference (app_user.slot_id)
    locator: str
    legacy: bool = False  # opened through a version-1 slot: convert it now
    priv: bytes | None = None


def _fresh_auth() -> dict:
    return {
        "pending_events": [],
        "anchor": None,
        "users": {},
        "default_ref": None,
        "deletions": [],
        "last_backup_at": None,
    }


class KeyFile:
    """The key slots of one database. Loaded, changed in memory, saved atomically."""

    def __init__(self, path: Path, data: dict):
        self.path = path
        self.data = data
        self.auth: dict | None = None  # decrypted auth section (after open_auth)
        self.auth_problem: str | None = None

    # -- creation and persistence -------------------------------------------------
    @classmethod
    def new(cls, db_path, kdf: KdfParams | None = None) -> KeyFile:
        data = {
            "format": FORMAT,
            "version": VERSION,
            "db_salt": None,
            "kdf": (kdf or calibrate()).to_json(),
            "slots": {},
            "auth": None,
            "failures": [],
        }
        kf = cls(key_file_path(db_path), data)
        kf.auth = _fresh_auth()
        return kf

    @classmethod
    def parse(cls, path: Path, raw: bytes, db_path=None) -> KeyFile:
        try:
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict):
                raise ValueError
        except (ValueError, UnicodeDecodeError):
            raise IntegrityFailure(
                f"鍵ファイル {path.name} が壊れています（読み取れません）。バックアップから復元してください。"
            )
        if data.get("format") != FORMAT:
            raise InputRefused(f"{path.name} は Kodomo Desktop の鍵ファイルではありません。")
        if data.get("version") == 1:
            return cls._from_v1(path, data, db_path)
        if data.get("version") != VERSION:
            raise InputRefused(
                f"鍵ファイル {path.name} は新しい版の Kodomo Desktop で作られています。アプリを更新してください。"
            )
        body = {k: v for k, v in data.items() if k != "checksum"}
        if data.get("checksum") != hashlib.sha256(_canonical(body)).hexdigest():
            raise IntegrityFailure(
                f"鍵ファイル {path.name} が壊れているか、書き換えられています（検査値が合いません）。"
                "パスワードの誤りではありません。バックアップから鍵ファイルを戻してください。"
            )
        salt = db_salt(db_path) if db_path is not None else None
        if data.get("db_salt") and salt and data["db_salt"] != salt:
            raise InputRefused(
                f"鍵ファイル {path.name} とデータベースが対応していません（別のデータベースの鍵ファイルか、"
                "データベースの先頭が壊れています）。パスワードの誤りではありません。データベースと一緒に作られた"
                "鍵ファイルを同じフォルダーに置くか、バックアップから復元してください。"
            )
        return cls(path, data)

    @classmethod
    def load(cls, db_path) -> KeyFile:
        path = key_file_path(db_path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise InputRefused(
                f"鍵ファイル {path.name} が見つかりません。データベースと同じフォルダーに置いてください。"
            )
        except OSError as e:
            raise InputRefused(f"鍵ファイル {path.name} を読めません（{e.strerror}）。")
        return cls.parse(path, raw, db_path)

    @classmethod
    def _from_v1(cls, path: Path, v1: dict, db_path) -> KeyFile:
        """A version-1 key file: its slots are kept as legacy slots and converted as each user signs in."""
        kf = cls.new(db_path)
        kf.path = path
        kf.data["legacy"] = {
            "slot_salt": v1.get("slot_salt"),
            "default_slot": v1.get("default_slot"),
            "slots": v1.get("slots") or {},
            "pending_events": v1.get("pending_events") or [],
            "last_backup_at": v1.get("last_backup_at"),
        }
        kf.data["db_salt"] = db_salt(db_path) if db_path is not None else None
        kf.auth = None  # no auth section yet: made at the first open
        return kf

    def to_bytes(self) -> bytes:
        self.data.pop("checksum", None)
        self.data["checksum"] = hashlib.sha256(_canonical(self.data)).hexdigest()
        return json.dumps(self.data, ensure_ascii=True, indent=1, sort_keys=True).encode("ascii")

    def save(self) -> None:
        write_atomic(self.path, self.to_bytes())

    @property
    def kdf(self) -> KdfParams:
        return KdfParams.from_json(self.data["kdf"])

    # -- the authenticated section -------------------------------------------------------
    def _auth_aad(self) -> bytes:
        return f"{FORMAT}|auth|{self.data.get('db_salt') or ''}".encode()

    def _seal_auth(self, key: bytes) -> dict:
        nonce = secrets.token_bytes(12)
        ct = AESGCM(hkdf(key, "kodomo key-file auth v2")).encrypt(nonce, _canonical(self.auth or {}), self._auth_aad())
        return {"n": _b64(nonce), "c": _b64(ct)}

    def _open_auth_blob(self, blob: dict, key: bytes) -> dict:
        pt = AESGCM(hkdf(key, "kodomo key-file auth v2")).decrypt(
            _unb64(blob["n"]), _unb64(blob["c"]), self._auth_aad()
        )
        return json.loads(pt.decode("ascii"))

    def open_auth(self, key: bytes) -> None:
        """Decrypt and authenticate the non-slot part with the database key. Refused → ``auth_problem``."""
        blob = self.data.get("auth")
        if blob is None:
            self.auth = self.auth or _fresh_auth()
            if "legacy" not in self.data and not self.data.get("slots"):
                return
            if "legacy" not in self.data:
                self.auth_problem = "鍵ファイルの認証部分がありません"
            return
        try:
            self.auth = self._open_auth_blob(blob, key)
            for k, v in _fresh_auth().items():
                self.auth.setdefault(k, v)
        except (InvalidTag, ValueError, KeyError, TypeError):
            self.auth = _fresh_auth()
            self.auth_problem = "鍵ファイルの認証部分が書き換えられているか壊れています"

    def opened_auth(self) -> dict:
        """The decrypted auth section (users, default user, deletions); ``open_auth`` must have run."""
        if self.auth is None:
            raise RuntimeError("key file: open_auth() first")
        return self.auth

    def seal_auth(self, key: bytes) -> None:
        """Encrypt the auth section under ``key`` (skipped while it is refused: evidence is not overwritten)."""
        if self.auth_problem:
            return
        self.data["auth"] = self._seal_auth(key)

    # -- slots ----------------------------------------------------------------------------------
    def _derive(self, user_name: str | None, password: str) -> tuple[str, bytes]:
        k = self.kdf.derive_bytes(user_secret(user_name, password))
        locator = hmac.new(k, b"locator", hashlib.sha256).hexdigest()[:32]
        return locator, hmac.new(k, b"kek", hashlib.sha256).digest()

    def add_slot(self, user_name: str | None, password: str, ref: str, db_key: bytes, priv: bytes) -> str:
        locator, kek = self._derive(user_name, password)
        nonce = secrets.token_bytes(12)
        payload = json.dumps({"priv": _b64(priv), "ref": ref}).encode()
        pub = X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes_raw()
        self.data["slots"][locator] = {
            "nonce": _b64(nonce),
            "wrapped": _b64(AESGCM(kek).encrypt(nonce, payload, locator.encode())),
            "pub": _b64(pub),
            "box": seal(pub, db_key),
        }
        return locator

    def add_user(self, user_name: str, password: str, ref: str, db_key: bytes, *, default: bool = False) -> bytes:
        """A fresh key pair for the user, a slot for (name, password) and, for the default user, one for ("", password)."""
        auth = self.opened_auth()
        priv = X25519PrivateKey.generate().private_bytes_raw()
        locs = [self.add_slot(user_name, password, ref, db_key, priv)]
        if default:
            locs.append(self.add_slot(None, password, ref, db_key, priv))
            auth["default_ref"] = ref
        auth["users"][ref] = locs
        return priv

    def remove_user(self, ref: str) -> int:
        auth = self.opened_auth()
        locs = auth["users"].pop(ref, [])
        for loc in locs:
            self.data["slots"].pop(loc, None)
        if auth.get("default_ref") == ref:
            auth["default_ref"] = None
        legacy = self.data.get("legacy")
        if legacy:
            legacy["slots"].pop(ref, None)
        return len(locs)

    def is_default(self, ref: str) -> bool:
        return bool(self.auth and self.auth.get("default_ref") == ref)

    def derive(self, user_name: str | None, password: str) -> tuple[str, bytes]:
        """(locator, key-encryption key) for (name, password) under this file's KDF: one Argon2id run. School key
        files use the town's KDF parameters and salt, so one run finds a slot in any of them."""
        return self._derive(user_name, password)

    def has_slot(self, locator: str) -> bool:
        return locator in self.data["slots"] and "wrapped" in self.data["slots"][locator]

    def unlock(
        self, user_name: str | None, password: str, *, derived: tuple[str, bytes] | None = None, record: bool = True
    ) -> Unlocked:
        """Find and open the slot for (name, password). Unknown name or wrong password: the same time, the same error.
        ``derived``: the (locator, kek) already computed (no second Argon2id run); ``record``: count a miss."""
        locator, kek = derived or self._derive(user_name, password)
        slot = self.data["slots"].get(locator)
        if slot is None or "wrapped" not in slot:
            got = self._unlock_legacy(user_name, password)
            if got is not None:
                return got
            if record:
                self.record_failure()
            raise WrongPassword(WRONG)
        try:
            payload = json.loads(
                AESGCM(kek).decrypt(_unb64(slot["nonce"]), _unb64(slot["wrapped"]), locator.encode()).decode()
            )
            priv = _unb64(payload["priv"])
            db_key = unseal(priv, slot["box"])
            prev = unseal(priv, slot["prev_box"]) if slot.get("prev_box") else None
        except (InvalidTag, ValueError, KeyError, TypeError):
            # the locator proves name and password; a slot that then does not open was changed
            raise IntegrityFailure(
                "鍵ファイルのこの利用者の鍵が書き換えられているか壊れています（パスワードの誤りではありません）。"
                "バックアップから鍵ファイルを戻すか、コーディネーターに連絡してください。"
            )
        return Unlocked(db_key, prev, payload["ref"], locator, priv=priv)

    def unwrap(self, user_name: str | None, password: str) -> tuple[bytes, str, int]:
        """(database key, user reference, 0): the version-1 call, for tools and tests that read a database raw."""
        u = self.unlock(user_name, password)
        return u.db_key, u.ref, 0

    def reopen(self, u: Unlocked) -> Unlocked:
        """The same slot read again from a freshly loaded file (another process may have re-keyed meanwhile)."""
        slot = self.data["slots"].get(u.locator)
        if slot is None or u.priv is None:  # (no key pair: a version-1 slot, which unseal() could not open either)
            raise WrongPassword(WRONG)
        try:
            db_key = unseal(u.priv, slot["box"])
            prev = unseal(u.priv, slot["prev_box"]) if slot.get("prev_box") else None
        except (InvalidTag, ValueError, KeyError, TypeError):
            raise WrongPassword(WRONG)
        return Unlocked(db_key, prev, u.ref, u.locator, priv=u.priv)

    def _unlock_legacy(self, user_name: str | None, password: str) -> Unlocked | None:
        legacy = self.data.get("legacy")
        if not legacy or not legacy.get("slots"):
            return None
        if user_name:
            sid = hmac.new(_unb64(legacy["slot_salt"]), user_name.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
        else:
            sid = legacy.get("default_slot")
        slot = legacy["slots"].get(sid) if sid else None
        if slot is None:
            return None
        try:
            key = AESGCM(KdfParams.from_json(slot["kdf"]).derive(password)).decrypt(
                _unb64(slot["nonce"]), _unb64(slot["wrapped_key"]), _AAD_V1 + sid.encode()
            )
        except InvalidTag:
            return None
        return Unlocked(key, None, sid, "", legacy=True)

    def convert_legacy_user(self, user_name: str, password: str, ref: str, db_key: bytes) -> None:
        legacy = self.data.get("legacy") or {}
        default = legacy.get("default_slot") == ref
        self.add_user(user_name, password, ref, db_key, default=default)
        legacy.get("slots", {}).pop(ref, None)

    def take_legacy(self) -> dict | None:
        """Events and last backup of a version-1 file (once), moved into the auth section."""
        legacy = self.data.get("legacy")
        if not legacy:
            return None
        out = {"pending_events": legacy.pop("pending_events", []), "last_backup_at": legacy.pop("last_backup_at", None)}
        if not legacy.get("slots"):
            self.data.pop("legacy", None)
        return out

    def legacy_refs(self) -> list[str]:
        return list((self.data.get("legacy") or {}).get("slots", {}))

    def drop_legacy(self) -> list[str]:
        refs = self.legacy_refs()
        self.data.pop("legacy", None)
        return refs

    # -- a key pair of the town in a school's key file (core/schoolspace.py) -------------------------------------
    TOWN_SLOT = "town"  # never a locator (those are 32 hex digits): no password opens it

    def add_town_slot(self, pub: bytes, db_key: bytes) -> None:
        """The database key sealed to the town's public key for this school: the coordinator's account opens it
        with the private half kept in the town database; re-keys re-seal it like any slot."""
        self.data["slots"][self.TOWN_SLOT] = {"pub": _b64(pub), "box": seal(pub, db_key)}
        self.opened_auth()["users"][self.TOWN_SLOT] = [self.TOWN_SLOT]

    def town_keys(self, priv: bytes) -> tuple[bytes, bytes | None]:
        """(key, previous key during a re-key) through the town's slot; IntegrityFailure when it does not open."""
        for name in (self.TOWN_SLOT, self.TOWN_SLOT + "-next"):  # (-next: a new town key pair being put in)
            slot = self.data["slots"].get(name)
            try:
                if slot is None:
                    raise KeyError
                return unseal(priv, slot["box"]), unseal(priv, slot["prev_box"]) if slot.get("prev_box") else None
            except (InvalidTag, ValueError, KeyError, TypeError):
                continue
        raise IntegrityFailure(
            f"作業用データベース（学校用・監査用）の鍵ファイル {self.path.name} を町の鍵で開けません"
            "（別の町のものか、書き換えられています）。"
        )

    # -- re-keying --------------------------------------------------------------------------------------
    def begin_rekey(self, old_key: bytes, new_key: bytes) -> None:
        """Step 1: every slot carries the new key (box) and the old one (prev_box); auth sealed under both."""
        for slot in self.data["slots"].values():
            pub = _unb64(slot["pub"])
            slot["box"] = seal(pub, new_key)
            slot["prev_box"] = seal(pub, old_key)
        self.auth_problem = None
        self.data["auth"] = self._seal_auth(new_key)
        self.data["auth_prev"] = self._seal_auth(old_key)

    def end_rekey(self) -> None:
        """Step 3 (the database answers to the new key): forget the old one."""
        for slot in self.data["slots"].values():
            slot.pop("prev_box", None)
        self.data.pop("auth_prev", None)

    def abort_rekey(self, old_key: bytes) -> None:
        """The re-key never reached the database: keep the old key and drop the new one."""
        for slot in self.data["slots"].values():
            if slot.get("prev_box"):
                slot["box"] = slot.pop("prev_box")
        if self.data.get("auth_prev"):
            self.data["auth"] = self.data.pop("auth_prev")

    @property
    def rekey_pending(self) -> bool:
        return "auth_prev" in self.data or any("prev_box" in s for s in self.data["slots"].values())

    # -- failures (unauthenticated by nature) and back-off --------------------------------------------------
    def record_failure(self) -> None:
        f = self.data.setdefault("failures", [])
        f.append(now_iso())
        del f[:-MAX_FAILURES_KEPT]
        with contextlib.suppress(OSError):  # a read-only medium must not turn a wrong password into a crash
            self.save()

    def failure_delay(self) -> float:
        """Seconds still to wait before the next try: grows after repeated failures (3 free tries)."""
        f = self.data.get("failures") or []
        if len(f) < 3:
            return 0.0
        wait = min(2 ** (len(f) - 3), 30)
        try:
            elapsed = (dt.datetime.now().astimezone() - dt.datetime.fromisoformat(f[-1])).total_seconds()
        except (TypeError, ValueError):
            elapsed = 0.0
        return max(0.0, wait - max(elapsed, 0.0))

    def check_delay(self) -> None:
        """The back-off, the same at sign-in and on the lock screen (the GUI calls this through the core)."""
        wait = self.failure_delay()
        if wait > 0:
            raise InputRefused(f"パスワードの誤りが続いたため、{int(wait) + 1} 秒後にもう一度お試しください。")

    def take_failures(self) -> list[str]:
        f = list(self.data.get("failures") or [])
        self.data["failures"] = []
        return f

    # -- events waiting for the access log (authenticated) ------------------------------------------------
    def queue_event(self, action: str, ref: str | None, detail: str | None = None) -> None:
        if self.auth is None:
            self.auth = _fresh_auth()
        self.auth.setdefault("pending_events", []).append(
            {"at": now_iso(), "action": action, "ref": ref, "detail": detail}
        )

    def take_events(self) -> list[dict]:
        if not self.auth:
            return []
        ev = self.auth.get("pending_events", [])
        self.auth["pending_events"] = []
        return ev


def new_database_key() -> bytes:
    return secrets.token_bytes(32)


def new_user_ref() -> str:
    return secrets.token_hex(16)


def legacy_kdf_path(db_path) -> Path:
    return Path(str(db_path) + LEGACY_KDF_SUFFIX)


def legacy_derive(db_path, password: str) -> bytes:
    """The key of a database made before key slots: Argon2id(password) with parameters in ``<db>.kdf``."""
    d = json.loads(legacy_kdf_path(db_path).read_text(encoding="utf-8"))
    return KdfParams.from_json(d["kdf"]).derive(password)


def crash_point(step: str) -> None:
    """Test hook: ``KODOMO_CRASH_AT=<step>`` ends the process abruptly there (kill-between-steps tests)."""
    if os.environ.get("KODOMO_CRASH_AT") == step:
        os._exit(86)


__all__ = ["KodomoError"]
