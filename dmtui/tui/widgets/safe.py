"""Untrusted text becomes a Rich Text (never markup) with control characters escaped."""

from __future__ import annotations

from rich.text import Text

from dmtui.core.text import printable


def safe(text: str | None, style: str = "") -> Text:
    return Text(printable(text), style=style, no_wrap=True, end="")
