"""The record of what dmtui made, written before each step so a crash can be finished or undone.

One JSON file per container device under `<state dir>/journal/`. A record in state `mounted`
is dmtui's claim of ownership (it lets `dmtui umount` remove only what dmtui made); any other
state whose writer is gone means a dmtui was interrupted half-way.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass

from dmtui.core.commands import state_dir

STEPS = ("activating", "activated", "mounting", "mounted", "unmounting", "removing")


@dataclass
class MountRecord:
    mount_id: str
    container_id: str
    container_name: str | None
    device_name: str
    table: str  # the exact table dmtui loads, to recognise its own device
    mountpoint: str
    read_write: bool
    state: str  # one of STEPS
    created_device: bool | None  # None: the create may or may not have happened
    created_mountpoint: bool
    pid: int
    updated: float

    @property
    def label(self) -> str:
        return self.container_name or self.container_id[:12]

    def size_sectors(self) -> int:
        """The table's length (second field of `0 <sectors> thin <pool> <id>`)."""
        try:
            return int(self.table.split()[1])
        except (IndexError, ValueError):
            return 0


class Journal:
    def __init__(self, directory: str | None = None) -> None:
        self.directory = directory or os.path.join(state_dir(), "journal")

    def _path(self, mount_id: str) -> str:
        return os.path.join(self.directory, f"{mount_id}.json")

    def save(self, record: MountRecord) -> None:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        record.pid = os.getpid()
        record.updated = time.time()
        path = self._path(record.mount_id)
        tmp = f"{path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, json.dumps(asdict(record)).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)  # atomic: a crash leaves the old or the new record, never half

    def load(self, mount_id: str) -> MountRecord | None:
        try:
            with open(self._path(mount_id), encoding="utf-8") as fh:
                return MountRecord(**json.load(fh))
        except (OSError, ValueError, TypeError):
            return None

    def delete(self, mount_id: str) -> None:
        try:
            os.remove(self._path(mount_id))
        except FileNotFoundError:
            pass

    def records(self) -> list[MountRecord]:
        try:
            names = sorted(os.listdir(self.directory))
        except OSError:
            return []
        found = []
        for name in names:
            if name.endswith(".json"):
                record = self.load(name[: -len(".json")])
                if record is not None:
                    found.append(record)
        return found


def writer_alive(record: MountRecord) -> bool:
    return record.pid == os.getpid() or os.path.isdir(f"/proc/{record.pid}")


def interrupted(record: MountRecord) -> bool:
    """A step was under way and its dmtui is gone."""
    return record.state != "mounted" and not writer_alive(record)
