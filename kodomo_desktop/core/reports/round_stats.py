"""ラウンド統計: the funnel of one review round (対象 → 抽出 → 分類済み → 会議で検討 → 支援開始), overall, by school
and by age band, with bar charts. Counts only — no child is named."""

from __future__ import annotations

import datetime as dt

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.units import mm

from ..casework.service import AGE_BANDS
from .base import CONTENT_W, GOTHIC, LABEL_BG, NAVY, DocTitle, Heading, Mark, P, caveat, gap, grid, keep, wareki

W = CONTENT_W
TITLE = "ラウンド統計"
STAGE_COLOURS = [colors.HexColor(c) for c in ("#8EA9DB", "#2F5597", "#C55A11", "#548235", "#7030A0")]


def _drawing(width: float, height: float) -> Drawing:
    d = Drawing(width, height)
    d.initialFontName = GOTHIC  # the renderer's first setFont: keep Helvetica out of the PDF
    return d


def funnel_chart(stages: list[dict], width: float = W, height: float = 52 * mm) -> Drawing:
    d = _drawing(width, height)
    ch = HorizontalBarChart()
    ch.x, ch.y = 30 * mm, 6 * mm
    ch.width, ch.height = width - 48 * mm, height - 10 * mm
    labels = [s["label"] for s in stages][::-1]
    vals = [s["count"] for s in stages][::-1]
    ch.data = [vals]
    ch.categoryAxis.categoryNames = labels
    ch.categoryAxis.labels.fontName = GOTHIC
    ch.categoryAxis.labels.fontSize = 9.5
    ch.categoryAxis.labels.boxAnchor = "e"
    ch.categoryAxis.labels.dx = -3
    ch.valueAxis.valueMin = 0
    ch.valueAxis.labels.fontName = GOTHIC
    ch.valueAxis.labels.fontSize = 8.5
    ch.valueAxis.visibleGrid = True
    ch.valueAxis.gridStrokeColor = colors.HexColor("#D9D9D9")
    ch.valueAxis.gridStrokeWidth = 0.4
    ch.bars[0].fillColor = NAVY
    ch.bars[0].strokeColor = None
    for i in range(len(vals)):
        ch.bars[(0, i)].fillColor = STAGE_COLOURS[(len(vals) - 1 - i) % len(STAGE_COLOURS)]
    ch.barLabelFormat = "%d"
    ch.barLabels.fontName = GOTHIC
    ch.barLabels.fontSize = 8.5
    ch.barLabels.boxAnchor = "w"
    ch.barLabels.dx = 3
    ch.barSpacing = 2
    ch.groupSpacing = 4
    d.add(ch)
    return d


def grouped_chart(
    table: dict, stages: list[dict], keys: list[str], width: float = W, height: float = 62 * mm
) -> Drawing:
    """Bars per group (school or age band) for the chosen stages."""
    groups = list(table)
    d = _drawing(width, height)
    ch = VerticalBarChart()
    ch.x, ch.y = 12 * mm, 16 * mm
    ch.width, ch.height = width - 16 * mm, height - 28 * mm
    ch.data = [[table[g].get(k, 0) for g in groups] for k in keys]
    ch.categoryAxis.categoryNames = [g if len(g) <= 9 else g[:8] + "…" for g in groups]
    ch.categoryAxis.labels.fontName = GOTHIC
    ch.categoryAxis.labels.fontSize = 9.5
    ch.categoryAxis.labels.angle = 0 if len(groups) <= 6 else 25
    ch.categoryAxis.labels.boxAnchor = "n" if len(groups) <= 6 else "ne"
    ch.valueAxis.valueMin = 0
    ch.valueAxis.labels.fontName = GOTHIC
    ch.valueAxis.labels.fontSize = 8.5
    ch.valueAxis.visibleGrid = True
    ch.valueAxis.gridStrokeColor = colors.HexColor("#D9D9D9")
    ch.valueAxis.gridStrokeWidth = 0.4
    label_of = {s["key"]: s["label"] for s in stages}
    index = {s["key"]: i for i, s in enumerate(stages)}
    for i, k in enumerate(keys):
        ch.bars[i].fillColor = STAGE_COLOURS[index.get(k, i) % len(STAGE_COLOURS)]
        ch.bars[i].strokeColor = None
    ch.barSpacing = 1
    ch.groupSpacing = 6
    d.add(ch)
    lg = Legend()
    lg.x, lg.y = 14 * mm, height - 3 * mm
    lg.alignment = "right"
    lg.columnMaximum = 1
    lg.fontName = GOTHIC
    lg.fontSize = 9.5
    lg.dxTextSpace = 3
    lg.deltax = 30 * mm
    lg.colorNamePairs = [
        (STAGE_COLOURS[index.get(k, i) % len(STAGE_COLOURS)], label_of.get(k, k)) for i, k in enumerate(keys)
    ]
    d.add(lg)
    return d


