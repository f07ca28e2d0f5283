"""pyudev sees dm devices appear and disappear, with and without udevd."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest

from dmtui.core.dmwatch import DmWatcher
from dmtui.core.system import LinuxSystem

pytestmark = pytest.mark.realdm


def test_watcher_reports_create_and_remove_once_per_burst():
    batches: list[set[str]] = []
    got = threading.Event()

    def on_change(names: set[str]) -> None:
        batches.append(names)
        got.set()

    watcher = DmWatcher(on_change, quiet=0.5)
    assert watcher.start(), watcher.error
    try:
        time.sleep(0.2)
        names = [f"dmtui-evt-{i}" for i in range(5)]
        # A burst: five creates at once, as when many containers start together.
        procs = [
            subprocess.Popen(["dmsetup", "create", "--noudevsync", n, "--table", "0 2048 zero"])
            for n in names
        ]
        assert all(p.wait() == 0 for p in procs)
        assert got.wait(5)
        time.sleep(0.5)
        created = {b.name: b.kernel_name for b in LinuxSystem().block_devices() if b.name in names}
        assert set(created) == set(names)  # names read from sysfs
        seen = set().union(*batches)
        assert set(created.values()) <= seen
        # five creates in a burst: far fewer callbacks than events (2 events per create)
        assert len(batches) <= 3
        batches.clear()
        got.clear()
        procs = [subprocess.Popen(["dmsetup", "remove", "--noudevsync", n]) for n in names]
        assert all(p.wait() == 0 for p in procs)
        assert got.wait(5)
        time.sleep(0.5)
        assert set(created.values()) <= set().union(*batches)
        assert not [b for b in LinuxSystem().block_devices() if b.name in names]
    finally:
        watcher.stop()
        for n in [f"dmtui-evt-{i}" for i in range(5)]:
            subprocess.run(["dmsetup", "remove", n], capture_output=True)
