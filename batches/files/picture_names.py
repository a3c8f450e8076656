"""File names for a batch's pictures in results.zip: each row's compound ID, safe and unique.

An ID can hold anything a spreadsheet cell can (slashes, `..`, spaces, emoji, `CON`), and two
rows can share one, so names are made safe for every common file system and then unique:
a repeated name gets the row number (`aspirin-row-7`); a row without an ID is `row-<n>`.
Uniqueness ignores case, as Windows and macOS file systems do.
"""

from __future__ import annotations

import re
import unicodedata

MAX_STEM = 100
_UNSAFE = re.compile(r"[^\w.-]+")  # letters and digits of any script, `_`, `.` and `-` stay
_WINDOWS_RESERVED = frozenset(
    # COM0/LPT0 too (Windows 11 reserves them), and ¹ ² ³ forms (NFKC makes them digits first)
    ["con", "prn", "aux", "nul"] + [f"{name}{n}" for name in ("com", "lpt") for n in range(10)]
)


def safe_stem(text: str) -> str:
    """`text` as a file name stem: unsafe runs become `_`, no leading/trailing dots or dashes."""
    stem = _UNSAFE.sub("_", unicodedata.normalize("NFKC", text or "")).strip("._-")
    stem = stem[:MAX_STEM].rstrip("._-")
    if stem.split(".")[0].lower() in _WINDOWS_RESERVED:
        stem = f"_{stem}"  # NUL.txt.png is reserved too: the part before the first dot counts
    return stem


class PictureNames:
    """Hands out one unique stem per row, in the order rows are packed."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def stem(self, *, input_id: str, row_number: int) -> str:
        base = safe_stem(input_id) or f"row-{row_number}"
        if base.casefold() in self._used:
            base = f"{base}-row-{row_number}"
        stem, count = base, 1
        while stem.casefold() in self._used:  # an ID that is literally another's fallback
            count += 1
            stem = f"{base}-{count}"
        self._used.add(stem.casefold())
        return stem
