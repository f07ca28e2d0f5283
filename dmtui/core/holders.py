"""Who keeps a device or a mount point busy, in any mount namespace.

An unmount fails while a process has its cwd, root or an open file there. A thin device
stays busy while it is mounted anywhere, including a copy of a mount in another namespace
(a container started with `-v /:/host`), or while a process still has a file open on a
mount that was detached lazily. Reference: hazard H3.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from dmtui.core.text import printable


@dataclass(frozen=True, slots=True)
class Holder:
    pid: int
    comm: str
    namespace: str | None

    def describe(self, own_namespace: str | None) -> str:
        where = (
            ""
            if self.namespace in (None, own_namespace)
            else f" in mount namespace {self.namespace}"
        )
        return f"pid {self.pid} ({self.comm}){where}"


def comm_of(pid: int | str, proc: str = "/proc") -> str:
    try:
        with open(f"{proc}/{pid}/comm", encoding="utf-8", errors="replace") as fh:
            return printable(fh.read().strip())
    except OSError:
        return "?"


def _links(proc: str, pid: str) -> list[str]:
    base = f"{proc}/{pid}"
    links = [f"{base}/cwd", f"{base}/root"]
    try:
        links += [f"{base}/fd/{fd}" for fd in os.listdir(f"{base}/fd")]
    except OSError:
        pass
    return links


def _holder(proc: str, pid: str) -> Holder:
    try:
        ns = os.readlink(f"{proc}/{pid}/ns/mnt")
    except OSError:
        ns = None
    return Holder(int(pid), comm_of(pid, proc), ns)


def _pids(proc: str) -> list[str]:
    try:
        return [p for p in os.listdir(proc) if p.isdigit() and int(p) != os.getpid()]
    except OSError:
        return []


def processes_using(path: str, proc: str = "/proc") -> list[Holder]:
    """Processes whose cwd, root or open files are under `path` (why an unmount is busy)."""
    prefix = path.rstrip("/") + "/"
    found = []
    for pid in _pids(proc):
        for link in _links(proc, pid):
            try:
                target = os.readlink(link)
            except OSError:
                continue
            if target == path or target.startswith(prefix):
                found.append(_holder(proc, pid))
                break
    return found


def processes_on_device(major: int, minor: int, proc: str = "/proc") -> list[Holder]:
    """Processes with a cwd, root or open file on the filesystem of device major:minor.

    stat() through /proc/<pid>/... works across mount namespaces and also finds files on a
    lazily detached mount, which no mountinfo lists any more.
    """
    dev = os.makedev(major, minor)
    found = []
    for pid in _pids(proc):
        for link in _links(proc, pid):
            try:
                if os.stat(link).st_dev == dev:
                    found.append(_holder(proc, pid))
                    break
            except OSError:
                continue
    return found
