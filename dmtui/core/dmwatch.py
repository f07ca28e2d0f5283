"""Watch dm devices appear, change and disappear through kernel uevents.

pyudev's netlink monitor with `source="kernel"` works without udevd (the kernel sends the
events itself). Kernel events carry no DM_NAME, so listeners re-read names from sysfs. A
burst of events (many containers starting) is coalesced: the callback runs once per quiet
period, in the watcher's thread, and should only post a message to the UI.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

QUIET_SECONDS = 0.15
MAX_DELAY_SECONDS = 1.0  # a storm that never goes quiet still refreshes once a second


class DmWatcher:
    """Calls `on_change(kernel_names)` after a burst of dm uevents settles."""

    def __init__(self, on_change: Callable[[set[str]], None], quiet: float = QUIET_SECONDS):
        self.on_change = on_change
        self.quiet = quiet
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    def start(self) -> bool:
        """Start the watcher thread; False (with `error` set) when uevents are unavailable."""
        try:
            import pyudev

            context = pyudev.Context()
            monitor = pyudev.Monitor.from_netlink(context, source="kernel")
            monitor.filter_by("block")
            monitor.start()
        except Exception as exc:  # noqa: BLE001 - no netlink in a sandbox, an old pyudev...
            self.error = f"no kernel uevents ({exc}); dm devices refresh on a timer instead"
            return False
        self._thread = threading.Thread(
            target=self._run, args=(monitor,), name="dmtui-udev", daemon=True
        )
        self._thread.start()
        return True

    def stop(self) -> None:
        self._stop.set()

    def _run(self, monitor) -> None:
        pending: set[str] = set()
        deadline = first = 0.0
        while not self._stop.is_set():
            # A short poll keeps stop() prompt without a second wakeup channel.
            device = monitor.poll(timeout=0.1)
            now = time.monotonic()
            if device is not None and device.sys_name.startswith("dm-"):
                if not pending:
                    first = now
                pending.add(device.sys_name)
                deadline = now + self.quiet
                if now - first < MAX_DELAY_SECONDS:
                    continue
            if pending and (now >= deadline or now - first >= MAX_DELAY_SECONDS):
                batch, pending = pending, set()
                try:
                    self.on_change(batch)
                except Exception:  # noqa: BLE001 - a listener bug must not kill the watcher
                    pass
