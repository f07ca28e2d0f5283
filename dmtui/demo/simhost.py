"""A simulated devicemapper host for `dmtui demo` and the UI tests, and for nothing else.

It implements the same `System` interface as `LinuxSystem`, so the real status reader and
the real mount lifecycle run on top of it unchanged. The Docker root is real files in
Docker's format; each thin device's filesystem is a real directory, and "mounting" moves
that directory into the mount point, so deleting in the demo deletes real files.
"""

from __future__ import annotations

import os
import random
import shlex
import threading
from dataclasses import dataclass, field

from dmtui.core import dmparse
from dmtui.core.dockerconfig import SystemPaths
from dmtui.core.mountinfo import MountEntry
from dmtui.core.system import BlockDevice, CommandResult

NAMESPACE = "mnt:[4026531840]"
POOL_MAJOR = 254
BLOCK = 65536


@dataclass
class SimDevice:
    name: str
    minor: int
    target: str
    table: str  # params
    length: int  # sectors
    thin_id: int | None = None
    open_count: int = 0
    mounts: list[str] = field(default_factory=list)


class SimulatedHost:
    """The kernel side: dm devices, mounts, a thin pool whose usage moves."""

    def __init__(self, base: str, *, moving: bool = True, seed: int = 7) -> None:
        self.base = base
        self.paths = SystemPaths()
        self.lock = threading.RLock()
        self.devices: dict[str, SimDevice] = {}
        self.next_minor = 0
        self.pool_name = ""
        self.data_total_blocks = 16384 * 8  # 8 GiB of 64 KiB blocks
        self.meta_total_blocks = 32768
        self.other_usage_blocks = 0  # usage by devices the demo does not model
        self.transaction_id = 0
        self.moving = moving
        self.rng = random.Random(seed)
        self.thin_dirs: dict[int, str] = {}  # thin id -> directory holding its filesystem
        self.thin_sizes: dict[int, int] = {}
        self.allocated: dict[int, int] = {}  # thin id -> bytes mapped in the pool
        self.mount_points: dict[str, int] = {}  # mount point -> thin id
        self.pid = os.getpid()

    # -- building ------------------------------------------------------------------------

    def add_device(self, name: str, target: str, params: str, length: int) -> SimDevice:
        dev = SimDevice(name, self.next_minor, target, params, length)
        if target == "thin":
            dev.thin_id = int(params.split()[1])
        self.next_minor += 1
        self.devices[name] = dev
        return dev

    def device_dir(self, thin_id: int) -> str:
        return self.thin_dirs.setdefault(thin_id, os.path.join(self.base, "thin", str(thin_id)))

    # -- System interface ----------------------------------------------------------------

    def dm_unavailable_reason(self) -> str | None:
        return None

    def block_devices(self) -> list[BlockDevice]:
        with self.lock:
            return [
                BlockDevice(d.name, f"dm-{d.minor}", POOL_MAJOR, d.minor, d.length * 512)
                for d in self.devices.values()
            ]

    def _pool_dev(self) -> str:
        return f"{POOL_MAJOR}:{self.devices[self.pool_name].minor}"

    def _table_line(self, d: SimDevice) -> dmparse.TargetLine:
        params = d.table
        if d.target == "thin":
            params = f"{self._pool_dev()} {d.thin_id}"
        return dmparse.TargetLine(d.name, 0, d.length, d.target, params)

    def dm_tables(self) -> dict[str, list[dmparse.TargetLine]]:
        with self.lock:
            return {d.name: [self._table_line(d)] for d in self.devices.values()}

    def dm_table(self, name: str) -> list[dmparse.TargetLine] | None:
        with self.lock:
            d = self.devices.get(name)
            return [self._table_line(d)] if d else None

    def mapped_bytes(self, thin_id: int) -> int:
        """What the thin device holds in the pool: deleting files frees nothing until a
        trim (Docker mounts without `discard`), so this only grows between trims."""
        mapped = max(self.allocated.get(thin_id, 0), self.used_bytes(thin_id))
        self.allocated[thin_id] = mapped
        return mapped

    def used_bytes(self, thin_id: int) -> int:
        path = self.device_dir(thin_id)
        for mp, tid in self.mount_points.items():
            if tid == thin_id:
                path = mp
        total = 0
        for dirpath, _dirs, files in os.walk(path):
            for f in files:
                try:
                    total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
                except OSError:
                    pass
        return total

    def pool_used_blocks(self) -> int:
        if self.moving:
            # Other containers write and delete: the usage the operator watches moves.
            self.other_usage_blocks = max(0, self.other_usage_blocks + self.rng.randint(-40, 90))
        mapped = sum(self.mapped_bytes(t) for t in self.thin_dirs)
        base = int(self.data_total_blocks * 0.80)  # image layers and other containers
        return min(self.data_total_blocks, base + mapped // BLOCK + self.other_usage_blocks)

    def _status_line(self, d: SimDevice) -> dmparse.TargetLine:
        if d.target == "thin-pool":
            used = self.pool_used_blocks()
            meta_used = 4100 + used // 50
            params = (
                f"{self.transaction_id} {meta_used}/{self.meta_total_blocks} "
                f"{used}/{self.data_total_blocks} - rw discard_passdown queue_if_no_space - 1024"
            )
        elif d.target == "thin" and d.thin_id is not None:
            mapped = self.mapped_bytes(d.thin_id) // 512
            params = f"{mapped} {d.length - 1}"
        else:
            params = ""
        return dmparse.TargetLine(d.name, 0, d.length, d.target, params)

    def dm_status(self, name: str) -> list[dmparse.TargetLine] | None:
        with self.lock:
            d = self.devices.get(name)
            return [self._status_line(d)] if d else None

    def dm_infos(self) -> list[dmparse.DmInfo]:
        with self.lock:
            return [
                dmparse.DmInfo(d.name, POOL_MAJOR, d.minor, d.open_count, False, False, False)
                for d in self.devices.values()
            ]

    def mounts(self) -> list[MountEntry]:
        with self.lock:
            return [
                MountEntry(NAMESPACE, self.pid, POOL_MAJOR, d.minor, "/", mp, "xfs",
                           f"/dev/dm-{d.minor}", "rw,relatime", "rw,nouuid")
                for d in self.devices.values()
                for mp in d.mounts
            ]  # fmt: skip

    def holders(self, kernel_name: str) -> list[str]:
        return []

    def pid_alive(self, pid: int) -> bool:
        return pid == self.pid

    def own_namespace(self) -> str | None:
        return NAMESPACE

    def namespace_of(self, pid: int) -> str | None:
        return NAMESPACE

    def probe_filesystem(self, device_path: str) -> str | None:
        return "xfs"

    def filesystem_usage(self, path: str) -> tuple[int, int, int] | None:
        """(size, used, free) of the simulated filesystem mounted at `path`."""
        with self.lock:
            thin_id = self.mount_points.get(path)
            if thin_id is None:
                return None
            size = self.thin_sizes.get(thin_id, 0)
            used = min(size, self.used_bytes(thin_id))
            return size, used, size - used

    # -- commands ------------------------------------------------------------------------

    def execute(self, argv: list[str]) -> CommandResult:
        with self.lock:
            try:
                return self._execute(argv)
            except (OSError, ValueError, IndexError, KeyError) as exc:
                return CommandResult(1, "", f"{argv[0]}: {exc}")

    def _execute(self, argv: list[str]) -> CommandResult:
        cmd = argv[0]
        if cmd == "dmsetup":
            return self._dmsetup(argv[1:])
        if cmd == "mount":
            source, target = argv[-2], argv[-1]
            minor = int(source.rsplit("-", 1)[1])
            dev = next(d for d in self.devices.values() if d.minor == minor)
            if dev.thin_id is None:
                return CommandResult(32, "", "mount: wrong fs type")
            os.rename(self.device_dir(dev.thin_id), target)  # the "filesystem" appears
            dev.mounts.append(target)
            dev.open_count += 1
            self.mount_points[target] = dev.thin_id
            return CommandResult(0, "", "")
        if cmd == "umount":
            target = argv[-1]
            thin_id = self.mount_points.pop(target)
            dev = next(d for d in self.devices.values() if d.thin_id == thin_id)
            dev.mounts.remove(target)
            dev.open_count -= 1
            os.makedirs(os.path.dirname(self.device_dir(thin_id)), exist_ok=True)
            os.rename(target, self.device_dir(thin_id))
            os.makedirs(target)  # the empty mount point stays, as after a real umount
            return CommandResult(0, "", "")
        if cmd == "fstrim":
            target = argv[-1]
            thin_id = self.mount_points[target]
            self.allocated[thin_id] = self.used_bytes(thin_id)
            free = self.thin_sizes.get(thin_id, 0) - self.allocated[thin_id]
            # fstrim reports the whole free space every time, like the real one.
            return CommandResult(0, f"{target}: {free >> 20} MiB ({free} bytes) trimmed\n", "")
        if cmd == "sync":
            return CommandResult(0, "", "")
        return CommandResult(127, "", f"{cmd}: not simulated")

    def _dmsetup(self, args: list[str]) -> CommandResult:
        if args[0] == "create":
            name, table = args[1], args[args.index("--table") + 1]
            if name in self.devices:
                return CommandResult(
                    1, "", f"device-mapper: create ioctl on {name}  failed: Device or resource busy"
                )
            _start, length, target, *params = table.split()
            thin_id = int(params[1])
            if thin_id not in self.thin_dirs:
                return CommandResult(1, "", "reload ioctl failed: No data available")
            self.add_device(name, target, " ".join(params), int(length))
            return CommandResult(0, "", "")
        if args[0] == "remove":
            name = args[-1]
            dev = self.devices.get(name)
            if dev is None:
                return CommandResult(1, "", f"Device {name} not found")
            if dev.open_count:
                return CommandResult(
                    1, "", f"device-mapper: remove ioctl on {name}  failed: Device or resource busy"
                )
            del self.devices[name]
            return CommandResult(0, "", "")
        return CommandResult(1, "", f"dmsetup {shlex.join(args)}: not simulated")
