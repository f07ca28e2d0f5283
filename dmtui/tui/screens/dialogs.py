"""Modal dialogs. In every confirmation `y` confirms, `n` and `Esc` cancel; No is the default."""

from __future__ import annotations

import shlex

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, ProgressBar, Static

from dmtui.core.text import printable
from dmtui.core.units import human_bytes
from dmtui.diskusage.deleter import Failure, Target


class Confirm(ModalScreen[bool]):
    """A yes/no question whose default (focused) answer is No."""

    BINDINGS = [
        Binding("y", "yes", "Yes"),
        Binding("n", "no", "No"),
        Binding("escape", "no", "Cancel"),
    ]

    def __init__(self, title: str, body: Text, yes_label: str = "Yes") -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.yes_label = yes_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text, style="bold"), classes="dialog-title")
            with VerticalScroll(classes="dialog-scroll"):
                yield Static(self.body, classes="dialog-body")
            with Horizontal(classes="buttons"):
                yield Button(f"{self.yes_label} (y)", id="yes", variant="error")
                yield Button("No (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)


class MountDialog(ModalScreen["bool | None"]):
    """The checks, the mode (w/r) and the exact commands; y mounts with the mode shown."""

    BINDINGS = [
        Binding("y", "yes", "Mount"),
        Binding("w", "mode(True)", "Read-write"),
        Binding("r", "mode(False)", "Read-only"),
        Binding("n", "no", "Cancel"),
        Binding("escape", "no", "Cancel"),
    ]

    def __init__(self, plan_for, read_only: bool) -> None:
        super().__init__()
        self.plan_for = plan_for  # mode -> (plan, commands)
        self.read_only = read_only
        first, _ = plan_for(False)
        self.read_write = first.rw_allowed and not read_only

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(classes="dialog-title", id="mount-title")
            with VerticalScroll(classes="dialog-scroll"):
                yield Static(classes="dialog-body", id="mount-body")
            with Horizontal(classes="buttons"):
                yield Button("Mount (y)", id="yes", variant="warning")
                yield Button("Cancel (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()
        self.render_plan()

    def render_plan(self) -> None:
        plan, commands = self.plan_for(self.read_write)
        c = plan.container
        title = Text("Mount ", style="bold")
        title.append(printable(c.name), style="bold cyan")
        title.append(f"  ({c.id[:12]}, {printable(c.image)})", style="dim")
        self.query_one("#mount-title", Static).update(title)
        body = Text()
        for check in plan.checks:
            if check.ok:
                body.append(" ✓ ", style="bold green")
            elif check.blocks is None:
                body.append(" ! ", style="bold yellow")
            else:
                body.append(" ✗ ", style="bold red")
            body.append(f"{check.name}: ", style="bold")
            body.append(printable(check.message))
            if check.hazard:
                body.append(f" ({check.hazard})", style="dim")
            body.append("\n")
        body.append("\nmode: ")
        if self.read_write:
            body.append("read-write", style="bold yellow")
        else:
            body.append("read-only", style="bold green")
        if self.read_only:
            body.append("  (dmtui runs with --read-only)", style="dim")
        elif plan.rw_allowed:
            body.append("  (w read-write, r read-only)", style="dim")
        else:
            body.append("  (read-write is refused by a check above)", style="dim")
        refusal = plan.refusal
        button = self.query_one("#yes", Button)
        if refusal is not None:
            body.append("\n\nRefused: ", style="bold red")
            body.append(printable(refusal.message))
            body.append(
                "\nNext step: fix what the check names, or inspect the host with `dmtui status`.",
                style="dim",
            )
            button.disabled = True
        else:
            button.disabled = False
            body.append("\n\nCommands that will run:\n", style="bold")
            for command in commands:
                body.append(f"  {command}\n", style="cyan")
        self.query_one("#mount-body", Static).update(body)

    def action_mode(self, read_write: bool) -> None:
        if read_write and self.read_only:
            self.notify("--read-only: read-write mounts are refused", severity="warning")
            return
        self.read_write = read_write
        self.render_plan()

    def action_yes(self) -> None:
        plan, _ = self.plan_for(self.read_write)
        if plan.refusal is None:
            self.dismiss(self.read_write)

    def action_no(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "yes":
            self.action_yes()
        else:
            self.dismiss(None)


def delete_summary(targets: list[Target], apparent: bool) -> Text:
    freed = sum(t.apparent if apparent else t.disk for t in targets)
    items = sum(t.items for t in targets)
    body = Text()
    for t in targets[:6]:
        body.append(
            "  " + printable(t.rel_path) + ("/" if t.node is not None else ""), style="bold"
        )
        if t.contents_only:
            body.append("  (its contents; the directory stays)", style="dim")
        body.append("\n")
    if len(targets) > 6:
        body.append(f"  … and {len(targets) - 6} more\n", style="dim")
    noun = "entry" if len(targets) == 1 else "entries"
    body.append(f"\n{len(targets)} {noun}, {items} items; frees about {human_bytes(freed)}")
    body.append(" in the container's filesystem; `t` then gives it back to the pool.\n")
    body.append("\nEquivalent command:\n", style="bold")
    quoted = " ".join(_shell_quote(t.path) for t in targets[:3])
    more = " …" if len(targets) > 3 else ""
    body.append(f"  rm -rf --one-file-system -- {quoted}{more}", style="cyan")
    return body


def _shell_quote(path: str) -> str:
    return shlex.quote(printable(path))


class DeleteProgress(ModalScreen[None]):
    BINDINGS = [Binding("escape", "stop", "Stop"), Binding("s", "stop", "Stop")]

    def __init__(self, total_items: int, on_stop) -> None:
        super().__init__()
        self.total_items = total_items
        self.on_stop = on_stop

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text("Deleting…", style="bold"), classes="dialog-title")
            yield ProgressBar(total=max(1, self.total_items), id="delete-progress")
            yield Static("", id="delete-current")
            yield Static(Text("Esc or s stops", style="dim"))

    def advance(self, done: int, path: str) -> None:
        self.query_one("#delete-progress", ProgressBar).update(progress=done)
        self.query_one("#delete-current", Static).update(Text(printable(path)[-70:]))

    def action_stop(self) -> None:
        self.on_stop()
        self.query_one("#delete-current", Static).update(Text("stopping…", style="yellow"))


class FailureDialog(ModalScreen[str]):
    BINDINGS = [
        Binding("a", "answer('abort')", "Abort"),
        Binding("s", "answer('skip')", "Skip"),
        Binding("S", "answer('skip_all')", "Skip all such"),
        Binding("escape", "answer('abort')", "Abort"),
    ]

    def __init__(self, failure: Failure) -> None:
        super().__init__()
        self.failure = failure

    def compose(self) -> ComposeResult:
        body = Text("Could not delete\n  ")
        body.append(printable(self.failure.path), style="bold")
        body.append(f"\n{self.failure.reason}", style="red")
        with Vertical(classes="dialog"):
            yield Static(Text("Deletion failed", style="bold red"), classes="dialog-title")
            yield Static(body, classes="dialog-body")
            with Horizontal(classes="buttons"):
                yield Button("Abort (a)", id="abort", variant="primary")
                yield Button("Skip (s)", id="skip")
                yield Button("Skip all such (S)", id="skip_all")

    def on_mount(self) -> None:
        self.query_one("#abort", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "abort")

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer)


class QuitDialog(ModalScreen[str]):
    """dmtui still has something mounted: unmount and quit, leave it, or stay."""

    BINDINGS = [
        Binding("u", "answer('unmount')", "Unmount and quit"),
        Binding("l", "answer('leave')", "Leave mounted and quit"),
        Binding("n", "answer('stay')", "Stay"),
        Binding("escape", "answer('stay')", "Stay"),
    ]

    def __init__(self, labels: list[str]) -> None:
        super().__init__()
        self.labels = labels

    def compose(self) -> ComposeResult:
        body = Text("dmtui still has mounted:\n")
        for label in self.labels:
            body.append(f"  {printable(label)}\n", style="bold")
        body.append(
            "\nu unmount and quit · l leave it mounted and quit (recorded for the next "
            "start) · n stay"
        )
        with Vertical(classes="dialog"):
            yield Static(Text("Quit dmtui?", style="bold"), classes="dialog-title")
            yield Static(body, classes="dialog-body")
            with Horizontal(classes="buttons"):
                yield Button("Unmount (u)", id="unmount", variant="warning")
                yield Button("Leave (l)", id="leave")
                yield Button("Stay (n)", id="stay", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#stay", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "stay")

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer)


class JournalDialog(ModalScreen[str]):
    """Work an earlier dmtui left: finish it, undo it, or leave it for later."""

    BINDINGS = [
        Binding("f", "answer('finish')", "Finish"),
        Binding("u", "answer('undo')", "Undo / unmount"),
        Binding("n", "answer('leave')", "Leave"),
        Binding("escape", "answer('leave')", "Leave"),
    ]

    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = lines

    def compose(self) -> ComposeResult:
        body = Text()
        for line in self.lines:
            body.append(f"• {printable(line)}\n")
        body.append("\nf finish (mount it) · u undo (unmount, remove what dmtui made) · n leave")
        with Vertical(classes="dialog"):
            yield Static(
                Text("An earlier dmtui left work behind", style="bold"), classes="dialog-title"
            )
            yield Static(body, classes="dialog-body")
            with Horizontal(classes="buttons"):
                yield Button("Finish (f)", id="finish")
                yield Button("Undo (u)", id="undo", variant="warning")
                yield Button("Leave (n)", id="leave", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#leave", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "leave")

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer)


class InfoDialog(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("i", "close", "Close"),
        Binding("q", "close", "Close"),
        Binding("enter", "close", "Close"),
    ]

    def __init__(self, title: str, body: Text) -> None:
        super().__init__()
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text, style="bold"), classes="dialog-title")
            with VerticalScroll(classes="dialog-scroll"):
                yield Static(self.body, classes="dialog-body")
            yield Static(Text("Esc closes", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)


__all__ = [
    "Confirm",
    "DeleteProgress",
    "FailureDialog",
    "InfoDialog",
    "JournalDialog",
    "MountDialog",
    "QuitDialog",
    "delete_summary",
]
