"""Shared test setup: Qt offscreen, quick Argon2 (parameters still travel with each slot)."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("KODOMO_KDF_TARGET_MS", "20")

import pytest  # noqa: E402

PASSWORD = 'test "pass" ü 1'


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def new_db(tmp_path):
    """A fresh encrypted database (path, open Workspace) with its first coordinator."""
    from kodomo_desktop.core.workspace import Workspace
    ws = Workspace.create(tmp_path / "t.db", PASSWORD)
    yield ws
    ws.close()
