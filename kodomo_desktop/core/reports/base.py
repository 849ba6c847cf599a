"""What every printed document shares: the embedded font, A4 page template, 取扱注意 marking, page x / y,
printed-by / printed-at footer, 和暦 dates, masking profiles, the caveat about scores, small layout pieces
(section headings, tables, check boxes, ruled fields for handwriting) and the access-log entry.

A document is a *story factory* ``make() -> list[Flowable]`` handed to :func:`render`, laid out in one pass: the
page count in the footer and the page numbers of a table of contents (:class:`PageRef` pointing at a
:class:`Mark`) are written when the PDF is saved, by a canvas that holds every page until the end.

Adding a document (e.g. the checklist engineer's blank checklist): write ``make`` with the helpers below, call
``render(ws, out, kind=..., title=..., make=make, person_ids=[...])`` — it writes the file atomically, embeds the
fonts and logs ``print`` with the page count and person ids only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from ...resources import resource_path
from .. import audience as A
from ..calendar import ERAS, fiscal_year_ja, format_wareki, to_date  # one date and 和暦 table for the app
from ..errors import InputRefused
from ..storage.models import Setting

if TYPE_CHECKING:
    from ..workspace import Workspace

# --- fonts -----------------------------------------------------------------------------------------------------------
GOTHIC = "IPAexGothic"
MINCHO = "IPAexMincho"
_FONT_FILES = {GOTHIC: "ipaexg.ttf", MINCHO: "ipaexm.ttf"}
_SYSTEM_FONTS = {
    GOTHIC: Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"),
    MINCHO: Path("/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf"),
}
_SYSTEM_LICENCE = Path("/usr/share/doc/fonts-ipaexfont-gothic")


def font_file(font: str) -> Path:
    """The bundled font file (resources/fonts/); copied there from the system fonts if it is missing."""
    path = Path(resource_path("fonts", _FONT_FILES[font]))
    if not path.exists() and _SYSTEM_FONTS[font].exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_SYSTEM_FONTS[font], path)
        if _SYSTEM_LICENCE.is_dir() and not any(path.parent.glob("*icen*")):
            for lic in _SYSTEM_LICENCE.glob("*"):
                if "icen" in lic.name.lower() or "IPA_Font" in lic.name:
                    shutil.copyfile(lic, path.parent / lic.name)
    return path


def ensure_fonts() -> None:
    """Register IPAex Gothic and Mincho once (TrueType: reportlab embeds a subset into every PDF)."""
    registered = set(pdfmetrics.getRegisteredFontNames())
    for font in (GOTHIC, MINCHO):
        if font not in registered:
            pdfmetrics.registerFont(TTFont(font, str(font_file(font))))
        # IPAex has no bold or italic face: map them to the regular face so <b> never fails
        pdfmetrics.registerFontFamily(font, normal=font, bold=font, italic=font, boldItalic=font)


# --- 和暦 --------------------------------------------------------------------------------------------------------------


WEEKDAYS = "月火水木金土日"


def wareki(d, *, short: bool = False, seireki: bool = False, weekday: bool = False) -> str:
    """令和8年11月23日 (``short``: R8.11.23; ``seireki``: 令和8年11月23日（2026年11月23日）;
    ``weekday``: 令和8年11月23日（月）)."""
    d = to_date(d)
    if d is None:
        return ""
    if d < ERAS[0].start:
        return d.isoformat()
    if short:
        return format_wareki(d, "letter")
    text = format_wareki(d, "gannen")
    if weekday:
        text += f"（{WEEKDAYS[d.weekday()]}）"
    return f"{text}（{d.year}年{d.month}月{d.day}日）" if seireki else text


wareki_year = fiscal_year_ja  # the 和暦 of 1 April of ``year`` (a 年度): 令和8年度


def printed_at_text(at: dt.datetime) -> str:
    return f"{wareki(at.date(), seireki=True)} {at:%H:%M}"


def blank_date() -> str:
    return "令和　　年　　月　　日"


# --- masking -----------------------------------------------------------------------------------------------------------
# What each reader may see is decided in ONE place, core/audience.py; a masking profile is an audience plus the
# choice of printing initials instead of names.
WELFARE_SOURCES = A.WELFARE_SOURCES


@dataclass(frozen=True)
class MaskProfile:
    key: str
    label: str
    short: str = ""
    hide_welfare: bool = False
    initials: bool = False
    audience_key: str = "conference"

    @property
    def audience(self) -> A.Audience:
        return A.get(self.audience_key)

    def name(self, name: str | None, kana: str | None = None) -> str:
        return initials(name, kana) if (self.initials or self.audience.initials_only) else (name or "")

    def kana(self, kana: str | None) -> str:
        return "" if (self.initials or self.audience.initials_only) else kana_display(kana)

    def shows_source(self, source_type: str | None) -> bool:
        return self.audience.sees_source(source_type)

    def shows_reason(self, reason) -> bool:
        return self.audience.sees_reason(reason)

    def sees(self, field_name: str) -> bool:
        return self.audience.sees(field_name)

    def for_audience(self, audience: str) -> MaskProfile:
        """The same name choice (full / initials) for another audience (a school sheet asked for with 'none')."""
        a = A.get(audience)
        return MaskProfile(
            f"{audience}{'_initials' if self.initials else ''}",
            a.label + ("・氏名はイニシャルのみ" if self.initials else ""),
            a.label + ("・イニシャル" if self.initials else ""),
            hide_welfare=a.welfare_free,
            initials=self.initials,
            audience_key=a.key,
        )


MASKS = {
    "none": MaskProfile("none", "マスクなし", ""),
    "school": MaskProfile(
        "school", "学校向け（福祉関係の情報を表示しない）", "学校向け", hide_welfare=True, audience_key="school"
    ),
    "initials": MaskProfile("initials", "氏名はイニシャルのみ", "イニシャル", initials=True),
    "school_initials": MaskProfile(
        "school_initials",
        "学校向け・氏名はイニシャルのみ",
        "学校向け・イニシャル",
        hide_welfare=True,
        initials=True,
        audience_key="school",
    ),
}


def mask_profile(mask: str | MaskProfile | None, default: str = "none") -> MaskProfile:
    if isinstance(mask, MaskProfile):
        return mask
    key = mask or default
    if key not in MASKS:
        raise InputRefused(f"マスクの種類 {key} はありません（{'・'.join(MASKS)}）。")
    return MASKS[key]


_ROMAJI_INITIAL = {}
for _letter, _chars in {
    "A": "アァ",
    "I": "イィ",
    "U": "ウゥヴ",
    "E": "エェ",
    "O": "オォヲ",
    "K": "カキクケコヵヶ",
    "G": "ガギグゲゴ",
    "S": "サスセソ",
    "Sh": "シ",
    "Z": "ザズゼゾ",
    "J": "ジヂ",
    "T": "タテトツ",
    "C": "チ",
    "D": "ダヅデド",
    "N": "ナニヌネノン",
    "H": "ハヒヘホ",
    "F": "フ",
    "B": "バビブベボ",
    "P": "パピプペポ",
    "M": "マミムメモ",
    "Y": "ヤユヨャュョ",
    "R": "ラリルレロ",
    "W": "ワヰヱ",
}.items():
    for _c in _chars:
        _ROMAJI_INITIAL[_c] = _letter[0]


def kana_display(kana: str | None) -> str:
    """Kana as a clerk writes it: full-width (department files often carry ﾊﾝｶｸ カナ)."""
    return unicodedata.normalize("NFKC", kana or "")


def initials(name: str | None, kana: str | None = None) -> str:
    """Initials in the usual Japanese office form, surname first: シケン ハナコ → S.H. (from the kana)."""

    def parts(s: str | None) -> list[str]:
        return [p for p in (s or "").replace("\u3000", " ").split(" ") if p]

    kparts = parts(kana_display(kana))
    if kparts:
        letters = []
        for p in kparts[:2]:
            c = p[0]
            if "\u3041" <= c <= "\u3096":
                c = chr(ord(c) + 0x60)
            letters.append(_ROMAJI_INITIAL.get(c, c.upper() if c.isascii() else "〇"))
        return ".".join(letters) + "."
    nparts = parts(name)
    if not nparts:
        return "〇〇"
    return "　".join(p[0] + "〇" for p in nparts[:2])


# --- styles ------------------------------------------------------------------------------------------------------------
NAVY = colors.HexColor("#1F3864")
RED = colors.HexColor("#C00000")
GRID = colors.HexColor("#7F7F7F")
HEAD_BG = colors.HexColor("#D9E2F3")
LABEL_BG = colors.HexColor("#F2F2F2")
NOTE_BG = colors.HexColor("#FFF7E0")
MUTED = colors.HexColor("#404040")  # dark grey: survives a photocopy

PAGE_W, PAGE_H = A4
MARGIN_L = MARGIN_R = 16 * mm
MARGIN_T = 24 * mm
MARGIN_B = 19 * mm
CONTENT_W = PAGE_W - MARGIN_L - MARGIN_R


class _Styles:
    def __init__(self):
        ensure_fonts()
        g, m = GOTHIC, MINCHO
        self.body = ParagraphStyle("body", fontName=g, fontSize=9.5, leading=14.5, wordWrap="CJK")
        self.mincho = ParagraphStyle("mincho", parent=self.body, fontName=m, fontSize=10, leading=16)
        self.small = ParagraphStyle("small", parent=self.body, fontSize=8.5, leading=12)
        self.muted = ParagraphStyle("muted", parent=self.small, textColor=MUTED)
        self.cell = ParagraphStyle("cell", parent=self.body, fontSize=9.5, leading=13)
        self.cell_c = ParagraphStyle("cell_c", parent=self.cell, alignment=TA_CENTER)
        self.cell_r = ParagraphStyle("cell_r", parent=self.cell, alignment=TA_RIGHT)
        self.head = ParagraphStyle("head", parent=self.cell, alignment=TA_CENTER)
        self.label = ParagraphStyle("label", parent=self.cell)
        self.big = ParagraphStyle("big", parent=self.body, fontSize=12, leading=17)
        self.cover_title = ParagraphStyle(
            "cover_title", parent=self.body, fontName=m, fontSize=22, leading=32, alignment=TA_CENTER
        )
        self.cover = ParagraphStyle("cover", parent=self.body, fontName=m, fontSize=12, leading=20, alignment=TA_CENTER)
        self.right = ParagraphStyle("right", parent=self.body, alignment=TA_RIGHT)
        self.center = ParagraphStyle("center", parent=self.body, alignment=TA_CENTER)


_STYLES: _Styles | None = None


def styles() -> _Styles:
    global _STYLES
    if _STYLES is None:
        _STYLES = _Styles()
    return _STYLES


_IDEO_RUN = re.compile("\u3000{2,}")


def esc(v) -> str:
    """Text for a Paragraph: XML-escaped, line breaks kept, and runs of ideographic spaces kept (a form's
    「令和　　年　　月　　日」; reportlab would collapse them) as no-break spaces of about the same width."""
    if v is None:
        return ""
    text = escape(str(v)).replace("\n", "<br/>")
    return _IDEO_RUN.sub(lambda m: "\u00a0" * (4 * len(m.group())), text)


def P(text, style: ParagraphStyle | str = "cell", *, raw: bool = False) -> Paragraph:
    st = getattr(styles(), style) if isinstance(style, str) else style
    return Paragraph(text if raw else esc(text), st)


# --- flowables ---------------------------------------------------------------------------------------------------------
def _bold_text(canvas, x, y, text, font, size, *, align="left", color=colors.black, stroke=0.28):
    """IPAex has no bold face: fill and stroke the glyphs (text render mode 2) for a clean, printable bold."""
    canvas.saveState()
    canvas.setFillColor(color)
    canvas.setStrokeColor(color)
    canvas.setLineWidth(stroke)
    w = pdfmetrics.stringWidth(text, font, size)
    if align == "center":
        x -= w / 2
    elif align == "right":
        x -= w
    t = canvas.beginText(x, y)
    t.setFont(font, size)
    t.setTextRenderMode(2)
    t.textOut(text)
    canvas.drawText(t)
    canvas.restoreState()


class DocTitle(Flowable):
    """The document's title, centred, bold, with a double rule under it and an optional sub-line at the right."""

    def __init__(self, title: str, sub: str | None = None, size: float = 17):
        super().__init__()
        self.title, self.sub, self.size = title, sub, size
        self.spaceAfter = 3 * mm

    def wrap(self, aw, ah):
        self.width = aw
        self.height = self.size * 1.5 + (5 * mm if self.sub else 1.5 * mm)
        return aw, self.height

    def draw(self):
        c = self.canv
        y_title = self.height - self.size * 1.05
        _bold_text(c, self.width / 2, y_title, self.title, MINCHO, self.size, align="center", stroke=0.35)
        y_rule = y_title - 2.6 * mm
        c.setStrokeColor(colors.black)
        c.setLineWidth(0.9)
        c.line(0, y_rule, self.width, y_rule)
        c.setLineWidth(0.3)
        c.line(0, y_rule - 0.8 * mm, self.width, y_rule - 0.8 * mm)
        if self.sub:
            c.setFont(GOTHIC, 9)
            c.setFillColor(MUTED)
            c.drawRightString(self.width, y_rule - 4.5 * mm, self.sub)


