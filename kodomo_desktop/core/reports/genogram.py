"""A small ジェノグラム of the child's household, generated from the registry's 続柄 (relationship to the 世帯主):
generations in rows (世帯主の父母 / 世帯主・配偶者 / 子・子の配偶者 / 孫), ■ male, ● female, ◇ unknown, the child
drawn with a double line, ages under each symbol, a marriage line between spouses and a sibship line from the
couple to their children. Only structure — no flags, no names beyond the 続柄 — so it can sit on any page."""

from __future__ import annotations

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import Flowable

from .base import GOTHIC, NAVY

GEN = {
    "世帯主の父": 0,
    "世帯主の母": 0,
    "父": 0,
    "母": 0,
    "祖父": 0,
    "祖母": 0,
    "世帯主": 1,
    "妻": 1,
    "夫": 1,
    "配偶者": 1,
    "子": 2,
    "長男": 2,
    "長女": 2,
    "二男": 2,
    "次男": 2,
    "二女": 2,
    "次女": 2,
    "三男": 2,
    "三女": 2,
    "子の妻": 2,
    "子の夫": 2,
    "孫": 3,
}
SPOUSE = {"妻", "夫", "配偶者", "子の妻", "子の夫"}
HEAD_PARENTS = {"世帯主の父", "世帯主の母", "父", "母"}


def generation(rel: str | None) -> int | None:
    rel = (rel or "").strip()
    if rel in GEN:
        return GEN[rel]
    if rel.endswith("の子") or rel.startswith("孫"):
        return 3
    if rel.endswith(("男", "女")) and len(rel) <= 3:
        return 2
    return None


