"""帳票: choose a document and its inputs, preview it, print it through the system printer or save it as PDF.

Every PDF is made by ``core.reports.service`` (permissions, masking and the access log live there): the preview
is rendered into a private temporary folder and logged with ``output: preview``; 「PDFで保存…」 renders again into
the chosen file (logged ``output: pdf_file``); 「印刷…」 sends the previewed PDF's pages to a ``QPrinter`` and logs
it with ``reports.service.log_printed``.

PySide6-Essentials has no QtPdf, so pages are rendered with pypdfium2 (PDFium, the PDF renderer in Chrome; it
ships its own binary wheels for Windows, Linux and macOS, so nothing like poppler has to be on the PC) off the GUI
thread: small PNGs for the preview; for printing, each page rendered in memory at the printer's resolution (at most
:data:`PRINT_DPI_MAX`; grey when the printer is set to grey) and painted into the ``QPrinter`` one page at a time —
no printer-resolution image is ever written to disk. 「PDFで保存」 stays vector (the core's reportlab PDF).
The temporary folder (personal data) is deleted when a new preview replaces it, when the workspace locks, when
the page is closed or destroyed, and at exit.

Testable without any modal dialog: ``preview()`` (returns the running :class:`~kodomo_desktop.gui.ops.Op`),
``save_pdf(path)``, ``print_to(printer)`` (paints into any ``QPrinter``, e.g. one set to PDF output);
``print_dialog()`` / ``save_dialog()`` are the only places that open a dialog. Problems go to a notice label.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, Qt, QTimer
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ...core import outputs
from ...core import persons as P
from ...core.errors import InputRefused, KodomoError
from ...core.reports import service as R
from .. import palette as pal
from ..format import day, wide_kana
from ..i18n import tr
from ..ops import Cancelled, call_with_progress, run_with_progress
from ..widgets import Notice, forget_rows

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ...core.workspace import Workspace

KINDS = [
    ("assessment", "アセスメントシート"),
    ("conference", "ケース会議資料"),
    ("school_sheet", "学校用情報収集シート"),
    ("handover", "引継ぎシート"),
    ("round_stats", "ラウンド統計"),
    ("blank_checklist", "白紙チェックリスト"),
    ("intake", "受理会議録"),
    ("no_school", "学校・園のないこどもの情報収集シート"),
]
NO_SCHOOL_CONTACTS = [
    ("public_health_nurse", "保健師（母子保健）"),
    ("nursery", "保育所・こども園"),
    ("family_contact", "家庭の連絡窓口（担当者）"),
]
KIND_LABEL = dict(KINDS)
MASKS_PERSON = [  # the conference's documents (assessment sheet, packet): for the meeting, never for a school
    ("none", "マスクなし"),
    ("initials", "氏名はイニシャルのみ"),
]
MASKS_SCHOOL = [
    ("school", "学校向け（福祉関係の情報を表示しない）"),
    ("school_initials", "学校向け・氏名はイニシャルのみ"),
]
HANDOVER_KINDS = ["進学", "転校", "担任交代", "転出"]
PREVIEW_DPI = 80
PRINT_DPI_MAX = 600  # an A4 page at 600 dpi is 4961×7016 px (139 MB in colour, 35 MB grey), held one at a time
SEARCH_LIMIT = 200

_TEMP_DIRS: set[str] = set()


def _remove_dir(path: str | None) -> None:
    if path:
        shutil.rmtree(path, ignore_errors=True)
        _TEMP_DIRS.discard(path)


@atexit.register
def _remove_all() -> None:  # a crash-free exit never leaves a child's PDF in /tmp
    for d in list(_TEMP_DIRS):
        _remove_dir(d)


_PDFIUM = threading.Lock()  # PDFium is not thread-safe: one document operation at a time in this process


def _open_pdf(pdf: Path):
    try:
        import pypdfium2 as pdfium
    except ImportError as e:  # the gui extra brings it; a hand-made environment might not
        raise InputRefused("ページの表示に必要な pypdfium2 が入っていません（pip install pypdfium2）。") from e
    try:
        return pdfium.PdfDocument(str(pdf))
    except pdfium.PdfiumError as e:
        raise InputRefused(f"PDF を読めませんでした（{e}）。") from e


def _to_qimage(bitmap) -> QImage:
    fmt = QImage.Format_Grayscale8 if bitmap.n_channels == 1 else QImage.Format_RGBX8888
    return QImage(bitmap.buffer, bitmap.width, bitmap.height, bitmap.stride, fmt).copy()  # own the pixels


def page_images(pdf: Path, dpi: float, *, pages=None, grey=False, progress=None, cancel=None, text=None):
    """QImages of the PDF's pages (1-based ``pages``; default all) rendered by PDFium at ``dpi``, one at a time."""
    with _PDFIUM:
        doc = _open_pdf(pdf)
        try:
            numbers = list(pages) if pages is not None else list(range(1, len(doc) + 1))
            for i, n in enumerate(numbers):
                if cancel is not None and cancel():
                    raise Cancelled()
                if progress is not None:
                    progress(
                        text=(text or "ページを表示用に変換しています（{i}/{n}）").format(i=i + 1, n=len(numbers)),
                        value=i,
                        maximum=len(numbers),
                    )
                page = doc[n - 1]
                try:
                    opts = {"grayscale": True} if grey else {"rev_byteorder": True, "prefer_bgrx": True}
                    bitmap = page.render(scale=dpi / 72.0, optimize_mode="print" if dpi >= 150 else None, **opts)
                    try:
                        yield _to_qimage(bitmap)
                    finally:
                        bitmap.close()
                finally:
                    page.close()
            if progress is not None:
                progress(value=len(numbers), maximum=len(numbers))
        finally:
            doc.close()


