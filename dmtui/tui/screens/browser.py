"""The browser: a mounted rootfs sorted by size, largest first, like ncdu."""

from __future__ import annotations

import threading

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from dmtui.core.errors import DmtuiError
from dmtui.core.text import printable
from dmtui.core.units import human_bytes
from dmtui.diskusage.deleter import Deleter, Failure, ReadOnlyError, Target
from dmtui.diskusage.model import ERROR, HARDLINK, OTHER_FS, DirNode, Entry, sort_entries
from dmtui.diskusage.scanner import Progress, ScanCancelled, ScanError, Scanner
from dmtui.tui.screens.dialogs import Confirm, DeleteProgress, FailureDialog, InfoDialog
from dmtui.tui.widgets.sizelist import SizeList

BROWSER_KEYS = [
    ("↑ ↓ j k", "move"),
    ("Enter → l", "open directory"),
    ("← h Backspace", "up one directory"),
    ("s n C", "sort by size, name, items"),
    ("a", "apparent size / disk usage"),
    ("i", "information about the entry"),
    ("r", "rescan"),
    ("Space", "mark / unmark"),
    ("d", "delete the marked entries or the current one"),
    ("e", "empty the current directory but keep it"),
    ("t", "trim: give freed blocks back to the thin pool"),
    ("u", "unmount and go back"),
    ("Esc", "back to the main screen, leaving it mounted"),
]


class ScanProgressed(Message):
    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ScanProgressed)


class ScanFinished(Message):
    def __init__(self, root: DirNode | None, error: str | None) -> None:
        super().__init__()
        self.root = root
        self.error = error


class DeleteProgressed(Message):
    def __init__(self, done: int, path: str) -> None:
        super().__init__()
        self.done = done
        self.path = path

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DeleteProgressed)


