"""The main screen: containers, the thin pool and the dm devices, with problems below."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from dmtui.core.pool import PoolInfo
from dmtui.core.status import HostStatus
from dmtui.core.text import printable
from dmtui.tui.widgets.containers import ContainersTable
from dmtui.tui.widgets.devices import DevicesTable
from dmtui.tui.widgets.pool import PoolPane
from dmtui.tui.widgets.problems import ProblemsBar

MAIN_KEYS = [
    ("Tab / Shift+Tab", "next / previous pane"),
    ("1 2 3", "containers, thin pool, dm devices"),
    ("m or Enter", "mount the selected container (shows the checks first)"),
    ("/", "filter containers; Esc clears"),
    ("r", "re-read the host now"),
]


class MainScreen(Screen):
    BINDINGS = [
        Binding("1", "focus_pane('containers')", "Containers", show=False),
        Binding("2", "focus_pane('pool')", "Pool", show=False),
        Binding("3", "focus_pane('devices')", "Devices", show=False),
        Binding("m", "mount", "Mount"),
        Binding("/", "filter", "Filter"),
        Binding("r", "refresh", "Refresh"),
        Binding("@", "app.command_log", "Log"),
        Binding("?", "help", "Help"),
        Binding("q", "app.request_quit", "Quit"),
        Binding("escape", "clear_filter", show=False),
    ]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title
        self._pending_status: HostStatus | None = None
        self._pending_pool: tuple[PoolInfo | None, float, str] | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text(self.title_text, style="bold"), id="title")
        yield Input(placeholder="filter containers (name, image, id); Esc clears", id="filter")
        yield ContainersTable()
        with Horizontal(id="lower"):
            yield PoolPane()
            yield DevicesTable()
        yield ProblemsBar()
        yield Footer()

    def on_resize(self, event) -> None:
        # At 80x24 the containers pane keeps room for rows: smaller pool and problems panes.
        self.set_class(self.size.height < 32, "compact")

    def on_mount(self) -> None:
        self.set_class(self.size.height < 32, "compact")
        self.query_one("#filter", Input).display = False
        if self._pending_status is not None:
            self.show_status(self._pending_status)
        if self._pending_pool is not None:
            self.show_pool(*self._pending_pool)
        self.query_one(ContainersTable).focus()

    # -- updates from the app ------------------------------------------------------------

    def show_status(self, status: HostStatus) -> None:
        self._pending_status = status
        try:
            self.query_one(ContainersTable).show(status)
            self.query_one(DevicesTable).show(status)
            self.query_one(ProblemsBar).show(status.problems)
        except NoMatches:
            return  # not composed yet (a slow start): on_mount shows it

    def show_pool(self, pool: PoolInfo | None, when: float, name: str) -> None:
        self._pending_pool = (pool, when, name)
        try:
            self.query_one(PoolPane).show(pool, when, name)
        except NoMatches:
            return

    # -- actions -------------------------------------------------------------------------

    def action_focus_pane(self, pane: str) -> None:
        self.query_one(f"#{pane}").focus()

    def action_mount(self) -> None:
        cid = self.query_one(ContainersTable).selected_id()
        if cid is None:
            self.notify("no container selected", severity="warning")
            return
        self.app.open_mount_dialog(cid)  # type: ignore[attr-defined]

    def on_data_table_row_selected(self, event: ContainersTable.RowSelected) -> None:
        if event.data_table.id == "containers":
            self.action_mount()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display:
            box.value = ""
            box.display = False
            self.query_one(ContainersTable).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        table = self.query_one(ContainersTable)
        table.filter_text = event.value
        status = self.app.session.status  # type: ignore[attr-defined]
        if status is not None:
            table.show(status)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(ContainersTable).focus()

    def action_refresh(self) -> None:
        self.app.refresh_host()  # type: ignore[attr-defined]

    def action_help(self) -> None:
        from dmtui.tui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen("main screen", MAIN_KEYS))


def title_for(docker_root: str, pool: str, read_only: bool, demo: bool) -> str:
    parts = ["dmtui", printable(docker_root), f"pool {printable(pool)}"]
    if read_only:
        parts.append("READ-ONLY")
    if demo:
        parts.append("DEMO (simulated host)")
    return "  ·  ".join(parts)
