"""The outcome of importing one file (every importer returns it; the CLI prints ``to_json``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ImportResult:
    batch_id: int | None
    rows: int
    imported: int
    rejected: int
    errors: list[dict] = field(default_factory=list)
    duplicate_of: int | None = None
    superseded: list[int] = field(default_factory=list)
    mapping: dict = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checks: dict = field(default_factory=dict)  # the guards' figures (rows, previous extract, keys matching …)

    def to_json(self) -> dict:
        d: dict[str, Any] = {
            "batch_id": self.batch_id,
            "rows": self.rows,
            "imported": self.imported,
            "rejected": self.rejected,
            "errors": self.errors,
        }
        if self.duplicate_of is not None:
            d["duplicate_of"] = self.duplicate_of
            d["message"] = f"同じ内容のファイルはすでに取り込まれています（バッチ {self.duplicate_of}）。"
        if self.superseded:
            d["superseded"] = self.superseded
        d["warnings"] = list(self.warnings)
        return d
