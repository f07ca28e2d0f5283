"""Delete chosen entries of a scanned tree without ever leaving it.

Every step works relative to an open directory fd. The way down from the scan root is
re-opened component by component with O_NOFOLLOW|O_DIRECTORY, and each directory's
(st_dev, st_ino) must match the scan; just before acting, the target is lstat'ed again and
must be the entry that was scanned (same device, inode and type). Inside a directory being
removed, nothing on another filesystem is touched and no symlink is followed (unlinkat never
follows; subdirectories are opened O_NOFOLLOW and checked to be on the scanned device).
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from dmtui.diskusage.model import (
    DELETED,
    DIR,
    FIELDS,
    HARDLINK_DUP,
    KIND_MASK,
    OTHER,
    SYMLINK,
    DirNode,
    Entry,
    subtract_upwards,
)

OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class DeleteAborted(Exception):
    pass


class ReadOnlyError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Target:
    """What the operator chose, fixed when the confirmation opened."""

    parent: DirNode
    name: str
    kind: int
    ino: int
    disk: int
    apparent: int
    items: int
    node: DirNode | None = None  # for directories
    index: int = -1  # for files
    contents_only: bool = False  # "empty this directory but keep it"

    @property
    def path(self) -> str:
        parts = self.parent.path_parts()
        return "/".join([self.parent.root().name, *parts, self.name])

    @property
    def rel_path(self) -> str:
        """The path inside the scanned tree (inside the container)."""
        return "/" + "/".join([*self.parent.path_parts(), self.name])

    @classmethod
    def of(cls, parent: DirNode, entry: Entry, contents_only: bool = False) -> Target:
        return cls(
            parent,
            entry.name,
            entry.kind,
            entry.ino,
            entry.disk,
            entry.apparent,
            entry.items,
            entry.node,
            entry.index,
            contents_only,
        )


@dataclass(slots=True)
class Failure:
    path: str
    error: OSError

    @property
    def reason(self) -> str:
        if self.error.errno == errno.EROFS:
            return "read-only filesystem"
        if self.error.errno in (errno.EACCES, errno.EPERM):
            return "permission denied"
        if self.error.errno == errno.EBUSY:
            return "busy (a mount point?)"
        if self.error.errno == errno.ENOENT:
            return "vanished"
        if self.error.errno in (errno.ESTALE, errno.ELOOP, errno.ENOTDIR):
            return "changed since the scan: not the entry that was scanned"
        return self.error.strerror or str(self.error)


# A failure handler answers "abort", "skip" or "skip_all" (skip every failure of that kind).
FailureHandler = Callable[[Failure], str]


@dataclass
class DeleteReport:
    deleted_entries: int = 0
    freed_disk: int = 0
    freed_apparent: int = 0
    failures: list[Failure] = field(default_factory=list)
    stopped: bool = False


class ChangedError(OSError):
    def __init__(self, path: str, what: str) -> None:
        super().__init__(errno.ESTALE, f"{what} changed since the scan", path)


class Deleter:
    def __init__(
        self,
        *,
        read_only: bool = False,
        on_failure: FailureHandler | None = None,
        on_progress: Callable[[int, int, str], None] | None = None,
    ) -> None:
        self.read_only = read_only
        self.on_failure = on_failure or (lambda failure: "abort")
        self.on_progress = on_progress
        self.stop_event = threading.Event()
        self._skip_all: set[int] = set()
        self.report = DeleteReport()

    def stop(self) -> None:
        self.stop_event.set()

    # -- public ----------------------------------------------------------------------------

    def delete(self, targets: list[Target]) -> DeleteReport:
        if self.read_only:
            raise ReadOnlyError("read-only mode: nothing is deleted")
        for target in targets:
            if self.stop_event.is_set():
                self.report.stopped = True
                break
            try:
                self._delete_target(target)
            except DeleteAborted:
                self.report.stopped = True
                break
        return self.report

    # -- steps -----------------------------------------------------------------------------

    def _open_parent(self, parent: DirNode) -> int:
        """Walk from the scan root to `parent`, checking every directory's identity."""
        chain: list[DirNode] = []
        node: DirNode | None = parent
        while node is not None:
            chain.append(node)
            node = node.parent
        chain.reverse()
        root = chain[0]
        fd = os.open(root.name, OPEN_DIR)
        try:
            self._check_dir_fd(fd, root, root.name)
            for node in chain[1:]:
                child = os.open(node.name, OPEN_DIR, dir_fd=fd)
                os.close(fd)
                fd = child
                self._check_dir_fd(fd, node, node.name)
        except BaseException:
            os.close(fd)
            raise
        return fd

    @staticmethod
    def _check_dir_fd(fd: int, node: DirNode, path: str) -> None:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (node.dev, node.ino):
            raise ChangedError(path, "directory")

    def _delete_target(self, target: Target) -> None:
        path = target.path
        failures_before = len(self.report.failures)
        try:
            pfd = self._open_parent(target.parent)
        except OSError as exc:
            self._fail(Failure(path, exc))
            return
        try:
            # Check again, just before acting: the same entry as scanned?
            st = os.stat(target.name, dir_fd=pfd, follow_symlinks=False)
            if st.st_ino != target.ino or st.st_dev != target.parent.dev:
                raise ChangedError(path, "entry")
            if _kind_of(st.st_mode) != target.kind & KIND_MASK:
                raise ChangedError(path, "type of entry")
            if target.kind & KIND_MASK == DIR:
                self._remove_tree(pfd, target.name, st, path, keep_top=target.contents_only)
            else:
                os.unlink(target.name, dir_fd=pfd)
                self._count(path)
        except DeleteAborted:
            raise
        except OSError as exc:
            self._fail(Failure(path, exc))
            return
        finally:
            os.close(pfd)
            if target.kind & KIND_MASK == DIR and len(self.report.failures) > failures_before:
                self._resync(target)  # partly deleted: measure what is left
        if len(self.report.failures) == failures_before:
            self._update_model(target)

    def _remove_tree(self, pfd: int, name: str, st: os.stat_result, path: str, keep_top: bool):
        """rm -r of one directory, fd-relative, on its own filesystem only."""
        dev = st.st_dev
        fd = os.open(name, OPEN_DIR, dir_fd=pfd)
        try:
            now = os.fstat(fd)
            if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                raise ChangedError(path, "directory")
            self._empty_dir(fd, dev, path)
        finally:
            os.close(fd)
        if not keep_top:
            os.rmdir(name, dir_fd=pfd)
            self._count(path)

    def _empty_dir(self, fd: int, dev: int, path: str) -> None:
        if self.stop_event.is_set():
            raise DeleteAborted()
        with os.scandir(fd) as it:
            entries = list(it)
        for entry in entries:
            child_path = f"{path}/{entry.name}"
            try:
                if entry.is_dir(follow_symlinks=False):
                    cfd = os.open(entry.name, OPEN_DIR, dir_fd=fd)
                    try:
                        cst = os.fstat(cfd)
                        if cst.st_dev != dev:
                            # A mount point inside the tree: never cross into it.
                            raise OSError(errno.EBUSY, "a mount point: not entered", child_path)
                        self._empty_dir(cfd, dev, child_path)
                    finally:
                        os.close(cfd)
                    os.rmdir(entry.name, dir_fd=fd)
                else:
                    os.unlink(entry.name, dir_fd=fd)
                self._count(child_path)
            except DeleteAborted:
                raise
            except OSError as exc:
                self._fail(Failure(child_path, exc))

    def _count(self, path: str) -> None:
        self.report.deleted_entries += 1
        if self.on_progress and self.report.deleted_entries % 256 == 0:
            self.on_progress(self.report.deleted_entries, self.report.freed_disk, path)
        if self.stop_event.is_set():
            raise DeleteAborted()

    def _fail(self, failure: Failure) -> None:
        self.report.failures.append(failure)
        code = failure.error.errno or 0
        if code in self._skip_all:
            return
        answer = self.on_failure(failure)
        if answer == "skip_all":
            self._skip_all.add(code)
        elif answer != "skip":
            raise DeleteAborted()

    # -- model ---------------------------------------------------------------------------

    def _resync(self, target: Target) -> None:
        """After a partial deletion, rescan just that directory and fix the totals."""
        from dmtui.diskusage.scanner import Scanner

        old = target.node
        if old is None or old.flags & DELETED:
            return
        parent = target.parent
        before = (old.disk, old.apparent, old.items)
        try:
            fresh = Scanner(target.path, workers=1).scan()
        except Exception:  # noqa: BLE001 - gone entirely
            fresh = None
        if fresh is None or (fresh.dev, fresh.ino) != (old.dev, old.ino):
            old.flags |= DELETED
            subtract_upwards(parent, *before)
            self.report.freed_disk += before[0]
            self.report.freed_apparent += before[1]
            return
        fresh.name, fresh.parent = old.name, parent
        parent.dirs[parent.dirs.index(old)] = fresh
        old.flags |= DELETED
        diff = (before[0] - fresh.disk, before[1] - fresh.apparent, before[2] - fresh.items)
        subtract_upwards(parent, *diff)
        self.report.freed_disk += diff[0]
        self.report.freed_apparent += diff[1]

    def _update_model(self, target: Target) -> None:
        """Take what is gone out of the model and correct the totals upwards."""
        parent = target.parent
        if target.kind & KIND_MASK == DIR and target.node is not None:
            node = target.node
            if target.contents_only:
                disk = node.disk - node.own_disk
                apparent = node.apparent - node.own_apparent
                items = node.items - 1
                for d in node.dirs:
                    d.flags |= DELETED
                for i in range(len(node.kinds)):
                    node.kinds[i] |= DELETED
                node.file_disk = node.file_apparent = node.file_items = 0
                subtract_upwards(node, disk, apparent, items)
            else:
                node.flags |= DELETED
                disk, apparent, items = node.disk, node.apparent, node.items
                subtract_upwards(parent, disk, apparent, items)
        else:
            flags = parent.kinds[target.index]
            parent.kinds[target.index] = flags | DELETED
            if flags & HARDLINK_DUP:
                disk = apparent = items = 0
            else:
                disk = parent.data[target.index * FIELDS]
                apparent = parent.data[target.index * FIELDS + 1]
                items = 1
            parent.file_disk -= disk
            parent.file_apparent -= apparent
            parent.file_items -= items
            subtract_upwards(parent, disk, apparent, items)
        self.report.freed_disk += disk
        self.report.freed_apparent += apparent


def _kind_of(mode: int) -> int:
    if stat.S_ISDIR(mode):
        return DIR
    if stat.S_ISLNK(mode):
        return SYMLINK
    if stat.S_ISREG(mode):
        return 0
    return OTHER
