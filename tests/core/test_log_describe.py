"""The access log's details read as Japanese for people: no JSON, no internal codes, no ISO timestamps."""

import re

from kodomo_desktop.core.audit.describe import describe


def test_details_become_japanese_sentences():
    s = describe('{"batch_id": 1, "imported": 609, "rejected": 1, "rows": 610, "source_type": "resident_registry"}')
    assert s == "取込元 住民基本台帳、取込 609 行、除外 1 行、行数 610 行、取込番号 1"
    assert describe({"as_of": "2026-11-01", "children": 128, "flagged": 18}) == (
        "こども 128 人、抽出 18 人、基準日 2026年11月1日"
    )
    assert describe({"keys": ["auto_lock_minutes", "town_name"]}) == "変更した設定 自動ロックまでの時間・自治体名"
    assert describe({"permission": "users.manage", "role": "school"}) == "役割 学校、必要な権限 利用者を管理する"
    assert describe(None) == "" and describe("") == ""
    # an unknown key is kept (nothing dropped) but its code is not shown
    s = describe({"mystery_field": 3})
    assert s == "その他 3"
    for text in (describe({"user": "daiichi", "role": "school"}), describe({"unlock": True})):
        assert not re.search(r"[{}\"_]|\d{4}-\d{2}-\d{2}", text), text
    # lists, scopes and refused actions are named in Japanese, not by their codes
    assert describe({"list": "open_cases", "rows": 0}) == "一覧 支援中のケース、行数 0 行"
    assert describe({"scope": "children_list", "results": 127}) == "範囲 こども一覧、結果 127 件"
    assert describe({"what": "users add"}) == "対象 利用者追加"


def test_details_read_in_english_when_the_gui_is_english():
    from kodomo_desktop.core import i18n
    from kodomo_desktop.core.audit.describe import KEYS, KEYS_EN

    assert set(KEYS_EN) == set(KEYS)  # every key has its English
    japanese = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
    try:
        i18n.set_language("en")
        s = describe({"batch_id": 1, "imported": 609, "rejected": 1, "source_type": "resident_registry"})
        assert s == "Source Resident registry; Imported 609 rows; Left out 1 rows; Import no. 1"
        assert describe({"scope": "children_list", "results": 127}).startswith("Scope ")
        assert describe({"what": "report conference", "role": "school"}) == "Role School; What report conference"
        assert describe({"as_of": "2026-11-01", "unlock": True}) == "As of 2026-11-01; Unlock yes"
        for detail in ({"permission": "users.manage"}, {"list": "open_cases", "rows": 0}, {"mystery": None}):
            assert not japanese.search(describe(detail)), describe(detail)
    finally:
        i18n.set_language("ja")
    assert describe({"unlock": True}) == "ロック解除 はい"


def test_link_and_score_run_modes_read_in_words():
    assert describe({"mode": "incremental", "recomputed": 3, "reused": 125}) == (
        "方式 変わった分のみ、計算し直したこども 3 人、前回の結果を使ったこども 125 人"
    )
    assert describe({"mode": "full", "why": "初回の名寄せ", "written": 1172}) == (
        "方式 全件、方式の理由 初回の名寄せ、書き込んだ連結 1172 件"
    )


def test_an_incremental_link_run_says_how_many_pairs_it_compared():
    from kodomo_desktop.core import i18n

    detail = {"mode": "incremental", "pairs": 2950, "pairs_compared": 41, "pairs_reused": 2909}
    assert describe(detail) == (
        "方式 変わった分のみ、名寄せの候補の組 2950 組、比較した組 41 組、前回の比較を使った組 2909 組"
    )
    try:
        i18n.set_language("en")
        assert describe(detail) == (
            "Mode incremental; Candidate pairs 2950; Pairs compared 41; Pairs taken from the last run 2909"
        )
    finally:
        i18n.set_language("ja")
