"""Mounts by device number across every mount namespace on the host.

`/proc/mounts` shows only the caller's namespace. dockerd may run in its own (the old
`MountFlags=slave`), and containers started with `-v /:/host` capture copies of mounts,
which keep a thin device busy. So every `/proc/<pid>/mountinfo` is read, once per namespace.
Reference: docker-devicemapper.md §4 H3.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MountEntry:
    namespace: str  # "mnt:[4026531840]"
    pid: int  # one process in that namespace
    major: int
    minor: int
    root: str
    mount_point: str
    fstype: str
    source: str
    options: str  # per-mount options, e.g. "rw,relatime"
    super_options: str


def unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo octal."""
    if "\\" not in field:
        return field
    out = bytearray()
    raw = field.encode("utf-8", "surrogateescape")
    i = 0
    while i < len(raw):
        if raw[i] == 0x5C and i + 4 <= len(raw) and raw[i + 1 : i + 4].isdigit():
            out.append(int(raw[i + 1 : i + 4], 8) & 0xFF)
            i += 4
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", "surrogateescape")


def parse_mountinfo(text: str, namespace: str = "", pid: int = 0) -> list[MountEntry]:
    entries: list[MountEntry] = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            sep = fields.index("-", 6)
            major, _, minor = fields[2].partition(":")
            entries.append(
                MountEntry(
                    namespace=namespace,
                    pid=pid,
                    major=int(major),
                    minor=int(minor),
                    root=unescape(fields[3]),
                    mount_point=unescape(fields[4]),
                    fstype=fields[sep + 1],
                    source=unescape(fields[sep + 2]),
                    options=fields[5],
                    super_options=fields[sep + 3] if len(fields) > sep + 3 else "",
                )
            )
        except (ValueError, IndexError):
            continue  # a line we cannot read is skipped, never fatal
    return entries


def namespace_of(pid: int | str, proc: str = "/proc") -> str | None:
    try:
        return os.readlink(f"{proc}/{pid}/ns/mnt")
    except OSError:
        return None


def all_mounts(proc: str = "/proc") -> list[MountEntry]:
    """Every mount in every mount namespace, read from one process per namespace."""
    seen: set[str] = set()
    entries: list[MountEntry] = []
    try:
        pids = [p for p in os.listdir(proc) if p.isdigit()]
    except OSError:
        return entries
    # Read our own namespace first so its entries name our pid.
    ordered = [str(os.getpid()), *sorted(pids, key=int)]
    for pid in ordered:
        ns = namespace_of(pid, proc)
        if ns is None or ns in seen:
            continue
        try:
            with open(f"{proc}/{pid}/mountinfo", "rb") as fh:
                text = fh.read().decode("utf-8", "surrogateescape")
        except OSError:
            continue
        seen.add(ns)
        entries.extend(parse_mountinfo(text, ns, int(pid)))
    return entries
