"""The TUI, headless, on a real pool: mount, delete, trim, unmount; devices from uevents."""

from __future__ import annotations

import asyncio
import os
import subprocess

import pytest
from conftest import dmtui, sh

pytestmark = pytest.mark.realdm


def pool_used_blocks(pool: str) -> int:
    return int(sh("dmsetup", "status", pool).split()[5].split("/")[0])


async def wait_for(pilot, predicate, timeout: float = 60.0) -> None:
    for _ in range(int(timeout / 0.1)):
        if predicate():
            return
        await pilot.pause(0.1)
    raise AssertionError("condition not reached")


def test_tui_mount_delete_trim_unmount_on_a_real_pool(seed_host):
    from textual.widgets import DataTable

    from dmtui.core.journal import Journal
    from dmtui.core.system import LinuxSystem
    from dmtui.tui.app import DmtuiApp
    from dmtui.tui.screens.browser import BrowserScreen
    from dmtui.tui.screens.dialogs import Confirm, MountDialog
    from dmtui.tui.screens.main import MainScreen
    from dmtui.tui.session import Session
    from dmtui.tui.widgets.sizelist import SizeList

    root = seed_host.root
    # Something big to find and delete: written through dmtui's own CLI mount.
    rootfs = dmtui("mount", "idle", "--rw", "--docker-root", root, check=True).stdout.strip()
    with open(os.path.join(rootfs, "tmp/huge.bin"), "wb") as fh:
        fh.write(os.urandom(24 << 20))
    dmtui("umount", "idle", "--docker-root", root, check=True)
    name = seed_host.device_name(seed_host.containers["idle"].mount_id)

    async def run() -> None:
        app = DmtuiApp(Session(LinuxSystem(), root, interval=1.0))
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.session.status is not None)
            await pilot.pause(0.5)
            table = app.screen.query_one("#containers", DataTable)
            names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
            table.move_cursor(row=names.index("idle"))
            await pilot.press("m")
            await wait_for(pilot, lambda: isinstance(app.screen, MountDialog))
            await pilot.press("w", "y")
            await wait_for(pilot, lambda: isinstance(app.screen, BrowserScreen) and app.screen.root)
            browser = app.screen
            assert name in sh("dmsetup", "ls")
            lst = browser.query_one(SizeList)
            lst.cursor = next(i for i, e in enumerate(lst.entries) if e.name == "tmp")
            await pilot.press("enter")
            assert lst.entries[0].name == "huge.bin"  # largest first
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
            await pilot.press("y")
            await wait_for(
                pilot, lambda: isinstance(app.screen, BrowserScreen) and not browser.busy
            )
            assert not os.path.exists(os.path.join(browser.rootfs, "tmp/huge.bin"))
            before = pool_used_blocks(seed_host.pool)
            await pilot.press("t")
            await wait_for(pilot, lambda: not browser.busy)
            assert before - pool_used_blocks(seed_host.pool) >= (20 << 20) // 65536
            await pilot.press("u")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), timeout=90)
            await pilot.pause(0.5)
            assert name not in sh("dmsetup", "ls")
            assert Journal().records() == []

    asyncio.run(run())


def test_device_created_from_outside_appears_in_the_devices_pane(seed_host):
    from textual.widgets import DataTable

    from dmtui.core.system import LinuxSystem
    from dmtui.tui.app import DmtuiApp
    from dmtui.tui.session import Session

    async def run() -> None:
        # A long interval: only the uevent can make the new device appear in time.
        app = DmtuiApp(Session(LinuxSystem(), seed_host.root, interval=600))
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.session.status is not None)
            await pilot.pause(1.0)
            devices = app.screen.query_one("#devices", DataTable)

            def names() -> list[str]:
                return [str(devices.get_row_at(i)[0]) for i in range(devices.row_count)]

            assert "outsider" not in names()
            subprocess.run(["dmsetup", "create", "outsider", "--table", "0 2048 zero"], check=True)
            try:
                await wait_for(pilot, lambda: "outsider" in names(), timeout=30)
            finally:
                subprocess.run(["dmsetup", "remove", "outsider"], check=True)
            await wait_for(pilot, lambda: "outsider" not in names(), timeout=30)

    asyncio.run(run())
