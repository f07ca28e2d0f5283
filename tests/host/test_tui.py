"""Pilot tests of every TUI flow on the demo host (a simulated kernel over real files)."""

from __future__ import annotations

import asyncio
import os
import shutil

import pytest
from textual.widgets import Button, DataTable, Static

from dmtui.cli.tui_cmd import build_demo_app
from dmtui.core.journal import Journal
from dmtui.tui.screens.browser import BrowserScreen
from dmtui.tui.screens.dialogs import (
    Confirm,
    FailureDialog,
    InfoDialog,
    JournalDialog,
    MountDialog,
    QuitDialog,
)
from dmtui.tui.screens.help import HelpScreen
from dmtui.tui.screens.log import CommandLogScreen
from dmtui.tui.screens.main import MainScreen
from dmtui.tui.widgets.sizelist import SizeList

LOG = "var/log/kubesql/kubesql.log"


@pytest.fixture
def demo_dir(tmp_path, monkeypatch):
    # The demo points DMTUI_STATE_DIR at its own directory; restore it after each test.
    monkeypatch.delenv("DMTUI_STATE_DIR", raising=False)
    return str(tmp_path / "demo")


def make_app(demo_dir: str, **kw):
    app, _cleanup = build_demo_app(demo_dir, moving=False, **kw)
    return app


async def settle(pilot, seconds: float = 0.3) -> None:
    await pilot.pause(seconds)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.1)


async def wait_for(pilot, predicate, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not reached")


def texts(screen) -> str:
    return "\n".join(str(w.render()) for w in screen.query(Static))


async def wait_screen(pilot, cls) -> None:
    """Wait until `cls` is the current screen and its children are composed."""
    await wait_for(
        pilot, lambda: isinstance(pilot.app.screen, cls) and texts(pilot.app.screen).strip()
    )


def select(app, name: str) -> None:
    table = app.screen.query_one("#containers", DataTable)
    for index in range(table.row_count):
        if str(table.get_row_at(index)[0]) == name:
            table.move_cursor(row=index)
            return
    raise AssertionError(f"{name} not listed")


async def open_mount_dialog(pilot, name: str, dialog=MountDialog) -> None:
    select(pilot.app, name)
    await pilot.press("m")
    await wait_screen(pilot, dialog)


async def open_browser(pilot, demo_dir: str, read_write: bool = True) -> BrowserScreen:
    app = pilot.app
    await open_mount_dialog(pilot, "kubesql-server")
    if not read_write:
        await pilot.press("r")
    await pilot.press("y")
    await wait_for(pilot, lambda: isinstance(app.screen, BrowserScreen))
    browser = app.screen
    await wait_for(pilot, lambda: browser.root is not None)
    return browser


async def go(pilot, *names: str) -> None:
    browser = pilot.app.screen
    for name in names:
        lst = browser.query_one(SizeList)
        lst.cursor = next(i for i, e in enumerate(lst.entries) if e.name == name)
        await pilot.press("enter")
        await pilot.pause(0.05)


def rootfs_of(browser: BrowserScreen) -> str:
    return browser.rootfs


def test_main_screen_panes_and_keys(demo_dir):
    async def run():
        app = make_app(demo_dir)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, MainScreen)
            table = app.screen.query_one("#containers", DataTable)
            names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
            assert names == ["gone", "idle", "kubesql-server", "web"]
            pool_text = "".join(str(w.render()) for w in app.screen.query(".pool-line"))
            assert "data" in pool_text and "%" in pool_text and "mode rw" in pool_text
            devices = app.screen.query_one("#devices", DataTable)
            assert devices.row_count == 2
            problems = str(app.screen.query_one("#problems", Static).render())
            assert "marked deleted" in problems
            await pilot.press("2")
            assert app.focused.id == "pool"
            await pilot.press("3")
            assert app.focused.id == "devices"
            await pilot.press("1")
            assert app.focused.id == "containers"
            await pilot.press("tab")
            assert app.focused.id == "pool"
            await pilot.press("shift+tab")
            assert app.focused.id == "containers"
            await pilot.press("slash")
            await pilot.press(*"kube")
            await pilot.pause(0.1)
            assert table.row_count == 1
            await pilot.press("escape")
            await pilot.pause(0.1)
            assert table.row_count == 4
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            assert "mount the selected container" in texts(app.screen)
            await pilot.press("escape")

    asyncio.run(run())