class Heading(Flowable):
    """A numbered section heading: navy bar at the left, bold text, a hairline under it; stays with what follows."""

    def __init__(self, text: str, *, size: float = 11, space_before: float = 4.5 * mm):
        super().__init__()
        self.text, self.size = text, size
        self.spaceBefore = space_before
        self.spaceAfter = 1.8 * mm
        self.keepWithNext = True

    def wrap(self, aw, ah):
        self.width = aw
        self.height = self.size + 3.2 * mm
        return aw, self.height

    def draw(self):
        c = self.canv
        c.setFillColor(NAVY)
        c.rect(0, 1.2 * mm, 1.6 * mm, self.size + 1.2 * mm, stroke=0, fill=1)
        _bold_text(c, 3.6 * mm, 2.2 * mm, self.text, GOTHIC, self.size, color=NAVY)
        c.setStrokeColor(NAVY)
        c.setLineWidth(0.5)
        c.line(0, 0.4 * mm, self.width, 0.4 * mm)


class Mark(Flowable):
    """Zero-size marker: ``render`` records the page it lands on (table of contents, PDF outline, running
    header subject)."""

    def __init__(self, key: str, *, outline: str | None = None, subject: str | None = None, level: int = 0):
        super().__init__()
        self.key, self.outline, self.subject, self.level = key, outline, subject, level
        self.width = self.height = 0

    def wrap(self, aw, ah):
        return 0, 0

    def draw(self):
        if self.outline:
            c = self.canv
            c.bookmarkPage(self.key)
            c.addOutlineEntry(self.outline, self.key, level=self.level, closed=False)


