"""`dmtui` (the TUI on this host) and `dmtui demo` (the TUI on a simulated host)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

from dmtui.core.commands import STATE_DIR_ENV
from dmtui.core.errors import DmtuiError


def _check_terminal() -> None:
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        raise DmtuiError("the TUI needs a terminal", "use `dmtui status` in scripts")


def run_tui(args: argparse.Namespace) -> int:
    _check_terminal()
    from dmtui.core.system import LinuxSystem
    from dmtui.tui.app import DmtuiApp
    from dmtui.tui.session import Session

    session = Session(
        LinuxSystem(),
        args.docker_root,
        args.pool,
        read_only=args.read_only,
        interval=args.interval,
    )
    DmtuiApp(session).run(mouse=not args.no_mouse)
    return 0


def run_demo(args: argparse.Namespace) -> int:
    _check_terminal()
    app, cleanup = build_demo_app(args.dir, read_only=args.read_only, interval=args.interval)
    try:
        app.run(mouse=not args.no_mouse)
    finally:
        cleanup()
    return 0


def build_demo_app(
    directory: str | None,
    *,
    read_only: bool = False,
    interval: float = 2.0,
    moving: bool = True,
    pool_name: str | None = None,
):
    """The TUI on a simulated host under `directory` (kept) or a temp dir (removed)."""
    from dmtui.demo.scenario import build_demo
    from dmtui.tui.app import DmtuiApp
    from dmtui.tui.session import Session

    if directory:
        base = os.path.abspath(directory)
        os.makedirs(base, exist_ok=True)

        def cleanup() -> None:
            pass
    else:
        base = tempfile.mkdtemp(prefix="dmtui-demo-")

        def cleanup() -> None:
            shutil.rmtree(base, ignore_errors=True)

    # The demo's journal, command log and mount points live in the demo directory.
    os.environ[STATE_DIR_ENV] = os.path.join(base, "run")
    host, root = build_demo(base, moving=moving, pool_name=pool_name)
    session = Session(host, root, pool_name, read_only=read_only, interval=interval, demo=True)
    return DmtuiApp(session, watch_udev=False), cleanup