def test_refused_mounts_explain_themselves(demo_dir):
    async def run():
        app = make_app(demo_dir)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await open_mount_dialog(pilot, "web")
            body = texts(app.screen)
            assert "✗ container stopped" in body and "H2" in body and "Refused" in body
            assert app.screen.query_one("#yes", Button).disabled
            await pilot.press("y")  # refused: nothing happens
            await pilot.pause(0.2)
            assert isinstance(app.screen, MountDialog)
            await pilot.press("escape")
            await open_mount_dialog(pilot, "gone", InfoDialog)
            body = texts(app.screen)
            assert "marked deleted" in body and "Next step" in body
            await pilot.press("escape")
            assert Journal().records() == []

    asyncio.run(run())


def test_mount_delete_trim_unmount(demo_dir):
    async def run():
        app = make_app(demo_dir)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await open_mount_dialog(pilot, "kubesql-server")
            dialog = texts(app.screen)
            assert "mode: read-write" in dialog  # every check allows it: starts read-write
            assert "dmsetup create" in dialog and "mount -t xfs -o rw,nodev,nosuid,nouuid" in dialog
            await pilot.press("r")
            assert "mode: read-only" in texts(app.screen)
            await pilot.press("w")
            await pilot.press("y")
            await wait_for(pilot, lambda: isinstance(app.screen, BrowserScreen))
            browser = app.screen
            await wait_for(pilot, lambda: browser.root is not None)
            lst = browser.query_one(SizeList)
            disks = [e.disk for e in lst.entries]
            assert disks == sorted(disks, reverse=True) and lst.cursor == 0
            assert lst.entries[0].name == "var"
            await go(pilot, "var", "log", "kubesql")
            assert lst.entries[0].name == "kubesql.log"
            rootfs = browser.rootfs
            log_path = os.path.join(rootfs, LOG)
            total_before = browser.root.disk
            await pilot.press("d")
            await wait_screen(pilot, Confirm)
            assert app.focused.id == "no"  # the default is No
            assert "/var/log/kubesql/kubesql.log" in texts(app.screen)
            assert "rm -rf" in texts(app.screen)
            await pilot.press("n")
            await pilot.pause(0.1)
            assert os.path.exists(log_path)
            await pilot.press("d")
            await wait_screen(pilot, Confirm)
            await pilot.press("y")
            await wait_for(
                pilot, lambda: isinstance(app.screen, BrowserScreen) and not browser.busy
            )
            assert not os.path.exists(log_path)
            assert browser.root.disk < total_before - 40 * 2**20  # totals, no rescan
            assert "kubesql.log" not in [e.name for e in lst.entries]
            pool_before = app.session.system.pool_used_blocks()
            await pilot.press("t")
            await wait_for(pilot, lambda: not browser.busy)
            await settle(pilot)
            assert app.session.system.pool_used_blocks() < pool_before - 500  # blocks returned
            await pilot.press("at")
            assert isinstance(app.screen, CommandLogScreen)
            await pilot.press("escape")
            await pilot.press("u")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
            await settle(pilot)
            assert Journal().records() == []
            assert not any("5a980bd18ab8" in d.name for d in app.session.system.block_devices())
            entries = [e.command.split()[0:2] for e in app.session.log.entries]
            assert ["dmsetup", "create"] in entries and ["fstrim", "-v"] in entries
            assert ["umount", rootfs[: -len("/rootfs")]] in entries

    asyncio.run(run())


def test_browser_keys_sort_mark_info_and_literal_names(demo_dir):
    async def run():
        app = make_app(demo_dir)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            browser = await open_browser(pilot, demo_dir)
            lst = browser.query_one(SizeList)
            await pilot.press("n")
            names = [e.name for e in lst.entries]
            assert names == sorted(names)
            await pilot.press("C")
            assert lst.entries[0].name == "usr"  # the most items
            await pilot.press("s")
            await pilot.press("a")
            assert lst.apparent
            await go(pilot, "tmp")
            rendered = [lst.render_line(i).text for i in range(len(lst.entries))]
            assert any("[bold]not-markup.txt" in line for line in rendered)
            assert any("host-link" in line and line.startswith(" @") for line in rendered)
            await pilot.press("i")
            assert isinstance(app.screen, InfoDialog)
            await pilot.press("escape")
            await pilot.press("left")
            assert browser.current is browser.root
            await go(pilot, "var", "lib", "kubesql", "data")
            await pilot.press("space", "space")
            assert len(browser.marks) == 2
            await pilot.press("d")
            await wait_screen(pilot, Confirm)
            assert "2 entries" in texts(app.screen)
            await pilot.press("escape")
            await pilot.press("r")
            await wait_for(pilot, lambda: browser.root is not None and not browser.marks)
            assert browser.current.name == "data"  # a rescan keeps the place

    asyncio.run(run())


