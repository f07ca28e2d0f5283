"""The browser's list: ncdu-like rows rendered line by line, so 10,000 entries open at once.

A DataTable repaints every row it holds; this renders only the rows on screen.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from dmtui.core.text import printable
from dmtui.core.units import human_bytes
from dmtui.diskusage.model import Entry
from dmtui.diskusage.report import flag_char

BAR = 10
NORMAL = Style()
DIR_STYLE = Style(bold=True)
CURSOR = Style(reverse=True)
MARKED = Style(color="yellow", bold=True)


class SizeList(ScrollView, can_focus=True):
    cursor: reactive[int] = reactive(0)

    def __init__(self) -> None:
        super().__init__(id="sizelist")
        self.entries: list[Entry] = []
        self.apparent = False
        self.marked: set[tuple[str, int]] = set()
        self._largest = 1

    def set_entries(self, entries: list[Entry], apparent: bool, cursor: int = 0) -> None:
        self.entries = entries
        self.apparent = apparent
        key = self.size_of
        self._largest = max((key(e) for e in entries), default=0) or 1
        self.virtual_size = Size(self.size.width, len(entries))
        self.cursor = min(cursor, max(0, len(entries) - 1))
        self.scroll_to(y=max(0, self.cursor - self.size.height // 2), animate=False)
        self.refresh()

    def size_of(self, e: Entry) -> int:
        return e.apparent if self.apparent else e.disk

    @property
    def current(self) -> Entry | None:
        return self.entries[self.cursor] if 0 <= self.cursor < len(self.entries) else None

    def mark_key(self, e: Entry) -> tuple[str, int]:
        return (e.name, e.ino)

    def watch_cursor(self, old: int, new: int) -> None:
        top = int(self.scroll_offset.y)
        height = self.size.height or 1
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + height:
            self.scroll_to(y=new - height + 1, animate=False)
        self.refresh()

    def move(self, delta: int) -> None:
        if self.entries:
            self.cursor = max(0, min(len(self.entries) - 1, self.cursor + delta))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        index = y + int(self.scroll_offset.y)
        if index >= len(self.entries):
            return Strip.blank(width)
        e = self.entries[index]
        size = self.size_of(e)
        filled = round(BAR * size / self._largest)
        mark = "*" if self.mark_key(e) in self.marked else " "
        name = printable(e.name) + ("/" if e.is_dir else "")
        line = (
            f"{mark}{flag_char(e)}{human_bytes(size):>10} [{'#' * filled}{' ' * (BAR - filled)}] "
        )
        text = (line + name)[:width].ljust(width)
        style = DIR_STYLE if e.is_dir else NORMAL
        if mark == "*":
            style = MARKED
        if index == self.cursor:
            style = style + CURSOR
        return Strip([Segment(text, style)], width)
