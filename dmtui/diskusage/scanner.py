"""Scan a tree for disk usage the way `du -x` counts it, in parallel, without following links.

Rules (they make the totals equal GNU du's):
- sizes on disk are st_blocks*512, apparent sizes st_size, both for every inode, directories
  included; hard links count once (where first met); symlinks are never followed;
- a directory on another filesystem (a mount point) is listed, marked, and counts nothing;
- an unreadable directory counts its own inode and is marked with an error; the scan goes on.

Safety: each directory is opened with O_NOFOLLOW|O_DIRECTORY and its (st_dev, st_ino) is
checked against what its parent listed, so a directory swapped for a symlink mid-scan is
never entered. Directory reads run on a pool of threads sharing one queue: on a cold cache
many outstanding reads are what make it fast; the syscalls release the GIL.
"""

from __future__ import annotations

import os
import queue
import stat
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass

from dmtui.diskusage.model import (
    DIR,
    ERROR,
    FILE,
    HARDLINK,
    HARDLINK_DUP,
    OTHER,
    OTHER_FS,
    SYMLINK,
    DirNode,
    aggregate,
)

OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
PROGRESS_INTERVAL = 0.1  # seconds: the UI is told at least this often
DEFAULT_THREADS = 16


@dataclass(slots=True)
class Progress:
    entries: int
    disk_bytes: int
    current: str
    elapsed: float
    done: bool = False


class ScanCancelled(Exception):
    pass


class ScanError(Exception):
    """The scan root itself cannot be scanned."""


class Scanner:
    def __init__(
        self,
        root: str,
        *,
        threads: int = DEFAULT_THREADS,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.root_path = os.path.abspath(root)
        self.threads = max(1, threads)
        self.on_progress = on_progress
        self.cancel_event = threading.Event()
        self._lock = threading.Lock()
        self._seen_links: set[int] = set()
        self._entries = 0
        self._disk = 0
        self._current = self.root_path
        self._started = 0.0
        self.root_dev = 0

    def cancel(self) -> None:
        self.cancel_event.set()

    def progress(self, done: bool = False) -> Progress:
        return Progress(
            self._entries, self._disk, self._current, time.monotonic() - self._started, done
        )

    def scan(self) -> DirNode:
        self._started = time.monotonic()
        try:
            st = os.lstat(self.root_path)
        except OSError as exc:
            raise ScanError(f"cannot scan {self.root_path}: {exc.strerror}") from exc
        if not stat.S_ISDIR(st.st_mode):
            raise ScanError(f"{self.root_path} is not a directory")
        self.root_dev = st.st_dev
        root = DirNode(self.root_path, None, st.st_dev, st.st_ino, st.st_blocks * 512, st.st_size)
        work: queue.Queue[tuple[DirNode, str] | None] = queue.Queue()
        work.put((root, self.root_path))
        workers = [
            threading.Thread(target=self._worker, args=(work,), daemon=True, name=f"scan-{i}")
            for i in range(self.threads)
        ]
        for w in workers:
            w.start()
        try:
            self._wait(work)
        finally:
            for _ in workers:
                work.put(None)
            for w in workers:
                w.join()
        if self.cancel_event.is_set():
            raise ScanCancelled()
        aggregate(root)
        if self.on_progress:
            self.on_progress(self.progress(done=True))
        return root

    def _wait(self, work: queue.Queue) -> None:
        # queue.join() has no timeout; poll the unfinished count to report progress.
        while True:
            with work.all_tasks_done:
                if work.unfinished_tasks == 0:
                    return
                work.all_tasks_done.wait(PROGRESS_INTERVAL)
                if work.unfinished_tasks == 0:
                    return
            if self.on_progress:
                self.on_progress(self.progress())
            if self.cancel_event.is_set():
                return  # workers skip what is left in the queue

    def _worker(self, work: queue.Queue) -> None:
        while True:
            item = work.get()
            if item is None:
                work.task_done()
                return
            try:
                if not self.cancel_event.is_set():
                    self._scan_dir(item[0], item[1], work)
            except Exception as exc:  # noqa: BLE001 - one bad directory never stops a scan
                item[0].flags |= ERROR
                item[0].error = str(exc)
            finally:
                work.task_done()

    def _scan_dir(self, node: DirNode, path: str, work: queue.Queue) -> None:
        try:
            fd = os.open(path, OPEN_DIR)
        except OSError as exc:
            node.flags |= ERROR
            node.error = exc.strerror
            return
        try:
            st = os.fstat(fd)
            if st.st_ino != node.ino or st.st_dev != node.dev:
                node.flags |= ERROR
                node.error = "changed during the scan; not entered"
                return
            self._read_entries(node, fd, path, work)
        except OSError as exc:
            node.flags |= ERROR
            node.error = exc.strerror
        finally:
            os.close(fd)

    def _read_entries(self, node: DirNode, fd: int, path: str, work: queue.Queue) -> None:
        root_dev = self.root_dev
        names: list[str] = []
        data = array("q")
        kinds = bytearray()
        file_disk = file_apparent = file_items = 0
        count = 0
        with os.scandir(fd) as it:
            for entry in it:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue  # vanished since readdir
                count += 1
                mode = st.st_mode
                if stat.S_ISDIR(mode):
                    child = DirNode(
                        entry.name, node, st.st_dev, st.st_ino, st.st_blocks * 512, st.st_size
                    )
                    node.dirs.append(child)
                    if st.st_dev != root_dev:
                        child.flags |= OTHER_FS  # a mount point: never entered (du -x)
                    else:
                        work.put((child, f"{path}/{entry.name}"))
                    continue
                if stat.S_ISREG(mode):
                    kind = FILE
                elif stat.S_ISLNK(mode):
                    kind = SYMLINK
                else:
                    kind = OTHER
                disk = st.st_blocks * 512
                size = st.st_size
                if st.st_nlink > 1:
                    kind |= HARDLINK
                    with self._lock:
                        if st.st_ino in self._seen_links:
                            kind |= HARDLINK_DUP
                        else:
                            self._seen_links.add(st.st_ino)
                names.append(entry.name)
                data.append(disk)
                data.append(size)
                data.append(st.st_ino)
                kinds.append(kind)
                if not kind & HARDLINK_DUP:
                    file_disk += disk
                    file_apparent += size
                    file_items += 1
        node.names = "\0".join(names)
        node.data = data
        node.kinds = kinds
        node.file_disk, node.file_apparent, node.file_items = file_disk, file_apparent, file_items
        with self._lock:
            self._entries += count
            self._disk += file_disk
            self._current = path


def scan(root: str, **kwargs) -> DirNode:
    return Scanner(root, **kwargs).scan()


__all__ = ["DIR", "Progress", "ScanCancelled", "ScanError", "Scanner", "scan"]
