"""The envelope of a file that leaves the PC (core/sharing/crypto.py) at the application's own Argon2id cost: sealed
at the key slots' floor, opened with the password only, and a file whose header claims less than the floor refused
before any key is derived (an altered header cannot make the receiving PC accept a weak key)."""

from __future__ import annotations

import base64
import json
import struct

import pytest

from kodomo_desktop.core.errors import InputRefused
from kodomo_desktop.core.sharing import crypto as C
from kodomo_desktop.core.storage.keys import KDF_FLOOR_MEMORY, KDF_FLOOR_TIME

pytestmark = pytest.mark.kdf_floor  # (the rest of the suite seals at a test cost: tests/conftest.py)

PW = "電話で伝える合言葉"


def _with_header(data: bytes, header: dict) -> bytes:
    (n,) = struct.unpack(">H", data[len(C.MAGIC) : len(C.MAGIC) + 2])
    hb = json.dumps(header, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return C.MAGIC + struct.pack(">H", len(hb)) + hb + data[len(C.MAGIC) + 2 + n :]


@pytest.fixture(scope="module")
def sealed() -> bytes:
    """Sealed once for the module, at the floor (a module fixture runs before the per-test kdf_floor switch)."""
    from conftest import _FLOOR_SEALING

    was = C.KDF, C.KDF_FLOOR
    C.KDF, C.KDF_FLOOR = _FLOOR_SEALING
    try:
        return C.seal("引き継ぎの中身".encode(), PW, "handover", {"to": "みなと市"})
    finally:
        C.KDF, C.KDF_FLOOR = was


def test_a_file_is_sealed_at_the_key_slots_floor_and_opens_with_its_password(sealed):
    data = sealed
    kdf = C.read_header(data)["kdf"]
    assert (kdf["alg"], kdf["t"], kdf["m"]) == ("argon2id", KDF_FLOOR_TIME, KDF_FLOOR_MEMORY)
    assert len(base64.b64decode(kdf["salt"])) == 16
    header, payload = C.open_sealed(data, PW, "handover")
    assert payload.decode() == "引き継ぎの中身" and header["to"] == "みなと市"


@pytest.mark.parametrize("weaker", [{"t": 1}, {"m": 64}, {"alg": "argon2i"}, {"t": KDF_FLOOR_TIME - 1}])
def test_a_file_claiming_less_than_the_floor_is_refused(sealed, weaker):
    data = sealed
    header = C.read_header(data)
    header["kdf"] = {**header["kdf"], **weaker}
    with pytest.raises(InputRefused, match="弱すぎる"):
        C.open_sealed(_with_header(data, header), PW, "handover")