class PageRef(Flowable):
    """The page number of a :class:`Mark`, right-aligned (a table of contents entry). Drawn as a PDF form that is
    written when the document is saved, so it holds the final page without a second layout pass."""

    def __init__(self, key: str, *, size: float = 9.5, font: str = GOTHIC):
        super().__init__()
        self.key, self.size, self.font = key, size, font

    @staticmethod
    def form_name(key: str) -> str:
        return "pageref_" + "".join(c if c.isalnum() else "_" for c in key)

    def wrap(self, aw, ah):
        self.width, self.height = aw, self.size * 1.3
        return aw, self.height

    def draw(self):
        self.canv._doctemplate.page_refs[self.key] = (self.width, self.height, self.font, self.size)
        self.canv.doForm(self.form_name(self.key))


class RuledField(Flowable):
    """A framed field with a label and ruled lines for handwriting."""

    def __init__(
        self,
        label: str | None,
        lines: int = 4,
        *,
        spacing: float = 7.5 * mm,
        width: float | None = None,
        hint: str | None = None,
    ):
        super().__init__()
        self.label, self.lines, self.spacing, self.fixed_w, self.hint = label, lines, spacing, width, hint

    def wrap(self, aw, ah):
        self.width = self.fixed_w or aw
        self.head = 6 * mm if self.label else 0
        self.height = self.head + self.lines * self.spacing + 1.5 * mm
        return self.width, self.height

    def draw(self):
        c = self.canv
        c.setStrokeColor(GRID)
        c.setLineWidth(0.6)
        c.rect(0, 0, self.width, self.height)
        if self.label:
            c.setFillColor(LABEL_BG)
            c.rect(0, self.height - self.head, self.width, self.head, stroke=1, fill=1)
            c.setFillColor(colors.black)
            c.setFont(GOTHIC, 9.5)
            c.drawString(2 * mm, self.height - self.head + 1.9 * mm, self.label)
            if self.hint:
                c.setFillColor(MUTED)
                c.setFont(GOTHIC, 8.5)
                c.drawRightString(self.width - 2 * mm, self.height - self.head + 1.9 * mm, self.hint)
        c.setStrokeColor(colors.HexColor("#A6A6A6"))
        c.setLineWidth(0.35)
        c.setDash(1, 1.5)
        top = self.height - self.head
        for i in range(1, self.lines + 1):
            y = top - i * self.spacing
            if y > 1 * mm:
                c.line(2.5 * mm, y, self.width - 2.5 * mm, y)
        c.setDash()


