"""ncdu's JSON export format (`ncdu -o`), readable by `ncdu -f FILE`.

`[1, 2, {metadata}, [{root info}, {file}, [{dir info}, ...], ...]]`. Names are written as
raw bytes, as ncdu's own export does: only `"`, `\\` and control characters are escaped,
so a name that is not UTF-8 comes back byte for byte.
"""

from __future__ import annotations

import os
import time
from typing import BinaryIO

from dmtui import __version__
from dmtui.diskusage.model import (
    DELETED,
    DIR,
    ERROR,
    FIELDS,
    FILE,
    HARDLINK,
    KIND_MASK,
    OTHER_FS,
    DirNode,
)


def json_name(name: str) -> bytes:
    out = bytearray(b'"')
    for b in os.fsencode(name):
        if b == 0x22:
            out += b'\\"'
        elif b == 0x5C:
            out += b"\\\\"
        elif b < 0x20 or b == 0x7F:
            out += b"\\u%04x" % b
        else:
            out.append(b)
    out += b'"'
    return bytes(out)


def _dir_info(node: DirNode, parent_dev: int | None) -> bytes:
    parts = [b'"name":' + json_name(node.name)]
    if node.flags & OTHER_FS:
        parts.append(b'"excluded":"otherfs"')
    else:
        parts.append(b'"asize":%d,"dsize":%d' % (node.own_apparent, node.own_disk))
    if parent_dev is None or node.dev != parent_dev:
        parts.append(b'"dev":%d' % node.dev)
    parts.append(b'"ino":%d' % node.ino)
    if node.flags & ERROR:
        parts.append(b'"read_error":true')
    return b"{" + b",".join(parts) + b"}"


def _files(node: DirNode) -> bytes:
    out = bytearray()
    data = node.data
    for i, name in enumerate(node.file_names()):
        flags = node.kinds[i]
        if flags & DELETED:
            continue
        out += b',\n{"name":' + json_name(name)
        out += b',"asize":%d,"dsize":%d,"ino":%d' % (
            data[i * FIELDS + 1],
            data[i * FIELDS],
            data[i * FIELDS + 2],
        )
        if flags & HARDLINK:
            out += b',"hlnkc":true'
        if flags & KIND_MASK not in (FILE, DIR):
            out += b',"notreg":true'
        out += b"}"
    return bytes(out)


def write_export(root: DirNode, fh: BinaryIO) -> None:
    fh.write(
        b'[1,2,{"progname":"dmtui","progver":"%s","timestamp":%d},\n'
        % (__version__.encode(), int(time.time()))
    )
    # Iterative depth-first walk (trees can be deeper than Python's recursion limit).
    stack: list[tuple[DirNode | None, int | None]] = [(root, None)]
    while stack:
        node, parent_dev = stack.pop()
        if node is None:
            fh.write(b"]")
            continue
        fh.write((b"[" if node is root else b",\n[") + _dir_info(node, parent_dev))
        if not node.flags & OTHER_FS:
            fh.write(_files(node))
        stack.append((None, None))  # closes this directory after its children
        for child in reversed(node.dirs):
            if not child.flags & DELETED:
                stack.append((child, node.dev))
    fh.write(b"]\n")
