"""Measure the TUI's targets on the demo host: python benchmarks/bench_tui.py

- first screen: from launch until the containers pane shows its rows (in a real pty);
- idle live watch at 120x40: terminal output (bytes/s) and CPU (% of one core) over 30 s;
- opening a directory of 10,000 entries in the browser (headless, Textual's pilot).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import select
import shutil
import struct
import sys
import termios
import time

IDLE_SECONDS = 30


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_for(fd: int, seconds: float, until: bytes | None = None) -> bytes:
    out = bytearray()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            out += chunk
            if until is not None and until in out:
                break
    return bytes(out)


def live_watch(demo: str) -> tuple[float, float, float]:
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm-256color"
        os.execv(sys.executable, [sys.executable, "-m", "dmtui", "demo", "--dir", demo])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    start = time.monotonic()
    seen = read_for(fd, 30, until=b"kubesql-server")
    first_screen = time.monotonic() - start if b"kubesql-server" in seen else float("nan")
    read_for(fd, 5)  # let the first refreshes settle
    cpu0 = cpu_seconds(pid)
    idle = read_for(fd, IDLE_SECONDS)
    cpu = (cpu_seconds(pid) - cpu0) / IDLE_SECONDS * 100
    os.write(fd, b"q")
    read_for(fd, 2)
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    return first_screen, len(idle) / IDLE_SECONDS, cpu


async def open_big_directory(demo: str) -> float:
    from textual.widgets import DataTable

    from dmtui.cli.tui_cmd import build_demo_app
    from dmtui.tui.screens.browser import BrowserScreen
    from dmtui.tui.widgets.sizelist import SizeList

    app, cleanup = build_demo_app(demo, moving=False)
    rootfs = None
    for d in os.listdir(os.path.join(demo, "thin")):
        candidate = os.path.join(demo, "thin", d, "rootfs", "var", "log", "kubesql")
        if os.path.isdir(candidate):
            rootfs = os.path.join(demo, "thin", d, "rootfs")
    assert rootfs is not None
    queue = os.path.join(rootfs, "var", "spool", "queue")
    os.makedirs(queue, exist_ok=True)
    for i in range(10_000):
        with open(os.path.join(queue, f"msg-{i:05d}"), "wb") as fh:
            fh.write(b"m" * (i % 4096))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        app.screen.query_one("#containers", DataTable).move_cursor(row=2)
        await pilot.press("m")
        await pilot.pause(0.8)
        await pilot.press("y")
        for _ in range(400):
            if isinstance(app.screen, BrowserScreen) and app.screen.root is not None:
                break
            await pilot.pause(0.05)
        lst = app.screen.query_one(SizeList)
        for name in ("var", "spool"):
            lst.cursor = next(i for i, e in enumerate(lst.entries) if e.name == name)
            await pilot.press("enter")
        lst.cursor = next(i for i, e in enumerate(lst.entries) if e.name == "queue")
        start = time.perf_counter()
        await pilot.press("enter")
        await pilot.pause(0)  # one screen update
        elapsed = time.perf_counter() - start
        assert len(lst.entries) == 10_000
    cleanup()
    return elapsed


def main() -> int:
    demo = "/tmp/dmtui-bench-demo"
    shutil.rmtree(demo, ignore_errors=True)
    first, rate, cpu = live_watch(demo)
    shutil.rmtree(demo, ignore_errors=True)
    big = asyncio.run(open_big_directory(demo))
    shutil.rmtree(demo, ignore_errors=True)
    print("| measure | result | target |")
    print("|---|---:|---:|")
    print(f"| first screen after launch | {first:.2f} s | 1.5 s |")
    print(f"| idle output at 120x40 | {rate / 1024:.2f} KB/s | 1 KB/s |")
    print(f"| idle CPU | {cpu:.1f} % of one core | 2 % |")
    print(f"| open a directory of 10,000 entries | {big:.3f} s | 0.3 s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
