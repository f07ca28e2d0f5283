"""Problems from `status`, always visible under the panes."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from dmtui.core.problems import Problem
from dmtui.core.text import printable


class ProblemsBar(Static):
    def __init__(self) -> None:
        super().__init__(id="problems")
        self._signature: tuple = ()
        self.border_title = "Problems"

    def show(self, problems: list[Problem]) -> None:
        ordered = sorted(problems, key=lambda p: p.severity != "error")
        signature = tuple((p.severity, p.message) for p in ordered)
        if signature == self._signature:
            return
        self._signature = signature
        self.border_title = f"Problems ({len(problems)})"
        if not problems:
            self.update(Text("none", style="green"))
            self.remove_class("has-errors")
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, p in enumerate(ordered[:3]):
            if i:
                text.append("\n")
            style = "bold red" if p.severity == "error" else "yellow"
            text.append(f"{p.severity.upper():<7} ", style=style)
            text.append(printable(p.message))
        if len(ordered) > 3:
            text.append(f"  (+{len(ordered) - 3} more: `dmtui status`)", style="dim")
        self.set_class(any(p.severity == "error" for p in problems), "has-errors")
        self.update(text)