class BrowserScreen(Screen):
    BINDINGS = [
        Binding("enter,right,l", "open", "Open", show=False),
        Binding("left,h,backspace", "up", "Up", show=False),
        Binding("down,j", "move(1)", show=False),
        Binding("up,k", "move(-1)", show=False),
        Binding("pagedown", "move(20)", show=False),
        Binding("pageup", "move(-20)", show=False),
        Binding("home", "move(-1000000000)", show=False),
        Binding("end", "move(1000000000)", show=False),
        Binding("s", "sort('disk')", "Size", show=False),
        Binding("n", "sort('name')", "Name", show=False),
        Binding("C", "sort('items')", "Items", show=False),
        Binding("a", "toggle_apparent", "Apparent"),
        Binding("i", "info", "Info"),
        Binding("r", "rescan", "Rescan"),
        Binding("space", "mark", "Mark"),
        Binding("d", "delete", "Delete"),
        Binding("e", "empty", "Empty dir", show=False),
        Binding("t", "trim", "Trim"),
        Binding("u", "unmount", "Unmount"),
        Binding("escape", "back", "Back"),
        Binding("@", "app.command_log", "Log"),
        Binding("?", "help", "Help"),
        Binding("q", "app.request_quit", "Quit"),
    ]

    def __init__(
        self, container_id: str, label: str, rootfs: str, mountpoint: str, read_write: bool
    ) -> None:
        super().__init__()
        self.container_id = container_id
        self.label = label
        self.rootfs = rootfs
        self.mountpoint = mountpoint
        self.read_write = read_write
        self.root: DirNode | None = None
        self.current: DirNode | None = None
        self.sort_key = "disk"
        self.apparent = False
        self.marks: dict[tuple[int, str, int], Target] = {}
        self.scanner: Scanner | None = None
        self.deleter: Deleter | None = None
        self.progress_screen: DeleteProgress | None = None
        self.busy = False

    @property
    def session(self):
        return self.app.session  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        yield Static(id="browser-title")
        yield Static(id="path")
        yield SizeList()
        yield Static(id="totals")
        yield Footer()

    def on_mount(self) -> None:
        mode = "read-write" if self.read_write else "read-only"
        title = Text(
            f"{printable(self.label)}", style="bold cyan", no_wrap=True, overflow="ellipsis"
        )
        where = printable(self.mountpoint)
        if len(where) > 40:
            where = "…" + where[-39:]
        title.append(f"  {mode} at {where}", style="dim")
        self.query_one("#browser-title", Static).update(title)
        self.query_one(SizeList).focus()
        self.start_scan()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """--read-only, or a read-only mount, hides everything that writes."""
        if action in ("delete", "empty", "trim"):
            return not self.session.read_only and self.read_write
        return True

    # -- scanning ------------------------------------------------------------------------

    def start_scan(self) -> None:
        self.query_one("#path", Static).update(Text(f"scanning {printable(self.rootfs)} …"))
        self.scan_worker()

    @work(thread=True, exclusive=True, group="scan")
    def scan_worker(self) -> None:
        self.scanner = Scanner(
            self.rootfs, on_progress=lambda p: self.post_message(ScanProgressed(p))
        )
        try:
            root = self.scanner.scan()
            self.post_message(ScanFinished(root, None))
        except ScanCancelled:
            self.post_message(ScanFinished(None, "scan cancelled"))
        except ScanError as exc:
            self.post_message(ScanFinished(None, str(exc)))

    def on_scan_progressed(self, message: ScanProgressed) -> None:
        p = message.progress
        if p.done:
            return
        self.query_one("#totals", Static).update(
            Text(
                f"scanning: {p.entries} entries, {human_bytes(p.disk_bytes)}, "
                f"{printable(p.current)[-50:]}",
                style="yellow",
            )
        )

    def on_scan_finished(self, message: ScanFinished) -> None:
        if message.root is None:
            self.query_one("#path", Static).update(Text(message.error or "", style="red"))
            return
        old_path = self.current.path_parts() if self.current else []
        self.root = message.root
        self.root.name = self.rootfs
        node = self.root
        for part in old_path:  # a rescan keeps the operator where they were
            child = next((d for d in node.dirs if d.name == part), None)
            if child is None:
                break
            node = child
        self.marks.clear()
        self.show_dir(node)

    # -- display -------------------------------------------------------------------------

    def entries_of(self, node: DirNode) -> list[Entry]:
        entries = node.entries()
        key = self.sort_key
        if key == "disk" and self.apparent:
            key = "apparent"
        sort_entries(entries, key)
        return entries

    def show_dir(self, node: DirNode, cursor_on: str | None = None) -> None:
        self.current = node
        entries = self.entries_of(node)
        cursor = 0
        if cursor_on is not None:
            cursor = next((i for i, e in enumerate(entries) if e.name == cursor_on), 0)
        size_list = self.query_one(SizeList)
        size_list.marked = {(name, ino) for (nid, name, ino) in self.marks if nid == id(node)}
        size_list.set_entries(entries, self.apparent, cursor)
        parts = node.path_parts()
        shown = "/" + "/".join(printable(p) for p in parts)
        self.query_one("#path", Static).update(Text(f"--- {shown} ---", style="bold"))
        self.update_totals()

    def update_totals(self) -> None:
        node = self.current
        if node is None:
            return
        text = Text()
        text.append(f"Total disk usage: {human_bytes(node.disk)}  ")
        text.append(f"Apparent size: {human_bytes(node.apparent)}  Items: {node.items}")
        if self.marks:
            text.append(f"  Marked: {len(self.marks)}", style="yellow")
        usage = self.session.system.filesystem_usage(self.mountpoint)
        if usage:
            size, used, free = usage
            pct = 100 * used / size if size else 0
            style = "bold red" if pct >= 95 else ""
            text.append(
                f"\nContainer fs: {human_bytes(size)}, used {human_bytes(used)} "
                f"({pct:.0f}%), free {human_bytes(free)}",
                style=style,
            )
        pool = getattr(self.app, "last_pool", None)
        if pool is not None and pool.data_total_bytes:
            pct = 100 * (pool.data_used_bytes or 0) / pool.data_total_bytes
            text.append(f"  Pool {pct:.1f}% of {human_bytes(pool.data_total_bytes)}")
        self.query_one("#totals", Static).update(text)

    # -- navigation ----------------------------------------------------------------------

    def action_move(self, delta: int) -> None:
        self.query_one(SizeList).move(delta)

    def action_open(self) -> None:
        entry = self.query_one(SizeList).current
        if entry is None or entry.node is None:
            return
        if entry.flags & OTHER_FS:
            self.notify("another filesystem: not scanned", severity="warning")
            return
        self.show_dir(entry.node)

    def action_up(self) -> None:
        if self.current is not None and self.current.parent is not None:
            self.show_dir(self.current.parent, cursor_on=self.current.name)

    def action_sort(self, key: str) -> None:
        self.sort_key = key
        if self.current is not None:
            self.show_dir(self.current)

    def action_toggle_apparent(self) -> None:
        self.apparent = not self.apparent
        self.notify("showing apparent sizes" if self.apparent else "showing disk usage")
        if self.current is not None:
            self.show_dir(self.current)

    def action_rescan(self) -> None:
        if not self.busy:
            self.start_scan()

    def action_mark(self) -> None:
        size_list = self.query_one(SizeList)
        entry = size_list.current
        if entry is None or self.current is None:
            return
        key = (id(self.current), entry.name, entry.ino)
        if key in self.marks:
            del self.marks[key]
            size_list.marked.discard((entry.name, entry.ino))
        else:
            self.marks[key] = Target.of(self.current, entry)
            size_list.marked.add((entry.name, entry.ino))
        size_list.move(1)
        size_list.refresh()
        self.update_totals()

    def action_info(self) -> None:
        entry = self.query_one(SizeList).current
        if entry is None or self.current is None:
            return
        body = Text()
        path = "/" + "/".join([*self.current.path_parts(), entry.name])
        body.append("Path:      ")
        body.append(printable(path) + "\n", style="bold")
        body.append(f"Type:      {entry.kind_name}\n")
        body.append(f"Disk:      {human_bytes(entry.disk)} ({entry.disk} bytes)\n")
        body.append(f"Apparent:  {human_bytes(entry.apparent)} ({entry.apparent} bytes)\n")
        body.append(f"Items:     {entry.items}\nInode:     {entry.ino}\n")
        if entry.flags & HARDLINK:
            body.append("Hard link: yes (counted once)\n")
        if entry.flags & OTHER_FS:
            body.append("Another filesystem: not scanned\n", style="yellow")
        if entry.flags & ERROR and entry.node is not None:
            body.append(f"Error: {printable(entry.node.error)}\n", style="red")
        self.app.push_screen(InfoDialog("Entry information", body))

    def _stop_scan(self) -> None:
        # A scan still reading the mount would keep it busy (cwd and fds under it).
        if self.scanner is not None:
            self.scanner.cancel()

    def action_back(self) -> None:
        if self.busy:
            return
        self._stop_scan()
        self.app.pop_screen()
        self.app.notify(f"{self.label} stays mounted at {self.mountpoint}; `m` reopens it")

    def action_help(self) -> None:
        from dmtui.tui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen("browser", BROWSER_KEYS))

    # -- deleting ------------------------------------------------------------------------

    def _writable(self, what: str) -> bool:
        if self.session.read_only:
            self.notify(f"--read-only: {what} is refused", severity="warning")
            return False
        if not self.read_write:
            self.notify(
                f"mounted read-only: {what} is refused (unmount, mount with w)", severity="warning"
            )
            return False
        return not self.busy

    def action_delete(self) -> None:
        if not self._writable("deleting"):
            return
        targets = list(self.marks.values())
        if not targets:
            entry = self.query_one(SizeList).current
            if entry is None or self.current is None:
                return
            targets = [Target.of(self.current, entry)]
        self._confirm_delete(targets)

    def action_empty(self) -> None:
        if not self._writable("deleting") or self.current is None:
            return
        node = self.current
        if node.parent is None:
            self.notify("the scan root itself is not emptied; mark entries instead")
            return
        entry = next(e for e in node.parent.entries() if e.node is node)
        self._confirm_delete([Target.of(node.parent, entry, contents_only=True)])

    def _confirm_delete(self, targets: list[Target]) -> None:
        from dmtui.tui.screens.dialogs import delete_summary

        fixed = list(targets)  # the targets are fixed when the dialog opens

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_delete(fixed)

        title = f"Delete {len(fixed)} {'entry' if len(fixed) == 1 else 'entries'}?"
        self.app.push_screen(
            Confirm(title, delete_summary(fixed, self.apparent), "Delete"), answered
        )

    def run_delete(self, targets: list[Target]) -> None:
        self.busy = True
        total = sum(t.items for t in targets)
        self.deleter = Deleter(
            read_only=self.session.read_only,
            on_failure=self._ask_failure,
            on_progress=lambda n, _freed, path: self.post_message(DeleteProgressed(n, path)),
        )
        self.progress_screen = DeleteProgress(total, self.deleter.stop)
        self.app.push_screen(self.progress_screen)
        self.delete_worker(targets)

    def _ask_failure(self, failure: Failure) -> str:
        """Called in the delete thread: ask in the UI and wait for the answer."""
        answer: list[str] = []
        done = threading.Event()

        def show() -> None:
            def got(result: str | None) -> None:
                answer.append(result or "abort")
                done.set()

            self.app.push_screen(FailureDialog(failure), got)

        self.app.call_from_thread(show)
        done.wait()
        return answer[0]

    @work(thread=True, exclusive=True, group="delete")
    def delete_worker(self, targets: list[Target]) -> None:
        assert self.deleter is not None
        try:
            report = self.deleter.delete(targets)
        except ReadOnlyError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="warning")
            report = None
        self.app.call_from_thread(self._deleted, report)

    def on_delete_progressed(self, message: DeleteProgressed) -> None:
        if self.progress_screen is not None and self.progress_screen.is_attached:
            self.progress_screen.advance(message.done, message.path)

    def _deleted(self, report) -> None:
        self.busy = False
        if self.progress_screen is not None and self.progress_screen.is_attached:
            self.progress_screen.dismiss(None)
        self.progress_screen = None
        self.marks.clear()
        if self.current is not None:
            cursor = self.query_one(SizeList).cursor
            self.show_dir(self.current)
            self.query_one(SizeList).cursor = min(
                cursor, max(0, len(self.query_one(SizeList).entries) - 1)
            )
        if report is not None:
            what = "stopped: " if report.stopped else ""
            severity = "warning" if report.failures or report.stopped else "information"
            self.notify(
                f"{what}deleted {report.deleted_entries} "
                f"{'entry' if report.deleted_entries == 1 else 'entries'}, freed "
                f"{human_bytes(report.freed_disk)}; press t to give it back to the pool"
                + (f"; {len(report.failures)} failed" if report.failures else ""),
                severity=severity,
            )

    # -- trim and unmount ----------------------------------------------------------------

    def action_trim(self) -> None:
        if not self._writable("trim"):
            return
        self.busy = True
        self.notify("trimming…")
        self.trim_worker()

    @work(thread=True, exclusive=True, group="lifecycle")
    def trim_worker(self) -> None:
        try:
            outcome = self.session.lifecycle.trim(self.container_id)
            before, after = outcome.pool_used_before, outcome.pool_used_after
            freed = (before - after) if before is not None and after is not None else None
            message = (
                f"trim gave back {human_bytes(max(freed or 0, 0))} to the pool "
                f"(data used {human_bytes(before)} → {human_bytes(after)})"
            )
            self.app.call_from_thread(self.notify, message, timeout=8)
        except DmtuiError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", timeout=10)
        finally:
            self.app.call_from_thread(self._idle)
        self.app.call_from_thread(self.app.refresh_host)  # type: ignore[attr-defined]

    def _idle(self) -> None:
        self.busy = False
        self.update_totals()

    def action_unmount(self) -> None:
        if self.busy:
            return
        self.busy = True
        self._stop_scan()
        self.notify("unmounting…")
        self.unmount_worker()

    @work(thread=True, exclusive=True, group="lifecycle")
    def unmount_worker(self) -> None:
        try:
            outcome = self.session.lifecycle.umount(self.container_id)
        except DmtuiError as exc:
            body = Text(printable(str(exc)))
            self.app.call_from_thread(self.app.push_screen, InfoDialog("Cannot unmount", body))
            self.app.call_from_thread(self._idle)
            return
        self.app.call_from_thread(self._unmounted, outcome.notes)

    def _unmounted(self, notes: list[str]) -> None:
        self.busy = False
        self.app.pop_screen()
        self.app.notify(f"{self.label} unmounted" + ("; " + "; ".join(notes) if notes else ""))
        self.app.refresh_host()  # type: ignore[attr-defined]
