"""A compact in-memory model of a scanned tree.

Directories are objects; files are not. A directory keeps its files' names in one
NUL-joined string, their figures in one flat array and their flags in one bytearray, so a
300k-file tree costs tens of MiB instead of the ~92 MiB a tuple per file costs. Totals are
aggregated once after the scan, so browsing costs only the entries of the directory shown.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

# Entry kinds (low bits of a file's flag byte).
FILE, DIR, SYMLINK, OTHER = 0, 1, 2, 3
KIND_NAMES = {FILE: "file", DIR: "dir", SYMLINK: "symlink", OTHER: "other"}
KIND_MASK = 0x03
# Flags.
HARDLINK = 0x04  # nlink > 1
HARDLINK_DUP = 0x08  # a hard link already counted elsewhere: contributes nothing
OTHER_FS = 0x10  # a mount point: not entered, zero size
ERROR = 0x20  # could not be read (directory) or changed during the scan
ERROR_BELOW = 0x40  # some directory below has ERROR
DELETED = 0x80  # removed by the deleter after the scan (kept out of listings)

FIELDS = 3  # per file in DirNode.data: disk bytes, apparent bytes, inode


class DirNode:
    __slots__ = (
        "apparent",
        "data",
        "dev",
        "dirs",
        "disk",
        "error",
        "file_apparent",
        "file_disk",
        "file_items",
        "flags",
        "ino",
        "items",
        "kinds",
        "name",
        "names",
        "own_apparent",
        "own_disk",
        "parent",
    )

    def __init__(
        self,
        name: str,
        parent: DirNode | None,
        dev: int,
        ino: int,
        own_disk: int,
        own_apparent: int,
    ) -> None:
        self.name = name
        self.parent = parent
        self.dev = dev
        self.ino = ino
        self.own_disk = own_disk
        self.own_apparent = own_apparent
        self.names = ""
        self.data = array("q")
        self.kinds = bytearray()
        self.dirs: list[DirNode] = []
        self.file_disk = self.file_apparent = self.file_items = 0
        self.disk = self.apparent = self.items = 0
        self.flags = 0
        self.error: str | None = None

    # -- paths -----------------------------------------------------------------------------

    def path_parts(self) -> list[str]:
        parts: list[str] = []
        node: DirNode | None = self
        while node is not None and node.parent is not None:
            parts.append(node.name)
            node = node.parent
        return parts[::-1]

    def root(self) -> DirNode:
        node = self
        while node.parent is not None:
            node = node.parent
        return node

    # -- listing ---------------------------------------------------------------------------

    def file_names(self) -> list[str]:
        return self.names.split("\0") if self.kinds else []

    def entries(self) -> list[Entry]:
        """This directory's children, for display (cost: its own entries only)."""
        out: list[Entry] = []
        data = self.data
        for i, name in enumerate(self.file_names()):
            flags = self.kinds[i]
            if flags & DELETED:
                continue
            counted = not flags & HARDLINK_DUP
            out.append(
                Entry(
                    name,
                    flags & KIND_MASK,
                    data[i * FIELDS] if counted else 0,
                    data[i * FIELDS + 1] if counted else 0,
                    1 if counted else 0,
                    flags,
                    None,
                    i,
                    data[i * FIELDS + 2],
                )
            )
        for d in self.dirs:
            if d.flags & DELETED:
                continue
            out.append(Entry(d.name, DIR, d.disk, d.apparent, d.items, d.flags, d, -1, d.ino))
        return out

    def __repr__(self) -> str:
        return f"DirNode({'/'.join(self.path_parts()) or '.'}, disk={self.disk})"


@dataclass(slots=True)
class Entry:
    """One row of a listing: a file (index into its parent's arrays) or a directory."""

    name: str
    kind: int
    disk: int
    apparent: int
    items: int
    flags: int
    node: DirNode | None  # for directories
    index: int  # for files: position in the parent's arrays
    ino: int

    @property
    def kind_name(self) -> str:
        return KIND_NAMES[self.kind]

    @property
    def is_dir(self) -> bool:
        return self.kind == DIR


def aggregate(root: DirNode) -> None:
    """Compute every directory's totals bottom-up, once (iterative: trees can be deep)."""
    order: list[DirNode] = []
    stack = [root]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node.dirs)
    for node in reversed(order):
        if node.flags & OTHER_FS:
            node.disk = node.apparent = node.items = 0
            continue
        disk = node.own_disk + node.file_disk
        apparent = node.own_apparent + node.file_apparent
        items = 1 + node.file_items
        error_below = False
        for child in node.dirs:
            disk += child.disk
            apparent += child.apparent
            items += child.items
            if child.flags & (ERROR | ERROR_BELOW):
                error_below = True
        node.disk, node.apparent, node.items = disk, apparent, items
        if error_below:
            node.flags |= ERROR_BELOW


def subtract_upwards(node: DirNode, disk: int, apparent: int, items: int) -> None:
    """Correct totals after a deletion, without a rescan."""
    current: DirNode | None = node
    while current is not None:
        current.disk -= disk
        current.apparent -= apparent
        current.items -= items
        current = current.parent


def sort_entries(entries: list[Entry], key: str = "disk", dirs_first: bool = False) -> None:
    if key == "name":
        entries.sort(key=lambda e: e.name)
    elif key == "items":
        entries.sort(key=lambda e: (-e.items, e.name))
    elif key == "apparent":
        entries.sort(key=lambda e: (-e.apparent, e.name))
    else:
        entries.sort(key=lambda e: (-e.disk, e.name))
    if dirs_first:
        entries.sort(key=lambda e: not e.is_dir)