def boxes(options: Sequence[str], chosen: str | None = None, *, sep: str = "　　") -> str:
    """Check boxes for pen: □要　□不要 (■ marks an answer already recorded)."""
    return sep.join(("■" if chosen is not None and o == chosen else "□") + o for o in options)


# --- tables ------------------------------------------------------------------------------------------------------------
def tstyle(cmds: Iterable) -> TableStyle:
    """A TableStyle whose cells use the embedded font (reportlab's default would pull in Helvetica)."""
    return TableStyle([("FONTNAME", (0, 0), (-1, -1), GOTHIC)] + list(cmds))


def _cellify(v, style):
    if isinstance(v, Flowable):
        return v
    if isinstance(v, (list, tuple)) and v and all(isinstance(x, Flowable) for x in v):
        return list(v)
    return P("" if v is None else v, style)


def grid(
    rows: Sequence[Sequence],
    widths: Sequence[float],
    *,
    header: int = 1,
    align: Sequence[str] | None = None,
    zebra: bool = False,
    font_size: float | None = None,
    extra: Iterable = (),
) -> Table:
    """A ruled table: grey header row(s), wrapping cells, the header repeated on each page."""
    st = styles()
    cstyles = {"l": st.cell, "c": st.cell_c, "r": st.cell_r}
    data = []
    for n, r in enumerate(rows):
        if n < header:
            data.append([_cellify(v, st.head) for v in r])
        else:
            data.append(
                [_cellify(v, cstyles[(align[i] if align and i < len(align) else "l")]) for i, v in enumerate(r)]
            )
    t = Table(data, colWidths=list(widths), repeatRows=header)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.5, GRID),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.6),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        style += [
            ("BACKGROUND", (0, 0), (-1, header - 1), HEAD_BG),
            ("LINEBELOW", (0, header - 1), (-1, header - 1), 0.9, GRID),
        ]
    if zebra:
        for i in range(header, len(data)):
            if (i - header) % 2 == 1:
                style.append(("BACKGROUND", (0, i), (-1, i), colors.HexColor("#F7F9FC")))
    style += list(extra)
    t.setStyle(tstyle(style))
    return t