def _table(title: str, table: dict, stages: list[dict]) -> list:
    keys = [s["key"] for s in stages]
    rows = [[title] + [s["label"] for s in stages] + ["抽出率"]]
    for g, c in table.items():
        scope = c.get("in_scope", 0)
        rate = f"{100 * c.get('flagged', 0) / scope:.1f}%" if scope else "—"
        rows.append([g] + [str(c.get(k, 0)) for k in keys] + [rate])
    tot = {k: sum(c.get(k, 0) for c in table.values()) for k in keys}
    rate = f"{100 * tot.get('flagged', 0) / tot['in_scope']:.1f}%" if tot.get("in_scope") else "—"
    rows.append(["合計"] + [str(tot[k]) for k in keys] + [rate])
    n = len(keys)
    wcol = (W - 48 * mm) / (n + 1)

    return [
        grid(
            rows,
            [48 * mm] + [wcol] * (n + 1),
            align="l" + "r" * (n + 1),
            extra=[("BACKGROUND", (0, len(rows) - 1), (-1, len(rows) - 1), LABEL_BG)],
        )
    ]


def _ordered(table: dict, order: list[str]) -> dict:
    """Groups in a reader's order: the given order first, then the rest by name, the 'none' groups last."""
    rank = {g: i for i, g in enumerate(order)}
    return {
        g: table[g]
        for g in sorted(table, key=lambda g: (g.startswith("（") or g == "対象外", rank.get(g, len(rank)), g))
    }


def story(f: dict, *, today: dt.date | None = None) -> list:

    today = today or dt.date.today()
    stages = f["stages"]
    f = {
        **f,
        "by_school": _ordered(f["by_school"], []),
        "by_age_band": _ordered(f["by_age_band"], [b[0] for b in AGE_BANDS]),
    }
    out = [
        Mark("round", subject=f["name"]),
        DocTitle(TITLE, f"ラウンド「{f['name']}」（{wareki(f['as_of'])}時点）　作成日 {wareki(today)}"),
    ]
    counts = {s["key"]: s["count"] for s in stages}
    rows = [[s["label"] for s in stages], [f"{s['count']} 人" for s in stages]]
    scope = counts.get("in_scope", 0)
    rows.append(
        [("100%" if i == 0 else (f"{100 * s['count'] / scope:.1f}%" if scope else "—")) for i, s in enumerate(stages)]
    )
    out += [
        Heading("1. 全体の流れ（対象 → 抽出 → 分類 → 会議 → 支援）", space_before=1 * mm),
        grid(rows, [W / len(stages)] * len(stages), align="c" * len(stages)),
        gap(2),
        funnel_chart(stages),
        gap(1),
        P(
            "割合は対象者数に対する比率です。抽出は支援の要否を検討するためのきっかけであり、判定結果ではありません。",
            "muted",
        ),
    ]
    out += [
        keep(
            Heading("2. 学校・園別"),
            *_table("学校・園", f["by_school"], stages),
            gap(2),
            grouped_chart(f["by_school"], stages, ["in_scope", "flagged", "discussed", "supported"]),
        )
    ]
    out += [
        keep(
            Heading("3. 年齢区分別"),
            *_table("年齢区分", f["by_age_band"], stages),
            gap(2),
            grouped_chart(f["by_age_band"], stages, ["in_scope", "flagged", "discussed", "supported"]),
        )
    ]
    out += [gap(3), caveat("少人数の区分は個人が特定されるおそれがあるため、外部に示すときは注意してください。")]
    return out
