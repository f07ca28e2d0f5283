"""Help (`?`): the keys of the screen it was opened from."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

GLOBAL = [("?", "help"), ("@", "command log"), ("q", "quit")]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("?", "close", "Close"),
        Binding("q", "close", "Close"),
    ]

    def __init__(self, title: str, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.keys = keys

    def compose(self) -> ComposeResult:
        body = Text()
        for key, what in [*self.keys, *GLOBAL]:
            body.append(f"{key:>14}  ", style="bold cyan")
            body.append(f"{what}\n")
        with Vertical(classes="dialog"):
            yield Static(Text(f"Keys: {self.title_text}", style="bold"), classes="dialog-title")
            yield Static(body, classes="dialog-body")
            yield Static(Text("Esc closes", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)