def rasterise(pdf: Path, out_dir: Path, dpi: int, *, progress=None, cancel=None, prefix: str = "p") -> list[Path]:
    """PNG files of the PDF's pages (PDFium through pypdfium2; progress and キャンセル per page)."""
    out: list[Path] = []
    for n, img in enumerate(page_images(pdf, dpi, progress=progress, cancel=cancel), start=1):
        path = out_dir / f"{prefix}{n:04d}.png"
        if not img.save(str(path), "PNG"):
            raise InputRefused(f"表示用の画像を書き出せませんでした（{path.name}）。")
        out.append(path)
    return out


def pdf_pages(pdf: Path) -> int:
    with _PDFIUM:
        doc = _open_pdf(pdf)
        try:
            return len(doc)
        finally:
            doc.close()


class ChildPicker(QWidget):
    """氏名・カナ・宛名番号 search over the children (``persons.list_children``/``ChildIndex``, fetched once)."""

    def __init__(self, ws: Workspace, *, multi: bool = False, parent=None):
        super().__init__(parent)
        self.ws = ws
        self._rows: list[P.ChildRow] | None = None
        self._index: P.ChildIndex | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.search = QLineEdit()
        self.search.setPlaceholderText(tr("検索（氏名・カナ・宛名番号）"))
        self.search.setClearButtonEnabled(True)
        lay.addWidget(self.search)
        self.results = QListWidget()
        self.results.setSelectionMode(
            QAbstractItemView.ExtendedSelection if multi else QAbstractItemView.SingleSelection
        )
        self.results.setMinimumHeight(120)
        self.results.setMaximumHeight(260)
        lay.addWidget(self.results, 1)
        self.message = QLabel("")
        self.message.setStyleSheet(f"color:{pal.MUTED};")
        lay.addWidget(self.message)
        self._debounce = QTimer(self, singleShot=True, interval=200)
        self._debounce.timeout.connect(self.apply_search)
        self._log_timer = QTimer(self, singleShot=True, interval=1500)
        self._log_timer.timeout.connect(self._log_search)
        self.search.textChanged.connect(lambda *_: self._debounce.start())
        self.search.returnPressed.connect(self.apply_search)
        self._logged = None

    def _ensure_rows(self):
        if self._rows is None:
            self._rows = [r for r in P.list_children(self.ws, log=False) if not r.opted_out]
            self._index = P.ChildIndex(self._rows)

    def apply_search(self) -> int:
        self._debounce.stop()
        q = self.search.text().strip()
        self.results.clear()
        self.message.setText("")
        if not q:
            return 0
        try:
            self._ensure_rows()
        except KodomoError as e:
            self.message.setText(e.message_ja)
            return 0
        hits = self._index.filter(q)
        if not hits:
            self.message.setText(tr("該当するこどもはいません。"))
        elif len(hits) > SEARCH_LIMIT:
            self.message.setText(tr("%d人が該当します（先頭の%d人を表示）。") % (len(hits), SEARCH_LIMIT))
        else:
            self.message.setText(tr("%d人が該当します。") % len(hits))
        for i in hits[:SEARCH_LIMIT]:
            r = self._rows[i]
            school = P.grade_text(r.school, r.grade, r.class_name) if r.school else ""
            text = f"{wide_kana(r.name)}（{wide_kana(r.name_kana)}）　{r.age if r.age is not None else '—'}歳　{school}　{r.resident_no}"
            it = QListWidgetItem(text.strip())
            it.setToolTip(text.strip())
            it.setData(Qt.UserRole, r.person_id)
            self.results.addItem(it)
        if len(hits) == 1:
            self.results.setCurrentRow(0)
        self._log_timer.start()
        return len(hits)

    def _log_search(self):  # the number of results only, never the text (as the children page does)
        q = self.search.text().strip()
        if q and q != self._logged and not self.ws.locked:
            self._logged = q
            P.log_search(self.ws, self.results.count(), scope="print")

    def forget(self) -> None:
        """On lock: drop the cached list of children and the results shown; the search text and the chosen
        children are remembered (ids only) so that :meth:`restore` brings them back after the unlock."""
        self._kept = self.selected_ids()
        self._debounce.stop()
        self._log_timer.stop()
        self._rows = self._index = None
        self.results.clear()
        self.message.setText("")

    def restore(self) -> None:
        kept = getattr(self, "_kept", None) or []
        self._kept = []
        if not self.search.text().strip():
            return
        self._logged = self.search.text().strip()  # the same search again: not a new search to log
        self.apply_search()
        self._log_timer.stop()
        ids = [self.results.item(i).data(Qt.UserRole) for i in range(self.results.count())]
        if kept and kept[0] in ids:
            self.results.setCurrentRow(ids.index(kept[0]))
        for i, pid in enumerate(ids):
            self.results.item(i).setSelected(pid in kept)

    def select(self, person_id: str) -> bool:
        for i in range(self.results.count()):
            if self.results.item(i).data(Qt.UserRole) == person_id:
                self.results.setCurrentRow(i)
                return True
        return False

    def selected_ids(self) -> list[str]:
        return [it.data(Qt.UserRole) for it in self.results.selectedItems()]

    def selected_id(self) -> str | None:
        it = self.results.currentItem()
        if it is not None and it.isSelected():
            return it.data(Qt.UserRole)
        ids = self.selected_ids()
        return ids[0] if ids else None


