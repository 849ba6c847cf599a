"""The envelope of a file that leaves the PC: AES-256-GCM under a key derived from a one-time password (Argon2id).

Layout: ``MAGIC (8) | header length (2) | header JSON | nonce (12) | ciphertext+tag``. The header (KDF parameters,
salt, what the file is) is authenticated as associated data, so a changed byte anywhere — header, nonce or body —
makes the file refuse to open, the same as a wrong password (GCM cannot tell the two apart, and neither should we).
"""

from __future__ import annotations

import base64
import json
import os
import struct

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import InputRefused
from ..storage.keys import KDF_FLOOR_MEMORY, KDF_FLOOR_TIME

MAGIC = b"KODOMO\x00\x01"
# Argon2id at the same floor as the key slots (64 MiB, t=3): a package travels and may be attacked offline. A file
# that says it was sealed with less is refused (KDF_FLOOR: time cost, memory in KiB).
KDF = {"alg": "argon2id", "m": KDF_FLOOR_MEMORY, "t": KDF_FLOOR_TIME, "p": 1}
KDF_FLOOR = (KDF_FLOOR_TIME, KDF_FLOOR_MEMORY)
MIN_PASSWORD = 8


def check_password(password: str | None) -> str:
    if not password or len(password) < MIN_PASSWORD:
        raise InputRefused(
            f"ファイルのパスワードは {MIN_PASSWORD} 文字以上にしてください"
            "（CLI: 環境変数 KODOMO_FILE_PASSWORD。電話など別の経路で相手に伝えます）。"
        )
    return password


def _key(password: str, salt: bytes, kdf: dict) -> bytes:
    if kdf.get("alg") != "argon2id" or int(kdf.get("m", 0)) < KDF_FLOOR[1] or int(kdf.get("t", 0)) < KDF_FLOOR[0]:
        raise InputRefused("このファイルの鍵の作り方は受け付けられません（弱すぎる設定です）。")
    return hash_secret_raw(
        password.encode("utf-8"),
        salt,
        time_cost=int(kdf["t"]),
        memory_cost=int(kdf["m"]),
        parallelism=int(kdf.get("p", 1)),
        hash_len=32,
        type=Type.ID,
    )


def seal(payload: bytes, password: str | None, kind: str, meta: dict | None = None) -> bytes:
    """Encrypt ``payload`` to ``password``; ``kind`` and ``meta`` travel in the clear but authenticated."""
    password = check_password(password)
    salt = os.urandom(16)
    header = {"kind": kind, "kdf": {**KDF, "salt": base64.b64encode(salt).decode()}, **(meta or {})}
    hb = json.dumps(header, ensure_ascii=False, sort_keys=True).encode("utf-8")
    nonce = os.urandom(12)
    body = AESGCM(_key(password, salt, KDF)).encrypt(nonce, payload, MAGIC + hb)
    return MAGIC + struct.pack(">H", len(hb)) + hb + nonce + body


def read_header(data: bytes) -> dict:
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 2:
        raise InputRefused("Kodomo Desktop の暗号化ファイルではありません。")
    (n,) = struct.unpack(">H", data[len(MAGIC) : len(MAGIC) + 2])
    try:
        return json.loads(data[len(MAGIC) + 2 : len(MAGIC) + 2 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InputRefused("ファイルが壊れているか、書き換えられています。") from None


def open_sealed(data: bytes, password: str | None, kind: str) -> tuple[dict, bytes]:
    """(header, payload); refuses a wrong password, a changed byte and a file of another kind alike."""
    header = read_header(data)
    if header.get("kind") != kind:
        raise InputRefused(f"このファイルは {header.get('kind')} です（{kind} ではありません）。")
    if not password:
        raise InputRefused("ファイルのパスワードを指定してください（CLI: 環境変数 KODOMO_FILE_PASSWORD）。")
    (n,) = struct.unpack(">H", data[len(MAGIC) : len(MAGIC) + 2])
    hb = data[len(MAGIC) + 2 : len(MAGIC) + 2 + n]
    rest = data[len(MAGIC) + 2 + n :]
    try:
        salt = base64.b64decode(header["kdf"]["salt"])
        key = _key(password, salt, header["kdf"])
        payload = AESGCM(key).decrypt(rest[:12], rest[12:], MAGIC + hb)
    except (InvalidTag, KeyError, ValueError, TypeError):
        raise InputRefused(
            "ファイルを開けません。パスワードが違うか、ファイルが途中で書き換えられています。何も取り込んでいません。"
        ) from None
    return header, payload


def seal_with_key(payload: bytes, key: bytes, aad: bytes) -> bytes:
    """AES-GCM under a random key kept inside the town's encrypted database (the pseudonym key table)."""
    nonce = os.urandom(12)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, payload, aad)


def open_with_key(data: bytes, key: bytes, aad: bytes) -> bytes:
    if not data.startswith(MAGIC):
        raise InputRefused("対応表のファイルではありません。")
    try:
        return AESGCM(key).decrypt(data[len(MAGIC) : len(MAGIC) + 12], data[len(MAGIC) + 12 :], aad)
    except InvalidTag:
        raise InputRefused("対応表が壊れているか、別の提供のものです。") from None