def test_delete_failure_offers_abort_skip_skip_all(demo_dir):
    async def run():
        app = make_app(demo_dir)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            browser = await open_browser(pilot, demo_dir)
            await go(pilot, "var", "lib", "kubesql", "data")
            lst = browser.query_one(SizeList)
            first, second = lst.entries[0].name, lst.entries[1].name
            await pilot.press("space", "space")
            os.remove(os.path.join(browser.rootfs, "var/lib/kubesql/data", first))  # vanishes
            await pilot.press("d")
            await wait_screen(pilot, Confirm)
            await pilot.press("y")
            await wait_screen(pilot, FailureDialog)
            assert "vanished" in texts(app.screen)
            await pilot.press("s")
            await wait_for(
                pilot, lambda: isinstance(app.screen, BrowserScreen) and not browser.busy
            )
            assert not os.path.exists(os.path.join(browser.rootfs, "var/lib/kubesql/data", second))

    asyncio.run(run())


def test_read_only_mode_hides_and_refuses_writes(demo_dir):
    async def run():
        app = make_app(demo_dir, read_only=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await open_mount_dialog(pilot, "kubesql-server")
            assert "mode: read-only" in texts(app.screen)
            await pilot.press("w")
            assert "mode: read-only" in texts(app.screen)
            await pilot.press("y")
            await wait_for(pilot, lambda: isinstance(app.screen, BrowserScreen))
            browser = app.screen
            await wait_for(pilot, lambda: browser.root is not None)
            assert browser.check_action("delete", ()) is False
            assert browser.check_action("trim", ()) is False
            await go(pilot, "var", "log", "kubesql")
            await pilot.press("d", "t")
            await pilot.pause(0.2)
            assert isinstance(app.screen, BrowserScreen)
            assert os.path.exists(os.path.join(browser.rootfs, LOG))

    asyncio.run(run())


def test_quit_asks_when_mounted_and_next_start_offers_the_journal(demo_dir):
    async def first():
        app = make_app(demo_dir)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await open_browser(pilot, demo_dir)
            await pilot.press("q")
            await wait_screen(pilot, QuitDialog)
            assert app.focused.id == "stay"
            await pilot.press("n")
            assert isinstance(app.screen, BrowserScreen)
            await pilot.press("q")
            await wait_screen(pilot, QuitDialog)
            await pilot.press("l")
            await pilot.pause(0.2)
        return [r.state for r in Journal().records()]

    assert asyncio.run(first()) == ["mounted"]  # recorded for the next start

    async def second():
        app = make_app(demo_dir)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_screen(pilot, JournalDialog)
            assert "left mounted" in texts(app.screen)
            await pilot.press("u")
            await wait_for(pilot, lambda: Journal().records() == [])
            await settle(pilot)

    asyncio.run(second())
    assert Journal().records() == []


def test_quit_unmounts_on_u(demo_dir):
    async def run():
        app = make_app(demo_dir)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await open_browser(pilot, demo_dir)
            await pilot.press("q")
            await wait_screen(pilot, QuitDialog)
            await pilot.press("u")
            await wait_for(pilot, lambda: Journal().records() == [])

    asyncio.run(run())


def test_usable_at_80x24(demo_dir):
    async def run():
        app = make_app(demo_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            table = app.screen.query_one("#containers", DataTable)
            assert table.size.height >= 6  # room for rows at 80x24
            await open_mount_dialog(pilot, "kubesql-server")
            button = app.screen.query_one("#yes", Button)
            assert button.region.bottom <= 24  # the buttons stay on screen
            await pilot.press("y")
            await wait_for(pilot, lambda: isinstance(app.screen, BrowserScreen))

    asyncio.run(run())


@pytest.fixture
def snap_dir(monkeypatch):
    monkeypatch.delenv("DMTUI_STATE_DIR", raising=False)
    path = "/tmp/dmtui-snapshot-demo"
    shutil.rmtree(path, ignore_errors=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


SNAP_POOL = "docker-253:0-1048577-pool"


async def _ready(pilot) -> None:
    await settle(pilot, 0.5)


async def _browser(pilot) -> None:
    await settle(pilot, 0.5)
    await open_browser(pilot, "")
    await go(pilot, "var", "log")
    await pilot.pause(0.3)


async def _delete_dialog(pilot) -> None:
    await _browser(pilot)
    await go(pilot, "kubesql")
    await pilot.press("d")
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@pytest.mark.parametrize(
    ("state", "run_before"),
    [("main", _ready), ("browser", _browser), ("delete", _delete_dialog)],
)
def test_snapshots(snap_compare, snap_dir, size, state, run_before):
    # No periodic pool sample during the test: a slow run must not catch a second one.
    app = make_app(snap_dir, pool_name=SNAP_POOL, interval=3600)
    assert snap_compare(app, terminal_size=size, run_before=run_before)