def form(
    rows: Sequence[Sequence], widths: Sequence[float], *, labels: Sequence[int] = (0,), extra: Iterable = ()
) -> Table:
    """A form-like table: label cells shaded (the columns in ``labels``), value cells white.

    A cell may be ``None`` after a value to span: use ``extra`` SPAN commands for that."""
    st = styles()
    data = [[_cellify(v, st.label if i in labels else st.cell) for i, v in enumerate(r)] for r in rows]
    t = Table(data, colWidths=list(widths))
    style = [
        ("GRID", (0, 0), (-1, -1), 0.5, GRID),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3.4),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("BOX", (0, 0), (-1, -1), 0.9, GRID),
    ]
    for c in labels:
        style.append(("BACKGROUND", (c, 0), (c, -1), LABEL_BG))
    extra = list(extra)
    for cmd in extra:  # a value spanning label columns stays white
        if cmd[0] == "SPAN" and cmd[1][0] not in labels:
            style.append(("BACKGROUND", cmd[1], cmd[2], colors.white))
    style += extra
    t.setStyle(tstyle(style))
    return t


def note_box(
    text: str,
    *,
    raw: bool = False,
    style: str = "small",
    bg=NOTE_BG,
    border=colors.HexColor("#BF9000"),
    width: float | None = None,
) -> Table:
    t = Table([[P(text, style, raw=raw)]], colWidths=[width or CONTENT_W])
    t.setStyle(
        tstyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.7, border),
                ("BACKGROUND", (0, 0), (-1, -1), bg),
                ("TOPPADDING", (0, 0), (-1, -1), 3.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
                ("RIGHTPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    return t


CAVEAT = "スコアは支援の要否を検討するためのきっかけであり、判定結果ではありません。"
ITEMS_CAVEAT = "該当した項目は支援の要否を検討するためのきっかけであり、判定結果ではありません。"


def caveat(extra: str | None = None) -> Table:
    """The sentence every score must carry (PRODUCT.md: the human decides)."""
    text = "※ " + CAVEAT + (("　" + extra) if extra else "")
    return note_box(text)


def empty_line(text: str = "（記録はありません）") -> Paragraph:
    return P(text, "muted")


def keep(*flowables) -> KeepTogether:
    return KeepTogether(list(flowables))


def gap(h_mm: float = 2) -> Spacer:
    return Spacer(1, h_mm * mm)


# --- the page template -------------------------------------------------------------------------------------------------
@dataclass
class PageInfo:
    town: str
    title: str
    printed_by: str
    printed_at: dt.datetime
    mask: MaskProfile


class _Doc(BaseDocTemplate):
    def __init__(self, target, info: PageInfo, **kw):
        super().__init__(
            target,
            pagesize=A4,
            leftMargin=MARGIN_L,
            rightMargin=MARGIN_R,
            topMargin=MARGIN_T,
            bottomMargin=MARGIN_B,
            title=info.title,
            author="Kodomo Desktop",
            subject=f"{info.town} {info.title}（取扱注意）",
            creator="Kodomo Desktop",
            initialFontName=GOTHIC,
            initialFontSize=9,
            initialLeading=12,
            **kw,
        )
        self.info = info
        self.marks: dict[str, int] = {}
        self.page_refs: dict[str, tuple] = {}
        self.subject: str | None = None
        frame = Frame(
            MARGIN_L,
            MARGIN_B,
            CONTENT_W,
            PAGE_H - MARGIN_T - MARGIN_B,
            id="body",
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
        )
        self.addPageTemplates([PageTemplate("page", frames=[frame], onPageEnd=self._decorate)])

    def afterFlowable(self, f):
        if isinstance(f, Mark):
            self.marks.setdefault(f.key, self.page)
            if f.subject is not None:
                self.subject = f.subject or None

    def _decorate(self, canvas, doc):
        """Header of each page (drawn at the page's end, so a section that starts on it names its subject)."""
        info = self.info
        canvas.saveState()
        top = PAGE_H - 11 * mm
        canvas.setFont(MINCHO, 9.5)
        canvas.setFillColor(colors.black)
        canvas.drawString(MARGIN_L, top - 3 * mm, info.town)
        tw = pdfmetrics.stringWidth(info.town, MINCHO, 9.5)
        canvas.setFont(GOTHIC, 9)
        canvas.setFillColor(MUTED)
        canvas.drawString(MARGIN_L + tw + 4 * mm, top - 3 * mm, info.title)
        if self.subject:
            x = MARGIN_L + tw + 4 * mm + pdfmetrics.stringWidth(info.title, GOTHIC, 9) + 5 * mm
            canvas.setFillColor(colors.black)
            canvas.drawString(x, top - 3 * mm, "｜ " + self.subject)
        # 取扱注意: boxed, red, top right
        bw, bh = 25 * mm, 8.5 * mm
        bx, by = PAGE_W - MARGIN_R - bw, top - 5.2 * mm
        canvas.setStrokeColor(RED)
        canvas.setLineWidth(1.1)
        canvas.rect(bx, by, bw, bh)
        canvas.setLineWidth(0.4)
        canvas.rect(bx + 0.9 * mm, by + 0.9 * mm, bw - 1.8 * mm, bh - 1.8 * mm)
        _bold_text(canvas, bx + bw / 2, by + 2.75 * mm, "取扱注意", GOTHIC, 11.5, align="center", color=RED, stroke=0.3)
        canvas.setStrokeColor(GRID)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN_L, top - 6.5 * mm, bx - 3 * mm, top - 6.5 * mm)
        canvas.restoreState()


def _footer(canvas, page: int, total: int, info: PageInfo) -> None:
    canvas.saveState()
    y = 10 * mm
    canvas.setStrokeColor(GRID)
    canvas.setLineWidth(0.5)
    canvas.line(MARGIN_L, y + 4.2 * mm, PAGE_W - MARGIN_R, y + 4.2 * mm)
    canvas.setFont(GOTHIC, 8.5)
    canvas.setFillColor(MUTED)
    left = f"出力者: {info.printed_by}　出力日時: {wareki(info.printed_at.date())} {info.printed_at:%H:%M}"
    if info.mask.key != "none":
        left += f"　表示: {info.mask.short}"
    canvas.drawString(MARGIN_L, y, left)
    canvas.setFillColor(colors.black)
    canvas.setFont(GOTHIC, 9)
    canvas.drawRightString(PAGE_W - MARGIN_R, y, f"{page} / {total} ページ")
    canvas.setFont(GOTHIC, 8.5)
    canvas.setFillColor(MUTED)
    canvas.drawCentredString(
        PAGE_W / 2, y - 4 * mm, "本書には個人情報が含まれます。目的外の利用・複写・持ち出しを禁じます。"
    )
    canvas.restoreState()


def _canvas_maker(info: PageInfo, result: dict, doc_ref: dict):
    class NumberedCanvas(Canvas):
        """Holds every page until ``save``: then each footer can say 'x / y' and every :class:`PageRef` form gets
        the page its mark landed on — one layout pass for both."""

        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self._pages = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            doc = doc_ref.get("doc")
            if doc is not None:
                for key, (width, height, font, size) in doc.page_refs.items():
                    self.beginForm(PageRef.form_name(key), lowerx=0, lowery=0, upperx=width, uppery=height)
                    self.setFont(font, size)
                    self.drawRightString(width, height * 0.22, str(doc.marks.get(key, "—")))
                    self.endForm()
            for n, state in enumerate(self._pages, 1):
                self.__dict__.update(state)
                _footer(self, n, total, info)
                Canvas.showPage(self)
            result["pages"] = total
            Canvas.save(self)

    return NumberedCanvas


_TAGS = re.compile(r"<[^>]+>")


def story_text(flowables) -> str:
    """Every text a story will print (paragraphs, table cells, titles, headings, field labels), for the audience
    guard — read from the flowables, before any layout."""
    out: list[str] = []

    def walk(f):
        if f is None:
            return
        if isinstance(f, str):
            out.append(f)
        elif isinstance(f, (list, tuple)):
            for x in f:
                walk(x)
        elif isinstance(f, Paragraph):
            out.append(_TAGS.sub("", getattr(f, "text", "") or ""))
        elif isinstance(f, Table):
            walk(getattr(f, "_cellvalues", []))
        elif isinstance(f, KeepTogether):
            walk(getattr(f, "_content", []))
        else:
            for attr in ("title", "sub", "text", "label", "hint", "story_text"):
                v = getattr(f, attr, None)
                if isinstance(v, str):
                    out.append(v)
            for attr in ("_content", "flowables", "children"):
                v = getattr(f, attr, None)
                if isinstance(v, (list, tuple)):
                    walk(v)

    walk(flowables)
    return "\n".join(out)


def town_name(ws: Workspace) -> str:

    with ws.session() as s:
        row = s.get(Setting, "town_name")
        value = row.value if row is not None else None
    if isinstance(value, dict):
        value = value.get("name") or value.get("value")
    return str(value).strip() if value and str(value).strip() else "（町名未設定）"


def render(
    ws: Workspace,
    out,
    *,
    kind: str,
    title: str,
    make: Callable[[], list],
    person_ids: Sequence[str] = (),
    mask: MaskProfile | None = None,
    town: str | None = None,
    log_detail: dict | None = None,
) -> dict:
    """Lay out ``make()`` on A4 pages, write ``out`` (atomically) and log ``print``; returns {"pages": n}.

    One layout pass: page x / y and the page numbers of a table of contents (:class:`PageRef` to a
    :class:`Mark`) are filled in when the PDF is saved."""
    ensure_fonts()
    out = Path(out)
    if not out.parent.exists():
        raise InputRefused(f"フォルダー {out.parent} がありません。")
    info = PageInfo(
        town=town or town_name(ws),
        title=title,
        printed_by=ws.user.name,
        printed_at=dt.datetime.now().replace(second=0, microsecond=0),
        mask=mask or MASKS["none"],
    )
    buf = io.BytesIO()
    doc = _Doc(buf, info)
    result: dict = {}
    flowables = make()
    if info.mask.audience.welfare_free:  # the last guard: nothing welfare-only on a school-facing page
        info.mask.audience.assert_clean(story_text(flowables) + "\n" + info.title + "\n" + info.town, title)
    doc.build(flowables, canvasmaker=_canvas_maker(info, result, {"doc": doc}))
    data = buf.getvalue()
    pages = int(result.get("pages", 0))
    ids = list(dict.fromkeys(person_ids))
    detail = {"document": kind, "pages": pages, "persons": ids}
    if mask is not None and mask.key != "none":
        detail["mask"] = mask.key
    detail.update(log_detail or {})
    _write(out, data)
    try:  # a file that could not be logged is not left behind
        ws.log("print", ids[0] if len(ids) == 1 else None, detail)
    except BaseException:
        with contextlib.suppress(OSError):
            out.unlink()
        raise
    return {"pages": pages}


def _write(out: Path, data: bytes) -> None:
    """Write through a temporary file in the same folder, so a half-written PDF never carries the name."""

    try:
        fd, tmp = tempfile.mkstemp(prefix=".kodomo-", suffix=".pdf", dir=out.parent)
    except OSError as e:
        raise InputRefused(f"フォルダー {out.parent} に書き込めません（{e.strerror or e}）。") from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, out)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise InputRefused(
            f"{out.name} を書き込めません。ほかのアプリで開いている場合は閉じてから、もう一度お試しください"
            f"（{e.strerror or e}）。"
        ) from e
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
