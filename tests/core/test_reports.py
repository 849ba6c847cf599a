"""Printed documents: every document rendered from a small synthetic town, turned into PNG pages (pdftoppm) and
read back (pdftotext, pdffonts): Japanese names and labels, 取扱注意 and 'x / y' on every page, every font
embedded, masking, refusals and the access-log entry."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from clirun import run_cli
from conftest import PASSWORD
from sqlalchemy import select
from test_reports_world import build_world

from kodomo_desktop.core.errors import InputRefused, NotFound, PermissionDenied
from kodomo_desktop.core.reports import base as B
from kodomo_desktop.core.reports import service as R
from kodomo_desktop.core.storage.models import AccessLogEntry, Person
from kodomo_desktop.core.workspace import Workspace

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("pdftotext", "pdffonts", "pdftoppm")),
    reason="poppler-utils (pdftotext, pdffonts, pdftoppm) are needed",
)


# --- reading PDFs back -------------------------------------------------------------------------------------------
def pages_text(pdf: Path, *, layout: bool = False) -> list[str]:
    """Per page; reading order by default (a wrapped table cell stays together), ``layout`` for column positions."""
    cmd = ["pdftotext"] + (["-layout"] if layout else []) + [str(pdf), "-"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    pages = out.split("\f")
    return [p for p in pages[:-1]] if pages and not pages[-1].strip() else pages


def flat(text: str) -> str:
    """Text without spaces and line breaks (layout spreads Japanese words over columns)."""
    return re.sub(r"[\s\u3000\u00a0]+", "", text)


def fonts(pdf: Path) -> list[dict]:
    out = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()
    rows = []
    for line in out[2:]:
        parts = line.split()
        # name type [type2] encoding emb sub uni object ID
        rows.append({"name": parts[0], "emb": parts[-5], "sub": parts[-4], "uni": parts[-3]})
    return rows


def check_document(pdf: Path, pages: int, tmp: Path) -> list[str]:
    """What every document must be: A4 pages, 取扱注意 and 'x / y ページ' on each, fonts embedded, PNG-able."""
    assert pdf.exists() and pdf.stat().st_size > 1000
    texts = pages_text(pdf)
    assert len(texts) == pages
    for n, t in enumerate(texts, 1):
        assert "取扱注意" in t, f"page {n} has no 取扱注意"
        assert re.search(rf"\b{n}\s*/\s*{pages}\s*ページ", t), f"page {n} lacks '{n} / {pages} ページ'"
        assert "出力者" in t and "出力日時" in t and "令和" in t
    fs = fonts(pdf)
    assert fs and all(f["emb"] == "yes" for f in fs), fs
    assert {f["name"].split("+")[-1] for f in fs} <= {"IPAexGothic", "IPAexMincho"}
    info = (
        subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout if shutil.which("pdfinfo") else ""
    )
    if info:
        assert "595.276 x 841.89" in info or "595.28 x 841.89" in info  # A4 portrait
    png_dir = tmp / f"png-{pdf.stem}"
    png_dir.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "20", str(pdf), str(png_dir / "p")], check=True)
    assert len(list(png_dir.glob("p-*.png"))) == pages
    return texts


def print_logs(ws, since: int) -> list[dict]:
    with ws.session() as s:
        rows = s.scalars(
            select(AccessLogEntry)
            .where(AccessLogEntry.seq > since, AccessLogEntry.action == "print")
            .order_by(AccessLogEntry.seq)
        ).all()
        return [{"person_id": r.person_id, "detail": json.loads(r.detail or "{}")} for r in rows]


def last_seq(ws) -> int:
    with ws.session() as s:
        return s.scalar(select(AccessLogEntry.seq).order_by(AccessLogEntry.seq.desc()).limit(1)) or 0


def names(ws, ids) -> dict[str, str]:
    with ws.session() as s:
        return {p.id: p.name for p in s.scalars(select(Person).where(Person.id.in_(list(ids))))}


# --- the town ----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def town(tmp_path_factory, new_db_at):
    os.environ.setdefault("KODOMO_KDF_TARGET_MS", "20")
    d = tmp_path_factory.mktemp("reports")
    ws = new_db_at(d / "town.db")  # a new database (a copy of one Workspace.create)
    w = build_world(ws, households=30)
    yield ws, w, d
    ws.close()


# --- helpers --------------------------------------------------------------------------------------------------------
def test_wareki_and_initials():
    assert B.wareki(dt.date(2026, 11, 23)) == "令和8年11月23日"
    assert B.wareki(dt.date(2019, 5, 1)) == "令和元年5月1日"
    assert B.wareki(dt.date(2019, 4, 30)) == "平成31年4月30日"
    assert B.wareki(dt.date(1989, 1, 7)) == "昭和64年1月7日"
    assert B.wareki("2026-11-23", short=True) == "R8.11.23"
    assert B.wareki(dt.date(2026, 11, 23), seireki=True) == "令和8年11月23日（2026年11月23日）"
    assert B.wareki(dt.date(2026, 11, 30), weekday=True) == "令和8年11月30日（月）"
    assert B.wareki(None) == "" and B.wareki("nan") == ""
    assert B.initials("見本 花子", "ミホン ハナコ") == "M.H."
    assert B.initials("試験　千尋", "ｼｹﾝ ﾁﾋﾛ") == "S.C."
    assert B.initials("見本 花子", None) == "見〇　花〇"
    assert B.MASKS["school"].shows_source("school_attendance") and not B.MASKS["school"].shows_source(
        "public_assistance"
    )
    with pytest.raises(InputRefused):
        B.mask_profile("everything")


# --- assessment sheet ---------------------------------------------------------------------------------------------------
def test_assessment_sheet(town, tmp_path):
    ws, w, _ = town
    pid = w["focus"]
    seq = last_seq(ws)
    out = tmp_path / "assessment.pdf"
    res = R.assessment_pdf(ws, pid, out)
    texts = check_document(out, res["pages"], tmp_path)
    all_ = flat("".join(texts))
    who = names(ws, [pid, w["focus_sibling"]])
    assert flat(who[pid]) in all_ and flat(who[w["focus_sibling"]]) in all_  # the child and a sibling
    for label in (
        "さくら台町",
        "アセスメントシート",
        "対象のこども",
        "生年月日",
        "世帯の構成",
        "ジェノグラム",
        "緊急度・重症度",
        "安全確認",
        "連携した記録で該当した項目",
        "DVに関する相談歴",
        "こども家庭センター（相談）",
        "相談記録_202610.csv",
        "欠席日数が年間30日以上",
        "情報源ごとの状況",
        "観察チェックリストの結果",
        "季節に合わない服装",
        "抽出の履歴",
        "これまでの判断",
        "予防的支援",
        "校内委員会",
        "支援計画と経過記録",
        "家庭訪問",
        "放課後の居場所",
        "本人の意向・保護者の意向",
        "総合評価",
        "係長",
        B.CAVEAT,
    ):
        assert flat(label) in all_, label
    assert re.search(r"(平成|令和)\d+年\d+月\d+日", all_)
    logs = print_logs(ws, seq)
    assert logs == [{"person_id": pid, "detail": {"document": "assessment", "pages": res["pages"], "persons": [pid]}}]
    assert flat(who[pid]) not in json.dumps(logs, ensure_ascii=False)


def test_assessment_masks(town, tmp_path):
    ws, w, _ = town
    pid = w["focus"]
    out = tmp_path / "initials.pdf"
    R.assessment_pdf(ws, pid, out, mask="initials")
    all_ = flat("".join(pages_text(out)))
    who = names(ws, [pid])[pid]
    assert flat(who) not in all_  # initials only
    assert "M.I." in all_  # 見本 一郎 → M.I.
    # the assessment sheet is the meeting's document: a school never gets one (core/audience.py decides)
    for mask in ("school", "school_initials"):
        with pytest.raises(InputRefused):
            R.assessment_pdf(ws, pid, tmp_path / "school.pdf", mask=mask)
    assert not (tmp_path / "school.pdf").exists()


def test_assessment_refuses_unknown_and_opted_out(town, tmp_path):
    ws, w, _ = town
    seq = last_seq(ws)
    with pytest.raises(NotFound):
        R.assessment_pdf(ws, "P999999", tmp_path / "x.pdf")
    with pytest.raises(InputRefused):
        R.assessment_pdf(ws, w["opted_out"], tmp_path / "y.pdf")
    assert not (tmp_path / "x.pdf").exists() and not (tmp_path / "y.pdf").exists()
    assert print_logs(ws, seq) == []


# --- case-conference packet -------------------------------------------------------------------------------------------
def test_conference_packet_for_five_children(town, tmp_path):
    ws, w, _ = town
    ids = w["flagged"][:5]
    seq = last_seq(ws)
    out = tmp_path / "packet.pdf"
    res = R.conference_pdf(ws, ids, out)
    texts = check_document(out, res["pages"], tmp_path)
    assert res["pages"] >= 2 + 5
    cover, toc = flat(texts[0]), flat(texts[1])
    assert (
        "ケース会議資料" in cover and "出席者" in cover and "取扱注意" in cover and "検討対象のこども（5名）" in cover
    )
    assert "目次" in toc and "議事次第" in toc
    who = names(ws, ids)
    toc_pages = []
    toc_layout = pages_text(out, layout=True)[1]
    for n, pid in enumerate(ids, 1):
        assert flat(who[pid]) in cover
        # the contents give the page of each child, and that page is the child's
        m = re.search(rf"No\.{n}\s+.*?\s(\d+)\s*$", toc_layout, re.M)
        assert m, f"No.{n} not in the contents"
        toc_pages.append(int(m.group(1)))
        assert f"No.{n}{flat(who[pid])}" in flat(texts[toc_pages[-1] - 1])
    for n, pid in enumerate(ids, 1):  # a first page with the decision box, then continuation pages
        end = toc_pages[n] - 1 if n < len(ids) else len(texts)
        assert 1 <= end - toc_pages[n - 1] + 1 <= 3
        first = flat(texts[toc_pages[n - 1] - 1])
        assert "会議での決定" in first and "生年月日" in first and "抽出の理由" in first
        child = flat("".join(texts[toc_pages[n - 1] - 1 : end]))
        for label in (
            "抽出の理由",
            "きょうだい・世帯",
            "最近の記録",
            "これまでの判断",
            "会議での決定",
            "支援要否",
            "□要",
            "□不要",
            "□継続検討",
            "□A校内支援",
            "□B地域資源",
            "□C専門機関",
            "主担当機関",
            "次回見直し日",
        ):
            assert label in child, (n, label)
    # each child starts on a new page, in order, right after the cover and the contents
    assert toc_pages[0] == 3 and all(a < b for a, b in zip(toc_pages, toc_pages[1:]))
    logs = print_logs(ws, seq)
    assert logs[-1]["detail"] == {"document": "conference", "pages": res["pages"], "persons": ids}
    assert logs[-1]["person_id"] is None


def test_conference_packet_from_conference_shows_recorded_decisions(town, tmp_path):
    ws, w, _ = town
    out = tmp_path / "minutes.pdf"
    res = R.conference_pdf(ws, [], out, conference_id=w["previous_conference_id"])
    texts = check_document(out, res["pages"], tmp_path)
    all_ = flat("".join(texts))
    assert "校内委員会資料" in all_ and "1学期校内委員会" in all_
    assert "■要" in all_ and "■A校内支援" in all_ and "令和8年9月30日" in all_


def test_conference_packet_refusals(town, tmp_path):
    ws, w, _ = town
    with pytest.raises(InputRefused):
        R.conference_pdf(ws, [w["focus"], w["opted_out"]], tmp_path / "a.pdf")
    with pytest.raises(NotFound):
        R.conference_pdf(ws, [w["focus"], "P999999"], tmp_path / "b.pdf")
    with pytest.raises(InputRefused):
        R.conference_pdf(ws, [], tmp_path / "c.pdf")
    assert not list(tmp_path.glob("*.pdf"))


def test_permission_is_required(town, tmp_path):
    ws, w, d = town
    if not any(u["name"] == "teacher" for u in ws.list_users()):
        ws.add_user("teacher", PASSWORD, "school", school=w["schools"][0])
    t = Workspace.open(d / "town.db", PASSWORD, "teacher")
    try:
        with pytest.raises(PermissionDenied):
            R.assessment_pdf(t, w["focus"], tmp_path / "t.pdf")
        with pytest.raises(PermissionDenied):
            R.school_sheet_pdf(t, w["schools"][0], tmp_path / "s.pdf")
    finally:
        t.close()
    assert not list(tmp_path.glob("*.pdf"))


# --- school sheet, handover, round statistics ------------------------------------------------------------------------
def test_school_sheet_shows_only_what_a_school_may_see(town, tmp_path):
    ws, w, _ = town
    school = w["schools"][0]
    seq = last_seq(ws)
    out = tmp_path / "school.pdf"
    res = R.school_sheet_pdf(ws, school, out)
    texts = check_document(out, res["pages"], tmp_path)
    all_ = flat("".join(texts))
    persons = print_logs(ws, seq)[-1]["detail"]["persons"]
    assert persons and w["focus"] in persons
    who = names(ws, persons)
    for pid in persons:
        assert flat(who[pid]) in all_
    for label in (
        "情報収集シート",
        school,
        "確認された項目",
        "欠席日数が年間30日以上",
        "学校での様子",
        "先生の判断",
        "□支援が必要と思われる",
        "記入者",
        "記入日",
    ):
        assert flat(label) in all_, label
    for hidden in (
        "生活保護",
        "児童扶養手当を受給",
        "DVに関する相談歴",
        "住民税非課税",
        "要保護児童対策地域協議会",
        "乳幼児健診",
        "小計",
        "点数",
    ):
        assert hidden not in all_.replace("点数や福祉関係の情報は記載していません", ""), hidden
    with pytest.raises(NotFound):
        R.school_sheet_pdf(ws, "存在しない小学校", tmp_path / "none.pdf")


def test_handover_sheet(town, tmp_path):
    ws, w, _ = town
    out = tmp_path / "handover.pdf"
    res = R.handover_pdf(ws, w["focus"], out, "転校")
    texts = check_document(out, res["pages"], tmp_path)
    all_ = flat("".join(texts))
    for label in (
        "引継ぎシート（転校）",
        "■転校",
        "転校前の学校",
        "転校先の学校",
        "学校での支援・配慮",
        "さくら台第一小学校",
        "欠席日数が年間30日以上",
        "引継ぎ事項",
        "引継ぎ者（署名）",
        "受取者（署名）",
    ):
        assert flat(label) in all_, label
    assert "生活保護" not in all_ and "DVに関する相談歴" not in all_  # always for the receiving school
    assert "担任が毎朝声をかけ" not in all_  # the town's support plan is casework, not the school's
    with pytest.raises(InputRefused):
        R.handover_pdf(ws, w["focus"], tmp_path / "x.pdf", "卒業")


def test_round_statistics(town, tmp_path):
    ws, w, _ = town
    seq = last_seq(ws)
    out = tmp_path / "stats.pdf"
    res = R.round_stats_pdf(ws, w["round_id"], out)
    texts = check_document(out, res["pages"], tmp_path)
    all_ = flat("".join(texts))
    for label in (
        "ラウンド統計",
        "令和8年度2学期",
        "対象",
        "抽出",
        "分類済み",
        "会議で検討",
        "支援開始",
        "学校・園別",
        "年齢区分別",
        "小学生",
        "中学生",
        "未就学",
        *w["schools"],
        B.CAVEAT,
    ):
        assert flat(label) in all_, label
    log = print_logs(ws, seq)[-1]
    assert log["detail"]["document"] == "round_stats" and log["detail"]["persons"] == [] and log["person_id"] is None
    with pytest.raises(NotFound):
        R.round_stats_pdf(ws, 9999, tmp_path / "x.pdf")


# --- the CLI contract --------------------------------------------------------------------------------------------------
def test_cli_report_commands(town, tmp_path):
    ws, w, d = town
    env = {
        **os.environ,
        "KODOMO_DB_PASSWORD": PASSWORD,
        "KODOMO_USER": "coordinator",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    cli = ["report"]
    r = run_cli(
        cli + ["assessment", "--db", str(d / "town.db"), "--person", w["focus"], "--out", str(tmp_path / "a.pdf")],
        env=env,
    )  # in this process (tests/clirun.py)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"pages": len(pages_text(tmp_path / "a.pdf"))}
    ids = ",".join(w["flagged"][:3])
    r = run_cli(
        cli + ["conference", "--db", str(d / "town.db"), "--persons", ids, "--out", str(tmp_path / "c.pdf")], env=env
    )  # in this process (tests/clirun.py)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["pages"] >= 5
    r = run_cli(
        cli + ["assessment", "--db", str(d / "town.db"), "--person", "P999999", "--out", str(tmp_path / "x.pdf")],
        env=env,
    )  # in this process (tests/clirun.py)
    assert r.returncode == 2 and "P999999" in r.stderr and not (tmp_path / "x.pdf").exists()


def test_a_child_with_nothing_linked_still_prints(town, tmp_path):
    """No household, no school, no score, awkward characters in the name: every section says so plainly."""
    ws, w, _ = town
    with ws.session() as s:
        if s.get(Person, "P900001") is None:
            s.add(Person(id="P900001", name="試験 <&>花", name_kana="ｼｹﾝ ﾊﾅ", birth_date=dt.date(2020, 2, 29), sex=2))
    out = tmp_path / "bare.pdf"
    res = R.assessment_pdf(ws, "P900001", out)
    all_ = flat("".join(check_document(out, res["pages"], tmp_path)))
    for label in (
        "試験<&>花",
        "シケンハナ",
        "令和2年2月29日",
        "（学校・園なし）",
        "直近のスコア算出の対象に含まれていません",
        "観察チェックリストの記入はありません",
        "支援計画はまだありません",
    ):
        assert label in all_, label
    res = R.conference_pdf(ws, ["P900001", w["focus"]], tmp_path / "p.pdf")
    check_document(tmp_path / "p.pdf", res["pages"], tmp_path)
    res = R.handover_pdf(ws, "P900001", tmp_path / "h.pdf", "担任交代")
    assert "引継ぎシート（担任交代）" in flat("".join(check_document(tmp_path / "h.pdf", res["pages"], tmp_path)))
