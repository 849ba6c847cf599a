"""Font sizes and fill colours of the text a PDF draws, read from its content streams (zlib + a small tokenizer of
the PDF operators Tf, rg, g, k, Tj, TJ, ', ") — independent of reportlab and of any PDF library.

``text_runs(pdf)`` → [(size, (r, g, b), n_bytes)] for every text-showing operator, in stream order."""

from __future__ import annotations

import base64
import re
import zlib
from pathlib import Path

_STREAM = re.compile(rb"stream\r?\n")
_TOKEN = re.compile(
    rb"\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>|\[|\]|/[^\s/\[\]()<>]+|[-+]?\d*\.\d+|[-+]?\d+|[A-Za-z'\"*]+"
)


def _streams(data: bytes):
    for m in _STREAM.finditer(data):
        if data[m.start() - 3 : m.start()] == b"end":
            continue
        start = data.rfind(b" obj", 0, m.start())
        head = data[start : m.start()]
        ln = re.search(rb"/Length\s+(\d+)", head)
        if not ln or b"/Length1" in head or b"/Subtype /Image" in head:
            continue  # embedded font programs, images
        raw = data[m.end() : m.end() + int(ln.group(1))]
        filters = re.findall(rb"/(ASCII85Decode|FlateDecode|\w+Decode)", head)
        try:
            for f in filters:
                if f == b"ASCII85Decode":
                    body = raw.strip()
                    body = body[2:] if body.startswith(b"<~") else body
                    body = body[:-2] if body.endswith(b"~>") else body
                    raw = base64.a85decode(body)
                elif f == b"FlateDecode":
                    raw = zlib.decompress(raw)
                else:
                    raise ValueError(f)
        except (ValueError, zlib.error):
            continue
        yield raw


def text_runs(pdf: Path | str) -> list[tuple[float, tuple[float, float, float], int]]:
    out = []
    for raw in _streams(Path(pdf).read_bytes()):
        if b"Tf" not in raw:
            continue
        size, color, stack = 0.0, (0.0, 0.0, 0.0), []
        for tok in _TOKEN.findall(raw):
            if tok == b"Tf":
                size = float(stack[-1]) if stack else size
                stack = []
            elif tok == b"rg":
                color = tuple(float(x) for x in stack[-3:])
                stack = []
            elif tok == b"g":
                v = float(stack[-1])
                color = (v, v, v)
                stack = []
            elif tok == b"k":
                c, m, y, k = (float(x) for x in stack[-4:])
                color = ((1 - c) * (1 - k), (1 - m) * (1 - k), (1 - y) * (1 - k))
                stack = []
            elif tok in (b"Tj", b"TJ", b"'", b'"'):
                n = sum(len(t) for t in stack if t[:1] in (b"(", b"<"))
                if n:
                    out.append((size, color, n))
                stack = []
            elif tok[:1].isalpha() and tok not in (b"true", b"false", b"null"):
                stack = []  # another operator
            else:
                stack.append(tok)
    return out


def luminance(rgb: tuple[float, float, float]) -> float:
    r, g, b = rgb
    return 0.299 * r + 0.587 * g + 0.114 * b
