"""Make untrusted text (file names, container names, images) safe to show in a terminal.

Names come from container filesystems and Docker's JSON: they can hold escape sequences,
newlines and bytes that are not UTF-8. Shown text keeps every printable character and
replaces the rest with a visible escape, so two different names never look the same.
"""

from __future__ import annotations

import unicodedata

_CACHE: dict[str, str] = {}


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str | None, none: str = "-") -> str:
    """Return `text` with control, format and undecodable characters escaped."""
    if text is None:
        return none
    if text.isprintable() and "\\" not in text:
        return text
    cached = _CACHE.get(text)
    if cached is not None:
        return cached
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch.isprintable() and unicodedata.category(ch) not in ("Cs", "Co"):
            out.append(ch)
        else:
            out.append(_escape_char(ch))
    result = "".join(out)
    if len(_CACHE) < 4096:
        _CACHE[text] = result
    return result


def fit(text: str, width: int) -> str:
    """Cut to `width` cells with an ellipsis (names are already printable)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    return text[: width - 1] + "…"
