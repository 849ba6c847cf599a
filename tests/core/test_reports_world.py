"""A small synthetic town for the printed documents, inserted straight through the models: households with
parents and children at three schools, records from every department, three scoring runs with reasons, a review
round, a conference with minutes, support and progress records, an observation checklist and one opt-out.

Names are invented (fictional surnames 見本/試験/仮野…, common given names); never real people. Used by
tests/test_reports.py and benchmarks/report_speed.py (``build_world``)."""

from __future__ import annotations

import datetime as dt
import random

SURNAMES = [
    ("見本", "ミホン"),
    ("試験", "シケン"),
    ("仮野", "カリノ"),
    ("例田", "レイダ"),
    ("模擬", "モギ"),
    ("架空", "カクウ"),
    ("標本", "ヒョウホン"),
    ("雛形", "ヒナガタ"),
]
BOYS = [
    ("一郎", "イチロウ"),
    ("蓮", "レン"),
    ("湊", "ミナト"),
    ("大翔", "ヒロト"),
    ("悠真", "ユウマ"),
    ("陽太", "ヨウタ"),
]
GIRLS = [
    ("花子", "ハナコ"),
    ("陽菜", "ヒナ"),
    ("結衣", "ユイ"),
    ("さくら", "サクラ"),
    ("芽衣", "メイ"),
    ("葵", "アオイ"),
]
FATHERS = [("太郎", "タロウ"), ("健一", "ケンイチ"), ("誠", "マコト")]
MOTHERS = [("陽子", "ヨウコ"), ("恵", "メグミ"), ("裕子", "ユウコ")]
SCHOOLS = ["さくら台第一小学校", "さくら台第二小学校", "さくら台中学校"]
AS_OF = dt.date(2026, 11, 1)

# indicator id, label, source type, points per type, whose record (child / mother), shown on school sheets
INDICATORS = [
    ("absence_30", "欠席日数が年間30日以上", "school_attendance", {"不登校": 3}, "child", True),
    ("nurse_visits", "保健室の来室が多い", "school_attendance", {"不登校": 1, "虐待": 1}, "child", True),
    ("untreated_caries", "未処置のむし歯がある", "school_health", {"虐待": 2}, "child", True),
    ("checkup_missed", "乳幼児健診の未受診", "maternal_child_health", {"虐待": 3}, "child", False),
    ("public_assistance", "世帯が生活保護を受給している", "public_assistance", {"貧困": 3}, "mother", False),
    ("child_rearing_allowance", "児童扶養手当を受給している", "child_rearing_allowance", {"貧困": 2}, "mother", False),
    ("tax_exempt", "住民税非課税世帯", "tax", {"貧困": 1}, "mother", False),
    ("yotaikyo_history", "要保護児童対策地域協議会の登録歴", "yotaikyo", {"虐待": 3}, "child", False),
    ("dv_consultation", "DVに関する相談歴", "consultation", {"虐待": 5}, "mother", False),
    (
        "checklist_child_state",
        "観察チェックリスト（こどもの様子）に該当",
        "school_checklist",
        {"虐待": 2},
        "child",
        True,
    ),
]
ATTRS = {
    "school_attendance": lambda r: {
        "period": "令和8年4月〜10月",
        "absence_days": r.randint(30, 60),
        "late_days": r.randint(0, 12),
        "nurse_visits": r.randint(5, 30),
    },
    "school_health": lambda r: {
        "checkup_date": "2026-05-20",
        "untreated_caries": r.randint(2, 8),
        "weight_percentile": 4,
    },
    "maternal_child_health": lambda r: {"record_kind": "乳幼児健診", "checkup_type": "3歳", "checkup_status": "未受診"},
    "public_assistance": lambda r: {"start_date": "2024-04-01", "status": "保護中"},
    "child_rearing_allowance": lambda r: {"start_date": "2023-08-01", "payment_category": "全部支給"},
    "tax": lambda r: {"tax_status": "非課税", "fiscal_year": 2026},
    "yotaikyo": lambda r: {"registered_date": "2025-06-10", "category": "ネグレクト", "status": "継続"},
    "consultation": lambda r: {"consultation_date": "2026-02-14", "category": "DV", "dv_support_measure": True},
    "school_checklist": lambda r: {"round": "令和8年度2学期", "group_counts": {"child.appearance": 2}},
    "resident_registry": lambda r: {},
}
FILES = {
    "resident_registry": ("住民基本台帳_202610.csv", dt.date(2026, 10, 1)),
    "maternal_child_health": ("乳幼児健診_令和8年9月.xlsx", dt.date(2026, 9, 30)),
    "public_assistance": ("生活保護受給者一覧_202610.csv", dt.date(2026, 10, 1)),
    "child_rearing_allowance": ("児童扶養手当受給者_R8.10.xlsx", dt.date(2026, 10, 1)),
    "tax": ("住民税課税状況_令和8年度.csv", dt.date(2026, 7, 1)),
    "school_attendance": ("出欠集計_2学期中間.xlsx", dt.date(2026, 10, 31)),
    "school_health": ("学校健診結果_令和8年度.xlsx", dt.date(2026, 6, 30)),
    "yotaikyo": ("要対協台帳_202610.xlsx", dt.date(2026, 10, 15)),
    "consultation": ("相談記録_202610.csv", dt.date(2026, 10, 20)),
    "school_checklist": ("観察チェックリスト_2学期.xlsx", dt.date(2026, 10, 25)),
}
# record date field per source (as the importer sets record_date)
REC_DATE = {
    "school_health": dt.date(2026, 5, 20),
    "maternal_child_health": dt.date(2026, 8, 18),
    "public_assistance": dt.date(2024, 4, 1),
    "child_rearing_allowance": dt.date(2023, 8, 1),
    "yotaikyo": dt.date(2025, 6, 10),
    "consultation": dt.date(2026, 2, 14),
}


