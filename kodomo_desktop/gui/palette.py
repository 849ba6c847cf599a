"""The colours of the GUI, named once (pages import these instead of writing literals).

Each name says what it is for; a page that needs a new colour adds it here.
"""

from __future__ import annotations

ERROR = "#9C0006"  # error text, refusals, warnings
MUTED = "#555555"  # secondary text, hints
TINT_GREEN = "#E2EFDA"  # band 低, done, agreement
DANGER = "#C00000"  # destructive actions, strong negative
ERROR_STRONG = "#B00020"  # password rules, chain broken
OK = "#375623"  # confirmation text
BRAND = "#2E7D6B"  # header and selected navigation
SUCCESS = "#1B7F3B"  # success text, strong password
TINT_YELLOW = "#FFF2CC"  # pending, score events, unmapped
TINT_ORANGE = "#FCE4D6"  # disagreement, progress events
TINT_SALMON = "#F8CBAD"  # band 高, overdue, answer 1
TINT_AMBER = "#FFF3CD"  # expired rows, read-only banner
TINT_GREY = "#EEEEEE"  # removed rows, closed case
FAINT = "#777777"  # faint text
LABEL = "#666666"  # field labels
TINT_GOLD = "#FFE699"  # band 中
CARD_BG = "#F6F8F7"  # cards and identity box
TINT_BLUE_PALE = "#EEF3FA"  # checklist answered by another
TINT_BLUE = "#DDEBF7"  # changed mapping, classification events
CARD_BORDER = "#DDE3E0"  # card borders
PREVIEW_BG = "#8A8F94"  # behind the print preview pages
DISABLED = "#8A8A8A"  # greyed rows
WARN_BROWN = "#8A6D3B"  # missing-source headings
GREY = "#808080"  # neutral weights
CAVEAT_TEXT = "#5D4037"  # the score caveat
TEXT_DARK = "#444444"  # secondary headings
CHART_BLUE = "#2E75B6"  # chart lines
WHITE = "#FFFFFF"  # white
CAVEAT_BG = "#FFF8E1"  # the score caveat's background
BANNER_BG = "#FFF4CE"  # the child page's banner
ERROR_BG = "#FFF0F0"  # notice line background (error)
BAND_MID_BG = "#FFE5C2"  # score list band 中
MISSING_BG = "#FFC7CE"  # a source without a legal basis
CONFIRM_BG = "#FDECEA"  # two-step confirmation box
BAND_HIGH_BG = "#F8D7DA"  # score list band 高
NAV_BG = "#F3F5F4"  # navigation list
TINT_LIGHT = "#F2F2F2"  # note events
CAVEAT_BORDER = "#F0C36D"  # the score caveat's border
OK_BG = "#EEF8F1"  # notice line background (ok)
TINT_MINT = "#EEF6F3"  # own-record rows
TINT_SILVER = "#EDEDED"  # checklist answer 0
TINT_LILAC = "#EDE2F6"  # case events
BAND_LOW_BG = "#ECEFF1"  # score list band 低
TINT_EARLIER = "#E8EEF8"  # decided in an earlier round
BANNER_BORDER = "#E0C36A"  # the child page's banner border
LINE_LIGHT = "#DDDDDD"  # light lines
LINE = "#BFBFBF"  # zero weights
AXIS = "#BBBBBB"  # chart axes
FUNNEL_1 = "#9DC3E6"  # funnel stage 1
FUNNEL_2 = "#5B9BD5"  # funnel stage 2
FUNNEL_4 = "#1F4E79"  # funnel stage 4
FUNNEL_5 = "#548235"  # funnel stage 5
WARN = "#9A6700"  # a fair password
GUIDE = "#999999"  # chart guide lines
AMBER_TEXT = "#7A5C00"  # read-only banner text
POSITIVE = "#70AD47"  # positive weights
BRAND_LINE = "#5AA392"  # header button border
REMARK = "#595959"  # checklist remark
BRAND_LIGHT = "#3D8F7C"  # header buttons
LOCK_BG = "#37474F"  # the lock cover
INK = "#333333"  # chart outlines
BAR_BLUE = "#2F5597"  # weight bars
CARD_VALUE = "#2E4F47"  # card figures
HEADING_BLUE = "#1F3864"  # checklist item
OK_DARK = "#1E5E3A"  # notice line text (ok)
INFO_BLUE = "#1565C0"  # 要対協 status

BAND_TINTS = {"高": TINT_SALMON, "中": TINT_GOLD, "低": TINT_GREEN}
FUNNEL = [FUNNEL_1, FUNNEL_2, CHART_BLUE, FUNNEL_4, FUNNEL_5]