def _combo(items) -> QComboBox:
    c = QComboBox()
    for key, label in items:
        c.addItem(tr(label), key)
    return c


class PrintPage(QWidget):
    def __init__(self, ws: Workspace, main=None):
        super().__init__()
        ws.require(R.PERMISSION, what="print page")
        self.ws = ws
        self.main = main
        self._tmp: str | None = None
        self._seq = 0
        self.current: dict | None = None  # the previewed document: kind, params, pdf, pages, images
        self.op = None
        self.page_labels: list[QLabel] = []

        root = QHBoxLayout(self)
        split = QSplitter(Qt.Horizontal)
        root.addWidget(split)

        # -- left: kinds and their inputs --------------------------------------------------------------------------
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.addWidget(QLabel("<b>%s</b>" % tr("帳票の種類")))
        self.kinds = QListWidget()
        for key, label in KINDS:
            it = QListWidgetItem(tr(label))
            it.setData(Qt.UserRole, key)
            self.kinds.addItem(it)
        self.kinds.setMaximumHeight(self.kinds.sizeHintForRow(0) * (len(KINDS) + 1) + 8)
        ll.addWidget(self.kinds)
        self.forms = QStackedWidget()
        self._build_forms()
        ll.addWidget(self.forms, 1)
        split.addWidget(left)

        # -- right: actions and the pages ---------------------------------------------------------------------------
        right = QWidget()
        rl = QVBoxLayout(right)
        bar = QHBoxLayout()
        self.b_preview = QPushButton(tr("プレビュー"))
        self.b_print = QPushButton(tr("印刷…"))
        self.b_save = QPushButton(tr("PDFで保存…"))
        self.b_preview.clicked.connect(lambda: self.preview())
        self.b_print.clicked.connect(self.print_dialog)
        self.b_save.clicked.connect(self.save_dialog)
        for b in (self.b_preview, self.b_print, self.b_save):
            bar.addWidget(b)
        self.zoom = QComboBox()
        for z in (50, 75, 100, 125, 150):
            self.zoom.addItem(f"{z}%", z)
        self.zoom.setCurrentIndex(2)
        self.zoom.currentIndexChanged.connect(lambda *_: self._show_pages())
        bar.addWidget(QLabel(tr("表示倍率")))
        bar.addWidget(self.zoom)
        bar.addStretch(1)
        rl.addLayout(bar)
        self.info = QLabel(tr("左で帳票を選び、「プレビュー」を押してください。"))
        self.info.setWordWrap(True)  # on its own line: a long file name must not widen the page
        rl.addWidget(self.info)
        self.notice = Notice("printNotice", hide_empty=True)
        rl.addWidget(self.notice)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setStyleSheet(f"QScrollArea {{ background:{pal.PREVIEW_BG}; }}")
        self.pages_host = QWidget()
        self.pages_host.setStyleSheet(f"background:{pal.PREVIEW_BG};")
        self.pages_lay = QVBoxLayout(self.pages_host)
        self.pages_lay.setAlignment(Qt.AlignHCenter | Qt.AlignTop)
        self.pages_lay.setSpacing(12)
        self.scroll.setWidget(self.pages_host)
        rl.addWidget(self.scroll, 1)
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([420, 900])

        self.kinds.currentRowChanged.connect(self._kind_changed)
        self.kinds.setCurrentRow(0)
        self._update_buttons()
        if main is not None and hasattr(main, "locked"):
            main.locked.connect(self.clear_preview)
        tmp_ref = self  # the folder goes even if the page is deleted without a close event
        self.destroyed.connect(lambda *_, d=tmp_ref.__dict__: _remove_dir(d.get("_tmp")))

    # -- forms ----------------------------------------------------------------------------------------------------------
    def _build_forms(self):
        # アセスメントシート
        w = QWidget()
        f = QFormLayout(w)
        self.a_child = ChildPicker(self.ws)
        f.addRow(tr("こども"), self.a_child)
        self.a_mask = _combo(MASKS_PERSON)
        f.addRow(tr("マスク"), self.a_mask)
        self.forms.addWidget(w)
        # ケース会議資料
        w = QWidget()
        f = QFormLayout(w)
        self.c_conf = QComboBox()
        f.addRow(tr("会議"), self.c_conf)
        self.c_child = ChildPicker(self.ws, multi=True)
        f.addRow(tr("こどもを探す"), self.c_child)
        row = QHBoxLayout()
        add = QPushButton(tr("追加 ↓"))
        add.clicked.connect(self.add_conference_children)
        rm = QPushButton(tr("外す"))
        rm.clicked.connect(lambda: [self.c_list.takeItem(self.c_list.row(i)) for i in self.c_list.selectedItems()])
        row.addWidget(add)
        row.addWidget(rm)
        row.addStretch(1)
        f.addRow("", row)
        self.c_list = QListWidget()
        self.c_list.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.c_list.setDragDropMode(QAbstractItemView.InternalMove)
        f.addRow(tr("資料に載せるこども"), self.c_list)
        hint = QLabel(tr("こどもを選ばないときは、選んだ会議の議題のこどもが順に載ります。"))
        hint.setWordWrap(True)
        hint.setStyleSheet(f"color:{pal.MUTED};")
        f.addRow("", hint)
        self.c_mask = _combo(MASKS_PERSON)
        f.addRow(tr("マスク"), self.c_mask)
        self.forms.addWidget(w)
        # 学校用情報収集シート
        w = QWidget()
        f = QFormLayout(w)
        self.s_school = QComboBox()
        f.addRow(tr("学校"), self.s_school)
        self.s_mask = _combo(MASKS_SCHOOL)
        f.addRow(tr("マスク"), self.s_mask)
        hint = QLabel(
            tr("最新のスコアで支援の検討の対象となったその学校のこどもが載ります。福祉関係の情報は載りません。")
        )
        hint.setWordWrap(True)
        hint.setStyleSheet(f"color:{pal.MUTED};")
        f.addRow("", hint)
        self.forms.addWidget(w)
        # 引継ぎシート
        w = QWidget()
        f = QFormLayout(w)
        self.h_child = ChildPicker(self.ws)
        f.addRow(tr("こども"), self.h_child)
        self.h_kind = QComboBox()
        for k in HANDOVER_KINDS:
            self.h_kind.addItem(tr(k), k)
        f.addRow(tr("引継ぎの種類"), self.h_kind)
        self.h_mask = _combo(MASKS_SCHOOL)  # a handover sheet is always for the receiving school
        f.addRow(tr("マスク"), self.h_mask)
        self.forms.addWidget(w)
        # ラウンド統計
        w = QWidget()
        f = QFormLayout(w)
        self.r_round = QComboBox()
        f.addRow(tr("レビューラウンド"), self.r_round)
        self.forms.addWidget(w)
        # 白紙チェックリスト
        w = QWidget()
        f = QFormLayout(w)
        self.b_school = QComboBox()
        f.addRow(tr("学校"), self.b_school)
        self.b_class = QLineEdit()
        self.b_class.setPlaceholderText(tr("例: 3年2組（空欄: 学校全体）"))
        f.addRow(tr("学年・組"), self.b_class)
        self.b_def = QComboBox()
        f.addRow(tr("チェックリスト"), self.b_def)
        self.forms.addWidget(w)
        # 受理会議録
        w = QWidget()
        f = QFormLayout(w)
        self.i_child = ChildPicker(self.ws)
        f.addRow(tr("こども"), self.i_child)
        self.i_mask = _combo(MASKS_PERSON)
        f.addRow(tr("マスク"), self.i_mask)
        self.forms.addWidget(w)
        # 学校・園のないこどもの情報収集シート
        w = QWidget()
        f = QFormLayout(w)
        self.n_contact = _combo(NO_SCHOOL_CONTACTS)
        f.addRow(tr("送付先"), self.n_contact)
        hint = QLabel(
            tr("最新のスコアで抽出された、学校・園の記録がないこどものうち、この送付先に送るこどもが載ります。")
        )
        hint.setWordWrap(True)
        hint.setStyleSheet(f"color:{pal.MUTED};")
        f.addRow("", hint)
        self.forms.addWidget(w)
        self._lists_loaded: set[str] = set()

    def _kind_changed(self, row: int):
        self.forms.setCurrentIndex(max(row, 0))
        self._load_lists(self.kind())

    def kind(self) -> str:
        it = self.kinds.currentItem()
        return it.data(Qt.UserRole) if it is not None else KINDS[0][0]

    def set_kind(self, key: str) -> None:
        for i in range(self.kinds.count()):
            if self.kinds.item(i).data(Qt.UserRole) == key:
                self.kinds.setCurrentRow(i)
                return
        raise KeyError(key)

    def _load_lists(self, kind: str, *, force: bool = False):
        """Fill the combos a kind needs (once; page_shown refreshes them)."""
        if kind in self._lists_loaded and not force:
            return
        try:
            if kind == "conference":
                from ...core.casework import service as C

                keep = self.c_conf.currentData()
                self.c_conf.clear()
                self.c_conf.addItem(tr("（会議を選ばない）"), None)
                for c in C.list_conferences(self.ws):
                    when = day(c["held_on"])
                    self.c_conf.addItem(f"{when}　{c['title'] or c['kind']}（{c['items']}人）", c["conference_id"])
                i = self.c_conf.findData(keep)
                self.c_conf.setCurrentIndex(max(i, 0))
            elif kind in ("school_sheet", "blank_checklist"):
                from ...core.checklists import service as CL

                schools = CL.schools(self.ws)
                for combo in (self.s_school, self.b_school):
                    keep = combo.currentText()
                    combo.clear()
                    combo.addItems(schools)
                    if keep in schools:
                        combo.setCurrentText(keep)
                if kind == "blank_checklist":
                    keep = self.b_def.currentData()
                    self.b_def.clear()
                    for d in CL.definitions(self.ws):
                        self.b_def.addItem(f"{d['title'] or d['key']}（{d['items']}項目）", d["key"])
                    i = self.b_def.findData(keep)
                    self.b_def.setCurrentIndex(max(i, 0))
            elif kind == "round_stats":
                from ...core.casework import service as C

                keep = self.r_round.currentData()
                self.r_round.clear()
                for r in C.list_rounds(self.ws):
                    self.r_round.addItem(
                        f"{r['name']}（候補 {r['candidates']}人・分類済み {r['classified']}人）", r["round_id"]
                    )
                i = self.r_round.findData(keep)
                self.r_round.setCurrentIndex(max(i, 0))
            self._lists_loaded.add(kind)
        except KodomoError as e:
            self.show_notice(e.message_ja)

    def on_lock(self):
        """The key is gone: the preview and its files go, the pickers forget the children (choices kept by id)."""
        self.clear_preview()
        forget_rows(self)
        for picker in self.findChildren(ChildPicker):
            picker.forget()

    def on_unlock(self):
        for picker in self.findChildren(ChildPicker):
            picker.restore()
        self.page_shown()

    def page_shown(self):
        if self.ws.locked:
            return
        for k in list(self._lists_loaded):
            self._load_lists(k, force=True)

    def add_conference_children(self) -> int:
        have = {self.c_list.item(i).data(Qt.UserRole) for i in range(self.c_list.count())}
        added = 0
        for it in self.c_child.results.selectedItems():
            pid = it.data(Qt.UserRole)
            if pid not in have:
                new = QListWidgetItem(it.text())
                new.setData(Qt.UserRole, pid)
                self.c_list.addItem(new)
                have.add(pid)
                added += 1
        return added

    def add_conference_child(self, person_id: str, label: str | None = None) -> None:
        """For code and tests: put one child on the packet."""
        it = QListWidgetItem(label or person_id)
        it.setData(Qt.UserRole, person_id)
        self.c_list.addItem(it)

    # -- what to print ----------------------------------------------------------------------------------------------
    def params(self) -> dict:
        """The chosen document and its inputs; InputRefused (Japanese) when something is missing."""
        kind = self.kind()
        if kind == "assessment":
            pid = self.a_child.selected_id()
            if not pid:
                raise InputRefused("こどもを検索して選んでください。")
            return {"kind": kind, "person_id": pid, "mask": self.a_mask.currentData()}
        if kind == "conference":
            ids = [self.c_list.item(i).data(Qt.UserRole) for i in range(self.c_list.count())]
            conf = self.c_conf.currentData()
            if not ids and conf is None:
                raise InputRefused("会議を選ぶか、資料に載せるこどもを追加してください。")
            return {"kind": kind, "person_ids": ids, "conference_id": conf, "mask": self.c_mask.currentData()}
        if kind == "school_sheet":
            school = self.s_school.currentText().strip()
            if not school:
                raise InputRefused("学校を選んでください。")
            return {"kind": kind, "school": school, "mask": self.s_mask.currentData()}
        if kind == "handover":
            pid = self.h_child.selected_id()
            if not pid:
                raise InputRefused("こどもを検索して選んでください。")
            return {
                "kind": kind,
                "person_id": pid,
                "handover": self.h_kind.currentData(),
                "mask": self.h_mask.currentData(),
            }
        if kind == "intake":
            pid = self.i_child.selected_id()
            if not pid:
                raise InputRefused("こどもを検索して選んでください。")
            return {"kind": kind, "person_id": pid, "mask": self.i_mask.currentData()}
        if kind == "no_school":
            return {"kind": kind, "contact": self.n_contact.currentData()}
        if kind == "round_stats":
            rid = self.r_round.currentData()
            if rid is None:
                raise InputRefused("レビューラウンドがありません。会議のページでラウンドを作ってください。")
            return {"kind": kind, "round_id": rid}
        school = self.b_school.currentText().strip()
        if not school:
            raise InputRefused("学校を選んでください。")
        return {
            "kind": kind,
            "school": school,
            "klass": self.b_class.text().strip() or None,
            "definition": self.b_def.currentData(),
        }

    def _render(self, p: dict, out: Path, output: str, progress=None) -> dict:
        """One core call (it checks the permission, writes the PDF and logs it)."""
        ws, extra = self.ws, {"output": output}
        k = p["kind"]
        if k == "assessment":
            return R.assessment_pdf(ws, p["person_id"], out, mask=p["mask"], log_extra=extra)
        if k == "conference":
            return R.conference_pdf(
                ws, p["person_ids"], out, p["conference_id"], mask=p["mask"], progress=progress, log_extra=extra
            )
        if k == "school_sheet":
            return R.school_sheet_pdf(ws, p["school"], out, mask=p["mask"], log_extra=extra)
        if k == "handover":
            return R.handover_pdf(ws, p["person_id"], out, p["handover"], mask=p["mask"], log_extra=extra)
        if k == "round_stats":
            return R.round_stats_pdf(ws, p["round_id"], out, log_extra=extra)
        if k == "intake":
            return R.intake_pdf(ws, p["person_id"], out, mask=p["mask"], log_extra=extra)
        if k == "no_school":
            return R.no_school_sheet_pdf(ws, out, contact=p["contact"], log_extra=extra)
        return R.blank_checklist_pdf(ws, p["school"], p["klass"], p["definition"], out, log_extra=extra)

    # -- temp folder ------------------------------------------------------------------------------------------------
    def temp_dir(self) -> Path:
        if self._tmp is None or not Path(self._tmp).is_dir():
            self._tmp = str(outputs.new_preview_dir())  # 0700, in the one per-user folder cleaned at start
            _TEMP_DIRS.add(self._tmp)
        return Path(self._tmp)

    def clear_preview(self, *_):
        """Forget the preview and delete its files (lock, close, a new preview)."""
        self.current = None
        for lab in self.page_labels:
            lab.setParent(None)
            lab.deleteLater()
        self.page_labels = []
        _remove_dir(self._tmp)
        self._tmp = None
        self.info.setText(tr("左で帳票を選び、「プレビュー」を押してください。"))
        self._update_buttons()

    def closeEvent(self, ev):
        self.clear_preview()
        super().closeEvent(ev)

    # -- preview --------------------------------------------------------------------------------------------------------
    def show_notice(self, text: str):
        self.notice.say(text, error=True)

    def _busy(self) -> bool:
        return self.op is not None and self.op.is_running

    def _update_buttons(self):
        busy = self._busy()
        self.b_preview.setEnabled(not busy)
        self.b_print.setEnabled(not busy and self.current is not None)
        self.b_save.setEnabled(not busy)

    def preview(self):
        """Render the chosen document and show its pages (asynchronous; returns the Op, or None on bad input)."""
        if self._busy():
            return self.op
        self.show_notice("")
        try:
            p = self.params()
        except KodomoError as e:
            self.show_notice(e.message_ja)
            return None
        self.clear_preview()
        tmp = self.temp_dir()
        self._seq += 1
        pdf = tmp / f"preview-{self._seq}.pdf"

        def work(progress, cancel):
            progress(tr("帳票を作成しています…"))
            res = self._render(p, pdf, "preview", progress=progress)
            cancel.check()
            images = rasterise(pdf, tmp, PREVIEW_DPI, progress=progress, cancel=cancel, prefix=f"v{self._seq}-")
            return {"params": p, "pdf": pdf, "pages": res.get("pages") or len(images), "images": images}

        self.op = run_with_progress(
            self,
            tr("プレビュー") + "：" + tr(KIND_LABEL[p["kind"]]),
            work,
            on_done=self._preview_done,
            on_error=self._op_failed,
        )
        self.op.finished.connect(self._update_buttons)
        self._update_buttons()
        return self.op

    def _preview_done(self, result: dict):
        if self.ws.locked:  # locked while rendering: nothing stays on screen or on disk
            self.clear_preview()
            return
        self.current = result
        self._show_pages()
        self.info.setText(tr("%s・%dページ") % (tr(KIND_LABEL[result["params"]["kind"]]), result["pages"]))
        self._update_buttons()

    def _op_failed(self, e: BaseException):
        if isinstance(e, Cancelled):
            self.show_notice(tr("キャンセルしました。"))
        elif isinstance(e, KodomoError):
            self.show_notice(e.message_ja)
        else:
            self.show_notice(tr("帳票を作成できませんでした。") + f"（{type(e).__name__}: {e}）")
        self._update_buttons()

    def _show_pages(self):
        for lab in self.page_labels:
            lab.setParent(None)
            lab.deleteLater()
        self.page_labels = []
        if not self.current:
            return
        z = (self.zoom.currentData() or 100) / 100.0
        for path in self.current["images"]:
            pm = QPixmap(str(path))
            if z != 1.0 and not pm.isNull():
                pm = pm.scaled(pm.size() * z, Qt.KeepAspectRatio, Qt.SmoothTransformation)
            lab = QLabel()
            lab.setPixmap(pm)
            lab.setFrameShape(QFrame.Box)
            lab.setStyleSheet(f"background:white;border:1px solid {pal.MUTED};")
            self.pages_lay.addWidget(lab, 0, Qt.AlignHCenter)
            self.page_labels.append(lab)

    def page_count(self) -> int:
        return len(self.page_labels)

    # -- save as PDF --------------------------------------------------------------------------------------------------
    def save_dialog(self):
        try:
            p = self.current["params"] if self.current else self.params()
        except KodomoError as e:
            self.show_notice(e.message_ja)
            return
        name = f"{KIND_LABEL[p['kind']]}_{dt.date.today():%Y%m%d}.pdf"
        path, _ = QFileDialog.getSaveFileName(self, tr("PDFで保存"), str(Path.home() / name), "PDF (*.pdf)")
        if path:
            if not path.lower().endswith(".pdf"):
                path += ".pdf"
            self.save_pdf(path)

    def save_pdf(self, path) -> dict | None:
        """Write the previewed document (or, without a preview, the chosen one) to ``path`` through the core
        (a fresh render: the log says what went into the file). Returns {"pages": n}, None on failure."""
        self.show_notice("")
        try:
            p = self.current["params"] if self.current else self.params()
            res = call_with_progress(
                self,
                tr("PDFで保存"),
                lambda progress, cancel: self._render(p, Path(path), "pdf_file", progress=progress),
            )
        except Cancelled:
            self.show_notice(tr("キャンセルしました。"))
            return None
        except KodomoError as e:
            self.show_notice(e.message_ja)
            return None
        self.info.setText(tr("%s に保存しました（%dページ）") % (Path(path).name, res["pages"]))
        if self.main is not None and hasattr(self.main, "status"):
            self.main.status(tr("PDFを保存しました: ") + str(path))
        return res

    # -- print ----------------------------------------------------------------------------------------------------------
    def print_dialog(self):
        """The system print dialog, then :meth:`print_to`."""
        if not self.current:
            self.show_notice(tr("先に「プレビュー」で帳票を作成してください。"))
            return
        from PySide6.QtPrintSupport import QPrintDialog, QPrinter

        printer = QPrinter(QPrinter.HighResolution)
        printer.setDocName(tr(KIND_LABEL[self.current["params"]["kind"]]))
        dlg = QPrintDialog(printer, self)
        dlg.setMinMax(1, self.current["pages"])
        dlg.setWindowTitle(tr("印刷"))
        if dlg.exec() == QPrintDialog.Accepted:
            self.print_to(printer)

    def print_to(self, printer, *, dpi: int | None = None) -> int:
        """Paint the previewed PDF's pages into ``printer`` (each page rasterised from the PDF at the printer's
        resolution, at most 300 dpi, and fitted to the paper) and log it. Returns the pages printed (0 on
        failure; the reason is in the notice)."""
        self.show_notice("")
        if not self.current:
            self.show_notice(tr("先に「プレビュー」で帳票を作成してください。"))
            return 0
        from PySide6.QtGui import QPageLayout, QPageSize

        cur = self.current
        dpi = int(dpi or min(PRINT_DPI_MAX, max(72, printer.resolution())))
        pages = list(range(1, cur["pages"] + 1))
        if printer.printRange() == printer.PrintRange.PageRange and printer.fromPage() > 0:
            pages = [n for n in pages if printer.fromPage() <= n <= (printer.toPage() or cur["pages"])]
        grey = printer.colorMode() == printer.ColorMode.GrayScale
        printer.setPageSize(QPageSize(QPageSize.A4))
        printer.setPageOrientation(QPageLayout.Portrait)
        printer.setFullPage(True)

        def work(progress, cancel):
            # Qt paints into a QPrinter from a worker thread; each page exists in memory only while it is painted.
            painter = QPainter()
            if not painter.begin(printer):
                raise InputRefused(tr("プリンターを開けませんでした。"))
            try:
                images = page_images(
                    cur["pdf"],
                    dpi,
                    pages=pages,
                    grey=grey,
                    progress=progress,
                    cancel=cancel,
                    text=tr("印刷しています（{i}/{n}ページ）"),
                )
                for i, img in enumerate(images):
                    if i:
                        printer.newPage()
                    area = painter.viewport()
                    size = img.size().scaled(area.size(), Qt.KeepAspectRatio)
                    x = area.x() + (area.width() - size.width()) // 2
                    y = area.y() + (area.height() - size.height()) // 2
                    painter.drawImage(QRect(x, y, size.width(), size.height()), img)
            except Cancelled:
                printer.abort()
                raise
            finally:
                painter.end()
            return len(pages)

        try:
            call_with_progress(self, tr("印刷"), work)
        except Cancelled:
            self.show_notice(tr("キャンセルしました。"))
            return 0
        except KodomoError as e:
            self.show_notice(e.message_ja)
            return 0
        p = cur["params"]
        detail = {"pages": len(pages), "of_pages": cur["pages"], "printer": printer.printerName() or None}
        for key in ("conference_id", "school", "round_id", "handover", "klass", "definition"):
            if p.get(key) not in (None, ""):
                detail[key] = p[key]
        if p.get("mask") and p["mask"] != "none":
            detail["mask"] = p["mask"]
        detail["persons"] = [p["person_id"]] if p.get("person_id") else list(p.get("person_ids") or [])
        if p["kind"] == "conference" and not detail["persons"] and p.get("conference_id") is not None:
            with contextlib.suppress(KodomoError):
                from ...core.casework import service as C

                detail["persons"] = [
                    i["person_id"] for i in C.conference_detail(self.ws, p["conference_id"], log=False)["items"]
                ]
        R.log_printed(self.ws, p["kind"], detail)
        self.info.setText(tr("%dページを印刷しました") % len(pages))
        if self.main is not None and hasattr(self.main, "status"):
            self.main.status(tr("印刷しました"))
        return len(pages)