class Genogram(Flowable):
    """``people``: [{"relationship", "sex" (男/女/""), "age", "self" (bool)}], the child included."""

    SIZE = 5.2 * mm
    GAP_X = 15 * mm
    ROW_H = 14 * mm

    def __init__(self, people: list[dict], *, width: float | None = None):
        super().__init__()
        self.people = [dict(p, gen=generation(p.get("relationship"))) for p in people]
        self.others = [p for p in self.people if p["gen"] is None]
        self.rows = sorted({p["gen"] for p in self.people if p["gen"] is not None})
        self.fixed_w = width
        self.story_text = " ".join(str(p.get("relationship") or "") for p in self.people)

    def wrap(self, aw, ah):
        self.width = self.fixed_w or aw
        n_rows = len(self.rows) + (1 if self.others else 0)
        self.height = max(1, n_rows) * self.ROW_H + 4 * mm
        return self.width, self.height

    def _row(self, g: int) -> list[dict]:
        row = [p for p in self.people if p["gen"] == g]
        if g == 1:  # 世帯主 then spouse
            row.sort(key=lambda p: (p["relationship"] in SPOUSE, -(p.get("age") or 0)))
        elif g == 2:  # children eldest first, a child's spouse beside the first child of the other sex
            kids = sorted([p for p in row if p["relationship"] not in SPOUSE], key=lambda p: -(p.get("age") or 0))
            for sp in [p for p in row if p["relationship"] in SPOUSE]:
                partner = next(
                    (i for i, k in enumerate(kids) if k.get("sex") != sp.get("sex") and not k.get("_married")), None
                )
                if partner is None:
                    kids.append(sp)
                else:
                    kids[partner]["_married"] = True
                    sp["_married"] = True
                    kids.insert(partner + 1, sp)
            row = kids
        else:
            row.sort(key=lambda p: -(p.get("age") or 0))
        return row

    def draw(self):
        c = self.canv
        s = self.SIZE
        pos: dict[int, tuple[float, float]] = {}
        layout = [(g, self._row(g)) for g in self.rows] + ([(None, self.others)] if self.others else [])
        for r, (g, row) in enumerate(layout):
            y = self.height - 3 * mm - r * self.ROW_H - s
            n = len(row)
            gap = min(self.GAP_X, (self.width - 10 * mm) / max(1, n))
            x0 = self.width / 2 - gap * (n - 1) / 2
            for i, p in enumerate(row):
                x = x0 + i * gap
                pos[id(p)] = (x, y)
                self._symbol(c, x, y, p)
            if g is None:
                c.setFont(GOTHIC, 8.5)
                c.setFillColor(colors.HexColor("#404040"))
                c.drawString(0, y + s / 2 - 1, "続柄不明")
        c.setStrokeColor(colors.black)
        c.setLineWidth(0.8)
        # marriage lines
        for g in self.rows:
            row = self._row(g)
            for a, b in zip(row, row[1:], strict=False):
                if (g == 1 and b["relationship"] in SPOUSE) or (g == 2 and b["relationship"] in SPOUSE):
                    (xa, ya), (xb, _) = pos[id(a)], pos[id(b)]
                    c.line(xa + s / 2, ya, xb - s / 2, ya)
        # sibships: generation g+1 hangs from the couple (or the single parent) of generation g
        for g in self.rows:
            parents = [p for p in self._row(g) if p["relationship"] not in SPOUSE or g == 1]
            kids = [p for p in self.people if p["gen"] == g + 1 and p["relationship"] not in SPOUSE]
            if g == 0:
                kids = [p for p in self.people if p["relationship"] == "世帯主"]
            if not parents or not kids:
                continue
            if g == 2:  # 孫 hang from the married child (else the eldest)
                married = [p for p in parents if p.get("_married")]
                parents = married[:1] or parents[:1]
                spouse = [p for p in self._row(2) if p["relationship"] in SPOUSE and p.get("_married")]
                parents += spouse[:1]
            xs = [pos[id(p)][0] for p in parents]
            py = pos[id(parents[0])][1]
            mx = sum(xs) / len(xs)
            ky = pos[id(kids[0])][1]
            bar = ky + s / 2 + 1.8 * mm
            c.line(mx, py - (0 if len(parents) > 1 else s / 2 + 4.4 * mm), mx, bar)  # below a lone label
            kx = [pos[id(k)][0] for k in kids]
            c.line(min(kx + [mx]), bar, max(kx + [mx]), bar)
            for x in kx:
                c.line(x, bar, x, ky + s / 2)

    def _symbol(self, c, x, y, p):
        s = self.SIZE
        c.setStrokeColor(NAVY if p.get("self") else colors.black)
        c.setFillColor(colors.white)
        c.setLineWidth(1.4 if p.get("self") else 0.8)
        sex = p.get("sex") or ""
        if sex == "男":
            c.rect(x - s / 2, y - s / 2, s, s, stroke=1, fill=1)
            if p.get("self"):
                c.rect(x - s / 2 + 1, y - s / 2 + 1, s - 2, s - 2, stroke=1, fill=0)
        elif sex == "女":
            c.circle(x, y, s / 2, stroke=1, fill=1)
            if p.get("self"):
                c.circle(x, y, s / 2 - 1, stroke=1, fill=0)
        else:
            path = c.beginPath()
            path.moveTo(x, y + s / 2)
            path.lineTo(x + s / 2, y)
            path.lineTo(x, y - s / 2)
            path.lineTo(x - s / 2, y)
            path.close()
            c.drawPath(path, stroke=1, fill=1)
        age = p.get("age")
        c.setFillColor(colors.black)
        if age is not None:
            c.setFont(GOTHIC, 8.5)
            t = str(age)
            c.drawCentredString(x, y - 1.1 * mm, t) if pdfmetrics.stringWidth(t, GOTHIC, 8.5) < s else None
        label = "本人" if p.get("self") else (p.get("relationship") or "")
        c.setFont(GOTHIC, 8.5)
        c.setFillColor(NAVY if p.get("self") else colors.HexColor("#404040"))
        c.drawCentredString(x, y - s / 2 - 3.4 * mm, label)


def people_of(b: dict) -> list[dict]:
    """The genogram's people from a child bundle (``data.child_bundle``): the child and the household members."""
    out = [{"relationship": b.get("relationship") or "", "sex": b.get("sex") or "", "age": b.get("age"), "self": True}]
    for m in b.get("household") or []:
        out.append({"relationship": m.get("relationship") or "", "sex": m.get("sex") or "", "age": m.get("age")})
    return out
