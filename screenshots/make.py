"""Regenerate the README's screenshots from the demo host: python screenshots/make.py

Runs the TUI headless at 120x40 through the main screen, the mount dialog, the browser,
the delete dialog and the command log, and saves each as an SVG next to this script.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys

from textual.widgets import DataTable

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = "/tmp/dmtui-screenshots-demo"
POOL = "docker-253:0-1048577-pool"  # a fixed pool name keeps the images stable


async def main() -> int:
    from dmtui.cli.tui_cmd import build_demo_app
    from dmtui.tui.screens.browser import BrowserScreen
    from dmtui.tui.widgets.sizelist import SizeList

    shutil.rmtree(DEMO, ignore_errors=True)
    app, cleanup = build_demo_app(DEMO, moving=True, pool_name=POOL)

    async def wait(pilot, predicate) -> None:
        for _ in range(200):
            if predicate():
                return
            await pilot.pause(0.05)
        raise SystemExit("screenshots: the demo did not reach the expected state")

    def save(name: str) -> None:
        app.save_screenshot(f"{name}.svg", HERE)
        print(f"screenshots/{name}.svg")

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        for _ in range(12):  # a few pool samples for the sparkline
            app.sample_pool()
            await app.workers.wait_for_complete()
            await pilot.pause(0.3)
        table = app.screen.query_one("#containers", DataTable)
        table.move_cursor(row=2)  # kubesql-server
        await pilot.pause(0.2)
        save("main")
        await pilot.press("m")
        await pilot.pause(0.8)
        save("mount-dialog")
        await pilot.press("y")
        await wait(pilot, lambda: isinstance(app.screen, BrowserScreen) and app.screen.root)
        await pilot.pause(0.2)
        save("browser")
        for name in ("var", "log", "kubesql"):
            lst = app.screen.query_one(SizeList)
            lst.cursor = next(i for i, e in enumerate(lst.entries) if e.name == name)
            await pilot.press("enter")
        await pilot.press("d")
        await pilot.pause(0.4)
        save("delete-dialog")
        await pilot.press("y")
        await wait(pilot, lambda: isinstance(app.screen, BrowserScreen) and not app.screen.busy)
        await pilot.press("t")
        await wait(pilot, lambda: not app.screen.busy)
        await pilot.pause(0.3)
        await pilot.press("at")
        await pilot.pause(0.4)
        save("command-log")
    cleanup()
    shutil.rmtree(DEMO, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
