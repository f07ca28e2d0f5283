"""The command log (`@`): every privileged command with its time and result."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, RichLog, Static

from dmtui.core.commands import LogEntry, read_persisted_log
from dmtui.core.text import printable


def entry_text(entry: LogEntry) -> Text:
    line = Text()
    line.append(time.strftime("%H:%M:%S ", time.localtime(entry.time)), style="dim")
    status_style = {"ok": "green", "failed": "bold red", "running": "yellow"}.get(
        entry.status, "cyan"
    )
    result = entry.status if entry.returncode in (None, 0) else f"exit {entry.returncode}"
    line.append(f"{result:<8} ", style=status_style)
    line.append(printable(entry.command))
    if entry.detail:
        line.append(f"  ({printable(entry.detail)})", style="dim")
    return line


class CommandLogScreen(Screen):
    BINDINGS = [Binding("escape", "close", "Back"), Binding("@", "close", "Back")]

    def __init__(self, entries: list[LogEntry]) -> None:
        super().__init__()
        self.entries = entries

    def compose(self) -> ComposeResult:
        yield Static(
            Text("Command log: every privileged command dmtui ran", style="bold"), id="log-title"
        )
        yield RichLog(id="log", wrap=True, highlight=False, markup=False, auto_scroll=True)
        yield Footer()

    def on_mount(self) -> None:
        log = self.query_one(RichLog)
        earlier = [e for e in read_persisted_log() if e not in self.entries]
        if earlier:
            log.write(Text("— earlier runs —", style="dim"))
            for entry in earlier[-200:]:
                log.write(entry_text(entry))
            log.write(Text("— this run —", style="dim"))
        if not self.entries:
            log.write(Text("nothing run yet in this session", style="dim"))
        for entry in self.entries:
            log.write(entry_text(entry))

    def add(self, entry: LogEntry) -> None:
        if entry.status != "running":
            self.query_one(RichLog).write(entry_text(entry))

    def action_close(self) -> None:
        self.app.pop_screen()
