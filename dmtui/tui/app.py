"""The dmtui Textual application: live panes, the mount flow, the browser.

Blocking work (status reads, mount, delete, trim, unmount) runs in thread workers that
report back with messages; the udev watcher thread only posts a coalescing message.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

from rich.text import Text
from textual import work
from textual.app import App
from textual.binding import Binding
from textual.css.query import NoMatches

from dmtui.core.dmwatch import DmWatcher
from dmtui.core.errors import DmtuiError
from dmtui.core.pool import PoolInfo
from dmtui.core.text import printable
from dmtui.tui.messages import CommandLogged, DevicesChanged, HostRefreshed, PoolSampled
from dmtui.tui.screens.browser import BrowserScreen
from dmtui.tui.screens.dialogs import InfoDialog, JournalDialog, MountDialog, QuitDialog
from dmtui.tui.screens.log import CommandLogScreen
from dmtui.tui.screens.main import MainScreen, title_for
from dmtui.tui.session import Session

FULL_REFRESH_EVERY = 5  # pool samples between full host reads (containers change quietly)
TTY_CHECK_SECONDS = 5.0


class DmtuiApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "dmtui"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("ctrl+c", "request_quit", "Quit", show=False, priority=True)]

    def __init__(self, session: Session, *, watch_udev: bool = True) -> None:
        super().__init__()
        self.session = session
        self.watch_udev = watch_udev
        self.watcher: DmWatcher | None = None
        self.last_pool: PoolInfo | None = None
        self.samples = 0
        self.busy = 0  # lifecycle steps under way; quitting waits for them
        self.exit_when_idle = False
        self.log_screen: CommandLogScreen | None = None
        self.main_screen: MainScreen | None = None

    # -- start and stop ------------------------------------------------------------------

    def on_mount(self) -> None:
        s = self.session
        status_root = s.docker_root or "(detecting)"
        self.main_screen = MainScreen(
            title_for(status_root, s.pool or "(detecting)", s.read_only, s.demo)
        )
        self.push_screen(self.main_screen)
        s.log.listeners.append(lambda entry: self.post_message(CommandLogged(entry)))
        self.refresh_host(first=True)
        self.set_interval(s.interval, self.sample_pool)
        if self.watch_udev:
            self.watcher = DmWatcher(lambda names: self.post_message(DevicesChanged(names)))
            if not self.watcher.start():
                self.notify(self.watcher.error or "no uevents", severity="warning")
        self._install_hangup_handler()
        self.set_interval(TTY_CHECK_SECONDS, self._check_terminal)

    def _install_hangup_handler(self) -> None:
        """A vanished terminal (SSH drop) ends dmtui, after any step under way finishes."""
        try:
            loop = self._loop  # type: ignore[attr-defined]
        except AttributeError:
            loop = None

        def hangup(signum, frame) -> None:
            if loop is not None:
                loop.call_soon_threadsafe(self._exit_safely)
            else:
                self._exit_safely()

        try:
            signal.signal(signal.SIGHUP, hangup)
        except (ValueError, OSError):
            pass  # not the main thread (tests)

    def _check_terminal(self) -> None:
        if self.is_headless:
            return
        try:
            alive = os.isatty(sys.__stdin__.fileno()) if sys.__stdin__ else False
        except (OSError, ValueError):
            alive = False
        if not alive:
            self._exit_safely()

    def _exit_safely(self) -> None:
        if self.busy:
            self.exit_when_idle = True
        else:
            self.exit()

    def on_unmount(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()

    # -- reading the host ----------------------------------------------------------------

    @work(thread=True, exclusive=True, group="host")
    def refresh_host(self, first: bool = False) -> None:
        try:
            status = self.session.read_status()
        except Exception as exc:  # noqa: BLE001 - shown, never a traceback
            self.call_from_thread(self.notify, f"cannot read the host: {exc}", severity="error")
            return
        self.post_message(HostRefreshed(status))
        pool, when = self.session.sample_pool()
        self.post_message(PoolSampled(pool, when))
        if first:
            self.call_from_thread(self._offer_journal)

    @work(thread=True, exclusive=True, group="pool")
    def sample_pool(self) -> None:
        self.samples += 1
        if self.samples % FULL_REFRESH_EVERY == 0:
            self.call_from_thread(self.refresh_host)
            return
        pool, when = self.session.sample_pool()
        self.post_message(PoolSampled(pool, when))

    def on_host_refreshed(self, message: HostRefreshed) -> None:
        status = message.status
        if self.main_screen is not None:
            old_title = self.main_screen.title_text
            self.main_screen.title_text = title_for(
                status.docker_root, status.pool_name, self.session.read_only, self.session.demo
            )
            if self.main_screen.title_text != old_title:
                with contextlib.suppress(NoMatches):
                    self.main_screen.query_one("#title").update(
                        Text(self.main_screen.title_text, style="bold")
                    )
            self.main_screen.show_status(status)

    def on_pool_sampled(self, message: PoolSampled) -> None:
        self.last_pool = message.pool
        if self.main_screen is not None:
            name = self.session.status.pool_name if self.session.status else ""
            self.main_screen.show_pool(message.pool, message.when, name)

    def on_devices_changed(self, message: DevicesChanged) -> None:
        self.refresh_host()

    def on_command_logged(self, message: CommandLogged) -> None:
        if self.log_screen is not None and self.log_screen.is_attached:
            self.log_screen.add(message.entry)

    # -- journal left by an earlier dmtui ------------------------------------------------

    def _offer_journal(self) -> None:
        interrupted = self.session.interrupted_records()
        left = self.session.mounted_records()
        if not interrupted and not left:
            return
        lines = [f"interrupted while {r.state}: {r.label}" for r in interrupted]
        lines += [f"{r.label} left mounted at {r.mountpoint}" for r in left]
        records = interrupted + left

        def answered(choice: str | None) -> None:
            if choice in ("finish", "undo"):
                self.resolve_journal(choice, records)

        self.push_screen(JournalDialog(lines), answered)

    @work(thread=True, exclusive=True, group="lifecycle")
    def resolve_journal(self, choice: str, records) -> None:
        life = self.session.lifecycle
        for record in records:
            try:
                if choice == "undo":
                    life.umount(record.container_id)
                else:
                    plan = life.plan_mount(record.container_id, record.read_write)
                    life.mount(plan)
                self.call_from_thread(self.notify, f"{choice}: {record.label} done")
            except DmtuiError as exc:
                self.call_from_thread(self.notify, str(exc), severity="error", timeout=10)
        self.call_from_thread(self.refresh_host)

    # -- mount flow ----------------------------------------------------------------------

    def open_mount_dialog(self, container_id: str) -> None:
        self.prepare_mount(container_id)

    @work(thread=True, exclusive=True, group="lifecycle")
    def prepare_mount(self, container_id: str) -> None:
        life = self.session.lifecycle
        try:
            status = self.session.read_status()
            plans = {}
            for rw in (False, True):
                plan = life.plan_mount(container_id, rw, status=status)
                plans[rw] = (plan, self.session.dry_run_commands(plan))
        except DmtuiError as exc:
            body = Text(printable(exc.reason), style="bold")
            if exc.advice:
                body.append(f"\n\nNext step: {printable(exc.advice)}", style="dim")
            self.call_from_thread(self.push_screen, InfoDialog("Cannot mount", body))
            return
        plan = plans[False][0]
        record = plan.record
        if plan.already_mounted and record is not None:
            self.call_from_thread(
                self._open_browser,
                plan.container.id,
                plan.container.name or plan.container.id[:12],
                os.path.join(record.mountpoint, "rootfs"),
                record.mountpoint,
                record.read_write,
            )
            return

        def answered(choice: bool | None) -> None:
            if choice is not None:
                self.run_mount(container_id, choice)

        self.call_from_thread(
            self.push_screen,
            MountDialog(lambda rw: plans[rw], self.session.read_only),
            answered,
        )

    @work(thread=True, exclusive=True, group="lifecycle")
    def run_mount(self, container_id: str, read_write: bool) -> None:
        life = self.session.lifecycle
        self.busy += 1
        try:
            plan = life.plan_mount(container_id, read_write)
            outcome = life.mount(plan)
        except DmtuiError as exc:
            body = Text(printable(str(exc)))
            self.call_from_thread(self.push_screen, InfoDialog("Mount refused or failed", body))
            return
        finally:
            self.busy -= 1
            if self.exit_when_idle and not self.busy:
                self.call_from_thread(self.exit)
        label = plan.container.name or plan.container.id[:12]
        for note in outcome.notes:
            self.call_from_thread(self.notify, printable(note), severity="warning", timeout=8)
        self.call_from_thread(
            self._open_browser,
            plan.container.id,
            label,
            outcome.rootfs,
            outcome.mountpoint,
            outcome.read_write,
        )
        self.call_from_thread(self.refresh_host)

    def _open_browser(self, cid: str, label: str, rootfs: str, mountpoint: str, rw: bool) -> None:
        self.push_screen(BrowserScreen(cid, label, rootfs, mountpoint, rw))

    # -- log, quit -----------------------------------------------------------------------

    def action_command_log(self) -> None:
        self.log_screen = CommandLogScreen(list(self.session.log.entries))
        self.push_screen(self.log_screen)

    def action_request_quit(self) -> None:
        mounted = self.session.mounted_records()
        if not mounted:
            self._exit_safely()
            return

        def answered(choice: str | None) -> None:
            if choice == "unmount":
                self.unmount_all_and_quit(mounted)
            elif choice == "leave":
                self._exit_safely()

        self.push_screen(QuitDialog([f"{r.label} at {r.mountpoint}" for r in mounted]), answered)

    @work(thread=True, exclusive=True, group="lifecycle")
    def unmount_all_and_quit(self, records) -> None:
        failures = []
        for record in records:
            try:
                self.session.lifecycle.umount(record.container_id)
            except DmtuiError as exc:
                failures.append(str(exc))
        if failures:
            body = Text(printable("\n".join(failures)))
            self.call_from_thread(self.push_screen, InfoDialog("Could not unmount", body))
            return
        self.call_from_thread(self.exit)
