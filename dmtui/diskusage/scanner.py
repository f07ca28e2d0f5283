"""Scan a tree for disk usage the way `du -x` counts it, in parallel, without following links.

Rules (they make the totals equal GNU du's):
- sizes on disk are st_blocks*512, apparent sizes st_size, both for every inode, directories
  included; hard links count once (where first met); symlinks are never followed;
- a directory on another filesystem (a mount point) is listed, marked, and counts nothing;
- an unreadable directory counts its own inode and is marked with an error; the scan goes on.

Safety: each directory is opened with O_NOFOLLOW|O_DIRECTORY and its (st_dev, st_ino) is
checked against what its parent listed, so a directory swapped for a symlink mid-scan is
never entered.

Speed: one Python thread reads a warm tree at about ncdu's pace, but threads fight over the
GIL (measured: 16 threads were 3x slower than one). So the top of the tree is read in this
process, and the subtrees below are shared among worker processes, each reading with one
thread: on a cold cache many outstanding reads are what make it fast.
"""

from __future__ import annotations

import multiprocessing
import os
import stat
import threading
import time
from array import array
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass

from dmtui.diskusage.model import (
    DIR,
    ERROR,
    FIELDS,
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
SPLIT_FRONTIER = 64  # read this many directories locally before sharing subtrees out
MIN_PARALLEL_DIRS = 8  # fewer subtrees than this: not worth starting processes


def default_workers() -> int:
    # Twice the cores: a cold cache keeps processes waiting on the disk, a warm one wants
    # no more than the cores (measured on 2 cores: 4 processes beat 8 warm, lost little cold).
    return max(2, min(16, 2 * (os.cpu_count() or 1)))


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


# Hard-linked files met while reading: (node, index in its arrays, inode).
LinkRef = tuple[DirNode, int, int]


def read_dir(node: DirNode, path: str, root_dev: int, links: list[LinkRef]) -> list[str]:
    """Read one directory into `node`; return the paths of subdirectories to enter."""
    try:
        fd = os.open(path, OPEN_DIR)
    except OSError as exc:
        node.flags |= ERROR
        node.error = exc.strerror
        return []
    subdirs: list[str] = []
    try:
        st = os.fstat(fd)
        if st.st_ino != node.ino or st.st_dev != node.dev:
            node.flags |= ERROR
            node.error = "changed during the scan; not entered"
            return []
        names: list[str] = []
        data = array("q")
        kinds = bytearray()
        # Bound methods and plain ints: this loop runs once per file of the tree.
        add_name, add_numbers, add_kind = names.append, data.extend, kinds.append
        file_disk = file_apparent = 0
        with os.scandir(fd) as it:
            for entry in it:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue  # vanished since readdir
                fmt = st.st_mode >> 12  # S_IFMT: 4 directory, 8 regular, 10 symlink
                if fmt == 4:
                    child = DirNode(
                        entry.name, node, st.st_dev, st.st_ino, st.st_blocks * 512, st.st_size
                    )
                    node.dirs.append(child)
                    if st.st_dev != root_dev:
                        child.flags |= OTHER_FS  # a mount point: never entered (du -x)
                    else:
                        subdirs.append(f"{path}/{entry.name}")
                    continue
                kind = FILE if fmt == 8 else SYMLINK if fmt == 10 else OTHER
                disk = st.st_blocks * 512
                size = st.st_size
                if st.st_nlink > 1:
                    kind |= HARDLINK
                    links.append((node, len(kinds), st.st_ino))
                add_name(entry.name)
                add_numbers((disk, size, st.st_ino))
                add_kind(kind)
                file_disk += disk
                file_apparent += size
        node.names = "\0".join(names)
        node.data = data
        node.kinds = kinds
        node.file_disk, node.file_apparent, node.file_items = file_disk, file_apparent, len(kinds)
    except OSError as exc:
        node.flags |= ERROR
        node.error = exc.strerror
    finally:
        os.close(fd)
    return subdirs


def walk(node: DirNode, path: str, root_dev: int, links: list[LinkRef], tick=None) -> None:
    """Depth-first read of a whole subtree (iterative: trees can be deep)."""
    stack = [(node, path)]
    while stack:
        current, current_path = stack.pop()
        subdirs = read_dir(current, current_path, root_dev, links)
        if tick is not None:
            tick(current, current_path)
        if subdirs:
            entered = [d for d in current.dirs if not d.flags & OTHER_FS]
            stack.extend(zip(entered, subdirs, strict=True))


# -- worker processes ---------------------------------------------------------------------

_PROGRESS = None  # shared counters in a worker: (entries, bytes)
_UNREPORTED = [0, 0, 0]  # entries, bytes, directories not yet added to the shared counters


def _init_worker(counters) -> None:
    global _PROGRESS
    _PROGRESS = counters


def _count(node: DirNode, _path: str) -> None:
    _UNREPORTED[0] += len(node.kinds) + len(node.dirs)
    _UNREPORTED[1] += node.file_disk
    _UNREPORTED[2] += 1
    if _UNREPORTED[2] >= 64:  # the shared lock is a syscall: take it once per 64 dirs
        _flush_count()


def _flush_count() -> None:
    if _PROGRESS is not None and _UNREPORTED[2]:
        with _PROGRESS.get_lock():
            _PROGRESS[0] += _UNREPORTED[0]
            _PROGRESS[1] += _UNREPORTED[1]
    _UNREPORTED[:] = [0, 0, 0]


def _scan_subtrees(jobs: list[tuple[str, int, int, int, int, int]]) -> list[list[tuple]]:
    """In a worker: read each subtree and return it flattened (picklable, no recursion)."""
    results = []
    for path, root_dev, dev, ino, own_disk, own_apparent in jobs:
        top = DirNode(path, None, dev, ino, own_disk, own_apparent)
        links: list[LinkRef] = []
        walk(top, path, root_dev, links, _count)
        results.append(flatten(top))
    _flush_count()
    return results


def flatten(top: DirNode) -> list[tuple]:
    records: list[tuple] = []
    stack: list[tuple[DirNode, int]] = [(top, -1)]
    while stack:
        node, parent = stack.pop()
        index = len(records)
        records.append(
            (
                parent,
                node.name,
                node.dev,
                node.ino,
                node.own_disk,
                node.own_apparent,
                node.names,
                node.data.tobytes(),
                bytes(node.kinds),
                node.file_disk,
                node.file_apparent,
                node.file_items,
                node.flags,
                node.error,
            )
        )
        stack.extend((child, index) for child in reversed(node.dirs))
    return records


def unflatten_into(target: DirNode, records: list[tuple], links: list[LinkRef]) -> None:
    """Fill `target` (the subtree's top, already in the tree) from a worker's records."""
    nodes: list[DirNode] = []
    for rec in records:
        (parent, name, dev, ino, own_disk, own_apparent, names, data, kinds,
         file_disk, file_apparent, file_items, flags, error) = rec  # fmt: skip
        if parent < 0:
            node = target
            node.dirs = []
        else:
            node = DirNode(name, nodes[parent], dev, ino, own_disk, own_apparent)
            nodes[parent].dirs.append(node)
        node.names = names
        node.data = array("q")
        node.data.frombytes(data)
        node.kinds = bytearray(kinds)
        node.file_disk, node.file_apparent, node.file_items = file_disk, file_apparent, file_items
        node.flags |= flags
        node.error = error
        for i, kind in enumerate(node.kinds):
            if kind & HARDLINK:
                links.append((node, i, node.data[i * FIELDS + 2]))
        nodes.append(node)


def dedupe_hardlinks(links: list[LinkRef]) -> None:
    """Count each hard-linked inode once, where first met; the others contribute nothing."""
    seen: set[int] = set()
    for node, index, ino in links:
        if ino not in seen:
            seen.add(ino)
            continue
        node.kinds[index] |= HARDLINK_DUP
        node.file_disk -= node.data[index * FIELDS]
        node.file_apparent -= node.data[index * FIELDS + 1]
        node.file_items -= 1


class Scanner:
    def __init__(
        self,
        root: str,
        *,
        workers: int | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.root_path = os.path.abspath(root)
        self.workers = default_workers() if workers is None else max(1, workers)
        self.on_progress = on_progress
        self.cancel_event = threading.Event()
        self._entries = 0
        self._disk = 0
        self._current = self.root_path
        self._started = 0.0
        self._last_report = 0.0
        self._counters = None

    def cancel(self) -> None:
        self.cancel_event.set()

    def progress(self, done: bool = False) -> Progress:
        entries, disk = self._entries, self._disk
        if self._counters is not None:
            entries += self._counters[0]
            disk += self._counters[1]
        return Progress(entries, disk, self._current, time.monotonic() - self._started, done)

    def _tick(self, node: DirNode, path: str) -> None:
        self._entries += len(node.kinds) + len(node.dirs)
        self._disk += node.file_disk
        self._current = path
        self._maybe_report()

    def _maybe_report(self) -> None:
        if self.cancel_event.is_set():
            raise ScanCancelled()
        now = time.monotonic()
        if self.on_progress and now - self._last_report >= PROGRESS_INTERVAL:
            self._last_report = now
            self.on_progress(self.progress())

    def scan(self) -> DirNode:
        self._started = self._last_report = time.monotonic()
        try:
            st = os.lstat(self.root_path)
        except OSError as exc:
            raise ScanError(f"cannot scan {self.root_path}: {exc.strerror}") from exc
        if not stat.S_ISDIR(st.st_mode):
            raise ScanError(f"{self.root_path} is not a directory")
        root_dev = st.st_dev
        root = DirNode(self.root_path, None, st.st_dev, st.st_ino, st.st_blocks * 512, st.st_size)
        links: list[LinkRef] = []
        # Read the top of the tree here, breadth first, until there is enough to share.
        frontier: list[tuple[DirNode, str]] = [(root, self.root_path)]
        read = 0
        while frontier and read < SPLIT_FRONTIER and len(frontier) < 4 * self.workers:
            node, path = frontier.pop(0)
            subdirs = read_dir(node, path, root_dev, links)
            self._tick(node, path)
            read += 1
            entered = [d for d in node.dirs if not d.flags & OTHER_FS]
            frontier.extend(zip(entered, subdirs, strict=True))
        if self.workers > 1 and len(frontier) >= MIN_PARALLEL_DIRS:
            self._scan_in_workers(frontier, root_dev, links)
        else:
            for node, path in frontier:
                walk(node, path, root_dev, links, self._tick)
        dedupe_hardlinks(links)
        aggregate(root)
        if self.on_progress:
            self.on_progress(self.progress(done=True))
        return root

    def _scan_in_workers(
        self, frontier: list[tuple[DirNode, str]], root_dev: int, links: list[LinkRef]
    ) -> None:
        context = multiprocessing.get_context("fork")
        self._counters = context.Array("q", 2)
        chunks = max(1, min(len(frontier), 4 * self.workers))
        jobs: list[list[tuple]] = [[] for _ in range(chunks)]
        nodes: list[list[DirNode]] = [[] for _ in range(chunks)]
        for i, (node, path) in enumerate(frontier):
            jobs[i % chunks].append(
                (path, root_dev, node.dev, node.ino, node.own_disk, node.own_apparent)
            )
            nodes[i % chunks].append(node)
        executor = ProcessPoolExecutor(
            max_workers=min(self.workers, chunks),
            mp_context=context,
            initializer=_init_worker,
            initargs=(self._counters,),
        )
        try:
            pending: dict[Future, int] = {
                executor.submit(_scan_subtrees, job): i for i, job in enumerate(jobs) if job
            }
            chunk_links: dict[int, list[LinkRef]] = {}
            while pending:
                done, _ = wait(pending, timeout=PROGRESS_INTERVAL, return_when=FIRST_COMPLETED)
                for future in done:
                    i = pending.pop(future)
                    # Attach while the other workers still read.
                    chunk_links[i] = found = []
                    for node, records in zip(nodes[i], future.result(), strict=True):
                        unflatten_into(node, records, found)
                    self._current = jobs[i][-1][0]
                self._maybe_report()
            # Hard links: "first met" in chunk order, whatever order the workers finished in.
            for i in sorted(chunk_links):
                links.extend(chunk_links[i])
        except BaseException:
            for process in list(getattr(executor, "_processes", {}).values()):
                process.kill()
            raise
        finally:
            executor.shutdown(wait=True, cancel_futures=True)


def scan(root: str, **kwargs) -> DirNode:
    return Scanner(root, **kwargs).scan()


__all__ = ["DIR", "Progress", "ScanCancelled", "ScanError", "Scanner", "scan"]
