"""The log's entry hash (core/audit/log.py entry_hash): SHA-256 of the entry as compact JSON, exactly the text
``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` makes — the joined fast path included — so every log
written by an earlier version still verifies."""

from __future__ import annotations

import hashlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from kodomo_desktop.core.audit.log import entry_hash

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)  # (a lone surrogate is not UTF-8 at all)


def _as_json(*fields) -> str:
    return hashlib.sha256(json.dumps(list(fields), ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(10**20), max_value=10**20), TEXT, TEXT, TEXT, st.none() | TEXT, st.none() | TEXT, TEXT)
def test_the_hash_is_that_of_json_dumps(seq, at, user, action, person_id, detail, prev):
    assert entry_hash(seq, at, user, action, person_id, detail, prev) == _as_json(
        seq, at, user, action, person_id, detail, prev
    )


def test_known_entry_and_other_types_hash_as_json():
    detail = '{"records": 3, "note": "改行\\n と \\"引用\\""}'
    fields = (7, "2026-11-01T08:30:00+09:00", "coordinator", "view_person", "P0000001", detail, "0" * 64)
    assert entry_hash(*fields) == _as_json(*fields)
    # a value of another type than the log's own (a bool, a float) goes through json.dumps itself
    odd = (True, "t", "u", "a", None, 1.5, "p")
    assert entry_hash(*odd) == _as_json(*odd)  # type: ignore[arg-type]
