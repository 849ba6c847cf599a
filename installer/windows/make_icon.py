"""Draw the app's SVG icon (kodomo_desktop/resources/icons/app.svg) into installer/windows/kodomo-desktop.ico.

Qt renders it (QtSvg) and writes the .ico (Qt's ico image plugin), so no other image tool is needed on the build
machine. Run by build.ps1 before PyInstaller; the .ico is a build product (gitignored)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

from kodomo_desktop.resources import icon_path  # noqa: E402


def main(out: str | None = None) -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    target = Path(out or Path(__file__).with_name("kodomo-desktop.ico"))
    renderer = QSvgRenderer(str(icon_path()))
    if not renderer.isValid():
        print(f"cannot read {icon_path()}", file=sys.stderr)
        return 1
    img = QImage(256, 256, QImage.Format_ARGB32)
    img.fill(Qt.transparent)
    p = QPainter(img)
    renderer.render(p)
    p.end()
    if not img.save(str(target), "ICO"):
        print(f"cannot write {target}", file=sys.stderr)
        return 1
    print(target)
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