def _band(age: int) -> str:
    return "未就学" if age <= 5 else "小学生" if age <= 11 else "中学生" if age <= 14 else "高校生年代"


def build_world(ws, households: int = 30, seed: int = 7) -> dict:
    """Returns {"focus": person id of the richest child, "focus_sibling", "opted_out", "children": [...],
    "flagged": [...], "round_id", "conference_id", "schools"}."""
    from kodomo_desktop.core.casework import service as C
    from kodomo_desktop.core.checklists.service import ensure_definitions
    from kodomo_desktop.core.storage.models import (
        ChecklistDefinition,
        ChecklistEntry,
        ChecklistRound,
        ChildScore,
        Household,
        Link,
        OptOut,
        Person,
        ScoreRun,
        Setting,
        SourceBatch,
        SourceRecord,
        WeightSet,
    )

    rnd = random.Random(seed)
    out = {"children": [], "flagged": [], "schools": SCHOOLS}
    with ws.session() as s:
        s.merge(Setting(key="town_name", value="さくら台町"))
        batches = {}
        for st, (fname, as_of) in FILES.items():
            b = SourceBatch(
                source_type=st, file_name=fname, file_hash=f"{st:x<64}"[:64], as_of=as_of, imported_by="coordinator"
            )
            s.add(b)
            batches[st] = b
        ws_v1 = WeightSet(
            version=1,
            name="標準",
            active=True,
            data={
                "thresholds": {
                    "未就学": {"高": 5, "中": 3},
                    "小学生": {"高": 5, "中": 3},
                    "中学生": {"高": 5, "中": 3},
                    "高校生年代": {"高": 6, "中": 4},
                },
                "sibling_points": {"虐待": 1},
            },
        )
        s.add(ws_v1)
        s.flush()
        runs = [ScoreRun(as_of=d, weight_set_id=ws_v1.id) for d in (dt.date(2026, 5, 1), dt.date(2026, 9, 1), AS_OF)]
        s.add_all(runs)
        s.flush()
        row = {st: 1 for st in FILES}

        def record(st, person, **kw):
            row[st] += 1
            rec = SourceRecord(
                batch_id=batches[st].id,
                source_type=st,
                row_number=row[st],
                raw={},
                name=person.name,
                name_kana=person.name_kana,
                birth_date=person.birth_date,
                sex=person.sex,
                resident_no=person.resident_no,
                record_date=REC_DATE.get(st, batches[st].as_of),
                attributes=ATTRS[st](rnd),
                **kw,
            )
            s.add(rec)
            s.flush()
            s.add(Link(record_id=rec.id, person_id=person.id, status="auto", method="resident_no"))
            return rec

        pid_n = 0

        def person(h, name, kana, birth, sex, rel):
            nonlocal pid_n
            pid_n += 1
            p = Person(
                id=f"P{pid_n:06d}",
                household_id=h.id,
                resident_no=f"20{pid_n:08d}",
                name=name,
                name_kana=kana,
                birth_date=birth,
                sex=sex,
                relationship=rel,
                address=f"さくら台町{1 + pid_n % 5}丁目{pid_n}番地",
            )
            s.add(p)
            s.flush()
            record("resident_registry", p)
            return p

        for hi in range(households):
            sur, sur_k = SURNAMES[hi % len(SURNAMES)]
            h = Household(id=f"H{hi + 1:06d}", household_no=f"80{hi:06d}", address=f"さくら台町{1 + hi % 5}丁目")
            s.add(h)
            s.flush()
            fa = FATHERS[hi % len(FATHERS)]
            mo = MOTHERS[hi % len(MOTHERS)]
            if hi % 4 != 3:  # every fourth household has one parent
                person(h, f"{sur} {fa[0]}", f"{sur_k} {fa[1]}", dt.date(1984 + hi % 6, 1 + hi % 12, 3), 1, "世帯主")
            mother = person(
                h,
                f"{sur} {mo[0]}",
                f"{sur_k} {mo[1]}",
                dt.date(1987 + hi % 5, 1 + (hi * 5) % 12, 9),
                2,
                "妻" if hi % 4 != 3 else "世帯主",
            )
            kids = []
            for k in range(1 + (hi % 3 if hi else 2)):
                boy = (hi + k) % 2 == 0
                given = (BOYS if boy else GIRLS)[(hi + k * 2) % 6]
                age = [8, 12, 3, 10, 14, 6, 1][(hi + k * 3) % 7] if hi else [8, 12, 3][k]
                birth = dt.date(AS_OF.year - age - 1, 4 + (hi + k) % 8, 2 + k)
                kid = person(h, f"{sur} {given[0]}", f"{sur_k} {given[1]}", birth, 1 if boy else 2, "子")
                kids.append(kid)
                out["children"].append(kid.id)
                a = AS_OF.year - birth.year - ((AS_OF.month, AS_OF.day) < (birth.month, birth.day))
                if 6 <= a <= 14:
                    school = SCHOOLS[2] if a >= 12 else SCHOOLS[(hi + k) % 2]
                    grade = str(a - 5 if a < 12 else a - 11)
                    record("school_attendance", kid, school=school, grade=grade, class_name=str(1 + (hi + k) % 3))
            for kid in kids:
                a = (
                    AS_OF.year
                    - kid.birth_date.year
                    - ((AS_OF.month, AS_OF.day) < (kid.birth_date.month, kid.birth_date.day))
                )
                chosen = [
                    i
                    for i in INDICATORS
                    if (i[2].startswith("school") and 6 <= a <= 14)
                    or (i[2] == "maternal_child_health" and a < 6)
                    or i[4] == "mother"
                ]
                chosen = (
                    chosen if hi == 0 and kid is kids[0] else rnd.sample(chosen, k=min(len(chosen), rnd.randint(0, 4)))
                )
                reasons = []
                for ind, label, st, pts, whose, shown in chosen:
                    subj = kid if whose == "child" else mother
                    rec = record(st, subj)
                    b = batches[st]
                    reasons.append(
                        {
                            "indicator": ind,
                            "label": label,
                            "points": float(sum(pts.values())),
                            "types": pts,
                            "source_type": st,
                            "record_date": rec.record_date.isoformat(),
                            "file_name": b.file_name,
                            "batch_id": b.id,
                            "as_of": b.as_of.isoformat(),
                            "via": "本人" if whose == "child" else "世帯員",
                            "school_held": st.startswith("school"),
                            "basic": ind in ("absence_30", "checkup_missed", "public_assistance", "yotaikyo_history"),
                            "shown_on_sheets": shown,
                        }
                    )
                protective = []
                if hi == 0 and kid is kids[0]:
                    protective.append(
                        {
                            "indicator": "protective_club",
                            "label": "放課後の居場所（児童クラブ）を利用",
                            "source_type": "school_attendance",
                            "record_date": "2026-10-31",
                        }
                    )
                by_type: dict[str, float] = {}
                for r in reasons:
                    for t, p in r["types"].items():
                        by_type[t] = by_type.get(t, 0) + p
                sib = (
                    {"points": 1, "from": [k.id for k in kids if k is not kid]}
                    if len(kids) > 1 and hi % 2 == 0
                    else {"points": 0, "from": []}
                )
                if sib["points"]:
                    by_type["虐待"] = by_type.get("虐待", 0) + 1
                no_data = []
                if 6 <= a <= 15 and not any(r["source_type"].startswith("school") for r in reasons) and a >= 15:
                    no_data.append("学校データなし")
                if a <= 3 and not any(r["source_type"] == "maternal_child_health" for r in reasons):
                    no_data.append("母子保健データなし")
                total = sum(by_type.values())
                school_pts = sum(r["points"] for r in reasons if r["school_held"])
                for n, run in enumerate(runs):
                    factor = [0.6, 0.8, 1.0][n]
                    tp = {t: round(p * factor) for t, p in by_type.items() if round(p * factor)}
                    bands = {t: "高" if p >= 5 else "中" if p >= 3 else "低" for t, p in tp.items()}
                    crossed = [t for t in tp if bands[t] != "低"]
                    s.add(
                        ChildScore(
                            run_id=run.id,
                            person_id=kid.id,
                            total=float(sum(tp.values())),
                            band="高" if "高" in bands.values() else "中" if crossed else "低",
                            types=";".join(crossed),
                            basic_items=sum(1 for r in reasons if r["basic"]),
                            flagged=bool(crossed) and total >= 6,
                            school_points=school_pts,
                            details={
                                "types": tp,
                                "bands": bands,
                                "age": a,
                                "age_band": _band(a),
                                "reasons": reasons,
                                "protective": protective,
                                "no_data": no_data,
                                "basic_items": 0,
                                "school_points": school_pts,
                                "other_points": total - school_pts,
                                "yotaikyo_active": any(r["source_type"] == "yotaikyo" for r in reasons),
                                "sibling": sib,
                                "history": {
                                    "newly_flagged": n == 1,
                                    "sharp_rise": False,
                                    "flagged_runs_in_a_row": n + 1,
                                },
                            },
                        )
                    )
                flagged = bool(by_type) and total >= 6 and any(p >= 3 for p in by_type.values())
                if flagged:
                    out["flagged"].append(kid.id)
            if hi == 0:
                out["focus"], out["focus_sibling"] = kids[0].id, kids[1].id
        s.flush()
        # a child on the opt-out register
        opted = out["children"][-1]
        s.add(OptOut(person_id=opted, from_date=dt.date(2026, 1, 1), reason="不同意書の提出"))
        out["opted_out"] = opted
        if opted in out["flagged"]:
            out["flagged"].remove(opted)
        # the checklist
        ensure_definitions(s)
        d = s.query(ChecklistDefinition).filter_by(key="abuse_observation").first()
        cr = ChecklistRound(name="令和8年度2学期", definition_id=d.id, opened_on=dt.date(2026, 10, 1))
        s.add(cr)
        s.flush()
        answers = {it["id"]: ("1" if n % 9 == 0 else "2") for n, it in enumerate(d.data["items"])}
        s.add(
            ChecklistEntry(
                round_id=cr.id,
                person_id=out["focus"],
                school=SCHOOLS[0],
                answers=answers,
                remark="朝食をとらずに登校する日が続いている。",
                status="submitted",
                via="app",
                entered_by="teacher1",
                entered_on=dt.date(2026, 10, 20),
            )
        )
    # casework through its own services (so the rules hold)
    rid = C.create_round(ws, "令和8年度 2学期")
    C.classify(ws, rid, out["focus"], "b", "欠席の増加と家庭の経済的困窮が重なっているため、予防的支援を検討する。")
    cid = C.create_conference(
        ws,
        "ケース会議",
        dt.date(2026, 11, 30),
        title="第3回 こども支援ケース会議",
        place="さくら台町役場 2階 第1会議室",
        attendees=[
            {"organisation": "こども家庭センター", "role": "統括支援員"},
            {"organisation": "保健センター", "role": "保健師"},
            {"organisation": "さくら台第一小学校", "role": "教頭"},
            {"organisation": "教育委員会", "role": "スクールソーシャルワーカー"},
        ],
        round_id=rid,
        person_ids=[out["focus"]],
    )
    second = next(p for p in out["flagged"] if p not in (out["focus"], out["focus_sibling"]))
    C.add_to_conference(ws, cid, [second])
    for pid in out["flagged"][1:4]:
        C.classify(ws, rid, pid, "c", "学校での様子を確認しながら経過を見る。")
    C.record_minutes(
        ws,
        cid,
        second,
        support_needed="要",
        direction="B",
        lead_organisation="社会福祉協議会",
        actions="子ども食堂と学習支援につなぐ。",
        next_review_on=dt.date(2027, 1, 29),
        minutes="母の同意を得て社会福祉協議会が連絡する。",
    )
    prev = C.create_conference(
        ws, "校内委員会", dt.date(2026, 6, 12), title="1学期 校内委員会", person_ids=[out["focus"]]
    )
    C.record_minutes(
        ws,
        prev,
        out["focus"],
        support_needed="要",
        direction="A",
        lead_organisation="さくら台第一小学校",
        actions="担任が毎朝声をかけ、欠席が3日続いたら家庭訪問する。",
        next_review_on=dt.date(2026, 9, 30),
        minutes="母の就労状況と生活状況を保健師が確認する。",
    )
    C.add_progress(
        ws,
        out["focus"],
        dt.date(2026, 7, 8),
        "家庭訪問",
        who="保健師",
        what="母と面談。生活の状況を聞き取った。",
        outcome="食事の支援について社会福祉協議会を紹介。",
        next_action_on=dt.date(2026, 8, 1),
    )
    C.add_progress(
        ws, out["focus"], dt.date(2026, 9, 2), "面談", who="担任", what="本人と面談。2学期は登校できている。"
    )
    out["round_id"], out["conference_id"], out["previous_conference_id"] = rid, cid, prev
    return out


def test_world_builds(new_db):
    w = build_world(new_db, households=4)
    assert w["focus"] and w["flagged"] and w["opted_out"] not in w["flagged"]
