"""Issue 21 (start-up): the CLI starts its sign-in's Argon2id run on the second core while it imports what its command
needs. The result is the same derivation, used once and only for exactly the same input; a wrong password still
fails as before."""

import os

import pytest
from clirun import run_cli
from conftest import PASSWORD

from kodomo_desktop.core.errors import WrongPassword
from kodomo_desktop.core.storage import keys as K
from kodomo_desktop.core.workspace import Workspace

# the sign-in prefetch's one Argon2id run per command, at the application's cost (tests/conftest.py)
pytestmark = pytest.mark.kdf_floor


@pytest.fixture
def real_kdf(monkeypatch):
    """Argon2id really run (no test cache), each run counted."""
    monkeypatch.setattr(K, "_test_cache", None)
    runs = []
    real = K.KdfParams._argon2

    def counted(self, secret):
        runs.append(secret)
        return real(self, secret)

    monkeypatch.setattr(K.KdfParams, "_argon2", counted)
    yield runs
    assert not K._prefetched or all(not t.is_alive() for t, _ in K._prefetched.values())
    K._prefetched.clear()


def test_a_prefetched_sign_in_is_the_same_derivation_and_is_used_once(new_db, real_kdf):
    path = new_db.path
    new_db.close()
    kf = K.KeyFile.load(path)
    expected = kf.derive(None, PASSWORD)  # one run, not prefetched
    assert len(real_kdf) == 1
    K.prefetch_sign_in(path, None, PASSWORD)
    assert len(K._prefetched) == 1
    assert K.KeyFile.load(path).derive(None, PASSWORD) == expected  # the prefetched run's result
    assert len(real_kdf) == 2 and not K._prefetched  # consumed: a second open derives again
    ws = Workspace.open(path, PASSWORD)
    ws.close()
    assert len(real_kdf) == 3


def test_a_prefetch_is_never_used_for_another_password_or_name(new_db, real_kdf):
    path = new_db.path
    new_db.close()
    K.prefetch_sign_in(path, None, PASSWORD)
    with pytest.raises(WrongPassword):
        Workspace.open(path, PASSWORD + "x")
    with pytest.raises(WrongPassword):
        Workspace.open(path, PASSWORD, "誰でもない人")
    assert len(K._prefetched) == 1  # the right password's run is still unused
    K.prefetch_sign_in(path, None, "wrong password 1")
    with pytest.raises(WrongPassword):
        Workspace.open(path, "wrong password 1")


def test_nothing_is_started_without_a_key_file(tmp_path, real_kdf):
    K.prefetch_sign_in(tmp_path / "none.db", None, PASSWORD)
    K.prefetch_sign_in(tmp_path / "none.db", None, "\udcff")  # not UTF-8: refused later, by the open
    assert not K._prefetched and not real_kdf


def test_the_cli_signs_in_with_one_argon2_run_started_before_its_imports(new_db, real_kdf, monkeypatch):
    path = new_db.path
    new_db.close()
    started = []
    real = K.prefetch_sign_in
    monkeypatch.setattr(K, "prefetch_sign_in", lambda *a: started.append(a) or real(*a))
    env = dict(os.environ, KODOMO_DB_PASSWORD=PASSWORD)
    env.pop("KODOMO_USER", None)
    r = run_cli(["batches", "list", "--db", str(path)], env=env)
    assert r.returncode == 0, r.stderr
    assert started == [(str(path), None, PASSWORD)]
    assert len(real_kdf) == 1 and not K._prefetched
